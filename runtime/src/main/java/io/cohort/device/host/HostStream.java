package io.cohort.device.host;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * An in-order stream of a {@link HostDevice}, executed by one dedicated thread.
 *
 * <p>Commands go into a preallocated ring of mutable {@link Command} slots (single consumer, producers
 * serialised by a lock), so enqueueing allocates nothing. Every wait follows the device's
 * {@link HostWaitPolicy} (spin, yield, then park with backoff), and whoever makes progress wakes the parked:
 * <ul>
 *   <li>an idle consumer is unparked by the producer that publishes;</li>
 *   <li>a stream parked in a cross-stream wait ({@link #waitValue}, {@link #waitFor}) is unparked by any host
 *       stream that writes a flag, or retires a command of a stream it waits for;</li>
 *   <li>a thread parked in {@link #synchronize()} (or an event's) is unparked when its command retires.</li>
 * </ul>
 * A wait that is not satisfied within the device's wait timeout fails the stream with a
 * {@link DeviceException} that names the flag (see {@link HostBuffer#label}).
 *
 * <p>Errors: the first command that fails marks the stream failed. Later commands of the queue are
 * skipped (retired without running), further enqueues and {@link #synchronize()} throw the failure, until
 * {@link #reset()}. Events recorded on a failed stream still complete, so nothing waits forever on it.
 *
 * <p><b>Why one file of more than 500 lines.</b> The ring, the consumer loop and the cross-stream wake-ups
 * are one single-consumer protocol (who publishes, who parks, who unparks whom); the commands themselves
 * already live in {@link HostKernels} and the wait policy in {@link HostWaitPolicy}.
 */
public final class HostStream implements DeviceStream {

    private static final int CAPACITY = 1024;
    private static final int MASK = CAPACITY - 1;
    /** An idle consumer is unparked by its producers, so it can park long. */
    private static final long IDLE_PARK_NANOS = 10_000_000;
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle RETIRE_WAITER;

    static {
        try {
            RETIRE_WAITER = MethodHandles.lookup().findVarHandle(HostStream.class, "retireWaiter", Thread.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Every open host stream, so that progress on one wakes the waiters parked on another. Copied on write
     * by hand (streams come and go rarely) so that the wake-up loop walks an array without an iterator.
     */
    private static volatile HostStream[] live = new HostStream[0];
    private static final AtomicInteger BLOCKED = new AtomicInteger();

    private enum Op { COPY, REDUCE, SCALE, ZERO, WRITE_VALUE, WAIT_VALUE, WAIT_STREAM, CALLBACK }

    /** One slot of the ring; fields unused by an op stay null/0. */
    private static final class Command {
        Op op;
        MemorySegment a;
        MemorySegment b;
        MemorySegment dst;
        long aOff;
        long bOff;
        long dstOff;
        long count;
        DType type;
        ReduceOp reduceOp;
        float factor;
        long value;
        HostStream other;
        DeviceBuffer flags;
        Runnable callback;

        void clear() {
            a = b = dst = null;
            callback = null;
            type = null;
            reduceOp = null;
            other = null;
            flags = null;
        }
    }

    private final HostDevice device;
    private final String name;
    private final Command[] ring = new Command[CAPACITY];
    private final Object producerLock = new Object();
    private final Thread thread;
    private final HostWaitPolicy.Waiter wait;
    /** Streams parked in a wait for this stream's progress (an event recorded on it). */
    private final AtomicInteger watchers = new AtomicInteger();

    private long tail;                     // next slot to fill; producers only, under producerLock
    private volatile long published;       // commands visible to the consumer
    private volatile long retired;         // commands finished (run or skipped)
    private volatile boolean consumerParked;
    private volatile boolean blocked;      // parked in a cross-stream wait
    private volatile DeviceException failure;
    private volatile boolean closing;
    /** A thread parked until {@link #retireWaiterTicket} commands are retired (one at a time; others poll). */
    private volatile Thread retireWaiter;
    private volatile long retireWaiterTicket;

    HostStream(HostDevice device, int id) {
        this.device = device;
        this.name = device.name() + " stream " + id;
        this.wait = device.options().waitPolicy().waiter();
        for (int i = 0; i < CAPACITY; i++) {
            ring[i] = new Command();
        }
        this.thread = Thread.ofPlatform().daemon().name("cohort-" + device.name().replace(':', '-') + "-stream-" + id)
                .unstarted(this::runLoop);
        register(this);
        thread.start();
    }

    @Override
    public Device device() {
        return device;
    }

    /** e.g. "host:0 stream 1". */
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------- enqueue

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
        enqueueCopy(segment(src, srcOffset, bytes, "copy source"), srcOffset,
                segment(dst, dstOffset, bytes, "copy destination"), dstOffset, bytes);
    }

    @Override
    public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        enqueueCopy(src, 0, segment(dst, dstOffset, src.byteSize(), "copy destination"), dstOffset, src.byteSize());
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        enqueueCopy(segment(src, srcOffset, dst.byteSize(), "copy source"), srcOffset, dst, 0, dst.byteSize());
    }

    private void enqueueCopy(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long bytes) {
        synchronized (producerLock) {
            Command c = claim(Op.COPY, dst, dstOffset, bytes);
            c.a = src;
            c.aOff = srcOffset;
            publish();
        }
    }

    @Override
    public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer dst, long dstOffset, long count) {
        long bytes = checkCount(count) * type.bytes();
        MemorySegment sa = segment(a, aOffset, bytes, "reduce input a");
        MemorySegment sb = segment(b, bOffset, bytes, "reduce input b");
        MemorySegment sd = segment(dst, dstOffset, bytes, "reduce output");
        synchronized (producerLock) {
            Command c = claim(Op.REDUCE, sd, dstOffset, count);
            c.type = type;
            c.reduceOp = op;
            c.a = sa;
            c.aOff = aOffset;
            c.b = sb;
            c.bOff = bOffset;
            publish();
        }
    }

    /** {@inheritDoc} The product is computed in float ({@code (float) factor}) and rounded to the type. */
    @Override
    public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
        MemorySegment s = segment(buf, offset, checkCount(count) * type.bytes(), "scale buffer");
        synchronized (producerLock) {
            Command c = claim(Op.SCALE, s, offset, count);
            c.type = type;
            c.factor = (float) factor;
            publish();
        }
    }

    @Override
    public void zero(DeviceBuffer buf, long offset, long bytes) {
        MemorySegment s = segment(buf, offset, bytes, "zero buffer");
        synchronized (producerLock) {
            claim(Op.ZERO, s, offset, bytes);
            publish();
        }
    }

    @Override
    public boolean runsCallbacks() {
        return true;
    }

    @Override
    public boolean enqueueCallback(Runnable callback) {
        synchronized (producerLock) {
            Command c = claim(Op.CALLBACK, null, 0, 0);
            c.callback = callback;
            publish();
        }
        return true;
    }

    @Override
    public void writeValue(DeviceBuffer flags, long offset, long value) {
        enqueueFlag(Op.WRITE_VALUE, flags, offset, value);
    }

    @Override
    public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
        enqueueFlag(Op.WAIT_VALUE, flags, offset, atLeast);
    }

    private void enqueueFlag(Op op, DeviceBuffer flags, long offset, long value) {
        MemorySegment s = flagSegment(flags, offset);
        synchronized (producerLock) {
            Command c = claim(op, s, offset, 0);
            c.value = value;
            c.flags = flags;
            publish();
        }
    }

    @Override
    public void record(DeviceEvent event) {
        HostEvent e = hostEvent(event);
        synchronized (producerLock) {
            checkUsable();
            e.capture(this, tail);
        }
    }

    @Override
    public void waitFor(DeviceEvent event) {
        HostEvent e = hostEvent(event);
        HostStream other;
        long ticket;
        synchronized (e) {
            other = e.capturedStream();
            ticket = e.capturedTicket();
        }
        if (other == null || other == this) {
            return; // never recorded, or already ordered by this stream itself
        }
        synchronized (producerLock) {
            Command c = claim(Op.WAIT_STREAM, null, 0, 0);
            c.other = other;
            c.value = ticket;
            publish();
        }
    }

    @Override
    public void synchronize() {
        long target = published;
        awaitRetired(target, null, "synchronize");
        DeviceException f = failure;
        if (f != null) {
            throw new DeviceException(f.getMessage(), f);
        }
    }

    /** The failure that stopped this stream, or null (cleared by {@link #reset()}). */
    @Override
    public DeviceException failure() {
        return failure;
    }

    /**
     * Clears a failure so the stream accepts work again. Waits until the skipped commands are retired first,
     * so nothing enqueued before the reset runs after it.
     */
    public void reset() {
        synchronized (producerLock) {
            awaitRetired(tail, null, "reset");
            failure = null;
        }
    }

    @Override
    public void close() {
        synchronized (producerLock) {
            if (closing) {
                return;
            }
            closing = true;
        }
        LockSupport.unpark(thread);
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        unregister(this);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return name;
    }

    // ---------------------------------------------------------------- producer side

    /**
     * The next free slot (waiting while the ring is full), set up with the fields every command has: its op
     * and the memory it writes (or, for flag ops, the flag word). Callers hold the producer lock.
     */
    private Command claim(Op op, MemorySegment dst, long dstOffset, long count) {
        checkUsable();
        long t = tail;
        if (t - retired >= CAPACITY) {
            long since = System.nanoTime();
            while (t - retired >= CAPACITY) {
                wait.idle(since);
            }
        }
        Command c = ring[(int) (t & MASK)];
        c.op = op;
        c.dst = dst;
        c.dstOff = dstOffset;
        c.count = count;
        return c;
    }

    private void publish() {
        long t = ++tail;
        published = t;
        if (consumerParked) {
            LockSupport.unpark(thread);
        }
    }

    private void checkUsable() {
        if (closing) {
            throw new DeviceException(name + " is closed");
        }
        DeviceException f = failure;
        if (f != null) {
            throw new DeviceException(name + " refuses work after an earlier failure (reset() clears it): "
                    + f.getMessage(), f);
        }
    }

    private MemorySegment segment(DeviceBuffer buffer, long offset, long bytes, String what) {
        if (!buffer.isHostAccessible()) {
            throw new DeviceException(name + ": " + what + " " + buffer + " is not host-accessible memory");
        }
        if (offset < 0 || bytes < 0 || offset > buffer.byteSize() - bytes) {
            throw new DeviceException(name + ": " + what + " range [" + offset + ", " + offset + " + " + bytes
                    + ") lies outside " + buffer + " of " + buffer.byteSize() + " bytes");
        }
        return buffer.segment();
    }

    private MemorySegment flagSegment(DeviceBuffer flags, long offset) {
        MemorySegment s = segment(flags, offset, 8, "flag word");
        if (((s.address() + offset) & 7) != 0) {
            throw new DeviceException(name + ": flag word at byte " + offset + " of " + flags + " is not 8-byte aligned");
        }
        return s;
    }

    private long checkCount(long count) {
        if (count < 0) {
            throw new DeviceException(name + ": negative element count " + count);
        }
        return count;
    }

    private HostEvent hostEvent(DeviceEvent event) {
        if (event instanceof HostEvent e) {
            return e;
        }
        throw new DeviceException(name + " cannot use " + event + ": not a host event");
    }

    // ---------------------------------------------------------------- consumer side

    long retired() {
        return retired;
    }

    /** Blocks the caller until {@code ticket} commands are retired; {@code timeout} null waits as long as it takes. */
    void awaitRetired(long ticket, Duration timeout, String what) {
        awaitRetired(ticket, timeout == null ? Long.MAX_VALUE : timeout.toNanos(), what);
    }

    /** Like {@link #awaitRetired(long, Duration, String)} with the bound in nanoseconds (MAX_VALUE: none). */
    void awaitRetired(long ticket, long timeoutNanos, String what) {
        long since = System.nanoTime();
        boolean bounded = timeoutNanos != Long.MAX_VALUE;
        long deadline = since + timeoutNanos;
        while (retired < ticket) {
            long now = System.nanoTime();
            if (bounded && now - deadline > 0) {
                throw new DeviceException(what + " on " + name + " timed out after " + timeoutNanos / 1_000_000
                        + " ms (" + retired + " of " + ticket + " commands done)");
            }
            if (!wait.parking(since)) {
                wait.idle(since);
                continue;
            }
            if (!thread.isAlive()) {
                throw new DeviceException(what + " on " + name + ": the stream's thread has stopped ("
                        + retired + " of " + ticket + " commands done)");
            }
            parkUntilRetired(ticket, wait.parkNanos(now - since));
        }
    }

    /** Parks until the consumer retires {@code ticket} (it unparks us) or {@code nanos} pass. */
    private void parkUntilRetired(long ticket, long nanos) {
        Thread self = Thread.currentThread();
        if (!RETIRE_WAITER.compareAndSet(this, null, self)) {
            LockSupport.parkNanos(this, nanos); // another thread holds the slot: poll
            return;
        }
        retireWaiterTicket = ticket;
        if (retired < ticket) { // checked after registering: a retire before it is not missed
            LockSupport.parkNanos(this, nanos);
        }
        retireWaiter = null;
    }

    private void runLoop() {
        long head = 0;
        long idleSince = 0;
        while (true) {
            if (head == published) {
                if (closing && head == published) {
                    return;
                }
                if (idleSince == 0) {
                    idleSince = System.nanoTime();
                }
                idle(head, idleSince);
                continue;
            }
            idleSince = 0;
            Command c = ring[(int) (head & MASK)];
            Op op = c.op;
            if (failure == null || op == Op.CALLBACK) {   // a callback runs after a failure too: it reports it
                try {
                    execute(c);
                } catch (DeviceException e) {
                    failure = e;
                } catch (Throwable t) {
                    failure = new DeviceException(name + ": " + c.op + " failed: " + t, t);
                }
            }
            c.clear();
            retired = ++head;
            Thread waiter = retireWaiter;
            if (waiter != null && head >= retireWaiterTicket) {
                LockSupport.unpark(waiter);
            }
            if (BLOCKED.get() > 0 && (op == Op.WRITE_VALUE || watchers.get() > 0)) {
                wakeBlocked();
            }
        }
    }

    /** The consumer has nothing to run: spin and yield for a while, then park until a producer unparks it. */
    private void idle(long head, long since) {
        if (!wait.parking(since)) {
            wait.idle(since);
            return;
        }
        consumerParked = true;
        if (published == head && !closing) { // rechecked after flagging: a publish before it is not missed
            LockSupport.parkNanos(this, IDLE_PARK_NANOS);
        }
        consumerParked = false;
    }

    private void execute(Command c) {
        switch (c.op) {
            case COPY -> MemorySegment.copy(c.a, c.aOff, c.dst, c.dstOff, c.count);
            case REDUCE -> HostKernels.reduce(c.type, c.reduceOp, c.a, c.aOff, c.b, c.bOff, c.dst, c.dstOff, c.count);
            case SCALE -> HostKernels.scale(c.type, c.dst, c.dstOff, c.count, c.factor);
            case ZERO -> c.dst.asSlice(c.dstOff, c.count).fill((byte) 0);
            case WRITE_VALUE -> WORD.setVolatile(c.dst, c.dstOff, c.value); // ordered before the BLOCKED check
            case WAIT_VALUE -> awaitWord(c);
            case WAIT_STREAM -> awaitStream(c.other, c.value);
            case CALLBACK -> c.callback.run();
        }
    }

    private void awaitWord(Command c) {
        long since = System.nanoTime();
        boolean flagged = false;
        try {
            long v;
            while ((v = (long) WORD.getAcquire(c.dst, c.dstOff)) < c.value) {
                if (System.nanoTime() - since > device.waitTimeout().toNanos()) {
                    throw new DeviceException(name + ": waitValue timed out after " + device.waitTimeout().toMillis()
                            + " ms on word " + c.dstOff / 8 + " (byte " + c.dstOff + ") of " + c.flags + ": it holds "
                            + v + ", waiting for >= " + c.value);
                }
                flagged = blockedWait(since, flagged, null);
            }
        } finally {
            unblock(flagged, null);
        }
    }

    private void awaitStream(HostStream other, long ticket) {
        long since = System.nanoTime();
        boolean flagged = false;
        try {
            while (other.retired < ticket) {
                if (System.nanoTime() - since > device.waitTimeout().toNanos()) {
                    throw new DeviceException(name + ": waiting for an event recorded on " + other.name
                            + " timed out after " + device.waitTimeout().toMillis() + " ms");
                }
                flagged = blockedWait(since, flagged, other);
            }
        } finally {
            unblock(flagged, other);
        }
    }

    /**
     * One round of a cross-stream wait that began at {@code since}: spin or yield; past that, flag this
     * stream as blocked (returning to the caller once, so it rechecks its condition after flagging and no
     * wake-up is missed), then park until a flag write (or, with {@code watched}, that stream's progress)
     * wakes it. Returns whether the stream is flagged.
     */
    private boolean blockedWait(long since, boolean flagged, HostStream watched) {
        if (flagged) {
            LockSupport.parkNanos(this, wait.parkNanos(System.nanoTime() - since));
            return true;
        }
        if (!wait.parking(since)) {
            wait.idle(since);
            return false;
        }
        if (watched != null) {
            watched.watchers.incrementAndGet();
        }
        blocked = true;
        BLOCKED.incrementAndGet();
        return true;
    }

    private void unblock(boolean flagged, HostStream watched) {
        if (flagged) {
            BLOCKED.decrementAndGet();
            blocked = false;
            if (watched != null) {
                watched.watchers.decrementAndGet();
            }
        }
    }

    private static synchronized void register(HostStream stream) {
        HostStream[] next = Arrays.copyOf(live, live.length + 1);
        next[live.length] = stream;
        live = next;
    }

    private static synchronized void unregister(HostStream stream) {
        live = Arrays.stream(live).filter(s -> s != stream).toArray(HostStream[]::new);
    }

    private static void wakeBlocked() {
        for (HostStream s : live) {
            if (s.blocked) {
                LockSupport.unpark(s.thread);
            }
        }
    }
}
