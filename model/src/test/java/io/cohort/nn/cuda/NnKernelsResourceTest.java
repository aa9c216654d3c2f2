package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The built nn_kernels module (no GPU needed): every kernel CudaTensorOps launches is in the PTX. */
class NnKernelsResourceTest {
    @Test
    void ptxDefinesEveryKernel() throws IOException {
        String ptx;
        try (InputStream in = NnKernels.class.getResourceAsStream(NnKernels.RESOURCE + ".ptx")) {
            assertNotNull(in, "nn_kernels.ptx not on the class path");
            ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        for (String k : List.of("rotary", "silu_mul", "add", "attention", "rmsnorm_f32", "rmsnorm_f16", "rmsnorm_bf16",
                "embed_f32", "embed_f16", "embed_bf16", "cast_f16", "cast_bf16", "silu_mul_packed", "add_rmsnorm_f32",
                "add_rmsnorm_f16", "add_rmsnorm_bf16", "copy_rows_at", "rotary_kv_write", "attention_split",
                "attention_combine", "attention_online", "rotary_attention", "attention_prefill_tc64",
                "attention_prefill_tc128")) {
            assertTrue(ptx.contains(".entry cohort_nn_" + k + "("), "missing kernel cohort_nn_" + k);
            // the struct the host packs has the size the kernels take (a field added on one side only shows here)
            assertTrue(ptx.contains("cohort_nn_" + k + "_param_0[" + NnKernels.ARGS_SIZE + "]"),
                    "cohort_nn_" + k + " does not take a " + NnKernels.ARGS_SIZE + "-byte NnArgs");
        }
        try (InputStream in = NnKernels.class.getResourceAsStream(NnKernels.RESOURCE + ".fatbin")) {
            assertNotNull(in, "nn_kernels.fatbin not on the class path");
        }
    }

    @Test
    void gemvPtxDefinesEveryTile() throws IOException {
        String ptx;
        try (InputStream in = NnKernels.class.getResourceAsStream(NnKernels.GEMV_RESOURCE + ".ptx")) {
            assertNotNull(in, "gemv.ptx not on the class path");
            ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        for (io.cohort.core.DType t : new io.cohort.core.DType[] {io.cohort.core.DType.BF16, io.cohort.core.DType.F16}) {
            for (int rows : Gemv.TILES) {
                String k = NnKernels.gemvName(t, rows);
                assertTrue(ptx.contains(".entry " + k + "("), "missing kernel " + k);
                assertTrue(ptx.contains(k + "_param_0[" + NnKernels.GEMV_ARGS_SIZE + "]"),
                        k + " does not take a " + NnKernels.GEMV_ARGS_SIZE + "-byte GemvArgs");
            }
            for (Gemv.Fused f : Gemv.Fused.values()) {
                for (int i = 0; i < Gemv.FUSED_TILES; i++) {
                    String k = NnKernels.gemvFusedName(f, t, Gemv.TILES[i]);
                    assertTrue(ptx.contains(".entry " + k + "("), "missing kernel " + k);
                    // the fused forms take all of NnArgs (the norm's fields past GemvArgs)
                    assertTrue(ptx.contains(k + "_param_0[" + NnKernels.ARGS_SIZE + "]"),
                            k + " does not take a " + NnKernels.ARGS_SIZE + "-byte NnArgs");
                }
            }
        }
        for (Gemv.Variant v : Gemv.VARIANTS) {
            assertTrue(ptx.contains(".entry " + v.kernel() + "("), "missing kernel " + v.kernel());
            assertTrue(ptx.contains(v.kernel() + "_param_0[" + NnKernels.GEMV_ARGS_SIZE + "]"),
                    v.kernel() + " does not take a " + NnKernels.GEMV_ARGS_SIZE + "-byte GemvArgs");
        }
        for (io.cohort.core.DType t : new io.cohort.core.DType[] {io.cohort.core.DType.BF16, io.cohort.core.DType.F16}) {
            for (int i = 0; i < NnKernels.ARNORM_TILES; i++) {
                String k = NnKernels.gemvArNormName(t, Gemv.TILES[i]);
                assertTrue(ptx.contains(".entry " + k + "("), "missing kernel " + k);
                // NnArgs, then the fused all-reduce's FusedArArgs as CudaP2pBackend packs them
                long bytes = NnKernels.ARGS_SIZE + io.cohort.cuda.p2p.CudaP2pBackend.FUSED_ARGS_BYTES;
                assertTrue(ptx.contains(k + "_param_0[" + bytes + "]"), k + " does not take a " + bytes + "-byte block");
                assertTrue(io.cohort.cuda.p2p.CudaP2pBackend.FUSED_ARGS_BYTES <= NnKernels.ARNORM_TAIL_BYTES);
            }
        }
        try (InputStream in = NnKernels.class.getResourceAsStream(NnKernels.GEMV_RESOURCE + ".fatbin")) {
            assertNotNull(in, "gemv.fatbin not on the class path");
        }
    }
}
