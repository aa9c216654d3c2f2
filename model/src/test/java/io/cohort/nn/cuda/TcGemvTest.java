package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The tensor-core skinny GEMM's launch rules (no GPU needed), the variant table against gemv.cu, and a host
 * emulation of the kernel's indexing: every lane's loads (permuted k), the mma.m16n8k16 fragment layouts as the
 * PTX ISA documents them, the k-split reduction and the stores, on integers (exact), so that every (row, k,
 * token) product must be counted exactly once and every output written once.
 */
class TcGemvTest {
    private static final long ALIGNED = 0x7f00_0000_0000L;

    @Test
    void supportsDecodeShapes() {
        for (DType w : new DType[] {DType.BF16, DType.F16}) {
            for (int m = 1; m <= 16; m++) {
                assertTrue(TcGemv.supports(DType.F32, w, DType.F32, m, 4096, ALIGNED, ALIGNED + 256), w + " m=" + m);
            }
            assertTrue(TcGemv.supports(DType.F32, w, DType.F32, 16, 8, ALIGNED, ALIGNED));
            assertTrue(TcGemv.supports(DType.F32, w, DType.F32, 16, 14336, ALIGNED, ALIGNED));
            assertTrue(TcGemv.supports(DType.F32, w, DType.F32, 3, 1000, ALIGNED, ALIGNED));
        }
    }

    @Test
    void refusesTheRest() {
        DType bf = DType.BF16, f32 = DType.F32;
        assertFalse(TcGemv.supports(f32, bf, f32, 0, 4096, ALIGNED, ALIGNED), "no rows");
        assertFalse(TcGemv.supports(f32, bf, f32, 17, 4096, ALIGNED, ALIGNED), "17 rows");
        assertFalse(TcGemv.supports(f32, f32, f32, 4, 4096, ALIGNED, ALIGNED), "f32 weights");
        assertFalse(TcGemv.supports(bf, bf, f32, 4, 4096, ALIGNED, ALIGNED), "bf16 activations");
        assertFalse(TcGemv.supports(f32, bf, bf, 4, 4096, ALIGNED, ALIGNED), "bf16 output");
        assertFalse(TcGemv.supports(f32, bf, f32, 4, 1001, ALIGNED, ALIGNED), "k not whole vectors");
        assertFalse(TcGemv.supports(f32, bf, f32, 4, 0, ALIGNED, ALIGNED), "k = 0");
        assertFalse(TcGemv.supports(f32, bf, f32, 4, 4096, ALIGNED + 4, ALIGNED), "a misaligned");
        assertFalse(TcGemv.supports(f32, bf, f32, 4, 4096, ALIGNED, ALIGNED + 8), "w misaligned");
    }

    @Test
    void takesThreeToSixteenRowsOfShortRowsAndSmallWeights() {
        long mib = 1L << 20;
        assertFalse(TcGemv.takes(1, 4096, 32 * mib), "one row stays on the GEMV");
        assertFalse(TcGemv.takes(2, 4096, 32 * mib), "two rows stay on the GEMV");
        for (int m = 3; m <= 16; m++) {
            assertTrue(TcGemv.takes(m, 4096, 32 * mib), "8B o_proj, m=" + m);
            assertEquals(m <= 8, TcGemv.takes(m, 4096, 48 * mib), "8B qkv: up to 8 rows, m=" + m);
            assertFalse(TcGemv.takes(m, 4096, 224 * mib), "8B gate_up: cuBLAS, m=" + m);
            assertFalse(TcGemv.takes(m, 14336, 112 * mib), "long rows of a large weight (8B down): cuBLAS, m=" + m);
            assertTrue(TcGemv.takes(m, 5632, 22 * mib), "long rows of a small weight (TinyLlama down), m=" + m);
        }
        assertFalse(TcGemv.takes(4, 1024, 2 * mib), "small weights at 3-4 rows: the GEMV");
        assertTrue(TcGemv.takes(5, 1024, 2 * mib));
        assertFalse(TcGemv.takes(17, 4096, 32 * mib));
        assertFalse(TcGemv.takes(0, 4096, 32 * mib));
    }

    @Test
    void tilesAndGrid() {
        for (int m = 1; m <= 8; m++) {
            assertEquals(0, TcGemv.tile(m));
        }
        for (int m = 9; m <= 16; m++) {
            assertEquals(1, TcGemv.tile(m));
        }
        assertThrows(IllegalArgumentException.class, () -> TcGemv.tile(17));
        assertThrows(IllegalArgumentException.class, () -> TcGemv.tile(0));
        for (int v = 0; v < TcGemv.VARIANTS.length; v++) {
            TcGemv.Variant s = TcGemv.VARIANTS[v];
            assertTrue(s.rowsPerWarp() == 16 || s.rowsPerWarp() == 32);
            assertEquals(0, s.warps() % s.kSplit());
            assertTrue(s.threads() <= 1024 && s.threads() % 32 == 0);
            int rows = s.blockRows();
            assertEquals(4096 / rows, TcGemv.blocks(v, 4096));
            assertEquals(4096 / rows + 1, TcGemv.blocks(v, 4097));
            assertEquals(1, TcGemv.blocks(v, 1));
            assertEquals(128256 / rows + (128256 % rows == 0 ? 0 : 1), TcGemv.blocks(v, 128256));
        }
        int d = TcGemv.defaultVariant(16, 4096, 4096);
        assertTrue(d >= 0 && d < TcGemv.VARIANTS.length);
        // the measured choices (TcGemv#defaultVariant): 16 warps on short weights, variant 1 elsewhere
        assertEquals(6, TcGemv.defaultVariant(4, 2048, 2048));
        assertEquals(6, TcGemv.defaultVariant(16, 2048, 5632));
        assertEquals(TcGemv.DEFAULT, TcGemv.defaultVariant(16, 1024, 1024));
        assertEquals(7, TcGemv.defaultVariant(4, 4096, 4096));
        assertEquals(TcGemv.DEFAULT, TcGemv.defaultVariant(4, 2560, 2048));
        assertEquals(TcGemv.DEFAULT, TcGemv.defaultVariant(4, 6144, 4096));
        assertTrue(TcGemv.takes(4, 5632, 2048L * 5632 * 2), "TinyLlama down, 22 MiB");
        assertTrue(!TcGemv.takes(4, 14336, 4096L * 14336 * 2), "8B down, 112 MiB: cuBLAS");
        assertEquals("cohort_tcgemv_bf16_m8_v3", TcGemv.name(DType.BF16, 0, 3));
        assertEquals("cohort_tcgemv_f16_m16_v0", TcGemv.name(DType.F16, 1, 0));
    }

    /** The table mirrors gemv.cu's COHORT_TCGEMV(v, rows per warp / 16, warps, k-split, unroll) lines. */
    @Test
    void variantTableMirrorsTheSource() throws IOException {
        Path cu = Path.of("../cuda/src/main/cuda/gemv.cu");
        if (!Files.exists(cu)) {
            cu = Path.of("cuda/src/main/cuda/gemv.cu");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(cu), "gemv.cu not found from " + Path.of("").toAbsolutePath());
        Matcher mt = Pattern.compile("(?m)^COHORT_TCGEMV\\((\\d+), (\\d+), (\\d+), (\\d+), (\\d+)\\)").matcher(Files.readString(cu));
        List<TcGemv.Variant> found = new ArrayList<>();
        while (mt.find()) {
            assertEquals(found.size(), Integer.parseInt(mt.group(1)), "variants in order");
            found.add(new TcGemv.Variant(16 * Integer.parseInt(mt.group(2)), Integer.parseInt(mt.group(3)),
                    Integer.parseInt(mt.group(4)), Integer.parseInt(mt.group(5))));
        }
        assertEquals(List.of(TcGemv.VARIANTS), found);
    }

    /** The built PTX defines every kernel NnKernels loads, each taking the 56-byte GemvArgs. */
    @Test
    void ptxDefinesEveryVariant() throws IOException {
        String ptx;
        try (InputStream in = NnKernels.class.getResourceAsStream(NnKernels.GEMV_RESOURCE + ".ptx")) {
            // built by nvcc (build-kernels.sh); a build from the committed fatbins alone has no .ptx
            org.junit.jupiter.api.Assumptions.assumeTrue(in != null, "gemv.ptx not on the class path (no nvcc)");
            ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            for (int i = 0; i < TcGemv.TILES.length; i++) {
                for (int v = 0; v < TcGemv.VARIANTS.length; v++) {
                    String k = TcGemv.name(t, i, v);
                    assertTrue(ptx.contains(".entry " + k + "("), "missing kernel " + k);
                    assertTrue(ptx.contains(k + "_param_0[" + NnKernels.GEMV_ARGS_SIZE + "]"), k + " takes GemvArgs");
                }
            }
        }
    }

    /** Every variant and tile on shapes with k tails (k % 32 != 0), clipped rows and a few rounds. */
    @Test
    void emulatedKernelCountsEveryProductOnce() {
        int[][] shapes = {{40, 72}, {16, 32}, {97, 200}, {5, 8}, {33, 1032}, {70, 24}};
        Random rnd = new Random(7);
        for (int v = 0; v < TcGemv.VARIANTS.length; v++) {
            for (int[] s : shapes) {
                for (int m : new int[] {1, 2, 7, 8, 9, 13, 16}) {
                    int n = s[0], k = s[1];
                    long[][] w = new long[n][k], x = new long[m][k];
                    for (long[] row : w) {
                        for (int q = 0; q < k; q++) {
                            row[q] = rnd.nextInt(201) - 100;
                        }
                    }
                    for (long[] row : x) {
                        for (int q = 0; q < k; q++) {
                            row[q] = rnd.nextInt(201) - 100;
                        }
                    }
                    long[][] got = emulate(TcGemv.VARIANTS[v], TcGemv.TILES[TcGemv.tile(m)] / 8, m, n, k, w, x,
                            TcGemv.blocks(v, n));
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            long ref = 0;
                            for (int q = 0; q < k; q++) {
                                ref += x[i][q] * w[j][q];
                            }
                            assertEquals(ref, got[i][j], "v" + v + " m=" + m + " n=" + n + " k=" + k + " at " + i + "," + j);
                        }
                    }
                }
            }
        }
    }

    /**
     * gemv.cu's tcgemv&lt;W, NT, RT, WARPS, KSPLIT, U&gt; on the host: returns out[m][n]; a store outside [m, n] or
     * a second store to one element fails. mma.m16n8k16 per the PTX ISA fragment tables (lane = 4 g + t):
     * A element i of lane: row g (i in 0,1,4,5) else g + 8, col 2t + (i & 1) + (i >= 4 ? 8 : 0), 2 per 32-bit
     * register in order; B element i: row (k) 2t + (i & 1) + (i >= 2 ? 8 : 0), col g; C element i: row g + (i >= 2
     * ? 8 : 0), col 2t + (i & 1).
     */
    private static long[][] emulate(TcGemv.Variant s, int nt, int m, int n, int k, long[][] w, long[][] x, int blocks) {
        int rt = s.rowsPerWarp() / 16, warps = s.warps(), ksplit = s.kSplit(), u = s.unroll();
        int groups = warps / ksplit, rows = rt * 16, blockRows = groups * rows, tokens = nt * 8;
        long[][] out = new long[m][n];
        boolean[][] written = new boolean[m][n];
        int chunks = (k + 31) / 32, step = ksplit * u, rounds = (chunks + step - 1) / step;
        for (int b = 0; b < blocks; b++) {
            long[][][] part = new long[warps][tokens][rows];
            for (int warp = 0; warp < warps; warp++) {
                int group = warp / ksplit, ks = warp % ksplit;
                long row0 = (long) b * blockRows + group * rows;
                long[][][][] acc = new long[32][rt][nt][4];
                for (int round = 0; round < rounds; round++) {
                    for (int uu = 0; uu < u; uu++) {
                        int c = round * step + uu * ksplit + ks;
                        // each lane's 8-k segments: weights of rows g and g + 8 of each row tile, tokens g and g + 8
                        long[][][] lo = new long[32][rt][], hi = new long[32][rt][];
                        long[][][] bx = new long[32][nt][];
                        for (int lane = 0; lane < 32; lane++) {
                            int g = lane >> 2, t = lane & 3, kk = c * 32 + 8 * t;
                            for (int r = 0; r < rt; r++) {
                                long rl = row0 + r * 16 + g, rh = rl + 8;
                                lo[lane][r] = segment(w[(int) Math.min(rl, n - 1)], kk, k);
                                hi[lane][r] = segment(w[(int) Math.min(rh, n - 1)], kk, k);
                            }
                            for (int j = 0; j < nt; j++) {
                                bx[lane][j] = j * 8 + g < m ? segment(x[j * 8 + g], kk, k) : new long[8];
                            }
                        }
                        for (int st = 0; st < 2; st++) {
                            for (int r = 0; r < rt; r++) {
                                for (int j = 0; j < nt; j++) {
                                    // registers as the kernel passes them: A = {lo.x, hi.x, lo.y, hi.y} (step 0) or
                                    // {lo.z, hi.z, lo.w, hi.w}; B = {x01, x23} or {x45, x67}; word q = elements 2q, 2q+1
                                    long[][] aRegs = new long[32][], bRegs = new long[32][];
                                    for (int lane = 0; lane < 32; lane++) {
                                        long[] l = lo[lane][r], h = hi[lane][r], xb = bx[lane][j];
                                        int q0 = 2 * st, q1 = 2 * st + 1;
                                        aRegs[lane] = new long[] {l[2 * q0], l[2 * q0 + 1], h[2 * q0], h[2 * q0 + 1],
                                            l[2 * q1], l[2 * q1 + 1], h[2 * q1], h[2 * q1 + 1]};
                                        bRegs[lane] = new long[] {xb[2 * q0], xb[2 * q0 + 1], xb[2 * q1], xb[2 * q1 + 1]};
                                    }
                                    mma(aRegs, bRegs, acc, r, j);
                                }
                            }
                        }
                    }
                }
                for (int lane = 0; lane < 32; lane++) {
                    int g = lane >> 2, t = lane & 3;
                    for (int r = 0; r < rt; r++) {
                        for (int j = 0; j < nt; j++) {
                            int tok = j * 8 + 2 * t, row = r * 16 + g;
                            part[warp][tok][row] = acc[lane][r][j][0];
                            part[warp][tok + 1][row] = acc[lane][r][j][1];
                            part[warp][tok][row + 8] = acc[lane][r][j][2];
                            part[warp][tok + 1][row + 8] = acc[lane][r][j][3];
                        }
                    }
                }
            }
            long block0 = (long) b * blockRows;
            for (int i = 0; i < tokens * blockRows; i++) {
                int tok = i / blockRows, br = i % blockRows, gr = br / rows, row = br % rows;
                if (tok >= m || block0 + br >= n) {
                    continue;
                }
                long sum = 0;
                for (int q = 0; q < ksplit; q++) {
                    sum += part[gr * ksplit + q][tok][row];
                }
                int col = (int) (block0 + br);
                assertFalse(written[tok][col], "stored twice: " + tok + "," + col);
                written[tok][col] = true;
                out[tok][col] = sum;
            }
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                assertTrue(written[i][j], "never stored: " + i + "," + j);
            }
        }
        return out;
    }

    /** Elements kk .. kk + 7 of row, or zeros where the segment is past k (k % 8 == 0: wholly in or out). */
    private static long[] segment(long[] row, int kk, int k) {
        long[] s = new long[8];
        if (kk < k) {
            System.arraycopy(row, kk, s, 0, 8);
        }
        return s;
    }

    /** D = A · B + C for one warp, from the lanes' fragments per the PTX ISA layouts (m16n8k16, 16-bit types). */
    private static void mma(long[][] aRegs, long[][] bRegs, long[][][][] acc, int r, int j) {
        long[][] a = new long[16][16], bm = new long[16][8];
        boolean[][] aSet = new boolean[16][16], bSet = new boolean[16][8];
        for (int lane = 0; lane < 32; lane++) {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 8; i++) {
                int row = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
                int col = t * 2 + (i & 1) + (i >= 4 ? 8 : 0);
                assertFalse(aSet[row][col]);
                aSet[row][col] = true;
                a[row][col] = aRegs[lane][i];
            }
            for (int i = 0; i < 4; i++) {
                int row = t * 2 + (i & 1) + (i >= 2 ? 8 : 0);
                assertFalse(bSet[row][g]);
                bSet[row][g] = true;
                bm[row][g] = bRegs[lane][i];
            }
        }
        for (int lane = 0; lane < 32; lane++) {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 4; i++) {
                int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
                long d = 0;
                for (int q = 0; q < 16; q++) {
                    d += a[row][q] * bm[q][col];
                }
                acc[lane][r][j][i] += d;
            }
        }
    }
}
