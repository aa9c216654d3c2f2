package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The built kernels are on the class path and define every kernel the Java side looks up (no GPU needed). */
class KernelResourcesTest {

    @Test
    void everyModuleHasPtxAndFatbinNamingEveryKernel() {
        for (String module : CudaKernels.MODULES) {
            String ptx = new String(CudaKernels.resource(module + ".ptx", false), StandardCharsets.US_ASCII);
            assertTrue(ptx.contains(".target sm_80"), module + ".ptx targets compute_80");
            for (String kernel : CudaKernels.kernelNames(module)) {
                assertTrue(ptx.contains(".entry " + kernel + "("), module + ".ptx defines " + kernel);
            }
            byte[] fatbin = CudaKernels.resource(module + ".fatbin", false);
            assertTrue(fatbin.length > 1000, module + ".fatbin present");
        }
    }

    @Test
    void kernelNamesCoverEveryTypeAndOperator() {
        assertTrue(CudaKernels.kernelNames("elementwise").contains("cohort_reduce_max_bf16"));
        assertTrue(CudaKernels.kernelNames("elementwise").contains("cohort_scale_f16"));
        assertTrue(CudaKernels.kernelNames("allreduce").contains("cohort_ar_two_shot_min_f16"));
        assertTrue(CudaKernels.kernelNames("allreduce").contains("cohort_ar_graph_one_shot_sum_bf16"));
        assertTrue(CudaKernels.kernelNames("allreduce").contains("cohort_ar_graph_add_rmsnorm_bf16"));
        // 4 paths x 3 types x 3 operators, and the fused all-reduce + RMSNorm (eager, graph) per weight type
        assertTrue(CudaKernels.kernelNames("allreduce").size() == 36 + 6);
    }
}
