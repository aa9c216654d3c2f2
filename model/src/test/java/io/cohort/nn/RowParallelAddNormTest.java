package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.nn.host.HostTensorOps;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The seam of the fused all-reduce + residual add + RMSNorm: a group that fuses gets one call and nothing else;
 * one that does not gets the all-reduce, then the same add + norm as matmulT then addRmsNorm written out here
 * (bit for bit: the same host ops on the same inputs).
 */
class RowParallelAddNormTest {
    private final HostDevice device = HostDevice.open(0);
    private final HostTensorOps ops = new HostTensorOps(device, 1);

    @AfterEach
    void close() {
        ops.close();
        device.close();
    }

    /** Two ranks' comm seen from one: the all-reduce leaves the tensor as it is (the peer adds zeros). */
    private static final class Comm implements TpComm {
        final boolean fuses, inGemv;
        int allReduces, fused, gemvs;

        Comm(boolean fuses) {
            this(fuses, false);
        }

        Comm(boolean fuses, boolean inGemv) {
            this.fuses = fuses;
            this.inGemv = inGemv;
        }

        @Override
        public boolean matmulTAllReduceAddRmsNorm(TensorOps o, Matrix x, Matrix w, Matrix residual, RmsNorm norm,
                                                  Matrix normed) {
            if (inGemv) {
                gemvs++;
            }
            return inGemv;
        }

        public int rank() {
            return 0;
        }

        public int size() {
            return 2;
        }

        public void allReduceSum(Tensor tensor) {
            allReduces++;
        }

        @Override
        public boolean allReduceAddRmsNorm(Matrix partial, Matrix residual, RmsNorm norm, Matrix normed) {
            if (fuses) {
                fused++;
            }
            return fuses;
        }
    }

    private Matrix random(int rows, int cols, Random rnd) {
        Matrix m = ops.allocate(DType.F32, rows, cols);
        for (long i = 0; i < m.elements(); i++) {
            DType.F32.set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private Matrix copy(Matrix m) {
        Matrix c = ops.allocate(m.dtype(), m.rows(), m.cols());
        c.buffer().segment().copyFrom(m.buffer().segment().asSlice(0, m.byteSize()));
        return c;
    }

    @Test
    void withoutFusionAllReducesThenAddsAndNorms() {
        Random rnd = new Random(1);
        Matrix w = random(24, 16, rnd), x = random(3, 16, rnd), residual = random(3, 24, rnd), nw = random(1, 24, rnd);
        Matrix out = ops.allocate(DType.F32, 3, 24), normed = ops.allocate(DType.F32, 3, 24);
        Matrix expectedResidual = copy(residual), expectedOut = ops.allocate(DType.F32, 3, 24);
        Matrix expectedNormed = ops.allocate(DType.F32, 3, 24);
        ops.matmulT(x, w, expectedOut);
        ops.addRmsNorm(expectedResidual, expectedOut, nw, 1e-5f, expectedNormed);
        Comm comm = new Comm(false);
        new RowParallelLinear(w, comm).forwardAddNorm(ops, x, out, residual, new RmsNorm(nw, 1e-5f), normed);
        assertEquals(1, comm.allReduces);
        for (long i = 0; i < normed.elements(); i++) {
            assertEquals(DType.F32.get(expectedResidual.buffer().segment(), i), DType.F32.get(residual.buffer().segment(), i), 0);
            assertEquals(DType.F32.get(expectedNormed.buffer().segment(), i), DType.F32.get(normed.buffer().segment(), i), 0);
        }
    }

    @Test
    void aFusingGroupGetsOneCallAndNothingElse() {
        Random rnd = new Random(2);
        Matrix w = random(24, 16, rnd), x = random(3, 16, rnd), residual = random(3, 24, rnd), nw = random(1, 24, rnd);
        Matrix before = copy(residual);
        Comm comm = new Comm(true);
        new RowParallelLinear(w, comm).forwardAddNorm(ops, x, ops.allocate(DType.F32, 3, 24), residual,
                new RmsNorm(nw, 1e-5f), ops.allocate(DType.F32, 3, 24));
        assertEquals(1, comm.fused);
        assertEquals(0, comm.allReduces);
        for (long i = 0; i < residual.elements(); i++) {   // the collective owns the add: the layer left it alone
            assertEquals(DType.F32.get(before.buffer().segment(), i), DType.F32.get(residual.buffer().segment(), i), 0);
        }
    }

    @Test
    void aGroupThatRunsItInTheGemvGetsThatCallAndNoProduct() {
        Random rnd = new Random(3);
        Matrix w = random(24, 16, rnd), x = random(3, 16, rnd), residual = random(3, 24, rnd), nw = random(1, 24, rnd);
        Matrix out = ops.allocate(DType.F32, 3, 24);
        for (long i = 0; i < out.elements(); i++) {
            DType.F32.set(out.buffer().segment(), i, 12345f);
        }
        Comm comm = new Comm(true, true);
        new RowParallelLinear(w, comm).forwardAddNorm(ops, x, out, residual, new RmsNorm(nw, 1e-5f),
                ops.allocate(DType.F32, 3, 24));
        assertEquals(1, comm.gemvs);
        assertEquals(0, comm.fused);
        assertEquals(0, comm.allReduces);
        for (long i = 0; i < out.elements(); i++) {   // the product's scratch untouched: the kernel did it all
            assertEquals(12345f, DType.F32.get(out.buffer().segment(), i), 0);
        }
    }
}
