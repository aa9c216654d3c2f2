package io.cohort.nn.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.nn.Matrix;
import io.cohort.testing.FakeBuffer;
import io.cohort.testing.StandInLibrary;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The java.lang.foreign binding of cuBLASLt against a stand-in libcublasLt.so.13 compiled from fake_cublaslt.c at
 * test time (skipped where no C compiler is found): every argument arrives where the C signature puts it, in
 * CublasGemm's layout (W' [k, n] transposed, A' [k, m], C' [n, m]); a shape's descriptors are made once; failed
 * heuristic entries are dropped; close destroys everything made. No GPU, no cuBLAS needed.
 */
class CublasLtBindingTest {

    @TempDir
    static Path dir;
    private static CublasLtLibrary lib;
    private static MethodHandle log;
    private static MethodHandle reset;
    private static MethodHandle live;

    private static final long WORKSPACE = 0x7000_0000L;
    private static final long WORKSPACE_BYTES = 32L << 20;
    private static final long STREAM = 0x5000_0000L;

    @BeforeAll
    static void buildTheStandIn() throws IOException, InterruptedException {
        Path so = StandInLibrary.compile(CublasLtBindingTest.class, "fake_cublaslt.c", dir, CublasLtLibrary.SONAME);
        lib = CublasLtLibrary.bind(so);
        SymbolLookup same = SymbolLookup.libraryLookup(so, Arena.global());
        Linker l = Linker.nativeLinker();
        log = l.downcallHandle(same.find("fakeLog").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        reset = l.downcallHandle(same.find("fakeReset").orElseThrow(), FunctionDescriptor.ofVoid());
        live = l.downcallHandle(same.find("fakeLive").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }

    @BeforeEach
    void clearTheLog() throws Throwable {
        reset.invokeExact();
    }

    private static String log() throws Throwable {
        return ((MemorySegment) log.invokeExact()).reinterpret(8192).getString(0);
    }

    private static int live() throws Throwable {
        return (int) live.invokeExact();
    }

    /** A stream whose handle is a number the stand-in logs. */
    private static final NativeCudaStream STREAM_HANDLE = new NativeCudaStream() {
        @Override
        public long nativeHandle() {
            return STREAM;
        }

        @Override
        public int deviceOrdinal() {
            return 0;
        }

        @Override
        public void makeContextCurrent() {
        }
    };

    private static Matrix matrix(long address, DType dtype, int rows, int cols) {
        long bytes = (long) rows * cols * dtype.bytes();   // never touched: the stand-in only logs addresses
        return new Matrix(new FakeBuffer(null, MemorySegment.ofAddress(address).reinterpret(bytes), false), dtype, rows,
                cols);
    }

    @Test
    void theProductReachesCublasLtInCublasGemmsLayoutOnTheChosenAlgorithm() throws Throwable {
        int before = live();
        Matrix a = matrix(0xA000, DType.BF16, 4, 512), w = matrix(0xB000, DType.BF16, 256, 512);
        Matrix out = matrix(0xC000, DType.F32, 4, 256);
        try (CublasLtGemm lt = new CublasLtGemm(lib, STREAM_HANDLE, WORKSPACE, WORKSPACE_BYTES)) {
            assertEquals("create;pref;prefattr 1 8 " + WORKSPACE_BYTES + ";", log());
            assertEquals(2, lt.algorithms(a, w, out), "the failed entry is dropped");
            assertEquals("create;pref;prefattr 1 8 " + WORKSPACE_BYTES + ";desc 68 0;descattr 3 4 1;descattr 4 4 0;"
                    + "layout 14 512 256 512;layout 14 512 4 512;layout 0 256 4 256;heur 16 c=d;", log());
            assertEquals("workspace 2048 B, waves 2.50", lt.describe(a, w, out, 1), "entry 2 moved up to 1");
            reset.invokeExact();
            assertEquals(2, lt.algorithms(4, w, out), "the same plan, asked by rows");
            assertEquals("", log(), "no second heuristic for the same shape");
            lt.matmulT(a, w, out, 1);
            lt.matmulT(a, w, out, 0);
            assertEquals("matmul A=b000 [512x256 ld 512 t1] B=a000 [512x4 ld 512 t0] c=d alpha=1 beta=0 C=c000"
                    + " cdesc=ddesc algo=1002 ws=70000000/" + WORKSPACE_BYTES + " stream=50000000 c0 [256x4];"
                    + "matmul A=b000 [512x256 ld 512 t1] B=a000 [512x4 ld 512 t0] c=d alpha=1 beta=0 C=c000"
                    + " cdesc=ddesc algo=1000 ws=70000000/" + WORKSPACE_BYTES + " stream=50000000 c0 [256x4];",
                    log(), "one plan for the shape: no second heuristic, no new descriptors");
        }
        assertEquals(before, live(), "close destroys the handle, the preference, the descriptor and 3 layouts");
    }

    @Test
    void aShapeWithoutAlgorithmsAndAnIndexPastTheListAreOneLineErrors() throws Throwable {
        Matrix w = matrix(0xB000, DType.F16, 64, 128);
        try (CublasLtGemm lt = new CublasLtGemm(lib, STREAM_HANDLE, WORKSPACE, WORKSPACE_BYTES)) {
            Matrix a7 = matrix(0xA000, DType.F16, 7, 128), o7 = matrix(0xC000, DType.F32, 7, 64);
            assertEquals(0, lt.algorithms(a7, w, o7), "NOT_SUPPORTED from the heuristic: none listed");
            IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                    () -> lt.matmulT(a7, w, o7, 0));
            assertEquals("cuBLASLt lists 0 algorithms for 7x64x128 F16, not algorithm 0", none.getMessage());
            Matrix a = matrix(0xA000, DType.F16, 2, 128), o = matrix(0xC000, DType.F16, 2, 64);
            IllegalArgumentException past = assertThrows(IllegalArgumentException.class, () -> lt.matmulT(a, w, o, 2));
            assertEquals("cuBLASLt lists 2 algorithms for 2x64x128 F16, not algorithm 2", past.getMessage());
            IllegalArgumentException shapes = assertThrows(IllegalArgumentException.class,
                    () -> lt.matmulT(a, w, matrix(0xC000, DType.F32, 2, 63), 0));
            assertTrue(shapes.getMessage().startsWith("matmulT shapes: a 2x128, w 64x128, out 2x63"), shapes.getMessage());
        }
    }
}
