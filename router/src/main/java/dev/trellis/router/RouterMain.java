package dev.trellis.router;

import dev.trellis.common.auth.TokenFiles;
import dev.trellis.common.monitoring.DriftThresholds;
import dev.trellis.common.text.DataSizeText;
import dev.trellis.common.text.DurationText;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.monitoring.PayloadSampleRates;
import dev.trellis.router.monitoring.TrackedMetric;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trellis router}: the public Scoring and Experiments API in front of model-server replicas.
 * Defaults come from {@link RouterConfig} (shown by --help); environment variables
 * TRELLIS_ADMIN_TOKEN, TRELLIS_SCORING_TOKEN and TRELLIS_UPSTREAM_TOKEN stand in for the token files.
 */
@Command(
        name = "router",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = "Routes scoring requests to model-server replicas through A/B experiments and canary rollouts.",
        defaultValueProvider = RouterMain.Defaults.class)
public final class RouterMain implements Callable<Integer> {
    @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(
            names = "--port",
            description = "gRPC port for Scoring and Experiments; 0 picks a free port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(
            names = "--metrics-port",
            description = "Prometheus /metrics port; 0 = ephemeral, -1 disables it (default: ${DEFAULT-VALUE}).")
    int metricsPort;

    @Option(
            names = "--http-port",
            description = "Web console and its JSON API (/api/v1), HTTPS with --tls-cert; 0 = ephemeral, -1 disables it"
                    + " (default: ${DEFAULT-VALUE}, off).")
    int httpPort;

    @Option(
            names = "--upstream",
            split = ",",
            paramLabel = "TARGET",
            description =
                    "Model-server replicas: host:port (repeatable or comma-separated) or one dns:///name:port (default: ${DEFAULT-VALUE}).")
    List<String> upstreams = new ArrayList<>();

    @Option(
            names = "--store",
            paramLabel = "FILE|URL",
            description =
                    "Experiment store: a SQLite file (one router) or postgresql://user@host:port/database (many routers) (default: ${DEFAULT-VALUE}).")
    String store;

    @Option(
            names = "--store-password-file",
            description = "File holding the PostgreSQL password (else env TRELLIS_STORE_PASSWORD; never in the URL).")
    Path storePasswordFile;

    @Option(
            names = "--retention",
            description =
                    "Delete exposures and outcomes older than this, except those of RUNNING experiments, e.g. 90d (default: keep all).")
    String retention;

    @Option(
            names = "--shutdown-delay",
            description =
                    "On SIGTERM, report NOT_SERVING but keep serving this long before draining, so balancers and clients move away (default: ${DEFAULT-VALUE}).")
    String shutdownDelay;

    @Option(
            names = "--admin-token-file",
            description =
                    "File holding the admin bearer token (else env TRELLIS_ADMIN_TOKEN; without either the admin API is disabled).")
    Path adminTokenFile;

    @Option(
            names = "--scoring-token-file",
            description =
                    "File holding a bearer token required by Scoring calls (else env TRELLIS_SCORING_TOKEN; without either scoring is open).")
    Path scoringTokenFile;

    @Option(names = "--tls-cert", description = "PEM certificate chain: serve TLS (with --tls-key).")
    Path tlsCert;

    @Option(names = "--tls-key", description = "PEM private key (PKCS#8) for --tls-cert.")
    Path tlsKey;

    @Option(
            names = "--tls-client-ca",
            description =
                    "PEM CA certificates: require every client to present a certificate they signed (mutual TLS; needs --tls-cert).")
    Path tlsClientCa;

    @Option(names = "--upstream-tls", description = "Use TLS to the model-servers.")
    boolean upstreamTls;

    @Option(
            names = "--upstream-ca",
            description = "PEM CA bundle to trust for --upstream-tls (default: the JVM's trust store).")
    Path upstreamCa;

    @Option(
            names = "--upstream-cert",
            description =
                    "PEM client certificate chain to present to model-servers that require mutual TLS (with --upstream-key).")
    Path upstreamCert;

    @Option(names = "--upstream-key", description = "PEM private key (PKCS#8) for --upstream-cert.")
    Path upstreamKey;

    @Option(
            names = "--upstream-token-file",
            description =
                    "File holding the bearer token sent to the model-servers on every call (else env TRELLIS_UPSTREAM_TOKEN; without either none is sent).")
    Path upstreamTokenFile;

    @Option(
            names = "--default-deadline",
            description = "Deadline of upstream calls when the caller sent none (default: ${DEFAULT-VALUE}).")
    String defaultDeadline;

    @Option(
            names = "--max-message-size",
            description = "Largest inbound message, in bytes or e.g. 16MiB, on both hops (default: ${DEFAULT-VALUE}).")
    String maxMessageSize;

    @Option(
            names = "--rollout-tick",
            description = "How often the rollout controller checks guardrails (default: ${DEFAULT-VALUE}).")
    String rolloutTick;

    @Option(
            names = "--catalog-refresh",
            description =
                    "How often replicas are polled for models, versions and readiness (default: ${DEFAULT-VALUE}).")
    String catalogRefresh;

    @Option(
            names = "--upstream-max-attempts",
            description =
                    "Attempts per upstream call, retrying UNAVAILABLE on another replica, 1..5 (default: ${DEFAULT-VALUE}).")
    int upstreamMaxAttempts;

    @Option(
            names = "--shutdown-grace",
            description = "How long in-flight calls may finish at shutdown (default: ${DEFAULT-VALUE}).")
    String shutdownGrace;

    @Option(names = "--trace-log", description = "Log every finished span (debugging).")
    boolean traceLog;

    @Option(
            names = "--otlp-endpoint",
            description = "Send traces and metrics over OTLP/HTTP to this collector, e.g. http://collector:4318.")
    java.net.URI otlpEndpoint;

    @Option(
            names = "--drift-thresholds",
            description = "Overrides of GetDrift's thresholds (psi, psi-warn, p, ks, missing, min-rows), e.g. "
                    + "psi=0.2,min-rows=500 (default: psi=0.25,psi-warn=0.1,p=0.001,ks=0.1,missing=0.1,min-rows=200).")
    String driftThresholds;

    @Option(
            names = "--payload-sample-rate",
            description = "Share of scored rows logged as payload samples: 0.1 for every model, churn=1 for one "
                    + "(repeatable; default: 0, none).")
    List<String> payloadSampleRates = new ArrayList<>();

    @Option(
            names = "--performance-refresh",
            description = "How often the live-performance and SRM gauges are recomputed (default: ${DEFAULT-VALUE}).")
    String performanceRefresh;

    @Option(
            names = "--performance-window",
            description = "The trailing window of payload samples the live-performance gauges cover "
                    + "(default: ${DEFAULT-VALUE}).")
    String performanceWindow;

    @Option(
            names = "--performance-metric",
            description = "MODEL=METRIC: keep the live-performance gauges of the model against that outcome metric "
                    + "fresh (repeatable; a GetPerformance call adds its pair too).")
    List<String> performanceMetrics = new ArrayList<>();

    private Map<String, String> env = System.getenv();

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line main runs: a router that cannot start exits 1 with one line on stderr. */
    static CommandLine commandLine() {
        return new CommandLine(new RouterMain()).setExecutionExceptionHandler(RouterMain::startupError);
    }

    /** A router that cannot start says why in one line (TRELLIS_DEBUG=1 adds the stack trace). */
    private static int startupError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        Throwable cause = e;
        while ((cause instanceof com.google.inject.ProvisionException
                        || cause instanceof com.google.inject.CreationException
                        || cause instanceof UncheckedIOException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof com.google.inject.ProvisionException p
                && !p.getErrorMessages().isEmpty()) {
            Throwable inner = p.getErrorMessages().iterator().next().getCause();
            cause = inner == null ? cause : inner;
        }
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        cmd.getErr().println("error: trellis router cannot start: " + message);
        if (System.getenv("TRELLIS_DEBUG") != null) {
            e.printStackTrace(cmd.getErr());
        }
        cmd.getErr().flush();
        return 1;
    }

    /** Maps flags and environment variables onto a config (also what the tests check). */
    public static RouterConfig parse(String[] args, Map<String, String> env) {
        RouterMain main = new RouterMain();
        main.env = env;
        new CommandLine(main).parseArgs(args);
        return main.toConfig();
    }

    RouterConfig toConfig() {
        RouterConfig.Builder b = RouterConfig.builder()
                .host(host)
                .port(port)
                .metricsPort(metricsPort)
                .httpPort(httpPort)
                .upstreams(upstreams)
                .store(store)
                .storePassword(secret(storePasswordFile, "TRELLIS_STORE_PASSWORD"))
                .retention(retention == null || retention.isBlank() ? null : DurationText.parse(retention))
                .shutdownDelay(DurationText.parse(shutdownDelay))
                .adminToken(token(adminTokenFile, "TRELLIS_ADMIN_TOKEN"))
                .scoringToken(token(scoringTokenFile, "TRELLIS_SCORING_TOKEN"))
                .tlsCert(tlsCert)
                .tlsKey(tlsKey)
                .tlsClientCa(tlsClientCa)
                .upstreamTls(upstreamTls)
                .upstreamCa(upstreamCa)
                .upstreamCert(upstreamCert)
                .upstreamKey(upstreamKey)
                .upstreamToken(token(upstreamTokenFile, "TRELLIS_UPSTREAM_TOKEN"))
                .defaultDeadline(DurationText.parse(defaultDeadline))
                .maxMessageSize(DataSizeText.parse(maxMessageSize))
                .rolloutTick(DurationText.parse(rolloutTick))
                .catalogRefresh(DurationText.parse(catalogRefresh))
                .upstreamMaxAttempts(upstreamMaxAttempts)
                .shutdownGrace(DurationText.parse(shutdownGrace))
                .traceLog(traceLog)
                .otlpEndpoint(otlpEndpoint)
                .driftThresholds(DriftThresholds.parse(driftThresholds))
                .payloadSampleRates(PayloadSampleRates.parse(payloadSampleRates))
                .performanceRefresh(DurationText.parse(performanceRefresh))
                .performanceWindow(DurationText.parse(performanceWindow))
                .performanceMetrics(
                        performanceMetrics.stream().map(TrackedMetric::parse).toList());
        return b.build();
    }

    private String token(Path file, String variable) {
        return secret(file, variable);
    }

    /** A secret from its file (a Secret mount) or else its environment variable; never from a flag's value. */
    private String secret(Path file, String variable) {
        if (file != null) {
            return TokenFiles.read(file);
        }
        String value = env.get(variable);
        return value == null || value.isBlank() ? null : value.trim();
    }

    @Override
    public Integer call() throws InterruptedException {
        RouterConfig config = toConfig();
        RouterServer router = RouterServer.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            router.close();
                            stopped.countDown();
                        },
                        "trellis-router-shutdown"));
        System.err.println("trellis router listening on " + config.host() + ":" + router.port());
        stopped.await();
        return 0;
    }

    /** Shows and applies {@link RouterConfig}'s defaults, so they live in one place. */
    public static final class Defaults implements CommandLine.IDefaultValueProvider {
        @Override
        public String defaultValue(CommandLine.Model.ArgSpec argSpec) {
            if (!(argSpec instanceof CommandLine.Model.OptionSpec option)) {
                return null;
            }
            RouterConfig d = RouterConfig.builder().build();
            return switch (option.longestName()) {
                case "--host" -> d.host();
                case "--port" -> String.valueOf(d.port());
                case "--metrics-port" -> String.valueOf(d.metricsPort());
                case "--http-port" -> String.valueOf(d.httpPort());
                case "--upstream" -> String.join(",", d.upstreams());
                case "--store" -> d.store();
                case "--shutdown-delay" -> DurationText.format(d.shutdownDelay());
                case "--default-deadline" -> DurationText.format(d.defaultDeadline());
                case "--max-message-size" -> DataSizeText.format(d.maxMessageSize());
                case "--rollout-tick" -> DurationText.format(d.rolloutTick());
                case "--catalog-refresh" -> DurationText.format(d.catalogRefresh());
                case "--upstream-max-attempts" -> String.valueOf(d.upstreamMaxAttempts());
                case "--shutdown-grace" -> DurationText.format(d.shutdownGrace());
                case "--performance-refresh" -> DurationText.format(d.performanceRefresh());
                case "--performance-window" -> DurationText.format(d.performanceWindow());
                default -> null;
            };
        }
    }
}
