package io.cohort.cuda.nccl;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The {@code cohort.nccl} configuration block (defaults in the cuda module's reference.conf).
 *
 * @param library          path of libnccl.so.2, or of the folder holding it; empty: search
 * @param searchDirs       folders searched after cohort.nccl.library, NCCL_LIBRARY and LD_LIBRARY_PATH
 * @param uniqueId         the group's ncclUniqueId, which the coordinator sets when a group spans processes
 * @param launch           how the ranks one process drives reach NCCL (see {@link Launch})
 * @param maxPending       how many collectives a rank may run ahead of the slowest local rank
 * @param initTimeout      longest wait for communicator set-up (all ranks must join)
 * @param closeTimeout     longest wait for ncclCommDestroy before communicators are aborted instead
 * @param asyncErrorPoll   how often the watchdog asks NCCL for asynchronous errors; zero: at every enqueue
 */
public record NcclSettings(String library, List<String> searchDirs, Optional<NcclUniqueId> uniqueId, Launch launch,
                           int maxPending, Duration initTimeout, Duration closeTimeout, Duration asyncErrorPoll) {

    /**
     * How calls of several ranks in one process reach NCCL. One thread driving several GPUs must put their
     * calls in one ncclGroupStart/End, or the first rank's call waits for peers that are never launched.
     */
    public enum Launch {
        /** GROUPED with several local ranks, DIRECT with one. */
        AUTO,
        /** Each enqueue calls NCCL at once on the rank's stream: needs one thread per local rank. */
        DIRECT,
        /** The last local rank to enqueue a collective launches every local rank's part in one group. */
        GROUPED
    }

    public NcclSettings {
        searchDirs = List.copyOf(searchDirs);
        if (maxPending < 1) {
            throw new IllegalArgumentException("cohort.nccl.max-pending must be at least 1, not " + maxPending);
        }
    }

    /** Reads {@code nccl { ... }} of the {@code cohort} section, falling back to reference.conf. */
    public static NcclSettings from(Config cohort) {
        Config c = cohort.withFallback(ConfigFactory.defaultReference().getConfig("cohort")).getConfig("nccl");
        String id = c.getString("unique-id");
        return new NcclSettings(
                c.getString("library"),
                c.getStringList("search-dirs"),
                id.isBlank() ? Optional.empty() : Optional.of(NcclUniqueId.fromBase64(id)),
                Launch.valueOf(c.getString("launch").trim().toUpperCase(Locale.ROOT)),
                c.getInt("max-pending"),
                c.getDuration("init-timeout"),
                c.getDuration("close-timeout"),
                c.getDuration("async-error-poll-interval"));
    }

    /**
     * The {@code cohort} section {@code cohort} with the group's unique id set: what a coordinator hands to
     * {@link io.cohort.backend.GroupContext} in every process of a group that spans processes.
     */
    public static Config withUniqueId(Config cohort, NcclUniqueId id) {
        return cohort.withValue("nccl.unique-id", ConfigValueFactory.fromAnyRef(id.toBase64()));
    }

    public static NcclSettings defaults() {
        return from(ConfigFactory.empty());
    }

    public NcclSettings withLibrary(String path) {
        return new NcclSettings(path, searchDirs, uniqueId, launch, maxPending, initTimeout, closeTimeout, asyncErrorPoll);
    }

    public NcclSettings withSearchDirs(List<String> dirs) {
        return new NcclSettings(library, dirs, uniqueId, launch, maxPending, initTimeout, closeTimeout, asyncErrorPoll);
    }

    public NcclSettings withLaunch(Launch mode) {
        return new NcclSettings(library, searchDirs, uniqueId, mode, maxPending, initTimeout, closeTimeout, asyncErrorPoll);
    }

    public NcclSettings withAsyncErrorPoll(Duration interval) {
        return new NcclSettings(library, searchDirs, uniqueId, launch, maxPending, initTimeout, closeTimeout, interval);
    }

    public NcclSettings withUniqueId(NcclUniqueId id) {
        return new NcclSettings(library, searchDirs, Optional.of(id), launch, maxPending, initTimeout, closeTimeout, asyncErrorPoll);
    }
}
