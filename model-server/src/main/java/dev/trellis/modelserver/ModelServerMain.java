package dev.trellis.modelserver;

import dev.trellis.modelserver.config.ModelServerConfig;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * {@code model-server --repo DIR [--port 8081] ...}: runs until SIGTERM/SIGINT, then shuts down
 * gracefully (health NOT_SERVING, drain, stop). Natives should run with {@code OMP_NUM_THREADS=1}:
 * the server scores in parallel on its own worker threads.
 */
public final class ModelServerMain {
    private ModelServerMain() {}

    public static void main(String[] args) throws InterruptedException {
        ModelServerCommand command = new ModelServerCommand();
        CommandLine commandLine = new CommandLine(command);
        ModelServerConfig config;
        try {
            commandLine.parseArgs(args);
            if (commandLine.isUsageHelpRequested()) {
                commandLine.usage(System.out);
                return;
            }
            if (commandLine.isVersionHelpRequested()) {
                commandLine.printVersionHelp(System.out);
                return;
            }
            config = command.toConfig();
        } catch (ParameterException | IllegalArgumentException | java.io.UncheckedIOException e) {
            System.err.println(e.getMessage());
            commandLine.usage(System.err);
            System.exit(2);
            return;
        }
        ModelServer server = ModelServer.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "model-server-shutdown"));
        server.awaitTermination();
    }
}
