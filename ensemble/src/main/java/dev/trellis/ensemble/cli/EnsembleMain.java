package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.data.DatasetException;
import java.io.IOException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code trellis train} and {@code trellis evaluate}. User mistakes (bad data, bad flags, bad
 * bundles) print one line to stderr and exit 2; other failures print one line and exit 1. Never a
 * stack trace.
 */
@Command(
        name = "trellis",
        mixinStandardHelpOptions = true,
        subcommands = {TrainCommand.class, EvaluateCommand.class},
        description = "Train and evaluate Trellis stacked ensembles.")
public final class EnsembleMain {
    public static final int USER_ERROR = 2;
    public static final int FAILURE = 1;

    public static void main(String[] args) {
        // quiet native-library chatter before any logger starts; users may still override
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        // initialize logging on this thread, before training threads race to do it (slf4j then warns)
        org.slf4j.LoggerFactory.getILoggerFactory();
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs a command line; returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(new EnsembleMain());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setParameterExceptionHandler((e, arguments) -> {
            err.println("error: " + e.getMessage());
            err.println("see: trellis " + e.getCommandLine().getCommandName() + " --help");
            return USER_ERROR;
        });
        commandLine.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            if (e instanceof DatasetException
                    || e instanceof InvalidBundleException
                    || e instanceof IllegalArgumentException) {
                err.println("error: " + e.getMessage());
                return USER_ERROR;
            }
            if (e instanceof IOException) {
                err.println("error: " + e.getMessage());
                return FAILURE;
            }
            err.println("error: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return FAILURE;
        });
        return commandLine.execute(args);
    }
}
