package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.GetProfileRequest;
import dev.trellis.api.v1.ReplicaMonitoringGrpc;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A version's bundle test metrics ("auc_roc", "brier", ...), as the first replica serving it
 * reports them (ReplicaMonitoring.GetProfile). A loaded version's bundle does not change while it
 * serves (files changed on disk make it STALE, still serving from memory), so an answer is kept for
 * a minute: ListModels, which the console polls, does not ask the replicas every time. Thread-safe.
 */
public final class BundleMetrics {
    private static final long PROFILE_DEADLINE_MILLIS = 2_000;
    private static final Duration KEEP = Duration.ofMinutes(1);

    private record Known(Map<String, Double> metrics, Instant until) {}

    private final ModelCatalog catalog;
    private final Clock clock;
    private final Map<String, Known> cache = new ConcurrentHashMap<>();

    @Inject
    public BundleMetrics(ModelCatalog catalog, Clock clock) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** The version's bundle test metrics; empty when no replica serving it answered. */
    public Map<String, Double> of(CatalogSnapshot.Model model, String version) {
        String key = model.name() + "/" + version;
        Instant now = clock.instant();
        Known known = cache.get(key);
        if (known != null && now.isBefore(known.until())) {
            return known.metrics();
        }
        Map<String, Double> metrics = fetch(model, version);
        if (!metrics.isEmpty()) { // an empty answer is asked again next time
            cache.put(key, new Known(metrics, now.plus(KEEP)));
        }
        return metrics;
    }

    private Map<String, Double> fetch(CatalogSnapshot.Model model, String version) {
        CatalogSnapshot.Version known = model.version(version).orElse(null);
        if (known == null) {
            return Map.of();
        }
        for (Map.Entry<String, CatalogSnapshot.ReplicaState> replica : new TreeMap<>(known.replicas()).entrySet()) {
            Optional<ManagedChannel> channel = catalog.replicaChannel(replica.getKey());
            if (!replica.getValue().ready() || channel.isEmpty()) {
                continue;
            }
            try {
                return Map.copyOf(ReplicaMonitoringGrpc.newBlockingStub(channel.get())
                        .withDeadlineAfter(PROFILE_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                        .getProfile(GetProfileRequest.newBuilder()
                                .setModel(model.name())
                                .setVersion(version)
                                .build())
                        .getBundleTestMetricsMap());
            } catch (StatusRuntimeException e) {
                // try the next replica
            }
        }
        return Map.of();
    }
}
