package io.cohort.cuda.nccl;

import io.cohort.backend.CollectiveCall;
import io.cohort.backend.RankContext;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One rank this process drives: its CUDA stream, its communicator and, in grouped launch mode, the stream NCCL
 * runs on and the two 64-bit flags that tie it to the rank's own stream (see {@link NcclBackend}).
 */
final class NcclRank {

    /** Offsets of the flags in {@link #flags}: the rank's stream reached seq; NCCL finished seq. */
    static final long READY = 0;
    static final long DONE = 8;
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    final int rank;
    final int local;
    final RankContext context;
    final DeviceStream stream;
    final NativeCudaStream nativeStream;
    final String label;
    NcclCommunicator comm;
    /** Grouped mode only (else null): NCCL's stream on this device, and pinned host flags. */
    DeviceStream launchStream;
    NativeCudaStream nativeLaunchStream;
    DeviceBuffer flags;

    NcclRank(int local, RankContext context, NativeCudaStream nativeStream) {
        this.rank = context.rank();
        this.local = local;
        this.context = context;
        this.stream = context.stream();
        this.nativeStream = nativeStream;
        this.label = "rank " + rank + " (cuda:" + nativeStream.deviceOrdinal() + ")";
    }

    int cudaDevice() {
        return nativeStream.deviceOrdinal();
    }

    /** Creates NCCL's stream and the flags for grouped launches. */
    void prepareGrouped() {
        DeviceStream s = context.device().createStream();
        if (!(s instanceof NativeCudaStream ns)) {
            s.close();
            throw new NcclUnavailableException(label + ": " + context.device().name() + " made a stream that is not a CUDA stream");
        }
        launchStream = s;
        nativeLaunchStream = ns;
        flags = context.device().allocatePinnedHost(16);
        flags.segment().fill((byte) 0);
    }

    /** Sets the DONE flag from the host, releasing the rank's stream for good (after a failure or at close). */
    void releaseGate() {
        if (flags != null) {
            LONG.setRelease(flags.segment(), DONE, Long.MAX_VALUE);
        }
    }

    void freeGrouped() {
        if (launchStream != null) {
            launchStream.close();
            launchStream = null;
        }
        if (flags != null) {
            context.device().free(flags);
            flags = null;
        }
    }

    /** The NCCL call for {@code call} on {@code streamHandle}; throws NcclException naming rank and seq. */
    void launch(NcclApi api, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv, long streamHandle) {
        long c = comm.handle();
        int dt = NcclEnums.dataType(call.dtype());
        long n = call.count();
        int rc = switch (call.collective()) {
            case ALL_REDUCE -> api.allReduce(send.address(), recv.address(), n, dt, NcclEnums.redOp(call.op()), c, streamHandle);
            case BROADCAST -> api.broadcast(send.address(), recv.address(), n, dt, call.root(), c, streamHandle);
            case REDUCE -> api.reduce(send.address(), recv.address(), n, dt, NcclEnums.redOp(call.op()), call.root(), c, streamHandle);
            case REDUCE_SCATTER -> api.reduceScatter(send.address(), recv.address(), n, dt, NcclEnums.redOp(call.op()), c, streamHandle);
            case ALL_GATHER -> api.allGather(send.address(), recv.address(), n, dt, c, streamHandle);
        };
        if (rc != 0) {
            throw NcclException.of(api, rc, c, cName(call) + " (seq " + seq + ") on " + label);
        }
    }

    static String cName(CollectiveCall call) {
        return switch (call.collective()) {
            case ALL_REDUCE -> "ncclAllReduce";
            case BROADCAST -> "ncclBroadcast";
            case REDUCE -> "ncclReduce";
            case REDUCE_SCATTER -> "ncclReduceScatter";
            case ALL_GATHER -> "ncclAllGather";
        };
    }
}
