package dev.trellis.modelserver;

import dev.trellis.common.TrellisVersion;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.common.auth.TokenFiles;
import dev.trellis.common.monitoring.DriftThresholds;
import dev.trellis.common.text.DataSizeText;
import dev.trellis.common.text.DurationText;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.modelserver.monitoring.DriftWindow;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** The model-server's flags; every default comes from {@link ModelServerConfig}. */
@Command(
        name = "model-server",
        mixinStandardHelpOptions = true,
        versionProvider = ModelServerCommand.Version.class,
        sortOptions = false,
        usageHelpWidth = 110,
        description =
                "Serves stacked-ensemble bundles from a model repository over the Open Inference Protocol (gRPC).")
final class ModelServerCommand {
    @Option(
            names = "--repo",
            required = true,
            paramLabel = "DIR",
            description = "Model repository: DIR/<model>/<version>/bundle.json. Required.")
    Path repository;

    @Option(
            names = "--host",
            paramLabel = "ADDR",
            defaultValue = ModelServerConfig.DEFAULT_HOST,
            description = "Address to bind the gRPC and metrics ports to. Default: ${DEFAULT-VALUE}.")
    String host;

    @Option(
            names = "--port",
            paramLabel = "PORT",
            defaultValue = "" + ModelServerConfig.DEFAULT_PORT,
            description =
                    "gRPC port (Open Inference Protocol, health, reflection); 0 = ephemeral. Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(
            names = "--metrics-port",
            paramLabel = "PORT",
            defaultValue = "" + ModelServerConfig.DEFAULT_METRICS_PORT,
            description = "Prometheus scrape port (/metrics); 0 = ephemeral, -1 disables. Default: ${DEFAULT-VALUE}.")
    int metricsPort;

    @Option(
            names = "--models",
            paramLabel = "NAME",
            split = ",",
            description =
                    "Models to serve and wait for before reporting SERVING. Default: every model folder found at startup "
                            + "(models added later are loaded too, but not waited for).")
    List<String> models = new ArrayList<>();

    @Option(
            names = "--version-policy",
            paramLabel = "[MODEL=]POLICY",
            description =
                    "Versions to serve: latest:N, all, or specific:V1,V2; MODEL=POLICY for one model (repeatable), "
                            + "POLICY alone for the default. Default: " + ModelServerConfig.DEFAULT_VERSION_POLICY
                            + ".")
    List<String> versionPolicies = new ArrayList<>();

    @Option(
            names = "--poll-interval",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            defaultValue = "5s",
            description = "How often to scan the repository for new and removed versions. Default: ${DEFAULT-VALUE}.")
    Duration pollInterval;

    @Option(
            names = "--max-batch-size",
            paramLabel = "ROWS",
            defaultValue = "" + ModelServerConfig.DEFAULT_MAX_BATCH_SIZE,
            description =
                    "Most rows per ensemble call; a larger request is scored on its own. Default: ${DEFAULT-VALUE}.")
    int maxBatchSize;

    @Option(
            names = "--max-queue-delay",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            defaultValue = "0",
            description = "How long an idle worker waits for more requests before scoring a partial batch. "
                    + "Under load batches form anyway while workers are busy. Default: ${DEFAULT-VALUE}.")
    Duration maxQueueDelay;

    @Option(
            names = "--max-queue-size",
            paramLabel = "REQUESTS",
            defaultValue = "" + ModelServerConfig.DEFAULT_MAX_QUEUE_SIZE,
            description =
                    "Requests queued per model version before new ones get RESOURCE_EXHAUSTED. Default: ${DEFAULT-VALUE}.")
    int maxQueueSize;

    @Option(
            names = "--batch-workers",
            paramLabel = "THREADS",
            description = "Scoring threads per model version for interactive requests (at most --max-batch-size rows, "
                    + "no explanation, not low priority). Default: the number of cores.")
    Integer batchWorkers;

    @Option(
            names = "--bulk-workers",
            paramLabel = "THREADS",
            description = "Scoring threads per model version for larger or low-priority requests. "
                    + "Default: half the cores, at least 1.")
    Integer bulkWorkers;

    @Option(
            names = "--explain-workers",
            paramLabel = "THREADS",
            description = "Scoring threads per model version for requests with explanations. "
                    + "Default: half the cores, at least 1.")
    Integer explainWorkers;

    @Option(
            names = "--bulk-queue-size",
            paramLabel = "REQUESTS",
            defaultValue = "" + ModelServerConfig.DEFAULT_BULK_QUEUE_SIZE,
            description = "Bulk requests queued per model version before new ones get RESOURCE_EXHAUSTED. "
                    + "Default: ${DEFAULT-VALUE}.")
    int bulkQueueSize;

    @Option(
            names = "--explain-queue-size",
            paramLabel = "REQUESTS",
            defaultValue = "" + ModelServerConfig.DEFAULT_EXPLAIN_QUEUE_SIZE,
            description = "Requests with explanations queued per model version before new ones get "
                    + "RESOURCE_EXHAUSTED. Default: ${DEFAULT-VALUE}.")
    int explainQueueSize;

    @Option(
            names = "--max-explain-rows",
            paramLabel = "ROWS",
            defaultValue = "" + ModelServerConfig.DEFAULT_MAX_EXPLAIN_ROWS,
            description = "Most rows one request with explain may carry; more get INVALID_ARGUMENT. "
                    + "Default: ${DEFAULT-VALUE}.")
    int maxExplainRows;

    @Option(
            names = "--max-message-size",
            paramLabel = "SIZE",
            converter = SizeConverter.class,
            defaultValue = "16MiB",
            description =
                    "Largest inbound gRPC message (bytes, or KiB/MiB); larger ones get RESOURCE_EXHAUSTED. Default: ${DEFAULT-VALUE}.")
    int maxMessageSize;

    @Option(
            names = "--max-batch-rows",
            paramLabel = "ROWS",
            defaultValue = "" + ModelServerConfig.DEFAULT_MAX_BATCH_ROWS,
            description =
                    "Most rows one ModelInfer request may carry; more get RESOURCE_EXHAUSTED. Default: ${DEFAULT-VALUE}.")
    int maxBatchRows;

    @Option(
            names = "--drain-timeout",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            defaultValue = "30s",
            description =
                    "How long in-flight requests may run on at version unload and at shutdown. Default: ${DEFAULT-VALUE}.")
    Duration drainTimeout;

    @Option(
            names = "--tls-cert",
            paramLabel = "PEM",
            description = "Certificate chain (PEM); with --tls-key, serve TLS. Default: plaintext.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key (PKCS#8 PEM) for --tls-cert.")
    Path tlsKey;

    @Option(
            names = "--tls-client-ca",
            paramLabel = "PEM",
            description = "CA certificates (PEM): require every client to present a certificate they signed "
                    + "(mutual TLS; needs --tls-cert). Default: no client certificate needed.")
    Path tlsClientCa;

    @Option(
            names = "--admin-token-file",
            paramLabel = "FILE",
            description = "File holding the bearer token that RepositoryModelLoad/Unload need (it grants "
                    + "ModelInfer too). Default: none, and those calls are refused.")
    Path adminTokenFile;

    @Option(
            names = "--inference-token-file",
            paramLabel = "FILE",
            description = "File holding a bearer token that ModelInfer then needs (the admin token works too), "
                    + "so that the router is the only door. Default: ModelInfer is open.")
    Path inferenceTokenFile;

    @Option(names = "--trace-log", description = "Export trace spans to the log. Default: off.")
    boolean traceLog;

    @Option(
            names = "--otlp-endpoint",
            paramLabel = "URL",
            description = "Send traces and metrics over OTLP/HTTP to this collector, e.g. http://collector:4318. "
                    + "Default: none.")
    java.net.URI otlpEndpoint;

    @Option(
            names = "--http-port",
            paramLabel = "PORT",
            defaultValue = "-1",
            description = "Open Inference Protocol over HTTP/REST (KServe v2: /v2/health/live, /v2/models/NAME/infer, "
                    + "...), the same auth and errors as gRPC; HTTPS with --tls-cert/--tls-key (and client certificates "
                    + "with --tls-client-ca), as the gRPC port; 0 = ephemeral. Default: off.")
    int httpPort;

    @Option(
            names = "--drift-window",
            paramLabel = "ROWS|DURATION",
            defaultValue = DriftWindow.DEFAULT_TEXT,
            description = "Live profile window per model version for drift: the last ROWS scored rows, or the rows "
                    + "of the last DURATION (at most " + DriftWindow.MAX_ROWS_TEXT
                    + " rows). Default: ${DEFAULT-VALUE}.")
    String driftWindow;

    @Option(
            names = "--drift-thresholds",
            paramLabel = "KEY=VALUE,...",
            defaultValue = "",
            description = "Overrides of the drift thresholds of the drift gauges (psi, psi-warn, p, ks, missing, "
                    + "min-rows), e.g. psi=0.2,min-rows=500. Default: psi=0.25,psi-warn=0.1,p=0.001,ks=0.1,"
                    + "missing=0.1,min-rows=200.")
    String driftThresholds;

    ModelServerConfig toConfig() {
        ModelServerConfig.Builder builder = ModelServerConfig.builder(repository)
                .host(host)
                .port(port)
                .metricsPort(metricsPort)
                .models(models)
                .pollInterval(pollInterval)
                .maxBatchSize(maxBatchSize)
                .maxQueueDelay(maxQueueDelay)
                .maxQueueSize(maxQueueSize)
                .bulkQueueSize(bulkQueueSize)
                .explainQueueSize(explainQueueSize)
                .maxExplainRows(maxExplainRows)
                .maxMessageSize(maxMessageSize)
                .maxBatchRows(maxBatchRows)
                .drainTimeout(drainTimeout)
                .tls(tlsCert, tlsKey)
                .tlsClientCa(tlsClientCa)
                .adminToken(adminTokenFile == null ? null : BearerToken.of(TokenFiles.read(adminTokenFile)))
                .inferenceToken(inferenceTokenFile == null ? null : BearerToken.of(TokenFiles.read(inferenceTokenFile)))
                .traceLog(traceLog)
                .otlpEndpoint(otlpEndpoint)
                .httpPort(httpPort)
                .driftWindow(DriftWindow.parse(driftWindow))
                .driftThresholds(DriftThresholds.parse(driftThresholds));
        if (batchWorkers != null) {
            builder.batchWorkers(batchWorkers);
        }
        if (bulkWorkers != null) {
            builder.bulkWorkers(bulkWorkers);
        }
        if (explainWorkers != null) {
            builder.explainWorkers(explainWorkers);
        }
        Map<String, VersionPolicy> perModel = new HashMap<>();
        for (String entry : versionPolicies) {
            int equals = entry.indexOf('=');
            if (equals < 0) {
                builder.defaultVersionPolicy(VersionPolicy.parse(entry));
            } else {
                perModel.put(entry.substring(0, equals).trim(), VersionPolicy.parse(entry.substring(equals + 1)));
            }
        }
        return builder.versionPolicies(perModel).build();
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"trellis model-server " + TrellisVersion.of(ModelServerCommand.class)};
        }
    }

    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return DurationText.parse(value);
        }
    }

    static final class SizeConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            return DataSizeText.parse(value);
        }
    }
}
