package io.cohort.cluster;

import java.util.List;

/**
 * A device node as the coordinator sees it.
 *
 * @param address  the node's cluster address, "host:port"
 * @param role     its cluster role
 * @param devices  names of its local devices (local rank i = devices.get(i))
 * @param backend  the backend its local group chose (inside the node)
 * @param topology its local topology, as a matrix (for {@code cohort coordinator topology --local})
 * @param localPlan how its local group runs the intra-node levels (reduce and broadcast of 1 MiB), from its backend
 */
public record NodeInfo(String address, String role, List<String> devices, String backend, String topology,
                       String localPlan)
        implements CborSerializable {
    public NodeInfo {
        devices = List.copyOf(devices);
    }
}
