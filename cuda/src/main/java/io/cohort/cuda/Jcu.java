package io.cohort.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Bridges JCuda's handle objects and raw addresses. JCuda hides the native value of its handles, but Cohort
 * keeps device pointers as plain longs (slices, offsets, kernel arguments) and NCCL/cuBLAS need the raw
 * CUstream; JCuda is on the class path (the unnamed module), so its private field is reachable.
 */
final class Jcu {
    private static final VarHandle NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Jcu() {
    }

    /** The native value behind a JCuda handle (CUstream, CUevent, CUcontext, a pointer without offset). */
    static long handle(NativePointerObject object) {
        return (long) NATIVE_POINTER.get(object);
    }

    /** A JCuda device pointer for a raw device (or UVA) address. */
    static CUdeviceptr device(long address) {
        CUdeviceptr p = new CUdeviceptr();
        NATIVE_POINTER.set(p, address);
        return p;
    }

    /** A JCuda host pointer for a raw native address (off-heap memory). */
    static Pointer host(long address) {
        Pointer p = new Pointer();
        NATIVE_POINTER.set(p, address);
        return p;
    }
}
