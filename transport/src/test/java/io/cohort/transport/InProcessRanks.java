package io.cohort.transport;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** Ranks of one group as threads of this JVM, sharing one embedded driver under {@code dir}. */
final class InProcessRanks {

    private InProcessRanks() {
    }

    /** Runs {@code body} on each of {@code n} ranks that joined {@code group}; their results in rank order. */
    static <T> List<T> run(Path dir, TransportConfig base, String group, int n, Function<ProcessGroup, T> body)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                TransportConfig cfg = base.withMember(group, r, n).withBaseDir(dir.toString())
                        .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(10));
                futures.add(pool.submit(() -> {
                    try (ProcessGroup g = ProcessGroup.join(cfg)) {
                        return body.apply(g);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(60, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }
}
