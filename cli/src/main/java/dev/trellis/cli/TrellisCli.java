package dev.trellis.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.client.FieldViolation;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import dev.trellis.common.TrellisVersion;
import dev.trellis.common.text.DurationText;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code trellis} command: scoring, batch scoring, experiments, outcomes, rollouts, models and
 * the load generator, against a Trellis router. Exit codes: 0 success, 1 a failed call (gRPC status
 * code, message and field violations on stderr), 2 bad usage.
 */
@Command(
        name = "trellis",
        mixinStandardHelpOptions = true,
        versionProvider = TrellisCli.Version.class,
        description = "Client of the Trellis model-serving router.",
        subcommands = {
            ScoreCommand.class,
            BatchScoreCommand.class,
            ExperimentsCommand.class,
            OutcomesCommand.class,
            RolloutCommand.class,
            ModelsCommand.class,
            MonitorCommand.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class TrellisCli implements Callable<Integer> {
    /** Output formats of {@code --output}. */
    public enum OutputFormat {
        /** Human-readable text and tables. */
        table,
        /** JSON (proto3 JSON mapping for definitions). */
        json
    }

    @Spec
    CommandSpec spec;

    @Option(
            names = "--target",
            scope = ScopeType.INHERIT,
            paramLabel = "HOST:PORT",
            defaultValue = "${env:TRELLIS_TARGET:-localhost:8080}",
            description =
                    "Router address, several as host1:port,host2:port, or dns:///name:port; calls are balanced and retried across them (env TRELLIS_TARGET; default: ${DEFAULT-VALUE}).")
    String target;

    @Option(
            names = "--token",
            scope = ScopeType.INHERIT,
            paramLabel = "TOKEN",
            defaultValue = "${env:TRELLIS_ADMIN_TOKEN}",
            description = "Admin bearer token (env TRELLIS_ADMIN_TOKEN).")
    String token;

    @Option(
            names = "--token-file",
            scope = ScopeType.INHERIT,
            paramLabel = "FILE",
            description = "File holding the admin bearer token.")
    Path tokenFile;

    @Option(names = "--tls", scope = ScopeType.INHERIT, description = "Use TLS (JDK trust store unless --ca).")
    boolean tls;

    @Option(
            names = "--ca",
            scope = ScopeType.INHERIT,
            paramLabel = "PEM",
            description = "CA certificates (PEM) to trust; implies --tls.")
    Path caFile;

    @Option(
            names = "--cert",
            scope = ScopeType.INHERIT,
            paramLabel = "PEM",
            description =
                    "Client certificate chain (PEM) for a router that requires mutual TLS; with --key, implies --tls.")
    Path clientCertificate;

    @Option(
            names = "--key",
            scope = ScopeType.INHERIT,
            paramLabel = "PEM",
            description = "Private key (PKCS#8 PEM) of --cert.")
    Path clientKey;

    @Option(
            names = "--deadline",
            scope = ScopeType.INHERIT,
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            description =
                    "Deadline of each call, e.g. 500ms, 2s, 1m (default: 2s; 30s for slow commands such as experiments results).")
    Duration deadline;

    /** The deadline of calls when --deadline is not given. */
    static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(2);

    /** The default of commands whose calls can take seconds on large stores (results over millions of exposures). */
    static final Duration SLOW_DEADLINE = Duration.ofSeconds(30);

    @Option(
            names = "--output",
            paramLabel = "FORMAT",
            defaultValue = "table",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OutputFormat output;

    /**
     * Runs the command and exits the JVM with its exit code.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        System.exit(newCommandLine().execute(args));
    }

    /**
     * The configured command line (error handlers, converters). Tests set its out/err writers.
     *
     * @return a new command line
     */
    public static CommandLine newCommandLine() {
        CommandLine cli = new CommandLine(new TrellisCli());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.registerConverter(Duration.class, new DurationConverter());
        cli.setParameterExceptionHandler(TrellisCli::usageError);
        cli.setExecutionExceptionHandler(TrellisCli::executionError);
        return cli;
    }

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(
                spec.commandLine(),
                "missing command (score, batch-score, experiments, outcomes, rollout, models, bench)");
    }

    /**
     * A client from the global options; the caller closes it.
     *
     * @return the client
     */
    TrellisClient client() {
        return client(target, DEFAULT_DEADLINE);
    }

    /** A client for a slow command: its calls get {@link #SLOW_DEADLINE} unless --deadline says otherwise. */
    TrellisClient slowClient() {
        return client(target, SLOW_DEADLINE);
    }

    TrellisClient client(String target) {
        return client(target, DEFAULT_DEADLINE);
    }

    private TrellisClient client(String target, Duration defaultDeadline) {
        TrellisClient.Builder builder = TrellisClient.builder()
                .target(target)
                .defaultDeadline(deadline != null ? deadline : defaultDeadline)
                .bearerToken(resolveToken());
        if ((clientCertificate == null) != (clientKey == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--cert and --key go together");
        }
        if (tls || caFile != null || clientCertificate != null) {
            builder.tls(caFile);
            if (clientCertificate != null) {
                builder.clientCertificate(clientCertificate, clientKey);
            }
        } else {
            builder.plaintext();
        }
        return builder.build();
    }

    boolean json() {
        return output == OutputFormat.json;
    }

    private String resolveToken() {
        if (tokenFile != null) {
            try {
                return Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(), "cannot read --token-file " + tokenFile + ": " + e.getMessage());
            }
        }
        return token;
    }

    // ---------------------------------------------------------------------------------------------
    // Output helpers shared by the commands
    // ---------------------------------------------------------------------------------------------

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String toJson(MessageOrBuilder message) {
        try {
            return JsonFormat.printer().preservingProtoFieldNames().print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    // ---------------------------------------------------------------------------------------------
    // Errors: one line, no stack trace
    // ---------------------------------------------------------------------------------------------

    private static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("error: " + ex.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
        err.flush();
        return 2;
    }

    private static int executionError(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        PrintWriter err = cmd.getErr();
        if (ex instanceof TrellisException trellis) {
            err.println("error: " + describe(trellis, root(cmd)));
            for (FieldViolation v : trellis.fieldViolations()) {
                err.println("  " + v.field() + ": " + v.description());
            }
        } else if (ex instanceof UsageException) {
            err.println("error: " + ex.getMessage());
            err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
            err.flush();
            return 2;
        } else if (ex instanceof UncheckedIOException io) {
            err.println("error: " + io.getCause().getMessage());
        } else {
            String message = ex.getMessage();
            err.println("error: " + (message == null ? ex.getClass().getSimpleName() : message));
        }
        if (System.getenv("TRELLIS_DEBUG") != null) {
            ex.printStackTrace(err);
        }
        err.flush();
        return 1;
    }

    private static TrellisCli root(CommandLine cmd) {
        CommandLine c = cmd;
        while (c.getParent() != null) {
            c = c.getParent();
        }
        return c.getCommand() instanceof TrellisCli cli ? cli : null;
    }

    /**
     * One line for a failed call. The server's own message is shown as is; only failures that happened on this
     * side get words of ours: a connection that could not be made (the server is not running or not reachable)
     * and a deadline that expired before any answer (grpc-java's raw text names buffers and timers).
     */
    static String describe(TrellisException e, TrellisCli cli) {
        String target = cli == null ? "?" : cli.target;
        String server = e.description().isEmpty() ? "" : ": " + e.description();
        if (e.code() == io.grpc.Status.Code.UNAVAILABLE && notConnected(e)) {
            return e.code() + ": could not connect to " + target + " (is the server running and reachable?)" + server;
        }
        if (e.code() == io.grpc.Status.Code.DEADLINE_EXCEEDED && clientSideDeadline(e.description())) {
            String deadline = cli == null || cli.deadline == null ? "its" : "the " + DurationText.format(cli.deadline);
            return e.code() + ": " + target + " did not answer within " + deadline
                    + " deadline (raise it with --deadline)";
        }
        return e.code() + server;
    }

    private static boolean notConnected(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof java.net.ConnectException
                    || c instanceof java.net.UnknownHostException
                    || c instanceof java.nio.channels.UnresolvedAddressException) {
                return true;
            }
        }
        return false;
    }

    private static boolean clientSideDeadline(String description) {
        // the forms grpc-java's client writes; a server's DEADLINE_EXCEEDED keeps its own words
        return description.startsWith("deadline exceeded after")
                || description.startsWith("CallOptions deadline exceeded after")
                || description.startsWith("ClientCall started after")
                || description.isEmpty();
    }

    /** A mistake in the command's input discovered while running it (exit code 2). */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** A positive duration in the one grammar of every flag ({@link DurationText}): 500ms, 2s, 5m, 1h, PT2S. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            Duration d;
            try {
                d = DurationText.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
            if (d.isZero()) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a positive duration");
            }
            return d;
        }
    }

    /** Version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"trellis " + TrellisVersion.of(TrellisCli.class)};
        }
    }
}
