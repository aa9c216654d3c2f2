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

    /**
     * Like {@link #load(TensorOps, List)}, with the parts of each fusion ({@link LlamaWeights#fusions}) stacked by
     * rows into one matrix under the fusion's name instead of loaded one by one.
     */
    public Map<String, Matrix> load(TensorOps ops, List<WeightSpec> specs, Map<String, List<String>> fusions) {
        Map<String, WeightSpec> byName = new LinkedHashMap<>();
        specs.forEach(s -> byName.put(s.name(), s));
        Map<String, String> fusionOf = new LinkedHashMap<>();
        fusions.forEach((fused, parts) -> parts.forEach(p -> fusionOf.put(p, fused)));
        Map<String, Matrix> out = new LinkedHashMap<>();
        for (WeightSpec s : specs) {
            String fused = fusionOf.get(s.name());
            if (fused == null) {
                out.put(s.name(), load(ops, s));
            } else if (!out.containsKey(fused)) {
                out.put(fused, loadStacked(ops, fused, fusions.get(fused).stream().map(byName::get).toList()));
            }
        }
        return out;
    }

    /** The row slices of {@code parts} (same columns and dtype, split by rows or replicated) one under another. */
    public Matrix loadStacked(TensorOps ops, String name, List<WeightSpec> parts) {
        DType dtype = null;
        int rows = 0;
        int cols = parts.getFirst().cols();
        for (WeightSpec p : parts) {
            if (p == null) {
                throw new ModelException(name + ": a part is missing from the rank's weights");
            }
            TensorInfo info = checkpoint.info(p.name());
            checkShape(info, p);
            if (p.split() instanceof Split.Cols || p.cols() != cols || (dtype != null && info.dtype() != dtype)) {
                throw new ModelException("cannot stack " + p.name() + " (" + info.dtype() + ", " + p.cols()
                        + " columns, " + p.split() + ") under " + parts.getFirst().name() + " into " + name);
            }
            dtype = info.dtype();
            rows += p.localRows();
        }
        Matrix dst = ops.allocate(dtype, rows, cols);
        long rowBytes = (long) cols * dtype.bytes();
        long at = 0;
        for (WeightSpec p : parts) {
            MemorySegment src = checkpoint.bytes(p.name());
            MemorySegment slice = p.split() instanceof Split.Rows(var part)
                    ? src.asSlice(part.start() * rowBytes, part.length() * rowBytes) : src;
            ops.upload(slice, dst.buffer(), at);
            at += slice.byteSize();
            progress.advance(slice.byteSize(), 1);
        }
        return dst;
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
