package io.cohort.cuda.nccl;

import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import java.util.Optional;

/** Offers {@link NcclBackend} (kind NCCL) to groups of CUDA devices when libnccl.so.2 can be loaded. */
public final class NcclBackendProvider implements BackendProvider {

    @Override
    public BackendKind kind() {
        return BackendKind.NCCL;
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<String> unavailableReason(GroupContext group) {
        try {
            NcclSettings settings = NcclSettings.from(group.config());
            Optional<String> reason = NcclBackend.checkGroup(group, settings);
            if (reason.isPresent()) {
                return reason;
            }
            NcclVersion v = NcclLibrary.load(settings).version();
            if (!v.atLeast(NcclVersion.MINIMUM)) {
                return Optional.of("NCCL " + v + " is too old: Cohort needs " + NcclVersion.MINIMUM + " or newer");
            }
            return Optional.empty();
        } catch (RuntimeException e) {
            // NcclUnavailableException lists the paths searched; config errors say which key is wrong
            return Optional.of(e.getMessage());
        }
    }

    @Override
    public CollectiveBackend create(GroupContext group) {
        NcclSettings settings = NcclSettings.from(group.config());
        return new NcclBackend(NcclLibrary.load(settings), group, settings);
    }
}
