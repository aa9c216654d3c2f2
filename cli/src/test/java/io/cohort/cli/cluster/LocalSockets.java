package io.cohort.cli.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** The local addresses of a process's TCP and UDP sockets, read from Linux's /proc (its fds and net tables). */
final class LocalSockets {
    private LocalSockets() {
    }

    /** A socket of the process: protocol ("tcp", "udp6", ...), local address and port. */
    record Bound(String protocol, InetAddress address, int port) {
        @Override
        public String toString() {
            return protocol + " " + address.getHostAddress() + ":" + port;
        }
    }

    static List<Bound> of(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        List<Bound> bound = new ArrayList<>();
        for (String protocol : List.of("tcp", "tcp6", "udp", "udp6")) {
            Path table = Path.of("/proc", Long.toString(pid), "net", protocol);
            if (!Files.exists(table)) {
                continue;
            }
            for (String line : Files.readAllLines(table).subList(1, Files.readAllLines(table).size())) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && inodes.contains(f[9])) {
                    String[] local = f[1].split(":");
                    bound.add(new Bound(protocol, address(local[0]), Integer.parseInt(local[1], 16)));
                }
            }
        }
        return bound;
    }

    /** /proc's hex address: 32-bit words in host (little-endian) order. */
    private static InetAddress address(String hex) throws UnknownHostException {
        byte[] bytes = new byte[hex.length() / 2];
        for (int word = 0; word < bytes.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                int at = word * 8 + (3 - b) * 2;
                bytes[word * 4 + b] = (byte) Integer.parseInt(hex.substring(at, at + 2), 16);
            }
        }
        return InetAddress.getByAddress(bytes);
    }
}
