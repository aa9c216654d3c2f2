package io.cohort.nn.cuda;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import io.cohort.core.CohortException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A measured choice of decode GEMM kernel per product, read from a HOCON file: which kernel computes
 * {@code out[rows, n] = a[rows, k] · w[n, k]ᵀ} fastest on this GPU. {@code GemvSweepBench} writes one from its
 * table; {@code -Dcohort.nn.gemm-choices=FILE} makes {@link CudaTensorOps#matmulT} take it before its rules
 * ({@link Gemv#faster}, {@link TcGemv#takes}), where the chosen kernel takes the operands. A product the file
 * does not name follows the rules.
 *
 * <pre>
 * choices = [
 *   { n = 4096, k = 4096, rows = 1, kernel = gemv_v3 }   # cublas | gemv | gemv_v&lt;i&gt; | tc_v&lt;i&gt; | lt_a&lt;i&gt;
 * ]
 * </pre>
 * Lookups allocate nothing (sorted keys, binary search): matmulT asks at every call.
 */
final class GemmChoices {
    /** The kernels a choice can name; GEMV_VARIANT, TC and LT carry an index. */
    enum Kind { CUBLAS, GEMV, GEMV_VARIANT, TC, LT }

    private static final Pattern KERNEL = Pattern.compile("(cublas|gemv)|(gemv_v|tc_v|lt_a)(\\d+)");

    private final long[] keys;
    private final Kind[] kinds;
    private final int[] indices;

    private GemmChoices(long[] keys, Kind[] kinds, int[] indices) {
        this.keys = keys;
        this.kinds = kinds;
        this.indices = indices;
    }

    /** The file {@code -Dcohort.nn.gemm-choices} names, or null where the property is not set. */
    static GemmChoices fromSystemProperty() {
        String file = System.getProperty("cohort.nn.gemm-choices");
        return file == null || file.isBlank() ? null : load(Path.of(file));
    }

    /** Reads {@code file}; a missing file or a bad entry is one line naming the file (and the entry). */
    static GemmChoices load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CohortException("GEMM choices " + file + " (cohort.nn.gemm-choices): no such file");
        }
        Config c;
        List<? extends Config> entries;
        try {
            c = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
            entries = c.getConfigList("choices");
        } catch (ConfigException e) {
            throw new CohortException("GEMM choices " + file + ": " + e.getMessage());
        }
        long[] keys = new long[entries.size()];
        Kind[] kinds = new Kind[entries.size()];
        int[] indices = new int[entries.size()];
        Integer[] order = new Integer[entries.size()];
        for (int i = 0; i < entries.size(); i++) {
            Config e = entries.get(i);
            String kernel;
            int n, k, rows;
            try {
                n = e.getInt("n");
                k = e.getInt("k");
                rows = e.getInt("rows");
                kernel = e.getString("kernel");
            } catch (ConfigException x) {
                throw new CohortException("GEMM choices " + file + ", entry " + i + ": " + x.getMessage());
            }
            if (n < 1 || k < 1 || rows < 1 || rows > Gemv.MAX_ROWS || n >= 1 << 24 || k >= 1 << 24) {
                throw new CohortException("GEMM choices " + file + ", entry " + i + ": n " + n + ", k " + k + ", rows "
                        + rows + " (want n, k in 1..2^24 - 1, rows in 1.." + Gemv.MAX_ROWS + ")");
            }
            Matcher m = KERNEL.matcher(kernel);
            if (!m.matches()) {
                throw new CohortException("GEMM choices " + file + ", entry " + i + ": unknown kernel '" + kernel
                        + "' (cublas, gemv, gemv_v<i>, tc_v<i> or lt_a<i>)");
            }
            keys[i] = key(n, k, rows);
            if (m.group(1) != null) {
                kinds[i] = m.group(1).equals("cublas") ? Kind.CUBLAS : Kind.GEMV;
            } else {
                kinds[i] = switch (m.group(2)) {
                    case "gemv_v" -> Kind.GEMV_VARIANT;
                    case "tc_v" -> Kind.TC;
                    default -> Kind.LT;
                };
                indices[i] = Integer.parseInt(m.group(3));
            }
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Long.compare(keys[x], keys[y]));
        long[] sortedKeys = new long[keys.length];
        Kind[] sortedKinds = new Kind[keys.length];
        int[] sortedIndices = new int[keys.length];
        for (int i = 0; i < order.length; i++) {
            if (i > 0 && keys[order[i]] == keys[order[i - 1]]) {
                throw new CohortException("GEMM choices " + file + ": entries " + order[i - 1] + " and " + order[i]
                        + " name the same product");
            }
            sortedKeys[i] = keys[order[i]];
            sortedKinds[i] = kinds[order[i]];
            sortedIndices[i] = indices[order[i]];
        }
        return new GemmChoices(sortedKeys, sortedKinds, sortedIndices);
    }

    private static long key(int n, int k, int rows) {
        return ((long) n << 29) | ((long) k << 5) | rows;   // n, k < 2^24, rows <= 16 < 2^5
    }

    /** The position of the choice for this product, or -1 where the file names none. */
    int find(int n, int k, int rows) {
        if (n >= 1 << 24 || k >= 1 << 24 || rows < 1 || rows > Gemv.MAX_ROWS) {
            return -1;
        }
        return Math.max(-1, Arrays.binarySearch(keys, key(n, k, rows)));
    }

    Kind kind(int choice) {
        return kinds[choice];
    }

    /** The variant, tc variant or cuBLASLt algorithm index of choice {@code choice} (0 for cublas and gemv). */
    int index(int choice) {
        return indices[choice];
    }

    int size() {
        return keys.length;
    }
}
