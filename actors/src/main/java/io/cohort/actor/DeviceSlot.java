package io.cohort.actor;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;
import org.apache.pekko.actor.typed.ActorRef;

/** A device and its actor, pool and current stream. */
final class DeviceSlot {
    final Device device;
    final MemoryPool pool;
    final ActorRef<DeviceActor.Command> actor;
    DeviceStream stream;
    int generation;
    boolean ready;

    DeviceSlot(Device device, MemoryPool pool, ActorRef<DeviceActor.Command> actor) {
        this.device = device;
        this.pool = pool;
        this.actor = actor;
    }
}
