package io.cohort.api;

import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * Cohort as a Pekko extension of the application's actor system: one {@link Cohort} per system, made on
 * first use, closed by the system's coordinated shutdown (before the system terminates, while its actors
 * still run).
 *
 * <pre>{@code
 * Cohort cohort = CohortExtension.get(system).cohort();
 * }</pre>
 */
public final class CohortExtension implements Extension {

    /** The extension's id, as Pekko registers it. */
    public static final class Id extends ExtensionId<CohortExtension> {
        static final Id INSTANCE = new Id();

        private Id() {
        }

        @Override
        public CohortExtension createExtension(ActorSystem<?> system) {
            return new CohortExtension(system);
        }
    }

    public static CohortExtension get(ActorSystem<?> system) {
        return Id.INSTANCE.apply(system);
    }

    private final Cohort cohort;

    private CohortExtension(ActorSystem<?> system) {
        this.cohort = Cohort.inside(system);
        CoordinatedShutdown.get(Adapter.toClassic(system)).addTask(
                CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "cohort-close",
                () -> CompletableFuture.supplyAsync(() -> {
                    cohort.close();
                    return Done.getInstance();
                }));
    }

    public Cohort cohort() {
        return cohort;
    }
}
