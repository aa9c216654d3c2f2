package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libnccl.so.2 bound with java.lang.foreign. The downcall handles are static and take the function's address
 * as their first argument, so they are linked once per JVM, whatever library file is loaded, and the JIT sees
 * constants; an instance holds only the symbol addresses of one loaded file. Pointers cross as
 * {@link MemorySegment#ofAddress} (scalar-replaced by the JIT); enums and {@code int} as JAVA_INT, {@code size_t}
 * as JAVA_LONG (64-bit Linux only, as NCCL).
 */
public final class NcclLibrary implements NcclApi {

    private static final Logger LOG = LoggerFactory.getLogger(NcclLibrary.class);
    private static final Linker LINKER = Linker.nativeLinker();

    /** {@code typedef struct { char internal[128]; } ncclUniqueId;}: passed by value to ncclCommInitRank. */
    static final StructLayout UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(NcclUniqueId.BYTES, JAVA_BYTE).withName("internal")).withName("ncclUniqueId");

    // One handle per C signature shape; names say which functions share it.
    /** f(void) : ncclGroupStart, ncclGroupEnd. */
    private static final MethodHandle VOID_FN = handle(FunctionDescriptor.of(JAVA_INT));
    /** f(ptr) : ncclGetVersion, ncclGetUniqueId, ncclCommAbort, ncclCommDestroy. */
    private static final MethodHandle PTR_FN = handle(FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** f(comm, ptr) : ncclCommGetAsyncError, ncclCommCount, ncclCommCuDevice, ncclCommUserRank. */
    private static final MethodHandle PTR_PTR_FN = handle(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle COMM_INIT_RANK = handle(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
    private static final MethodHandle COMM_INIT_ALL = handle(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    /** (send, recv, count, datatype, op|root, comm, stream) : ncclAllReduce, ncclReduceScatter, ncclBroadcast. */
    private static final MethodHandle COLL_INT_FN = handle(FunctionDescriptor.of(JAVA_INT,
            ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle REDUCE = handle(FunctionDescriptor.of(JAVA_INT,
            ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle ALL_GATHER = handle(FunctionDescriptor.of(JAVA_INT,
            ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle ERROR_STRING = handle(FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle LAST_ERROR = handle(FunctionDescriptor.of(ADDRESS, ADDRESS));

    private static final Map<Path, NcclLibrary> LOADED = new ConcurrentHashMap<>();

    private final Path path;
    private final MemorySegment getVersion, getUniqueId, commInitRank, commInitAll, groupStart, groupEnd;
    private final MemorySegment allReduce, broadcast, reduce, reduceScatter, allGather;
    private final MemorySegment commGetAsyncError, commAbort, commDestroy, commCount, commCuDevice, commUserRank;
    private final MemorySegment getErrorString;
    /** ncclGetLastError arrived in 2.13: NULL where absent. */
    private final MemorySegment getLastError;

    private NcclLibrary(Path path) {
        this.path = path;
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(path, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new NcclUnavailableException("NCCL is not available: found " + path + " but could not load it: "
                    + e.getMessage(), e);
        }
        getVersion = require(lookup, "ncclGetVersion");
        getUniqueId = require(lookup, "ncclGetUniqueId");
        commInitRank = require(lookup, "ncclCommInitRank");
        commInitAll = require(lookup, "ncclCommInitAll");
        groupStart = require(lookup, "ncclGroupStart");
        groupEnd = require(lookup, "ncclGroupEnd");
        allReduce = require(lookup, "ncclAllReduce");
        broadcast = require(lookup, "ncclBroadcast");
        reduce = require(lookup, "ncclReduce");
        reduceScatter = require(lookup, "ncclReduceScatter");
        allGather = require(lookup, "ncclAllGather");
        commGetAsyncError = require(lookup, "ncclCommGetAsyncError");
        commAbort = require(lookup, "ncclCommAbort");
        commDestroy = require(lookup, "ncclCommDestroy");
        commCount = require(lookup, "ncclCommCount");
        commCuDevice = require(lookup, "ncclCommCuDevice");
        commUserRank = require(lookup, "ncclCommUserRank");
        getErrorString = require(lookup, "ncclGetErrorString");
        getLastError = lookup.find("ncclGetLastError").orElse(MemorySegment.NULL);
    }

    /** Finds and loads NCCL as {@code settings} say (once per file); throws {@link NcclUnavailableException}. */
    public static NcclLibrary load(NcclSettings settings) {
        return load(NcclLibraryLocator.fromEnvironment(settings).locate());
    }

    public static NcclLibrary load(Path file) {
        Path key = file.toAbsolutePath().normalize();
        return LOADED.computeIfAbsent(key, p -> {
            NcclLibrary lib = new NcclLibrary(p);
            LOG.info("NCCL {} loaded from {}", lib.version(), p);
            return lib;
        });
    }

    public Path path() {
        return path;
    }

    /** The version of the loaded library (ncclGetVersion). */
    public NcclVersion version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            NcclException.check(this, getVersion(out), 0, "ncclGetVersion");
            return NcclVersion.fromCode(out.get(JAVA_INT, 0));
        }
    }

    @Override
    public int getVersion(MemorySegment versionOut) {
        return callPtr(getVersion, versionOut);
    }

    @Override
    public int getUniqueId(MemorySegment uniqueIdOut) {
        return callPtr(getUniqueId, uniqueIdOut);
    }

    @Override
    public int commInitRank(MemorySegment commOut, int nranks, MemorySegment uniqueId, int rank) {
        try {
            return (int) COMM_INIT_RANK.invokeExact(commInitRank, commOut, nranks, uniqueId, rank);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int commInitAll(MemorySegment commsOut, int ndev, MemorySegment devList) {
        try {
            return (int) COMM_INIT_ALL.invokeExact(commInitAll, commsOut, ndev, devList);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int groupStart() {
        return callVoid(groupStart);
    }

    @Override
    public int groupEnd() {
        return callVoid(groupEnd);
    }

    @Override
    public int allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream) {
        return callColl(allReduce, send, recv, count, datatype, op, comm, stream);
    }

    @Override
    public int broadcast(long send, long recv, long count, int datatype, int root, long comm, long stream) {
        return callColl(broadcast, send, recv, count, datatype, root, comm, stream);
    }

    @Override
    public int reduceScatter(long send, long recv, long recvCount, int datatype, int op, long comm, long stream) {
        return callColl(reduceScatter, send, recv, recvCount, datatype, op, comm, stream);
    }

    @Override
    public int reduce(long send, long recv, long count, int datatype, int op, int root, long comm, long stream) {
        try {
            return (int) REDUCE.invokeExact(reduce, MemorySegment.ofAddress(send), MemorySegment.ofAddress(recv), count,
                    datatype, op, root, MemorySegment.ofAddress(comm), MemorySegment.ofAddress(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int allGather(long send, long recv, long sendCount, int datatype, long comm, long stream) {
        try {
            return (int) ALL_GATHER.invokeExact(allGather, MemorySegment.ofAddress(send), MemorySegment.ofAddress(recv),
                    sendCount, datatype, MemorySegment.ofAddress(comm), MemorySegment.ofAddress(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int commGetAsyncError(long comm, MemorySegment resultOut) {
        return callCommPtr(commGetAsyncError, comm, resultOut);
    }

    @Override
    public int commAbort(long comm) {
        return callPtr(commAbort, MemorySegment.ofAddress(comm));
    }

    @Override
    public int commDestroy(long comm) {
        return callPtr(commDestroy, MemorySegment.ofAddress(comm));
    }

    @Override
    public int commCount(long comm, MemorySegment countOut) {
        return callCommPtr(commCount, comm, countOut);
    }

    @Override
    public int commCuDevice(long comm, MemorySegment deviceOut) {
        return callCommPtr(commCuDevice, comm, deviceOut);
    }

    @Override
    public int commUserRank(long comm, MemorySegment rankOut) {
        return callCommPtr(commUserRank, comm, rankOut);
    }

    @Override
    public String getErrorString(int result) {
        try {
            return cString((MemorySegment) ERROR_STRING.invokeExact(getErrorString, result));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public String getLastError(long comm) {
        if (getLastError.equals(MemorySegment.NULL)) {
            return "";
        }
        try {
            return cString((MemorySegment) LAST_ERROR.invokeExact(getLastError, MemorySegment.ofAddress(comm)));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public String toString() {
        return "NcclLibrary[" + path + "]";
    }

    private static int callVoid(MemorySegment fn) {
        try {
            return (int) VOID_FN.invokeExact(fn);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callPtr(MemorySegment fn, MemorySegment arg) {
        try {
            return (int) PTR_FN.invokeExact(fn, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callCommPtr(MemorySegment fn, long comm, MemorySegment out) {
        try {
            return (int) PTR_PTR_FN.invokeExact(fn, MemorySegment.ofAddress(comm), out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callColl(MemorySegment fn, long send, long recv, long count, int datatype, int opOrRoot,
                                long comm, long stream) {
        try {
            return (int) COLL_INT_FN.invokeExact(fn, MemorySegment.ofAddress(send), MemorySegment.ofAddress(recv), count,
                    datatype, opOrRoot, MemorySegment.ofAddress(comm), MemorySegment.ofAddress(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static String cString(MemorySegment p) {
        // the strings are NCCL's static or per-thread buffers: read them at once, bounded
        return p.address() == 0 ? "" : p.reinterpret(4096).getString(0);
    }

    private MemorySegment require(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new NcclUnavailableException(
                "NCCL is not available: " + path + " has no function " + name + " (Cohort needs NCCL "
                        + NcclVersion.MINIMUM + " or newer)"));
    }

    private static MethodHandle handle(FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(descriptor);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("NCCL downcall failed", t);
    }
}
