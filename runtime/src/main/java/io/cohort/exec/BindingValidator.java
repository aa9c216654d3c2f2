package io.cohort.exec;

import io.cohort.device.Device;
import io.cohort.plan.BufferRef;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanException;
import io.cohort.plan.PlanValidator;
import io.cohort.plan.Slot;
import io.cohort.plan.Step;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.List;

/**
 * Checks, once before binding, that a {@link Plan} can run on a group's devices: the plan itself must pass
 * {@link PlanValidator} (links, bounds, flags, deadlock, start and completion order) on the topology, and every step that
 * touches another rank's device memory must be one the device can really do ({@link Device#canAccessPeer}),
 * whatever the topology claims. Failures are {@link PlanException}s that name the plan and the devices.
 */
public final class BindingValidator {

    private BindingValidator() {
    }

    /**
     * Validates {@code plan} for ranks on {@code devices} (rank r on devices.get(r)); {@code topology} may be
     * null to check device reachability only.
     */
    public static PlanValidator.Report validate(Plan plan, List<? extends Device> devices, Topology topology) {
        int n = plan.ranks();
        String what = plan.algorithm() + " " + plan.collective() + " plan (count " + plan.count() + ", " + n + " ranks)";
        if (devices.size() != n) {
            throw new PlanException(what + " given " + devices.size() + " devices");
        }
        Topology links = topology != null ? topology : unconstrained(devices);
        PlanValidator.Report report;
        try {
            report = PlanValidator.validate(plan, links);
        } catch (PlanException e) {
            throw new PlanException(what + ": " + e.getMessage());
        }
        for (int r = 0; r < n; r++) {
            Device self = devices.get(r);
            List<Step> steps = plan.stepsOf(r);
            for (int i = 0; i < steps.size(); i++) {
                for (BufferRef ref : steps.get(i).buffers()) {
                    Device peer = devices.get(ref.rank());
                    if (ref.rank() != r && ref.slot() != Slot.STAGING && !self.canAccessPeer(peer)) {
                        throw new PlanException(what + ": rank " + r + " step " + i + " (" + steps.get(i) + ") touches "
                                + ref + " but " + self.name() + " cannot access " + peer.name()
                                + " (no P2P): such traffic must go through STAGING");
                    }
                }
            }
        }
        return report;
    }

    /** A topology that allows every pair: only the devices' own reachability limits the plan. */
    private static Topology unconstrained(List<? extends Device> devices) {
        return Topology.uniform("devices' peer access", devices.stream().map(Device::name).toList(),
                new Link(true, LinkKind.PCIE, 0, -1, Double.NaN, Double.NaN));
    }
}
