package io.cohort.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendChoice;
import io.cohort.cli.cluster.ClusterCommands;
import io.cohort.cli.model.ModelCommand;
import com.typesafe.config.ConfigException;
import io.cohort.config.ConfigValidator;
import io.cohort.core.CohortException;
import java.io.File;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cohort}: topology, benchmarks and self-test of Cohort's collectives from the command line. */
@Command(name = "cohort", mixinStandardHelpOptions = true, version = "cohort 0.1.0",
        description = "Tensor-parallel collectives for the JVM: inspect topologies, benchmark and test collectives.",
        subcommands = {TopoCommand.class, BenchCommand.class, PlotCommand.class, SelftestCommand.class, ModelCommand.class,
                CommandLine.HelpCommand.class})
public final class CohortCli implements Runnable {

    @Option(names = "--config", paramLabel = "FILE", scope = CommandLine.ScopeType.INHERIT,
            description = "HOCON file over the defaults (e.g. conf/cohort-host.conf)")
    File configFile;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * The configuration: {@code --config} over application.conf over the reference, its {@code cohort} keys
     * checked ({@link ConfigValidator}): a mistake in it is one line, before any command starts work.
     */
    public Config config() {
        Config base = ConfigFactory.load();
        Config config = configFile == null ? base
                : ConfigValidator.parseFile(configFile).withFallback(base).resolve();
        ConfigValidator.check(config);
        return config;
    }

    /** "p2p (every pair of the 4 devices has P2P; PlanP2pProvider)": what a group got and why. */
    static String describe(BackendChoice choice) {
        return choice.chosen().cliName() + " (" + choice.reason() + "; "
                + choice.provider().getClass().getSimpleName() + ")";
    }

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "cohort-cli-logback.xml");
        }
        org.slf4j.LoggerFactory.getLogger(CohortCli.class); // initialise logging before threads start logging
        System.exit(commandLine().execute(args));
    }

    /** The command line, with errors of Cohort printed as one line (exit code 1) rather than a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new CohortCli());
        ClusterCommands.addTo(cl); // node, coordinator: added here so that they inherit --config
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            String message = errorLine(e);
            if (message != null) {
                err.println("error: " + message);
                err.flush();
                return 1;
            }
            throw e;
        });
        return cl;
    }

    /** The one line the CLI prints for a mistake or a failure of Cohort's; null for anything else (a bug). */
    public static String errorLine(Exception e) {
        return switch (e) {
            case CohortException c -> c.getMessage();
            case IllegalArgumentException i -> i.getMessage();
            case ConfigException c -> "config: " + ConfigValidator.oneLine(c);
            default -> null;
        };
    }
}
