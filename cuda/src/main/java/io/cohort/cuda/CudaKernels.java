package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;

/**
 * Cohort's kernels loaded into one device's context: the modules built from src/main/cuda (fatbin with
 * Hopper machine code and compute_80 PTX; the PTX alone where the fatbin has nothing for the GPU), and their
 * functions, looked up once into tables indexed by dtype and operator so launches do no lookups.
 */
public final class CudaKernels {

    /** Resource folder of the built kernels. */
    public static final String RESOURCE_DIR = "/io/cohort/cuda/kernels/";
    /** Modules, one per .cu file. */
    public static final List<String> MODULES = List.of("elementwise", "allreduce");

    private static final ReduceOp[] OPS = {ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN};

    private final CUfunction[][] reduce = new CUfunction[DType.values().length][OPS.length];
    private final CUfunction[] scale = new CUfunction[DType.values().length];
    private final CUfunction[][] oneShot = new CUfunction[DType.values().length][OPS.length];
    private final CUfunction[][] twoShot = new CUfunction[DType.values().length][OPS.length];
    private final CUfunction[][] graphOneShot = new CUfunction[DType.values().length][OPS.length];
    private final CUfunction[][] graphTwoShot = new CUfunction[DType.values().length][OPS.length];
    // all-reduce + residual add + RMSNorm, by the norm weight's type (data f32)
    private final CUfunction[] addRmsNorm = new CUfunction[DType.values().length];
    private final CUfunction[] graphAddRmsNorm = new CUfunction[DType.values().length];
    private final CUfunction writeValue;
    private final CUfunction waitValue;

    CudaKernels(CudaDevice device) {
        device.makeCurrent();
        CUmodule elementwise = load(device, "elementwise");
        CUmodule allreduce = load(device, "allreduce");
        for (DType t : DType.values()) {
            for (ReduceOp op : OPS) {
                reduce[t.ordinal()][op.ordinal()] = function(device, elementwise, reduceName(t, op));
                oneShot[t.ordinal()][op.ordinal()] = function(device, allreduce, allReduceName("one_shot", t, op));
                twoShot[t.ordinal()][op.ordinal()] = function(device, allreduce, allReduceName("two_shot", t, op));
                graphOneShot[t.ordinal()][op.ordinal()] = function(device, allreduce, allReduceName("graph_one_shot", t, op));
                graphTwoShot[t.ordinal()][op.ordinal()] = function(device, allreduce, allReduceName("graph_two_shot", t, op));
            }
            scale[t.ordinal()] = function(device, elementwise, scaleName(t));
            addRmsNorm[t.ordinal()] = function(device, allreduce, addRmsNormName("add_rmsnorm", t));
            graphAddRmsNorm[t.ordinal()] = function(device, allreduce, addRmsNormName("graph_add_rmsnorm", t));
        }
        writeValue = function(device, elementwise, "cohort_write_value");
        waitValue = function(device, elementwise, "cohort_wait_value");
    }

    /** Every kernel's name by module, as the .cu files define them (for tests of the built resources). */
    public static List<String> kernelNames(String module) {
        List<String> names = new ArrayList<>();
        for (DType t : DType.values()) {
            for (ReduceOp op : OPS) {
                if (module.equals("elementwise")) {
                    names.add(reduceName(t, op));
                } else {
                    names.add(allReduceName("one_shot", t, op));
                    names.add(allReduceName("two_shot", t, op));
                    names.add(allReduceName("graph_one_shot", t, op));
                    names.add(allReduceName("graph_two_shot", t, op));
                }
            }
            if (module.equals("elementwise")) {
                names.add(scaleName(t));
            } else {
                names.add(addRmsNormName("add_rmsnorm", t));
                names.add(addRmsNormName("graph_add_rmsnorm", t));
            }
        }
        if (module.equals("elementwise")) {
            names.add("cohort_write_value");
            names.add("cohort_wait_value");
        }
        return names;
    }

    static String reduceName(DType t, ReduceOp op) {
        return "cohort_reduce_" + op.pairwise().name().toLowerCase(Locale.ROOT) + "_" + t.name().toLowerCase(Locale.ROOT);
    }

    static String scaleName(DType t) {
        return "cohort_scale_" + t.name().toLowerCase(Locale.ROOT);
    }

    static String addRmsNormName(String kind, DType weight) {
        return "cohort_ar_" + kind + "_" + weight.name().toLowerCase(Locale.ROOT);
    }

    static String allReduceName(String path, DType t, ReduceOp op) {
        return "cohort_ar_" + path + "_" + op.pairwise().name().toLowerCase(Locale.ROOT) + "_"
                + t.name().toLowerCase(Locale.ROOT);
    }

    /** The element-wise reduce for {@code op} (AVG reduces as SUM). */
    public CUfunction reduce(DType t, ReduceOp op) {
        return reduce[t.ordinal()][op.pairwise().ordinal()];
    }

    public CUfunction scale(DType t) {
        return scale[t.ordinal()];
    }

    public CUfunction oneShot(DType t, ReduceOp op) {
        return oneShot[t.ordinal()][op.pairwise().ordinal()];
    }

    public CUfunction twoShot(DType t, ReduceOp op) {
        return twoShot[t.ordinal()][op.pairwise().ordinal()];
    }

    /** The one-shot all-reduce for launches inside a CUDA graph (epoch and parity kept on the device). */
    public CUfunction graphOneShot(DType t, ReduceOp op) {
        return graphOneShot[t.ordinal()][op.pairwise().ordinal()];
    }

    /** The two-shot all-reduce for launches inside a CUDA graph. */
    public CUfunction graphTwoShot(DType t, ReduceOp op) {
        return graphTwoShot[t.ordinal()][op.pairwise().ordinal()];
    }

    /** The f32 all-reduce fused with residual add + RMSNorm, for a norm weight of type {@code weight}. */
    public CUfunction addRmsNorm(DType weight, boolean graph) {
        return (graph ? graphAddRmsNorm : addRmsNorm)[weight.ordinal()];
    }

    CUfunction writeValue() {
        return writeValue;
    }

    CUfunction waitValue() {
        return waitValue;
    }

    private static CUmodule load(CudaDevice device, String module) {
        CUmodule m = new CUmodule();
        int r = cuModuleLoadData(m, resource(module + ".fatbin", false));
        if (r == CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUresult.CUDA_ERROR_INVALID_IMAGE) {
            r = cuModuleLoadData(m, resource(module + ".ptx", true));
        }
        Cu.check(r, device.name(), "cuModuleLoadData(" + module + ")");
        return m;
    }

    private static CUfunction function(CudaDevice device, CUmodule module, String name) {
        CUfunction f = new CUfunction();
        Cu.check(cuModuleGetFunction(f, module, name), device.name(), "cuModuleGetFunction(" + name + ")");
        return f;
    }

    /** A built kernel resource; PTX text gets the NUL terminator cuModuleLoadData expects. */
    static byte[] resource(String name, boolean nulTerminated) {
        try (InputStream in = CudaKernels.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) {
                throw new DeviceException("kernel resource " + RESOURCE_DIR + name
                        + " missing from the class path (cuda/build-kernels.sh builds it)");
            }
            byte[] data = in.readAllBytes();
            if (!nulTerminated) {
                return data;
            }
            byte[] z = new byte[data.length + 1];
            System.arraycopy(data, 0, z, 0, data.length);
            return z;
        } catch (IOException e) {
            throw new DeviceException("cannot read kernel resource " + name, e);
        }
    }
}
