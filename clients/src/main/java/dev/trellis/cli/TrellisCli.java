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
            description = "Router address (env TRELLIS_TARGET; default: ${DEFAULT-VALUE}).")
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
            defaultValue = "2s",
            converter = DurationConverter.class,
            description = "Deadline of each call, e.g. 500ms, 2s, 1m (default: ${DEFAULT-VALUE}).")
    Duration deadline;

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
        return client(target);
    }

    TrellisClient client(String target) {
        TrellisClient.Builder builder =
                TrellisClient.builder().target(target).defaultDeadline(deadline).bearerToken(resolveToken());
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
            err.println(
                    "error: " + trellis.code() + (trellis.description().isEmpty() ? "" : ": " + trellis.description())
                            + (trellis.code() == io.grpc.Status.Code.UNAVAILABLE
                                    ? " (is the server at " + targetOf(cmd) + " running?)"
                                    : ""));
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

    private static String targetOf(CommandLine cmd) {
        CommandLine c = cmd;
        while (c.getParent() != null) {
            c = c.getParent();
        }
        return c.getCommand() instanceof TrellisCli cli ? cli.target : "?";
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
            String v = TrellisCli.class.getPackage().getImplementationVersion();
            return new String[] {"trellis " + (v == null ? "0.1.0-SNAPSHOT" : v)};
        }
    }
}
