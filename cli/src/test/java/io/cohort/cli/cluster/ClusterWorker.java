package io.cohort.cli.cluster;

import io.cohort.cluster.*;
import io.cohort.cli.cluster.NodeCommand;
import picocli.CommandLine;

/** A device node in its own JVM for {@link ClusterTest}: {@code cohort node} through its picocli command. */
public final class ClusterWorker {
    private ClusterWorker() {
    }

    public static void main(String[] args) {
        int code = new CommandLine(new NodeCommand()).execute(args);
        System.out.flush();
        System.exit(code);
    }
}
