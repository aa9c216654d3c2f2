package io.cohort.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Pinned, device-mapped host words that streams write when their work before them is done
 * ({@code cuStreamWriteValue64}), so that a host thread can see a completion by reading memory instead of asking
 * the driver ({@code cuEventQuery}: a driver call and its lock per poll). Carved 8 bytes at a time from pages
 * of {@value #PAGE_BYTES} bytes; a word handed back is handed out again. Setup and teardown only: one lock.
 */
final class CompletionWords {
    static final int PAGE_BYTES = 4096;
    private static final int WORD = Long.BYTES;

    /** A word: its device-visible address (what the stream writes) and the buffer it lives in (what the host reads). */
    record Word(CudaBuffer page, long offset) {
        long deviceAddress() {
            return page.address() + offset;
        }
    }

    private final CudaDevice device;
    private final List<CudaBuffer> pages = new ArrayList<>();
    private final ArrayDeque<Word> free = new ArrayDeque<>();

    CompletionWords(CudaDevice device) {
        this.device = device;
    }

    synchronized Word take() {
        Word w = free.poll();
        if (w == null) {
            CudaBuffer page = device.allocatePinnedHost(PAGE_BYTES);
            pages.add(page);
            for (long off = WORD; off < PAGE_BYTES; off += WORD) {
                free.add(new Word(page, off));
            }
            w = new Word(page, 0);
        }
        w.page().segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, w.offset(), 0L);
        return w;
    }

    synchronized void give(Word w) {
        free.add(w);
    }

    /** Pages allocated so far (for tests). */
    synchronized int pages() {
        return pages.size();
    }
}
