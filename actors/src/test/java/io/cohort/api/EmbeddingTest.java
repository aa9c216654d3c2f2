package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Cohort inside an application's actor system, backend choice, metrics and the JFR event. */
class EmbeddingTest {

    @Test
    void extensionGivesOneCohortPerSystemAndClosesItWithTheSystem() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "ext", ConfigFactory.load());
        Cohort cohort = CohortExtension.get(system).cohort();
        assertTrue(cohort == CohortExtension.get(system).cohort());
        CohortGroup group = cohort.group(cohort.devices("host:2"), BackendKind.AUTO);
        group.barrier().toCompletableFuture().join();
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        var e = org.junit.jupiter.api.Assertions.assertThrows(io.cohort.core.CohortException.class, group::barrier);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }

    @Test
    void insideAnApplicationsActorSystemWithMetricsAndJfrEvents(@TempDir Path dir) throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "app", ConfigFactory.load());
        try (Recording recording = new Recording()) {
            recording.enable("io.cohort.Collective");
            recording.start();
            try (Cohort cohort = Cohort.inside(system)) {
                CohortGroup group = cohort.group(cohort.devices("host:2"), BackendKind.NATIVE);
                assertEquals(BackendKind.NATIVE, group.backendChoice().requested());
                assertEquals(BackendKind.NATIVE, group.backendChoice().chosen());
                assertEquals("requested", group.backendChoice().reason());
                String how = group.describe(io.cohort.backend.CollectiveCall.allReduce(DType.BF16, ReduceOp.SUM, 512));
                assertTrue(how.contains("native backend"), how);
                List<Tensor> t = group.allocate(DType.BF16, 512);
                for (int i = 0; i < 3; i++) {
                    group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
                }
                group.barrier().toCompletableFuture().join();
                group.release(t);
                var rows = cohort.metrics();
                var bf16 = rows.stream().filter(r -> r.bytes() == 3 * 1024).findFirst().orElseThrow(() -> new AssertionError(rows));
                assertEquals(3, bf16.count());
                assertEquals(1024, bf16.key().sizeBucket());
                assertEquals(BackendKind.NATIVE, bf16.key().backend());
                assertTrue(bf16.meanMicros() > 0 && bf16.p99Micros() >= bf16.p50Micros());
                assertTrue(cohort.collectiveMetrics().render().contains("all-reduce"));
                cohort.close();
                group.close(); // after the Cohort: nothing left to do, returns at once
                var e = org.junit.jupiter.api.Assertions.assertThrows(io.cohort.core.CohortException.class,
                        () -> group.allReduce(t, ReduceOp.SUM));
                assertTrue(e.getMessage().contains("is closed"), e.getMessage());
            }
            recording.stop();
            Path file = dir.resolve("cohort.jfr");
            recording.dump(file);
            List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals("io.cohort.Collective")).toList();
            assertEquals(4, events.size());
            assertEquals(1, events.stream().filter(ev -> ev.getLong("bytes") == 4).count(), "the barrier");
            RecordedEvent e = events.stream().filter(ev -> ev.getLong("bytes") == 1024).findFirst().orElseThrow();
            assertEquals("all-reduce", e.getString("collective"));
            assertEquals("native", e.getString("backend"));
            assertEquals(1024, e.getLong("bytes"));
            assertEquals(2, e.getInt("ranks"));
            assertTrue(e.getBoolean("succeeded"));
            assertFalse(e.getString("algorithm").isEmpty());
        } finally {
            // the application's system outlives Cohort
            assertFalse(system.whenTerminated().isCompleted());
            system.terminate();
        }
    }
}
