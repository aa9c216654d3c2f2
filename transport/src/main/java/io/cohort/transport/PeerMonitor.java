package io.cohort.transport;

import java.util.Optional;

/**
 * Knows whether peer processes are alive. Same-host peers are watched by process id (exchanged when the
 * group forms), which names a killed rank within one check interval; peers on other hosts are judged by
 * their Aeron image and the progress timeout.
 */
final class PeerMonitor {

    private final int self;
    private final ProcessHandle[] sameHost;

    /** {@code pids[r]} and {@code hosts[r]} as every rank reported them at join. */
    PeerMonitor(int self, long[] pids, long[] hosts) {
        this.self = self;
        this.sameHost = new ProcessHandle[pids.length];
        for (int r = 0; r < pids.length; r++) {
            if (r != self && hosts[r] == hosts[self] && pids[r] != 0) {
                sameHost[r] = ProcessHandle.of(pids[r]).orElse(null);
            }
        }
    }

    /** A same-host peer whose process has exited, the lowest rank first. */
    Optional<Integer> deadPeer() {
        for (int r = 0; r < sameHost.length; r++) {
            if (r != self && sameHost[r] != null && !sameHost[r].isAlive()) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** A stable 64-bit id of this host, to tell which peers share it. */
    static long hostId() {
        String name;
        try {
            name = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            name = System.getenv().getOrDefault("HOSTNAME", "localhost");
        }
        long pidNamespace = 0;
        try {
            // pids are only comparable inside one pid namespace (containers may share a host name)
            pidNamespace = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString()
                    .hashCode();
        } catch (java.io.IOException | UnsupportedOperationException ignored) {
            // not Linux: the host name alone
        }
        return ((long) name.hashCode() << 32) ^ (pidNamespace & 0xffffffffL);
    }
}
