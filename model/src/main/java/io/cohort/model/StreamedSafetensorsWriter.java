package io.cohort.model;

import io.cohort.core.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes a safetensors file whose tensors are generated, not held: the header (offsets computed up front from
 * the declared shapes) goes first, then worker threads fill chunks of {@link #CHUNK_ELEMENTS} values and write
 * each at its own file offset. Heap stays at one float chunk per thread whatever the model size (the 8B shape
 * is 15 GB). The bytes equal {@link SafetensorsWriter}'s for the same values (same header, same rounding).
 */
public final class StreamedSafetensorsWriter {
    /** Values per chunk: 4 MiB of floats per worker. */
    public static final int CHUNK_ELEMENTS = 1 << 20;

    /** Fills {@code out[0..count)} with elements {@code start..start+count} of tensor {@code index}; thread-safe. */
    @FunctionalInterface
    public interface Values {
        void fill(int index, long start, float[] out, int count);
    }

    private record Chunk(int tensor, long start, int count, long position) {
    }

    private StreamedSafetensorsWriter() {
    }

    /** Writes {@code tensors} in this order to {@code path}, values from {@code values}, on {@code threads} threads. */
    public static void write(Path path, List<SafetensorsWriter.Declared> tensors, Values values, int threads) {
        byte[] header = SafetensorsWriter.header(SafetensorsWriter.defaultMetadata(), tensors);
        List<Chunk> chunks = new ArrayList<>();
        long position = 8 + header.length;
        for (int t = 0; t < tensors.size(); t++) {
            SafetensorsWriter.Declared d = tensors.get(t);
            long n = d.elements();
            for (long start = 0; start < n; start += CHUNK_ELEMENTS) {
                int count = (int) Math.min(CHUNK_ELEMENTS, n - start);
                chunks.add(new Chunk(t, start, count, position + start * d.dtype().bytes()));
            }
            position += d.bytes();
        }
        long fileBytes = position;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(header.length).put(header).flip();
            writeFully(ch, head, 0);
            int workers = Math.max(1, Math.min(threads, chunks.size()));
            AtomicInteger next = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
                Thread th = new Thread(r, "make-tiny-writer");
                th.setDaemon(true);
                return th;
            });
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int w = 0; w < workers; w++) {
                    done.add(pool.submit(() -> {
                        work(ch, tensors, values, chunks, next);
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ModelException("interrupted while writing " + path, e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                throw new ModelException("cannot write " + path + ": " + cause.getMessage(), cause);
            } finally {
                pool.shutdownNow();
            }
            if (ch.size() != fileBytes) {
                throw new ModelException("wrote " + ch.size() + " bytes to " + path + ", expected " + fileBytes);
            }
        } catch (IOException e) {
            throw new ModelException("cannot write " + path + ": " + e.getMessage(), e);
        }
    }

    private static void work(FileChannel ch, List<SafetensorsWriter.Declared> tensors, Values values,
                             List<Chunk> chunks, AtomicInteger next) throws IOException {
        float[] buffer = new float[CHUNK_ELEMENTS];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate((long) CHUNK_ELEMENTS * 4, 16);
            for (int i = next.getAndIncrement(); i < chunks.size(); i = next.getAndIncrement()) {
                Chunk c = chunks.get(i);
                DType dtype = tensors.get(c.tensor()).dtype();
                values.fill(c.tensor(), c.start(), buffer, c.count());
                for (int k = 0; k < c.count(); k++) {
                    dtype.set(bytes, k, buffer[k]);
                }
                writeFully(ch, bytes.asSlice(0, (long) c.count() * dtype.bytes()).asByteBuffer(), c.position());
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer bb, long position) throws IOException {
        long at = position;
        while (bb.hasRemaining()) {
            at += ch.write(bb, at);
        }
    }
}
