package io.cohort.device.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Zeroed off-heap memory that the OS commits lazily. {@link Arena#allocate} writes zeros over every byte,
 * committing a whole pool (hundreds of MiB per host device) up front; libc's {@code calloc} hands large
 * blocks out as fresh zero pages instead. The block is bound to an {@link Arena} whose close frees it, so
 * every access after a free fails with {@link IllegalStateException} like any closed segment. Falls back
 * to {@link Arena#allocate} where {@code calloc} cannot be found.
 */
final class LazyMemory {

    private static final MethodHandle CALLOC;
    private static final MethodHandle FREE;

    static {
        MethodHandle calloc = null;
        MethodHandle free = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            var c = libc.find("calloc");
            var f = libc.find("free");
            if (c.isPresent() && f.isPresent()) {
                calloc = linker.downcallHandle(c.get(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                free = linker.downcallHandle(f.get(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
            }
        } catch (RuntimeException | LinkageError e) {
            calloc = null; // native access not allowed or no libc: use the arena's zeroing allocator
        }
        CALLOC = calloc;
        FREE = free;
    }

    private LazyMemory() {
    }

    /** {@code bytes} of zeroed memory aligned to {@code alignment} (a power of two), freed when {@code arena} closes. */
    static MemorySegment allocate(long bytes, long alignment, Arena arena) {
        if (CALLOC == null || bytes == 0) {
            return arena.allocate(bytes, alignment);
        }
        MemorySegment raw;
        try {
            raw = (MemorySegment) CALLOC.invokeExact(1L, bytes + alignment - 1);
        } catch (Throwable t) {
            throw new IllegalStateException("calloc failed", t);
        }
        if (raw.address() == 0) {
            throw new OutOfMemoryError("calloc of " + bytes + " bytes returned NULL");
        }
        long aligned = (raw.address() + alignment - 1) & -alignment;
        return MemorySegment.ofAddress(aligned).reinterpret(bytes, arena, segment -> free(raw));
    }

    private static void free(MemorySegment raw) {
        try {
            FREE.invokeExact(raw);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}
