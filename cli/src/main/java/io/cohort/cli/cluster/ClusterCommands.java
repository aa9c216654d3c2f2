package io.cohort.cli.cluster;

import java.io.File;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Adds {@code node} and {@code coordinator} to a parent command line such as {@code cohort}. Both declare
 * {@code --config} so that they also run on their own; under a parent that already passes an inherited
 * {@code --config} down, their own declaration is dropped and they read the inherited one.
 */
public final class ClusterCommands {
    private ClusterCommands() {
    }

    public static void addTo(CommandLine parent) {
        OptionSpec parentConfig = parent.getCommandSpec().findOption("--config");
        boolean inherited = parentConfig != null && parentConfig.scopeType() == CommandLine.ScopeType.INHERIT;
        for (Object command : new Object[]{new NodeCommand(), new CoordinatorCommand()}) {
            CommandLine sub = new CommandLine(command);
            if (inherited) {
                OptionSpec own = sub.getCommandSpec().findOption("--config");
                sub.getCommandSpec().remove(own);
            }
            parent.addSubcommand(sub);
        }
    }

    /** The command's own {@code --config}, else the one a parent passes down; null if neither is given. */
    static File configOf(CommandSpec spec, File own) {
        if (own != null) {
            return own;
        }
        OptionSpec inherited = spec.findOption("--config");
        return inherited == null ? null : inherited.getValue();
    }
}
