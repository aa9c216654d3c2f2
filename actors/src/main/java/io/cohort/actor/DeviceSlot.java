package io.cohort.actor;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * One lane of a device (lane k carries the k-th rank a group puts on the device: one lane unless a spec such as
 * {@code host:0*2} shares it) and its actor, pool and current stream. {@code enqueueLock} is held by whoever enqueues a
 * collective on the device; groups take their devices' locks in ascending {@code order}, so collectives of
 * groups that share devices reach each shared device in one order (and two callers never deadlock).
 */
final class DeviceSlot {
    final Device device;
    final int lane;
    final MemoryPool pool;
    final ActorRef<DeviceActor.Command> actor;
    final int order;
    final ReentrantLock enqueueLock = new ReentrantLock();
    DeviceStream stream;
    int generation;
    boolean ready;

    DeviceSlot(Device device, int lane, MemoryPool pool, ActorRef<DeviceActor.Command> actor, int order) {
        this.device = device;
        this.lane = lane;
        this.pool = pool;
        this.actor = actor;
        this.order = order;
    }

    /** For logs: the device, and the lane where it has several. */
    String name() {
        return lane == 0 ? device.name() : device.name() + " lane " + lane;
    }
}
