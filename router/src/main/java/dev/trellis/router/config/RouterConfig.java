package dev.trellis.router.config;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.DriftThresholds;
import dev.trellis.router.monitoring.PayloadSampleRates;
import dev.trellis.router.monitoring.TrackedMetric;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Typed configuration of a router. Every default lives in {@link Builder}'s field initializers and
 * nowhere else; {@code RouterMain} maps flags and environment variables onto a builder.
 * Immutable and thread-safe.
 */
public final class RouterConfig {
    private final String host;
    private final int port;
    private final int metricsPort;
    private final int httpPort;
    private final List<String> upstreams;
    private final String store;
    private final Optional<String> storePassword;
    private final Optional<Duration> retention;
    private final Duration shutdownDelay;
    private final Optional<String> adminToken;
    private final Optional<String> scoringToken;
    private final Optional<Path> tlsCert;
    private final Optional<Path> tlsKey;
    private final Optional<Path> tlsClientCa;
    private final boolean upstreamTls;
    private final Optional<Path> upstreamCa;
    private final Optional<Path> upstreamCert;
    private final Optional<Path> upstreamKey;
    private final Optional<String> upstreamToken;
    private final Duration defaultDeadline;
    private final int maxMessageSize;
    private final Duration rolloutTick;
    private final Duration catalogRefresh;
    private final boolean traceLog;
    private final Optional<URI> otlpEndpoint;
    private final int upstreamMaxAttempts;
    private final String upstreamHealthService;
    private final Duration shutdownGrace;
    private final DriftThresholds driftThresholds;
    private final PayloadSampleRates payloadSampleRates;
    private final Duration performanceRefresh;
    private final Duration performanceWindow;
    private final List<TrackedMetric> performanceMetrics;

    private RouterConfig(Builder b) {
        this.host = requireNonNull(b.host, "host is null");
        this.port = checkPort(b.port, "port");
        // 0 = an ephemeral port, -1 = no metrics endpoint
        this.metricsPort = b.metricsPort == -1 ? -1 : checkPort(b.metricsPort, "metrics port");
        // 0 = an ephemeral port, -1 = no web console and JSON API (the model-server's --http-port alike)
        this.httpPort = b.httpPort == -1 ? -1 : checkPort(b.httpPort, "http port");
        this.upstreams = List.copyOf(requireNonNull(b.upstreams, "upstreams is null"));
        this.store = requireNonNull(b.store, "store is null");
        this.storePassword =
                requireNonNull(b.storePassword, "storePassword is null").filter(p -> !p.isEmpty());
        this.retention = requireNonNull(b.retention, "retention is null");
        this.shutdownDelay = requireNonNull(b.shutdownDelay, "shutdownDelay is null");
        this.adminToken = requireNonNull(b.adminToken, "adminToken is null").filter(t -> !t.isBlank());
        this.scoringToken =
                requireNonNull(b.scoringToken, "scoringToken is null").filter(t -> !t.isBlank());
        this.tlsCert = requireNonNull(b.tlsCert, "tlsCert is null");
        this.tlsKey = requireNonNull(b.tlsKey, "tlsKey is null");
        this.tlsClientCa = requireNonNull(b.tlsClientCa, "tlsClientCa is null");
        this.upstreamTls = b.upstreamTls;
        this.upstreamCa = requireNonNull(b.upstreamCa, "upstreamCa is null");
        this.upstreamCert = requireNonNull(b.upstreamCert, "upstreamCert is null");
        this.upstreamKey = requireNonNull(b.upstreamKey, "upstreamKey is null");
        this.upstreamToken =
                requireNonNull(b.upstreamToken, "upstreamToken is null").filter(t -> !t.isBlank());
        this.defaultDeadline = positive(b.defaultDeadline, "default deadline");
        this.maxMessageSize = b.maxMessageSize;
        this.rolloutTick = positive(b.rolloutTick, "rollout tick");
        this.catalogRefresh = positive(b.catalogRefresh, "catalog refresh");
        this.traceLog = b.traceLog;
        this.otlpEndpoint = Optional.ofNullable(b.otlpEndpoint);
        this.upstreamMaxAttempts = b.upstreamMaxAttempts;
        this.upstreamHealthService = requireNonNull(b.upstreamHealthService, "upstreamHealthService is null");
        this.shutdownGrace = requireNonNull(b.shutdownGrace, "shutdownGrace is null");
        this.driftThresholds = requireNonNull(b.driftThresholds, "driftThresholds is null");
        this.payloadSampleRates = requireNonNull(b.payloadSampleRates, "payloadSampleRates is null");
        this.performanceRefresh = positive(b.performanceRefresh, "performance refresh");
        this.performanceWindow = positive(b.performanceWindow, "performance window");
        this.performanceMetrics = List.copyOf(requireNonNull(b.performanceMetrics, "performanceMetrics is null"));
        if (upstreams.isEmpty()) {
            throw new IllegalArgumentException(
                    "at least one upstream is required (--upstream host:port or dns:///name:port)");
        }
        if (tlsCert.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (upstreamCa.isPresent() && !upstreamTls) {
            throw new IllegalArgumentException("--upstream-ca needs --upstream-tls");
        }
        if (tlsClientCa.isPresent() && tlsCert.isEmpty()) {
            throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
        }
        if (upstreamCert.isPresent() != upstreamKey.isPresent()) {
            throw new IllegalArgumentException("--upstream-cert and --upstream-key go together");
        }
        if (upstreamCert.isPresent() && !upstreamTls) {
            throw new IllegalArgumentException("--upstream-cert needs --upstream-tls");
        }
        if (maxMessageSize < 1024) {
            throw new IllegalArgumentException("max message size must be at least 1024 bytes, was " + maxMessageSize);
        }
        if (store.isBlank()) {
            throw new IllegalArgumentException("--store must name a SQLite file or a postgresql:// URL");
        }
        if (retention.isPresent()
                && (retention.get().isZero() || retention.get().isNegative())) {
            throw new IllegalArgumentException("retention must be positive, was " + retention.get());
        }
        if (shutdownDelay.isNegative()) {
            throw new IllegalArgumentException("shutdown delay must not be negative, was " + shutdownDelay);
        }
        if (upstreamMaxAttempts < 1 || upstreamMaxAttempts > 5) {
            throw new IllegalArgumentException(
                    "upstream max attempts must be 1..5 (gRPC caps retries at 5), was " + upstreamMaxAttempts);
        }
    }

    private static int checkPort(int port, String name) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(name + " must be 0..65535, was " + port);
        }
        return port;
    }

    private static Duration positive(Duration d, String name) {
        requireNonNull(d, name + " is null");
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, was " + d);
        }
        return d;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.host = host;
        b.port = port;
        b.metricsPort = metricsPort;
        b.httpPort = httpPort;
        b.upstreams = upstreams;
        b.store = store;
        b.storePassword = storePassword;
        b.retention = retention;
        b.shutdownDelay = shutdownDelay;
        b.adminToken = adminToken;
        b.scoringToken = scoringToken;
        b.tlsCert = tlsCert;
        b.tlsKey = tlsKey;
        b.tlsClientCa = tlsClientCa;
        b.upstreamTls = upstreamTls;
        b.upstreamCa = upstreamCa;
        b.upstreamCert = upstreamCert;
        b.upstreamKey = upstreamKey;
        b.upstreamToken = upstreamToken;
        b.defaultDeadline = defaultDeadline;
        b.maxMessageSize = maxMessageSize;
        b.rolloutTick = rolloutTick;
        b.catalogRefresh = catalogRefresh;
        b.traceLog = traceLog;
        b.otlpEndpoint = otlpEndpoint.orElse(null);
        b.upstreamMaxAttempts = upstreamMaxAttempts;
        b.upstreamHealthService = upstreamHealthService;
        b.shutdownGrace = shutdownGrace;
        b.driftThresholds = driftThresholds;
        b.payloadSampleRates = payloadSampleRates;
        b.performanceRefresh = performanceRefresh;
        b.performanceWindow = performanceWindow;
        b.performanceMetrics = performanceMetrics;
        return b;
    }

    /** Address to bind; "0.0.0.0" listens on every interface. */
    public String host() {
        return host;
    }

    /** gRPC port; 0 picks an ephemeral port. */
    public int port() {
        return port;
    }

    /** Prometheus scrape port; 0 disables the exporter. */
    public int metricsPort() {
        return metricsPort;
    }

    /** The web console and JSON API port; 0 = ephemeral, -1 = off. */
    public int httpPort() {
        return httpPort;
    }

    /** Model-server targets: host:port entries, or one dns:///name:port. */
    public List<String> upstreams() {
        return upstreams;
    }

    /** The experiment store: a SQLite file, or a {@code postgresql://user@host:port/database} URL. */
    public String store() {
        return store;
    }

    /** The PostgreSQL password (from --store-password-file or TRELLIS_STORE_PASSWORD), never from the URL. */
    public Optional<String> storePassword() {
        return storePassword;
    }

    /** Exposures and outcomes older than this are deleted, except those of RUNNING experiments; empty keeps all. */
    public Optional<Duration> retention() {
        return retention;
    }

    /** How long a router keeps serving after SIGTERM while reporting NOT_SERVING, before it drains. */
    public Duration shutdownDelay() {
        return shutdownDelay;
    }

    public Optional<String> adminToken() {
        return adminToken;
    }

    public Optional<String> scoringToken() {
        return scoringToken;
    }

    public Optional<Path> tlsCert() {
        return tlsCert;
    }

    public Optional<Path> tlsKey() {
        return tlsKey;
    }

    /** CA bundle client certificates must chain to (mutual TLS on the public port); empty = none needed. */
    public Optional<Path> tlsClientCa() {
        return tlsClientCa;
    }

    public boolean upstreamTls() {
        return upstreamTls;
    }

    /** Client certificate chain the router presents to model-servers that require mutual TLS. */
    public Optional<Path> upstreamCert() {
        return upstreamCert;
    }

    public Optional<Path> upstreamKey() {
        return upstreamKey;
    }

    public Optional<Path> upstreamCa() {
        return upstreamCa;
    }

    /** Bearer token sent on every call to the model-servers (repository control and inference). */
    public Optional<String> upstreamToken() {
        return upstreamToken;
    }

    /** Deadline given to upstream calls whose caller sent none. */
    public Duration defaultDeadline() {
        return defaultDeadline;
    }

    /** Largest inbound message, both on the public port and from model-servers. */
    public int maxMessageSize() {
        return maxMessageSize;
    }

    public Duration rolloutTick() {
        return rolloutTick;
    }

    public Duration catalogRefresh() {
        return catalogRefresh;
    }

    /** Also log every finished span (debugging). */
    public boolean traceLog() {
        return traceLog;
    }

    /** OTLP/HTTP collector for traces and metrics, e.g. {@code http://collector:4318}. */
    public Optional<URI> otlpEndpoint() {
        return otlpEndpoint;
    }

    /** Attempts per upstream call (1 = no retry), through the service config's retryPolicy. */
    public int upstreamMaxAttempts() {
        return upstreamMaxAttempts;
    }

    /** Health service name checked on each replica by client-side health checking. */
    public String upstreamHealthService() {
        return upstreamHealthService;
    }

    /** How long close() lets in-flight calls finish. */
    public Duration shutdownGrace() {
        return shutdownGrace;
    }

    /** When GetDrift flags a feature. */
    public DriftThresholds driftThresholds() {
        return driftThresholds;
    }

    /** Which share of scored rows is logged as payload samples, per model. */
    public PayloadSampleRates payloadSampleRates() {
        return payloadSampleRates;
    }

    /** How often the router recomputes the live-performance and SRM gauges on its own. */
    public Duration performanceRefresh() {
        return performanceRefresh;
    }

    /** The trailing window of payload samples the live-performance gauges cover. */
    public Duration performanceWindow() {
        return performanceWindow;
    }

    /** The (model, outcome metric) pairs whose live-performance gauges are kept fresh from startup. */
    public List<TrackedMetric> performanceMetrics() {
        return performanceMetrics;
    }

    /** Builder holding the defaults. Not thread-safe. */
    public static final class Builder {
        private String host = "0.0.0.0";
        private int port = 8080;
        private int metricsPort = 9090;
        private int httpPort = -1;
        private List<String> upstreams = List.of("localhost:8081");
        private String store = "trellis.db";
        private Optional<String> storePassword = Optional.empty();
        private Optional<Duration> retention = Optional.empty();
        private Duration shutdownDelay = Duration.ofSeconds(5);
        private Optional<String> adminToken = Optional.empty();
        private Optional<String> scoringToken = Optional.empty();
        private Optional<Path> tlsCert = Optional.empty();
        private Optional<Path> tlsKey = Optional.empty();
        private Optional<Path> tlsClientCa = Optional.empty();
        private boolean upstreamTls;
        private Optional<Path> upstreamCa = Optional.empty();
        private Optional<Path> upstreamCert = Optional.empty();
        private Optional<Path> upstreamKey = Optional.empty();
        private Optional<String> upstreamToken = Optional.empty();
        private Duration defaultDeadline = Duration.ofSeconds(2);
        private int maxMessageSize = 4 * 1024 * 1024;
        private Duration rolloutTick = Duration.ofSeconds(1);
        private Duration catalogRefresh = Duration.ofSeconds(5);
        private boolean traceLog;
        private URI otlpEndpoint;
        private int upstreamMaxAttempts = 3;
        private String upstreamHealthService = "inference.GRPCInferenceService";
        private Duration shutdownGrace = Duration.ofSeconds(10);
        private DriftThresholds driftThresholds = DriftThresholds.DEFAULTS;
        private PayloadSampleRates payloadSampleRates = PayloadSampleRates.NONE;
        private Duration performanceRefresh = Duration.ofMinutes(1);
        private Duration performanceWindow = Duration.ofDays(7);
        private List<TrackedMetric> performanceMetrics = List.of();

        private Builder() {}

        public Builder host(String v) {
            this.host = v;
            return this;
        }

        public Builder port(int v) {
            this.port = v;
            return this;
        }

        public Builder metricsPort(int v) {
            this.metricsPort = v;
            return this;
        }

        public Builder httpPort(int v) {
            this.httpPort = v;
            return this;
        }

        public Builder upstreams(List<String> v) {
            this.upstreams = v;
            return this;
        }

        public Builder store(Path v) {
            this.store = v == null ? null : v.toString();
            return this;
        }

        public Builder store(String v) {
            this.store = v;
            return this;
        }

        public Builder storePassword(String v) {
            this.storePassword = Optional.ofNullable(v);
            return this;
        }

        public Builder retention(Duration v) {
            this.retention = Optional.ofNullable(v);
            return this;
        }

        public Builder shutdownDelay(Duration v) {
            this.shutdownDelay = v;
            return this;
        }

        public Builder adminToken(String v) {
            this.adminToken = Optional.ofNullable(v);
            return this;
        }

        public Builder scoringToken(String v) {
            this.scoringToken = Optional.ofNullable(v);
            return this;
        }

        public Builder tlsCert(Path v) {
            this.tlsCert = Optional.ofNullable(v);
            return this;
        }

        public Builder tlsKey(Path v) {
            this.tlsKey = Optional.ofNullable(v);
            return this;
        }

        public Builder tlsClientCa(Path v) {
            this.tlsClientCa = Optional.ofNullable(v);
            return this;
        }

        public Builder upstreamCert(Path v) {
            this.upstreamCert = Optional.ofNullable(v);
            return this;
        }

        public Builder upstreamKey(Path v) {
            this.upstreamKey = Optional.ofNullable(v);
            return this;
        }

        public Builder upstreamTls(boolean v) {
            this.upstreamTls = v;
            return this;
        }

        public Builder upstreamCa(Path v) {
            this.upstreamCa = Optional.ofNullable(v);
            return this;
        }

        public Builder upstreamToken(String v) {
            this.upstreamToken = Optional.ofNullable(v);
            return this;
        }

        public Builder defaultDeadline(Duration v) {
            this.defaultDeadline = v;
            return this;
        }

        public Builder maxMessageSize(int v) {
            this.maxMessageSize = v;
            return this;
        }

        public Builder rolloutTick(Duration v) {
            this.rolloutTick = v;
            return this;
        }

        public Builder catalogRefresh(Duration v) {
            this.catalogRefresh = v;
            return this;
        }

        public Builder traceLog(boolean v) {
            this.traceLog = v;
            return this;
        }

        public Builder otlpEndpoint(URI v) {
            this.otlpEndpoint = v;
            return this;
        }

        public Builder upstreamMaxAttempts(int v) {
            this.upstreamMaxAttempts = v;
            return this;
        }

        public Builder upstreamHealthService(String v) {
            this.upstreamHealthService = v;
            return this;
        }

        public Builder driftThresholds(DriftThresholds v) {
            this.driftThresholds = v;
            return this;
        }

        public Builder payloadSampleRates(PayloadSampleRates v) {
            this.payloadSampleRates = v;
            return this;
        }

        public Builder performanceRefresh(Duration v) {
            this.performanceRefresh = v;
            return this;
        }

        public Builder performanceWindow(Duration v) {
            this.performanceWindow = v;
            return this;
        }

        public Builder performanceMetrics(List<TrackedMetric> v) {
            this.performanceMetrics = v;
            return this;
        }

        public Builder shutdownGrace(Duration v) {
            this.shutdownGrace = v;
            return this;
        }

        public RouterConfig build() {
            return new RouterConfig(this);
        }
    }
}
