package io.cohort.cluster;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/** A group as the coordinator keeps it: its nodes and their agents in leader order, its sequence, its state. */
final class CoordinatorGroup {
    final int id;
    final List<NodeInfo> nodes;
    final List<ActorRef<NodeAgent.Command>> agents;
    long seq;
    /** Why the group is broken (a node failed or was lost), or null. */
    String broken;
    /** Nodes blamed for breaking it: closing the group does not wait on them. */
    List<String> blamed = List.of();
    boolean open;

    CoordinatorGroup(int id, List<NodeInfo> nodes, List<ActorRef<NodeAgent.Command>> agents) {
        this.id = id;
        this.nodes = nodes;
        this.agents = agents;
    }

    boolean uses(String node) {
        return nodes.stream().anyMatch(n -> n.address().equals(node));
    }

    int ranks() {
        return nodes.size() * nodes.getFirst().devices().size();
    }

    void breakBecause(String why, List<String> at) {
        if (broken == null) {
            broken = why;
            blamed = List.copyOf(at);
        }
    }
}
