package io.cohort.cuda.p2p;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import java.util.List;
import java.util.Optional;

/**
 * The CUDA P2P kernels as a P2P backend (priority 100, above the plan-based one): available when every rank
 * of the group is in this process on a CUDA device and every pair of devices has P2P access (ranks sharing
 * a device count as connected).
 */
public final class CudaP2pBackendProvider implements BackendProvider {

    @Override
    public BackendKind kind() {
        return BackendKind.P2P;
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<String> unavailableReason(GroupContext group) {
        List<RankContext> ranks = group.ranks();
        if (ranks.size() != group.topology().size()) {
            return Optional.of("the group spans processes (" + ranks.size() + " of " + group.topology().size()
                    + " ranks here); the P2P kernels need every rank in this process");
        }
        if (ranks.size() > P2pConfig.MAX_RANKS) {
            return Optional.of("the P2P kernels serve at most " + P2pConfig.MAX_RANKS + " ranks, not " + ranks.size());
        }
        for (int i = 0; i < ranks.size(); i++) {
            RankContext r = ranks.get(i);
            if (r.rank() != i) {
                return Optional.of("rank contexts out of order: position " + i + " holds rank " + r.rank());
            }
            if (!(r.device() instanceof CudaDevice) || !(r.stream() instanceof CudaStream)) {
                return Optional.of("rank " + i + " is on " + r.device().name() + ", not a CUDA device");
            }
        }
        for (RankContext a : ranks) {
            for (RankContext b : ranks) {
                if (!a.device().canAccessPeer(b.device())) {
                    return Optional.of(a.device().name() + " cannot access " + b.device().name() + " directly (no P2P)");
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public CollectiveBackend create(GroupContext group) {
        unavailableReason(group).ifPresent(reason -> {
            throw new IllegalStateException("cuda-p2p backend unavailable: " + reason);
        });
        for (RankContext a : group.ranks()) {
            for (RankContext b : group.ranks()) {
                a.device().enablePeerAccess(b.device());
            }
        }
        return new CudaP2pBackend(group, P2pConfig.from(group.config() == null ? ConfigFactory.empty() : group.config()));
    }
}
