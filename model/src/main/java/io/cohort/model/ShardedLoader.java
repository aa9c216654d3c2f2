package io.cohort.model;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Copies each rank's slice of each weight from the memory-mapped checkpoint straight into that rank's device
 * memory, never materializing a full tensor: row slices are one contiguous copy, column slices a strided
 * gather (directly into host-accessible memory, through one staging buffer otherwise). Weights keep the
 * checkpoint's dtype. Thread-safe: every rank loads its own slices on its own thread.
 */
public final class ShardedLoader {
    private final Checkpoint checkpoint;
    private final ProgressBar progress;

    public ShardedLoader(Checkpoint checkpoint, ProgressBar progress) {
        this.checkpoint = checkpoint;
        this.progress = progress;
    }

    /** Bytes the slices of {@code specs} take (for the progress total). */
    public static long bytesOf(Checkpoint checkpoint, List<WeightSpec> specs) {
        long total = 0;
        for (WeightSpec s : specs) {
            total += s.localElements() * checkpoint.info(s.name()).dtype().bytes();
        }
        return total;
    }

    /** Loads every spec onto {@code ops}' device, by name. */
    public Map<String, Matrix> load(TensorOps ops, List<WeightSpec> specs) {
        Map<String, Matrix> out = new LinkedHashMap<>();
        for (WeightSpec s : specs) {
            out.put(s.name(), load(ops, s));
        }
        return out;
    }

    public Matrix load(TensorOps ops, WeightSpec spec) {
        TensorInfo info = checkpoint.info(spec.name());
        checkShape(info, spec);
        DType dtype = info.dtype();
        MemorySegment src = checkpoint.bytes(spec.name());
        Matrix dst = ops.allocate(dtype, spec.localRows(), spec.localCols());
        long rowBytes = (long) spec.cols() * dtype.bytes();
        switch (spec.split()) {
            case Split.Replicated() -> ops.upload(src, dst.buffer(), 0);
            case Split.Rows(var p) -> ops.upload(src.asSlice(p.start() * rowBytes, p.length() * rowBytes), dst.buffer(), 0);
            case Split.Cols(var p) -> {
                long sliceBytes = (long) p.length() * dtype.bytes();
                long colOffset = (long) p.start() * dtype.bytes();
                if (dst.buffer().isHostAccessible()) {
                    MemorySegment d = dst.buffer().segment();
                    for (long r = 0; r < spec.rows(); r++) {
                        MemorySegment.copy(src, r * rowBytes + colOffset, d, r * sliceBytes, sliceBytes);
                    }
                } else {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment staging = arena.allocate(dst.byteSize(), 256);
                        for (long r = 0; r < spec.rows(); r++) {
                            MemorySegment.copy(src, r * rowBytes + colOffset, staging, r * sliceBytes, sliceBytes);
                        }
                        ops.upload(staging, dst.buffer(), 0);
                        ops.synchronize();
                    }
                }
            }
        }
        progress.advance(dst.byteSize(), 1);
        return dst;
    }

    private static void checkShape(TensorInfo info, WeightSpec spec) {
        long[] shape = info.shape();
        boolean ok = switch (shape.length) {
            case 1 -> spec.rows() == 1 && shape[0] == spec.cols();
            case 2 -> shape[0] == spec.rows() && shape[1] == spec.cols();
            default -> false;
        };
        if (!ok) {
            throw new ModelException("tensor '" + spec.name() + "' has shape " + info.shapeString()
                    + " but config.json implies " + (spec.rows() == 1 ? "[" + spec.cols() + "]"
                    : "[" + spec.rows() + ", " + spec.cols() + "]"));
        }
    }
}
