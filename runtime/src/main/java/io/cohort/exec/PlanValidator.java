package io.cohort.exec;

import io.cohort.device.Device;
import io.cohort.plan.BufferRef;
import io.cohort.plan.Plan;
import io.cohort.plan.Slot;
import io.cohort.plan.Step;
import io.cohort.topology.Topology;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks a {@link Plan} once, before it is bound, so that a bad plan fails with a message instead of
 * hanging or producing a wrong result:
 * <ul>
 *   <li>every BufferRef names a rank of the group and stays inside its slot's size;</li>
 *   <li>every touch of another rank's non-staging memory follows a direct link: the device can access the
 *       peer, and (when a topology is given) the topology has P2P for the pair;</li>
 *   <li>a rank reads or writes another rank's SEND/RECV only after a Wait on that rank (before it, the
 *       peer may still be producing its input or consuming its previous output);</li>
 *   <li>every Wait(p, tag) has a Signal(tag) on rank p, and no rank signals one tag twice.</li>
 * </ul>
 */
public final class PlanValidator {

    /** Tags are flag word indices: keep them small. */
    public static final int MAX_TAG = (1 << 16) - 1;

    private PlanValidator() {
    }

    /**
     * Validates {@code plan} for ranks on {@code devices} (rank r on devices.get(r)); {@code topology} may be
     * null to check device reachability only.
     */
    public static void validate(Plan plan, List<? extends Device> devices, Topology topology) {
        int n = plan.ranks();
        String what = plan.algorithm() + " " + plan.collective() + " plan (count " + plan.count() + ", " + n + " ranks)";
        if (devices.size() != n) {
            throw new InvalidPlanException(what + " given " + devices.size() + " devices");
        }
        if (topology != null && topology.size() != n) {
            throw new InvalidPlanException(what + " given a topology of " + topology.size() + " devices");
        }
        if (n > 1 && (plan.root() < 0 || plan.root() >= n)) {
            throw new InvalidPlanException(what + ": root " + plan.root() + " outside 0.." + (n - 1));
        }
        List<Set<Integer>> signals = new java.util.ArrayList<>();
        for (int r = 0; r < n; r++) {
            Set<Integer> tags = new HashSet<>();
            for (Step step : plan.stepsOf(r)) {
                if (step instanceof Step.Signal(int tag)) {
                    checkTag(what, r, tag);
                    if (!tags.add(tag)) {
                        throw new InvalidPlanException(what + ": rank " + r + " signals tag " + tag + " twice");
                    }
                }
            }
            signals.add(tags);
        }
        for (int r = 0; r < n; r++) {
            boolean[] waited = new boolean[n];
            waited[r] = true;
            List<Step> steps = plan.stepsOf(r);
            for (int i = 0; i < steps.size(); i++) {
                Step step = steps.get(i);
                String at = what + ": rank " + r + " step " + i + " (" + step + ")";
                switch (step) {
                    case Step.Copy(BufferRef src, BufferRef dst, long count) -> {
                        checkRef(plan, devices, topology, waited, at, r, src, count);
                        checkRef(plan, devices, topology, waited, at, r, dst, count);
                    }
                    case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) -> {
                        checkRef(plan, devices, topology, waited, at, r, a, count);
                        checkRef(plan, devices, topology, waited, at, r, b, count);
                        checkRef(plan, devices, topology, waited, at, r, dst, count);
                    }
                    case Step.Scale(BufferRef buf, long count) -> checkRef(plan, devices, topology, waited, at, r, buf, count);
                    case Step.Signal s -> {
                    }
                    case Step.Wait(int p, int tag) -> {
                        if (p < 0 || p >= n) {
                            throw new InvalidPlanException(at + ": waits for rank " + p + " outside 0.." + (n - 1));
                        }
                        checkTag(what, r, tag);
                        if (!signals.get(p).contains(tag)) {
                            throw new InvalidPlanException(at + ": waits for tag " + tag + " of rank " + p
                                    + ", which rank " + p + " never signals");
                        }
                        waited[p] = true;
                    }
                }
            }
        }
    }

    private static void checkTag(String what, int rank, int tag) {
        if (tag < 0 || tag > MAX_TAG) {
            throw new InvalidPlanException(what + ": rank " + rank + " uses tag " + tag + " outside 0.." + MAX_TAG);
        }
    }

    private static void checkRef(Plan plan, List<? extends Device> devices, Topology topology, boolean[] waited,
                                 String at, int r, BufferRef ref, long count) {
        int n = plan.ranks();
        int p = ref.rank();
        if (p >= n) {
            throw new InvalidPlanException(at + ": " + ref + " names rank " + p + " outside 0.." + (n - 1));
        }
        if (count < 0) {
            throw new InvalidPlanException(at + ": negative count " + count);
        }
        long size = slotElements(plan, ref.slot());
        if (ref.offset() + count > size) {
            throw new InvalidPlanException(at + ": " + ref + " + " + count + " elements exceeds " + ref.slot()
                    + " of " + size + " elements");
        }
        if (p == r || ref.slot() == Slot.STAGING || count == 0) {
            return;
        }
        Device self = devices.get(r);
        Device peer = devices.get(p);
        if (!self.canAccessPeer(peer)) {
            throw new InvalidPlanException(at + ": touches " + ref + " but " + self.name() + " cannot access "
                    + peer.name() + " (no P2P): such traffic must go through STAGING");
        }
        if (topology != null && !topology.p2p(r, p)) {
            throw new InvalidPlanException(at + ": touches " + ref + " but the topology '" + topology.name()
                    + "' has no P2P from rank " + r + " to rank " + p);
        }
        if ((ref.slot() == Slot.SEND || ref.slot() == Slot.RECV) && !waited[p]) {
            throw new InvalidPlanException(at + ": touches " + ref + " before any Wait on rank " + p
                    + " (rank " + p + " may not have reached this collective yet)");
        }
    }

    /** Elements of {@code slot} each rank has under {@code plan}. */
    public static long slotElements(Plan plan, Slot slot) {
        return switch (slot) {
            case SEND -> plan.collective().sendCount(plan.count(), plan.ranks());
            case RECV -> plan.collective().recvCount(plan.count(), plan.ranks());
            case SCRATCH -> plan.scratchElements();
            case STAGING -> plan.stagingElements();
        };
    }
}
