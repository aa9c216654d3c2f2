package io.cohort.actor;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A device and its actor, pool and current stream. {@code enqueueLock} is held by whoever enqueues a
 * collective on the device; groups take their devices' locks in ascending {@code order}, so collectives of
 * groups that share devices reach each shared device in one order (and two callers never deadlock).
 */
final class DeviceSlot {
    final Device device;
    final MemoryPool pool;
    final ActorRef<DeviceActor.Command> actor;
    final int order;
    final ReentrantLock enqueueLock = new ReentrantLock();
    DeviceStream stream;
    int generation;
    boolean ready;

    DeviceSlot(Device device, MemoryPool pool, ActorRef<DeviceActor.Command> actor, int order) {
        this.device = device;
        this.pool = pool;
        this.actor = actor;
        this.order = order;
    }
}
