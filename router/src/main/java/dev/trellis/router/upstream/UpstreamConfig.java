package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import dev.trellis.router.config.RouterConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** The part of {@link RouterConfig} the upstream channels and the catalog use. */
public record UpstreamConfig(
        UpstreamTargets targets,
        boolean tls,
        Optional<Path> ca,
        Optional<Path> clientCert,
        Optional<Path> clientKey,
        Duration defaultDeadline,
        int maxMessageSize,
        int maxAttempts,
        String healthService,
        Duration catalogRefresh,
        Optional<String> token) {
    public UpstreamConfig {
        requireNonNull(targets, "targets is null");
        requireNonNull(ca, "ca is null");
        requireNonNull(clientCert, "clientCert is null");
        requireNonNull(clientKey, "clientKey is null");
        requireNonNull(defaultDeadline, "defaultDeadline is null");
        requireNonNull(healthService, "healthService is null");
        requireNonNull(catalogRefresh, "catalogRefresh is null");
        requireNonNull(token, "token is null");
    }

    public static UpstreamConfig from(RouterConfig config) {
        return new UpstreamConfig(
                UpstreamTargets.parse(config.upstreams()),
                config.upstreamTls(),
                config.upstreamCa(),
                config.upstreamCert(),
                config.upstreamKey(),
                config.defaultDeadline(),
                config.maxMessageSize(),
                config.upstreamMaxAttempts(),
                config.upstreamHealthService(),
                config.catalogRefresh(),
                config.upstreamToken());
    }

    /** The interceptor that carries the upstream token on every model-server call. */
    public UpstreamCredentials credentials() {
        return new UpstreamCredentials(token);
    }
}
