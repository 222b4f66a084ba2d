package dev.trellis.modelserver.config;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.auth.BearerToken;
import dev.trellis.common.monitoring.DriftThresholds;
import dev.trellis.modelserver.monitoring.DriftWindow;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything the model-server can be told, with every default in {@link Builder}. Immutable.
 *
 * @param repository model repository root: {@code <repository>/<model>/<version>/bundle.json}
 * @param host address the gRPC server binds to
 * @param port gRPC port; 0 picks an ephemeral port
 * @param metricsPort Prometheus scrape port; 0 picks an ephemeral port, -1 disables the endpoint
 * @param models models to serve and wait for; empty = every model folder found at startup
 * @param defaultVersionPolicy version policy of models without their own
 * @param versionPolicies version policy per model
 * @param pollInterval how often the repository is scanned for new and removed versions
 * @param maxBatchSize most rows one batch (one ensemble call) holds
 * @param maxQueueDelay how long an idle worker waits for more requests before scoring a partial batch
 * @param maxQueueSize most requests queued per model version before RESOURCE_EXHAUSTED
 * @param batchWorkers scoring threads per model version for interactive requests (at most
 *     maxBatchSize rows, no explanation, not low priority)
 * @param bulkWorkers scoring threads per model version for large or low-priority requests
 * @param explainWorkers scoring threads per model version for requests with explanations
 * @param bulkQueueSize most bulk requests queued per model version before RESOURCE_EXHAUSTED
 * @param explainQueueSize most explain requests queued per model version before RESOURCE_EXHAUSTED
 * @param maxExplainRows most rows one request with explanations may carry (INVALID_ARGUMENT above)
 * @param maxMessageSize largest inbound gRPC message, in bytes
 * @param maxBatchRows most rows one ModelInfer request may carry
 * @param drainTimeout how long in-flight requests may take to finish at unload and shutdown
 * @param tlsCert PEM certificate chain; with {@code tlsKey}, serves TLS
 * @param tlsKey PEM private key (PKCS#8)
 * @param tlsClientCa PEM CA bundle: when set, every client must present a certificate it signed
 * @param adminToken bearer token for the repository mutations (it grants ModelInfer too); without
 *     one they are refused
 * @param inferenceToken bearer token ModelInfer then needs (the admin token is accepted too)
 * @param traceLog export spans to the log
 * @param otlpEndpoint OTLP/HTTP collector for traces and metrics, e.g. {@code http://collector:4318}
 * @param httpPort KServe v2 REST port; 0 picks an ephemeral port, -1 (the default) serves no REST;
 *     HTTPS with the gRPC port's certificate and client-certificate policy when {@code tlsCert} is set
 * @param driftWindow the live profile window of each model version (last N rows or last T)
 * @param driftThresholds when the drift gauges flag a feature
 */
public record ModelServerConfig(
        Path repository,
        String host,
        int port,
        int metricsPort,
        List<String> models,
        VersionPolicy defaultVersionPolicy,
        Map<String, VersionPolicy> versionPolicies,
        Duration pollInterval,
        int maxBatchSize,
        Duration maxQueueDelay,
        int maxQueueSize,
        int batchWorkers,
        int bulkWorkers,
        int explainWorkers,
        int bulkQueueSize,
        int explainQueueSize,
        int maxExplainRows,
        int maxMessageSize,
        int maxBatchRows,
        Duration drainTimeout,
        Optional<Path> tlsCert,
        Optional<Path> tlsKey,
        Optional<Path> tlsClientCa,
        Optional<BearerToken> adminToken,
        Optional<BearerToken> inferenceToken,
        boolean traceLog,
        Optional<URI> otlpEndpoint,
        int httpPort,
        DriftWindow driftWindow,
        DriftThresholds driftThresholds) {
    public static final int DEFAULT_PORT = 8081;
    public static final String DEFAULT_HOST = "0.0.0.0";
    public static final int DEFAULT_METRICS_PORT = 9091;
    public static final String DEFAULT_VERSION_POLICY = "latest:2";
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(5);
    public static final int DEFAULT_MAX_BATCH_SIZE = 64;
    public static final Duration DEFAULT_MAX_QUEUE_DELAY = Duration.ZERO;
    public static final int DEFAULT_MAX_QUEUE_SIZE = 2048;
    public static final int DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
    public static final int DEFAULT_MAX_BATCH_ROWS = 10_000;
    public static final int DEFAULT_BULK_QUEUE_SIZE = 64;
    public static final int DEFAULT_EXPLAIN_QUEUE_SIZE = 64;
    public static final int DEFAULT_MAX_EXPLAIN_ROWS = 1000;
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);

    public ModelServerConfig {
        requireNonNull(repository, "repository is null");
        requireNonNull(host, "host is null");
        checkRange(port, 0, 65535, "port");
        checkRange(metricsPort, -1, 65535, "metricsPort");
        models = List.copyOf(requireNonNull(models, "models is null"));
        requireNonNull(defaultVersionPolicy, "defaultVersionPolicy is null");
        versionPolicies = Map.copyOf(requireNonNull(versionPolicies, "versionPolicies is null"));
        checkPositive(requireNonNull(pollInterval, "pollInterval is null"), "pollInterval");
        checkRange(maxBatchSize, 1, Integer.MAX_VALUE, "maxBatchSize");
        requireNonNull(maxQueueDelay, "maxQueueDelay is null");
        if (maxQueueDelay.isNegative()) {
            throw new IllegalArgumentException("maxQueueDelay is negative");
        }
        checkRange(maxQueueSize, 1, Integer.MAX_VALUE, "maxQueueSize");
        checkRange(batchWorkers, 1, 1024, "batchWorkers");
        checkRange(bulkWorkers, 1, 1024, "bulkWorkers");
        checkRange(explainWorkers, 1, 1024, "explainWorkers");
        checkRange(bulkQueueSize, 1, Integer.MAX_VALUE, "bulkQueueSize");
        checkRange(explainQueueSize, 1, Integer.MAX_VALUE, "explainQueueSize");
        checkRange(maxExplainRows, 1, Integer.MAX_VALUE, "maxExplainRows");
        checkRange(maxMessageSize, 1024, Integer.MAX_VALUE, "maxMessageSize");
        checkRange(maxBatchRows, 1, Integer.MAX_VALUE, "maxBatchRows");
        checkPositive(requireNonNull(drainTimeout, "drainTimeout is null"), "drainTimeout");
        requireNonNull(tlsCert, "tlsCert is null");
        requireNonNull(tlsKey, "tlsKey is null");
        if (tlsCert.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("TLS needs both a certificate and a key");
        }
        requireNonNull(tlsClientCa, "tlsClientCa is null");
        if (tlsClientCa.isPresent() && tlsCert.isEmpty()) {
            throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
        }
        requireNonNull(adminToken, "adminToken is null");
        requireNonNull(inferenceToken, "inferenceToken is null");
        requireNonNull(otlpEndpoint, "otlpEndpoint is null");
        checkRange(httpPort, -1, 65535, "httpPort");
        requireNonNull(driftWindow, "driftWindow is null");
        requireNonNull(driftThresholds, "driftThresholds is null");
    }

    public static Builder builder(Path repository) {
        return new Builder(repository);
    }

    public Builder toBuilder() {
        return new Builder(repository)
                .host(host)
                .port(port)
                .metricsPort(metricsPort)
                .models(models)
                .defaultVersionPolicy(defaultVersionPolicy)
                .versionPolicies(versionPolicies)
                .pollInterval(pollInterval)
                .maxBatchSize(maxBatchSize)
                .maxQueueDelay(maxQueueDelay)
                .maxQueueSize(maxQueueSize)
                .batchWorkers(batchWorkers)
                .bulkWorkers(bulkWorkers)
                .explainWorkers(explainWorkers)
                .bulkQueueSize(bulkQueueSize)
                .explainQueueSize(explainQueueSize)
                .maxExplainRows(maxExplainRows)
                .maxMessageSize(maxMessageSize)
                .maxBatchRows(maxBatchRows)
                .drainTimeout(drainTimeout)
                .tls(tlsCert.orElse(null), tlsKey.orElse(null))
                .tlsClientCa(tlsClientCa.orElse(null))
                .adminToken(adminToken.orElse(null))
                .inferenceToken(inferenceToken.orElse(null))
                .traceLog(traceLog)
                .otlpEndpoint(otlpEndpoint.orElse(null))
                .httpPort(httpPort)
                .driftWindow(driftWindow)
                .driftThresholds(driftThresholds);
    }

    public VersionPolicy versionPolicy(String model) {
        return versionPolicies.getOrDefault(model, defaultVersionPolicy);
    }

    public static int defaultBatchWorkers() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** Half the cores, at least one: bulk and explain work never takes every core from interactive rows. */
    public static int defaultBulkWorkers() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    private static void checkRange(int value, int min, int max, String name) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be in [" + min + ", " + max + "]: " + value);
        }
    }

    private static void checkPositive(Duration value, String name) {
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + " must be positive: " + value);
        }
    }

    /** Holds the defaults; not thread-safe. */
    public static final class Builder {
        private final Path repository;
        private String host = DEFAULT_HOST;
        private int port = DEFAULT_PORT;
        private int metricsPort = DEFAULT_METRICS_PORT;
        private List<String> models = List.of();
        private VersionPolicy defaultVersionPolicy = VersionPolicy.parse(DEFAULT_VERSION_POLICY);
        private Map<String, VersionPolicy> versionPolicies = Map.of();
        private Duration pollInterval = DEFAULT_POLL_INTERVAL;
        private int maxBatchSize = DEFAULT_MAX_BATCH_SIZE;
        private Duration maxQueueDelay = DEFAULT_MAX_QUEUE_DELAY;
        private int maxQueueSize = DEFAULT_MAX_QUEUE_SIZE;
        private int batchWorkers = defaultBatchWorkers();
        private int bulkWorkers = defaultBulkWorkers();
        private int explainWorkers = defaultBulkWorkers();
        private int bulkQueueSize = DEFAULT_BULK_QUEUE_SIZE;
        private int explainQueueSize = DEFAULT_EXPLAIN_QUEUE_SIZE;
        private int maxExplainRows = DEFAULT_MAX_EXPLAIN_ROWS;
        private int maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
        private int maxBatchRows = DEFAULT_MAX_BATCH_ROWS;
        private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
        private Path tlsCert;
        private Path tlsKey;
        private Path tlsClientCa;
        private BearerToken adminToken;
        private BearerToken inferenceToken;
        private boolean traceLog;
        private URI otlpEndpoint;
        private int httpPort = -1;
        private DriftWindow driftWindow = DriftWindow.DEFAULT;
        private DriftThresholds driftThresholds = DriftThresholds.DEFAULTS;

        private Builder(Path repository) {
            this.repository = requireNonNull(repository, "repository is null");
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder metricsPort(int metricsPort) {
            this.metricsPort = metricsPort;
            return this;
        }

        public Builder models(List<String> models) {
            this.models = models;
            return this;
        }

        public Builder defaultVersionPolicy(VersionPolicy defaultVersionPolicy) {
            this.defaultVersionPolicy = defaultVersionPolicy;
            return this;
        }

        public Builder versionPolicies(Map<String, VersionPolicy> versionPolicies) {
            this.versionPolicies = versionPolicies;
            return this;
        }

        public Builder pollInterval(Duration pollInterval) {
            this.pollInterval = pollInterval;
            return this;
        }

        public Builder maxBatchSize(int maxBatchSize) {
            this.maxBatchSize = maxBatchSize;
            return this;
        }

        public Builder maxQueueDelay(Duration maxQueueDelay) {
            this.maxQueueDelay = maxQueueDelay;
            return this;
        }

        public Builder maxQueueSize(int maxQueueSize) {
            this.maxQueueSize = maxQueueSize;
            return this;
        }

        public Builder batchWorkers(int batchWorkers) {
            this.batchWorkers = batchWorkers;
            return this;
        }

        public Builder bulkWorkers(int bulkWorkers) {
            this.bulkWorkers = bulkWorkers;
            return this;
        }

        public Builder explainWorkers(int explainWorkers) {
            this.explainWorkers = explainWorkers;
            return this;
        }

        public Builder bulkQueueSize(int bulkQueueSize) {
            this.bulkQueueSize = bulkQueueSize;
            return this;
        }

        public Builder explainQueueSize(int explainQueueSize) {
            this.explainQueueSize = explainQueueSize;
            return this;
        }

        public Builder maxExplainRows(int maxExplainRows) {
            this.maxExplainRows = maxExplainRows;
            return this;
        }

        public Builder maxMessageSize(int maxMessageSize) {
            this.maxMessageSize = maxMessageSize;
            return this;
        }

        public Builder maxBatchRows(int maxBatchRows) {
            this.maxBatchRows = maxBatchRows;
            return this;
        }

        public Builder drainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
            return this;
        }

        public Builder tls(Path tlsCert, Path tlsKey) {
            this.tlsCert = tlsCert;
            this.tlsKey = tlsKey;
            return this;
        }

        public Builder tlsClientCa(Path tlsClientCa) {
            this.tlsClientCa = tlsClientCa;
            return this;
        }

        public Builder adminToken(BearerToken adminToken) {
            this.adminToken = adminToken;
            return this;
        }

        public Builder inferenceToken(BearerToken inferenceToken) {
            this.inferenceToken = inferenceToken;
            return this;
        }

        public Builder traceLog(boolean traceLog) {
            this.traceLog = traceLog;
            return this;
        }

        public Builder otlpEndpoint(URI otlpEndpoint) {
            this.otlpEndpoint = otlpEndpoint;
            return this;
        }

        public Builder httpPort(int httpPort) {
            this.httpPort = httpPort;
            return this;
        }

        public Builder driftWindow(DriftWindow driftWindow) {
            this.driftWindow = driftWindow;
            return this;
        }

        public Builder driftThresholds(DriftThresholds driftThresholds) {
            this.driftThresholds = driftThresholds;
            return this;
        }

        public ModelServerConfig build() {
            return new ModelServerConfig(
                    repository,
                    host,
                    port,
                    metricsPort,
                    models,
                    defaultVersionPolicy,
                    versionPolicies,
                    pollInterval,
                    maxBatchSize,
                    maxQueueDelay,
                    maxQueueSize,
                    batchWorkers,
                    bulkWorkers,
                    explainWorkers,
                    bulkQueueSize,
                    explainQueueSize,
                    maxExplainRows,
                    maxMessageSize,
                    maxBatchRows,
                    drainTimeout,
                    Optional.ofNullable(tlsCert),
                    Optional.ofNullable(tlsKey),
                    Optional.ofNullable(tlsClientCa),
                    Optional.ofNullable(adminToken),
                    Optional.ofNullable(inferenceToken),
                    traceLog,
                    Optional.ofNullable(otlpEndpoint),
                    httpPort,
                    driftWindow,
                    driftThresholds);
        }
    }
}
