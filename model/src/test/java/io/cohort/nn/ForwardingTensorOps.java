package io.cohort.nn;

import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;

/**
 * Test ops that pass every op TensorOps requires to {@code d} (the fused forms keep their defaults, which call
 * back into these); a test overrides what it watches or changes.
 */
abstract class ForwardingTensorOps implements TensorOps {
    final TensorOps d;

    ForwardingTensorOps(TensorOps d) {
        this.d = d;
    }

    public Device device() { return d.device(); }
    public Matrix allocate(DType t, int rows, int cols) { return d.allocate(t, rows, cols); }
    public void free(Matrix m) { d.free(m); }
    public void upload(MemorySegment s, DeviceBuffer b, long o) { d.upload(s, b, o); }
    public void download(DeviceBuffer b, long o, MemorySegment s) { d.download(b, o, s); }
    public void matmulT(Matrix a, Matrix w, Matrix out) { d.matmulT(a, w, out); }
    public void rmsNorm(Matrix x, Matrix w, float eps, Matrix out) { d.rmsNorm(x, w, eps, out); }
    public void rotary(Matrix x, int h, int hd, int p, Matrix t) { d.rotary(x, h, hd, p, t); }
    public void siluMul(Matrix g, Matrix u, Matrix out) { d.siluMul(g, u, out); }
    public void siluMulPacked(Matrix gu, Matrix out) { d.siluMulPacked(gu, out); }
    public void add(Matrix a, Matrix b, Matrix out) { d.add(a, b, out); }
    public void embed(Matrix t, int v, int[] tokens, Matrix out) { d.embed(t, v, tokens, out); }
    public void copyRows(Matrix s, Matrix dst, int row) { d.copyRows(s, dst, row); }
    public void copyColumns(Matrix s, int from, Matrix dst) { d.copyColumns(s, from, dst); }
    public void attention(Matrix q, Matrix k, Matrix v, int h, int kv, int hd, int p, Matrix out) { d.attention(q, k, v, h, kv, hd, p, out); }
    public void orderBefore(DeviceStream s) { d.orderBefore(s); }
    public void orderAfter(DeviceStream s) { d.orderAfter(s); }
    public void synchronize() { d.synchronize(); }
    public void close() { d.close(); }
}
