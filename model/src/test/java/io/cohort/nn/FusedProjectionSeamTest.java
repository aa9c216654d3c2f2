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
 * The seam of the fused projections (TensorOps.siluMatmulT, matmulTAddRmsNorm, siluMatmulTAddRmsNorm): the
 * defaults are the unfused ops bit for bit (host), and the layers call them: at tp = 1 the o_proj and down
 * projections each make one fused call (add + norm inside, and down's SwiGLU), at tp ≥ 2 down's product is
 * siluMatmulT and the all-reduce + norm stay the collective's.
 */
class FusedProjectionSeamTest {
    private final HostDevice device = HostDevice.open(0);
    private final HostTensorOps host = new HostTensorOps(device, 1);

    @AfterEach
    void close() {
        host.close();
        device.close();
    }

    /** Host ops that count the fused calls (the defaults run, so the math is the unfused ops'). */
    private static final class Counting implements TensorOps {
        final TensorOps d;
        int silu, addNorm, siluAddNorm, plainMatmul, siluMulPacked, addRmsNorm, swiGlu, normSwiGlu, matmulAdd;

        Counting(TensorOps d) {
            this.d = d;
        }

        @Override
        public void siluMatmulT(Matrix gu, Matrix g, Matrix w, Matrix out) {
            silu++;
            TensorOps.super.siluMatmulT(gu, g, w, out);
        }

        @Override
        public void matmulTSwiGlu(Matrix x, Matrix w, Matrix gu, Matrix g) {
            swiGlu++;
            TensorOps.super.matmulTSwiGlu(x, w, gu, g);
        }

        @Override
        public void rmsNormMatmulTSwiGlu(Matrix x, Matrix nw, float eps, Matrix n, Matrix w, Matrix gu, Matrix g) {
            normSwiGlu++;
            TensorOps.super.rmsNormMatmulTSwiGlu(x, nw, eps, n, w, gu, g);
        }

        @Override
        public void matmulTAdd(Matrix a, Matrix w, Matrix out, Matrix residual) {
            matmulAdd++;
            TensorOps.super.matmulTAdd(a, w, out, residual);
        }

        @Override
        public void matmulTAddRmsNorm(Matrix a, Matrix w, Matrix out, Matrix r, Matrix nw, float eps, Matrix n) {
            addNorm++;
            TensorOps.super.matmulTAddRmsNorm(a, w, out, r, nw, eps, n);
        }

        @Override
        public void siluMatmulTAddRmsNorm(Matrix gu, Matrix g, Matrix w, Matrix out, Matrix r, Matrix nw, float eps,
                                          Matrix n) {
            siluAddNorm++;
            TensorOps.super.siluMatmulTAddRmsNorm(gu, g, w, out, r, nw, eps, n);
        }

        public io.cohort.device.Device device() { return d.device(); }
        public Matrix allocate(DType t, int rows, int cols) { return d.allocate(t, rows, cols); }
        public void free(Matrix m) { d.free(m); }
        public void upload(java.lang.foreign.MemorySegment s, io.cohort.device.DeviceBuffer b, long o) { d.upload(s, b, o); }
        public void download(io.cohort.device.DeviceBuffer b, long o, java.lang.foreign.MemorySegment s) { d.download(b, o, s); }
        public void matmulT(Matrix a, Matrix w, Matrix out) { plainMatmul++; d.matmulT(a, w, out); }
        public void rmsNorm(Matrix x, Matrix w, float eps, Matrix out) { d.rmsNorm(x, w, eps, out); }
        public void addRmsNorm(Matrix x, Matrix dl, Matrix w, float eps, Matrix out) { addRmsNorm++; d.addRmsNorm(x, dl, w, eps, out); }
        public void rotary(Matrix x, int h, int hd, int p, Matrix t) { d.rotary(x, h, hd, p, t); }
        public void siluMul(Matrix g, Matrix u, Matrix out) { d.siluMul(g, u, out); }
        public void siluMulPacked(Matrix gu, Matrix out) { siluMulPacked++; d.siluMulPacked(gu, out); }
        public void add(Matrix a, Matrix b, Matrix out) { d.add(a, b, out); }
        public void embed(Matrix t, int v, int[] tokens, Matrix out) { d.embed(t, v, tokens, out); }
        public void copyRows(Matrix s, Matrix dst, int row) { d.copyRows(s, dst, row); }
        public void copyColumns(Matrix s, int from, Matrix dst) { d.copyColumns(s, from, dst); }
        public void attention(Matrix q, Matrix k, Matrix v, int h, int kv, int hd, int p, Matrix out) { d.attention(q, k, v, h, kv, hd, p, out); }
        public void orderBefore(io.cohort.device.DeviceStream s) { d.orderBefore(s); }
        public void orderAfter(io.cohort.device.DeviceStream s) { d.orderAfter(s); }
        public void synchronize() { d.synchronize(); }
        public void close() { }
    }

    /** A comm of {@code size} ranks seen from rank 0: the all-reduce adds the peers' zeros; never fuses. */
    private record Comm(int size, int[] allReduces) implements TpComm {
        Comm(int size) {
            this(size, new int[1]);
        }

        public int rank() {
            return 0;
        }

        public void allReduceSum(Tensor tensor) {
            allReduces[0]++;
        }
    }

    private Matrix random(int rows, int cols, Random rnd) {
        Matrix m = host.allocate(DType.F32, rows, cols);
        for (long i = 0; i < m.elements(); i++) {
            DType.F32.set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private Matrix copy(Matrix m) {
        Matrix c = host.allocate(m.dtype(), m.rows(), m.cols());
        c.buffer().segment().copyFrom(m.buffer().segment().asSlice(0, m.byteSize()));
        return c;
    }

    private static void assertSame(Matrix expected, Matrix got, String what) {
        for (long i = 0; i < expected.elements(); i++) {
            assertEquals(Float.floatToRawIntBits(DType.F32.get(expected.buffer().segment(), i)),
                    Float.floatToRawIntBits(DType.F32.get(got.buffer().segment(), i)), what + " at " + i);
        }
    }

    @Test
    void defaultsAreTheUnfusedOps() {
        Random rnd = new Random(5);
        int m = 2, n = 24, k = 16;
        Matrix gu = random(m, 2 * k, rnd), w = random(n, k, rnd), nw = random(1, n, rnd), residual = random(m, n, rnd);
        Matrix g = host.allocate(DType.F32, m, k), out = host.allocate(DType.F32, m, n);
        Matrix r1 = copy(residual), n1 = host.allocate(DType.F32, m, n), p1 = host.allocate(DType.F32, m, n);
        host.siluMulPacked(gu, g);
        host.matmulT(g, w, p1);
        host.addRmsNorm(r1, p1, nw, 1e-5f, n1);

        Matrix p2 = host.allocate(DType.F32, m, n);
        host.siluMatmulT(gu, host.allocate(DType.F32, m, k), w, p2);
        assertSame(p1, p2, "siluMatmulT");

        Matrix r2 = copy(residual), n2 = host.allocate(DType.F32, m, n);
        host.siluMatmulTAddRmsNorm(gu, host.allocate(DType.F32, m, k), w, out, r2, nw, 1e-5f, n2);
        assertSame(r1, r2, "siluMatmulTAddRmsNorm residual");
        assertSame(n1, n2, "siluMatmulTAddRmsNorm normed");

        Matrix r3 = copy(residual), n3 = host.allocate(DType.F32, m, n), r4 = copy(residual);
        Matrix n4 = host.allocate(DType.F32, m, n);
        host.matmulT(g, w, p1);
        host.addRmsNorm(r3, p1, nw, 1e-5f, n3);
        host.matmulTAddRmsNorm(g, w, out, r4, nw, 1e-5f, n4);
        assertSame(r3, r4, "matmulTAddRmsNorm residual");
        assertSame(n3, n4, "matmulTAddRmsNorm normed");
    }

    @Test
    void atTpOneEachProjectionIsOneFusedCall() {
        Random rnd = new Random(6);
        int t = 1, h = 24, f = 32;
        Counting ops = new Counting(host);
        Comm comm = new Comm(1);
        Matrix wGateUp = random(2 * f, h, rnd), wDown = random(h, f, rnd), wO = random(h, h, rnd);
        RmsNorm norm = new RmsNorm(random(1, h, rnd), 1e-5f);
        SwiGluMlp mlp = new SwiGluMlp(new ColumnParallelLinear(wGateUp), new RowParallelLinear(wDown, comm));
        Matrix x = random(t, h, rnd), residual = random(t, h, rnd), before = copy(residual);
        Matrix gu = host.allocate(DType.F32, t, 2 * f), g = host.allocate(DType.F32, t, f);
        Matrix out = host.allocate(DType.F32, t, h), normed = host.allocate(DType.F32, t, h);

        new RowParallelLinear(wO, comm).forwardAddNorm(ops, x, out, residual, norm, normed);
        assertEquals(1, ops.addNorm);
        mlp.forwardAddNorm(ops, x, gu, g, out, residual, norm, normed);
        assertEquals(1, ops.swiGlu, "gate|up takes the SwiGLU");
        assertEquals(2, ops.addNorm, "down: the product, the add and the norm");
        assertEquals(0, comm.allReduces()[0]);

        // and the result is the unfused sequence's
        Matrix r = copy(before), nr = host.allocate(DType.F32, t, h), p = host.allocate(DType.F32, t, h);
        host.matmulT(x, wO, p);
        host.addRmsNorm(r, p, norm.weight(), norm.eps(), nr);
        host.matmulT(x, wGateUp, gu);
        host.siluMulPacked(gu, g);
        host.matmulT(g, wDown, p);
        host.addRmsNorm(r, p, norm.weight(), norm.eps(), nr);
        assertSame(r, residual, "residual");
        assertSame(nr, normed, "normed");

        mlp.forward(ops, x, gu, g, out);
        assertEquals(2, ops.swiGlu, "forward: gate|up's product takes the SwiGLU");
        assertEquals(0, ops.silu);

        // the residual stream (LlamaRank at tp = 1): the norm and the SwiGLU in gate|up, the add in down
        Matrix r2 = copy(before), r3 = copy(before), n3 = host.allocate(DType.F32, t, h);
        mlp.forwardResidual(ops, r2, norm, normed, gu, g, out);
        assertEquals(1, ops.normSwiGlu);
        assertEquals(1, ops.matmulAdd);
        host.rmsNorm(r3, norm.weight(), norm.eps(), n3);
        host.matmulT(n3, wGateUp, gu);
        host.siluMulPacked(gu, g);
        host.matmulT(g, wDown, p);
        host.add(r3, p, r3);
        assertSame(r3, r2, "residual stream");
    }

    @Test
    void atTpTwoDownTakesTheSwiGluAndTheCollectiveTheNorm() {
        Random rnd = new Random(7);
        int t = 2, h = 24, f = 32;
        Counting ops = new Counting(host);
        Comm comm = new Comm(2);
        SwiGluMlp mlp = new SwiGluMlp(new ColumnParallelLinear(random(2 * f, h, rnd)),
                new RowParallelLinear(random(h, f, rnd), comm));
        RmsNorm norm = new RmsNorm(random(1, h, rnd), 1e-5f);
        Matrix x = random(t, h, rnd), residual = random(t, h, rnd);
        mlp.forwardAddNorm(ops, x, host.allocate(DType.F32, t, 2 * f), host.allocate(DType.F32, t, f),
                host.allocate(DType.F32, t, h), residual, norm, host.allocate(DType.F32, t, h));
        assertEquals(1, ops.swiGlu);
        assertEquals(0, ops.silu + ops.siluAddNorm + ops.addNorm);
        assertEquals(1, comm.allReduces()[0]);
        assertEquals(1, ops.addRmsNorm, "the unfused collective's add + norm");
    }
}
