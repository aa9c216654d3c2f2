package io.cohort.cluster;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The device nodes as the coordinator sees them: their agents (from the Receptionist), their descriptions, which
 * are unreachable or draining, and who may form a group (admitted seed nodes with the same number of devices).
 */
final class CoordinatorMembers {

    private final ClusterSettings settings;
    private final Cluster cluster;
    final Map<String, ActorRef<NodeAgent.Command>> agents = new HashMap<>();
    final Map<String, NodeInfo> nodes = new TreeMap<>();
    final Set<String> unreachable = new HashSet<>();
    final Set<String> draining = new LinkedHashSet<>();

    CoordinatorMembers(ClusterSettings settings, Cluster cluster) {
        this.settings = settings;
        this.cluster = cluster;
    }

    /** Agents listed now; returns those not known before (to be asked for their description). */
    List<ActorRef<NodeAgent.Command>> listed(Set<ActorRef<NodeAgent.Command>> listed) {
        List<ActorRef<NodeAgent.Command>> fresh = new java.util.ArrayList<>();
        for (ActorRef<NodeAgent.Command> ref : listed) {
            String address = addressOf(ref.path().address());
            if (!ref.equals(agents.get(address))) {
                agents.put(address, ref);
                fresh.add(ref);
            }
        }
        return fresh;
    }

    /** Records a node's description; true when it is new or changed (a restarted node may bring other devices). */
    boolean described(NodeInfo info) {
        if (!agents.containsKey(info.address())) {
            return false;
        }
        return !info.equals(nodes.put(info.address(), info));
    }

    void removed(String node) {
        nodes.remove(node);
        agents.remove(node);
        unreachable.remove(node);
        draining.remove(node);
    }

    /** Up, reachable and not draining. */
    boolean live(String node) {
        return nodes.containsKey(node) && !unreachable.contains(node);
    }

    /** Every node that may join a group now: up, reachable, not draining, a seed node. */
    List<String> admissible() {
        List<String> seeds = settings.seedHostPorts();
        return nodes.keySet().stream().filter(n -> !draining.contains(n) && !unreachable.contains(n)
                && seeds.contains(n)).toList();
    }

    /** Why these nodes may not form a group, or null. */
    String admissionProblem(List<String> requested) {
        if (requested.isEmpty()) {
            return "no device node is up (roles " + settings.nodeRoles() + ")";
        }
        List<String> seeds = settings.seedHostPorts();
        Integer devices = null;
        for (String n : new LinkedHashSet<>(requested)) {
            NodeInfo info = nodes.get(n);
            if (info == null) {
                return "node " + n + " is not a device node of this cluster (nodes up: " + nodes.keySet() + ")";
            }
            if (!seeds.contains(n)) {
                return "node " + n + " is not one of the configured seed nodes " + seeds
                        + " (pekko.cluster.seed-nodes): it may not join a group";
            }
            if (draining.contains(n)) {
                return "node " + n + " is draining";
            }
            if (unreachable.contains(n)) {
                return "node " + n + " is unreachable";
            }
            if (devices != null && devices != info.devices().size()) {
                return "nodes of a group need the same number of devices: " + requested.stream()
                        .map(x -> x + " has " + nodes.get(x).devices().size()).toList();
            }
            devices = info.devices().size();
        }
        if (requested.size() != new HashSet<>(requested).size()) {
            return "a node appears twice in " + requested;
        }
        return null;
    }

    Optional<Member> memberAt(String hostPort) {
        for (Member member : cluster.state().getMembers()) {
            if (addressOf(member.address()).equals(hostPort)) {
                return Optional.of(member);
            }
        }
        return Optional.empty();
    }

    /** "host:port" of a member address (this member's own address for local refs). */
    String addressOf(Address a) {
        Address full = a.hasGlobalScope() ? a : cluster.selfMember().address();
        return full.getHost().orElse("?") + ":" + full.getPort().orElse(0);
    }
}
