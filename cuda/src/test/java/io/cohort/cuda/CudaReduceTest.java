package io.cohort.cuda;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Element-wise reduce and scale against a host reference, bit for bit: every dtype, op, odd sizes, alignment. */
@Tag("gpu")
class CudaReduceTest {

    private static final long[] COUNTS = {1, 3, 8, 9, 1001, 65_537, 1 << 20};

    @Test
    void reduceMatchesHostForEveryTypeOpSizeAndAlignment() {
        CudaDevice d = Gpu.device();
        Random rnd = new Random();
        try (CudaStream s = d.createStream()) {
            for (DType t : DType.values()) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (long count : COUNTS) {
                        for (int shift : new int[]{0, 1}) {     // 1: element offset, not 16-byte aligned
                            for (boolean alias : new boolean[]{false, true}) {
                                check(d, s, t, op, count, shift, alias, rnd);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void check(CudaDevice d, CudaStream s, DType t, ReduceOp op, long count, int shift, boolean alias, Random rnd) {
        long bytes = count * t.bytes();
        long off = (long) shift * t.bytes();
        CudaBuffer a = d.allocate(bytes + 64);
        CudaBuffer b = d.allocate(bytes + 64);
        CudaBuffer dst = alias ? a : d.allocate(bytes + 64);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ha = Gpu.random(arena, t, count, rnd);
            MemorySegment hb = Gpu.random(arena, t, count, rnd);
            s.copyFromHost(ha.asSlice(0, bytes), a, off);
            s.copyFromHost(hb.asSlice(0, bytes), b, 0);
            s.reduce(t, op, a, off, b, 0, dst, off, count);
            MemorySegment out = arena.allocate(bytes);
            s.copyToHost(dst, off, out);
            s.synchronize();
            Gpu.assertBitsEqual(t, Gpu.reference(arena, t, op, ha, hb, count), out, count,
                    "reduce " + t + " " + op + " count " + count + " shift " + shift + (alias ? " dst=a" : ""));
        } finally {
            d.free(a);
            d.free(b);
            if (!alias) {
                d.free(dst);
            }
        }
    }

    @Test
    void scaleMatchesHost() {
        CudaDevice d = Gpu.device();
        Random rnd = new Random();
        try (CudaStream s = d.createStream(); Arena arena = Arena.ofConfined()) {
            for (DType t : DType.values()) {
                for (long count : COUNTS) {
                    for (double factor : new double[]{0.25, 1.0 / 3}) {
                        long bytes = count * t.bytes();
                        CudaBuffer buf = d.allocate(bytes + 16);
                        try {
                            MemorySegment h = Gpu.random(arena, t, count, rnd);
                            s.copyFromHost(h.asSlice(0, bytes), buf, t.bytes());
                            s.scale(t, buf, t.bytes(), count, factor);
                            MemorySegment out = arena.allocate(bytes);
                            s.copyToHost(buf, t.bytes(), out);
                            s.synchronize();
                            MemorySegment ref = arena.allocate(bytes);
                            for (long i = 0; i < count; i++) {
                                t.set(ref, i, t.get(h, i) * (float) factor);
                            }
                            Gpu.assertBitsEqual(t, ref, out, count, "scale " + t + " by " + factor + " count " + count);
                        } finally {
                            d.free(buf);
                        }
                    }
                }
            }
        }
    }
}
