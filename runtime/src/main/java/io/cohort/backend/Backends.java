package io.cohort.backend;

import com.typesafe.config.Config;
import io.cohort.core.CohortException;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses a group's backend among the {@link BackendProvider}s on the class path (ServiceLoader):
 * <ul>
 *   <li>AUTO: NCCL when {@code cohort.backend.auto-prefers-nccl} is on and NCCL is available; otherwise
 *       P2P when every pair of the group has P2P, else NATIVE.</li>
 *   <li>P2P: P2P when available; otherwise NATIVE, with the WARN
 *       {@value #P2P_FALLBACK_WARNING}.</li>
 *   <li>NATIVE: NATIVE.</li>
 *   <li>NCCL: NCCL when available; otherwise a {@link CohortException} with the provider's reason, or NATIVE
 *       when {@code cohort.backend.nccl-fallback = native}.</li>
 * </ul>
 * Among available providers of one kind the highest priority wins (CUDA kernels over plan-based).
 */
public final class Backends {

    /** Logged (WARN) when P2P was requested but the group cannot use it. */
    public static final String P2P_FALLBACK_WARNING = "P2P not available, falling back to native backend";

    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    private Backends() {
    }

    /** Chooses and creates the backend for {@code group}. */
    public static CollectiveBackend create(BackendKind requested, GroupContext group) {
        return choose(requested, group).create(group);
    }

    /** The choice for {@code group} among the providers found by ServiceLoader. */
    public static BackendChoice choose(BackendKind requested, GroupContext group) {
        return choose(requested, group, providers());
    }

    /** The choice among {@code providers} (tests pass their own). */
    public static BackendChoice choose(BackendKind requested, GroupContext group, List<BackendProvider> providers) {
        Config config = group.config();
        boolean prefersNccl = config.hasPath("backend.auto-prefers-nccl") && config.getBoolean("backend.auto-prefers-nccl");
        String ncclFallback = config.hasPath("backend.nccl-fallback")
                ? config.getString("backend.nccl-fallback").trim().toLowerCase(Locale.ROOT) : "none";
        Topology topology = group.topology();
        BackendChoice choice = switch (requested) {
            case AUTO -> {
                Candidate nccl = best(BackendKind.NCCL, group, providers);
                if (prefersNccl && nccl.provider != null) {
                    yield new BackendChoice(requested, BackendKind.NCCL, nccl.provider,
                            "cohort.backend.auto-prefers-nccl is on and NCCL is available");
                }
                Candidate p2p = best(BackendKind.P2P, group, providers);
                if (p2p.provider != null) {
                    yield new BackendChoice(requested, BackendKind.P2P, p2p.provider,
                            "every pair of the " + topology.size() + " devices has P2P");
                }
                yield nativeChoice(requested, group, providers, "P2P not available (" + p2p.reason + ")");
            }
            case P2P -> {
                Candidate p2p = best(BackendKind.P2P, group, providers);
                if (p2p.provider != null) {
                    yield new BackendChoice(requested, BackendKind.P2P, p2p.provider, "requested, and every pair has P2P");
                }
                LOG.warn(P2P_FALLBACK_WARNING);
                yield nativeChoice(requested, group, providers, "P2P requested but not available (" + p2p.reason + ")");
            }
            case NATIVE -> nativeChoice(requested, group, providers, "requested");
            case NCCL -> {
                Candidate nccl = best(BackendKind.NCCL, group, providers);
                if (nccl.provider != null) {
                    yield new BackendChoice(requested, BackendKind.NCCL, nccl.provider, "requested, and NCCL is available");
                }
                if (ncclFallback.equals("native")) {
                    LOG.warn("NCCL not available ({}), falling back to native backend (cohort.backend.nccl-fallback = native)",
                            nccl.reason);
                    yield nativeChoice(requested, group, providers, "NCCL requested but not available (" + nccl.reason
                            + "); cohort.backend.nccl-fallback = native");
                }
                throw new CohortException("NCCL backend not available: " + nccl.reason
                        + " (set cohort.backend.nccl-fallback = native to fall back)");
            }
        };
        LOG.info("group of {} devices: {}", topology.size(), choice);
        return choice;
    }

    private static BackendChoice nativeChoice(BackendKind requested, GroupContext group, List<BackendProvider> providers,
                                              String why) {
        Candidate n = best(BackendKind.NATIVE, group, providers);
        if (n.provider == null) {
            throw new CohortException("no native backend available: " + n.reason + " (" + why + ")");
        }
        return new BackendChoice(requested, BackendKind.NATIVE, n.provider, why);
    }

    private record Candidate(BackendProvider provider, String reason) {
    }

    private static Candidate best(BackendKind kind, GroupContext group, List<BackendProvider> providers) {
        List<String> reasons = new ArrayList<>();
        List<BackendProvider> ofKind = providers.stream().filter(p -> p.kind() == kind)
                .sorted(Comparator.comparingInt(BackendProvider::priority).reversed()).toList();
        for (BackendProvider p : ofKind) {
            Optional<String> why = p.unavailableReason(group);
            if (why.isEmpty()) {
                return new Candidate(p, null);
            }
            reasons.add(why.get());
        }
        return new Candidate(null, reasons.isEmpty() ? "no " + kind.cliName() + " provider on the class path"
                : String.join("; ", reasons));
    }

    /** Every provider ServiceLoader finds. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class).forEach(list::add);
        return list;
    }
}
