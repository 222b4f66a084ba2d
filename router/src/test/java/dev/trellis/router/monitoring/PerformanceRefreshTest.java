package dev.trellis.router.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.router.CapturedErr;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PerformanceRefreshTest {
    private static final TrackedMetric CHURNED = new TrackedMetric("churn", "churned");
    private static final Instant NOW = Instant.parse("2026-12-02T06:00:00Z");

    private final InMemoryMetricReader reader = InMemoryMetricReader.create();
    private OpenTelemetrySdk telemetry;
    private PerformanceGauges gauges;

    @BeforeEach
    void setUp() {
        telemetry = OpenTelemetrySdk.builder()
                .setMeterProvider(
                        SdkMeterProvider.builder().registerMetricReader(reader).build())
                .build();
        gauges = new PerformanceGauges(telemetry);
    }

    @AfterEach
    void tearDown() {
        telemetry.close();
    }

    private static VersionPerformance binary(double auc) {
        return VersionPerformance.newBuilder()
                .setModel("churn")
                .setVersion("1")
                .setTargetKind(TargetKind.TARGET_KIND_BINARY)
                .setSufficient(true)
                .setWithOutcome(100)
                .setAuc(auc)
                .setBrier(0.15)
                .build();
    }

    private Optional<Double> gauge(String name) {
        return reader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals(name))
                .flatMap(m -> m.getDoubleGaugeData().getPoints().stream())
                .filter(p -> "churned".equals(p.getAttributes().get(AttributeKey.stringKey("metric"))))
                .map(p -> p.getValue())
                .findFirst();
    }

    private long failures() {
        return reader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals("trellis.monitoring.refresh_failures"))
                .map(MetricData::getLongSumData)
                .flatMap(d -> d.getPoints().stream())
                .mapToLong(p -> p.getValue())
                .sum();
    }

    @Test
    void start_storeFailsThenRecovers_keepsTheLastFiguresLogsOnceAndRefreshesWithoutACaller() {
        AtomicReference<Double> auc = new AtomicReference<>(0.70);
        AtomicBoolean storeDown = new AtomicBoolean();
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger srmChecks = new AtomicInteger();
        AtomicReference<Instant> since = new AtomicReference<>();
        gauges.track(CHURNED);
        PerformanceRefresh.Source source = (metric, from, until) -> {
            reads.incrementAndGet();
            since.set(from);
            if (storeDown.get()) {
                throw new IllegalStateException("experiment store unavailable: connection refused");
            }
            return List.of(binary(auc.get()));
        };
        try (CapturedErr err = new CapturedErr();
                PerformanceRefresh refresh = new PerformanceRefresh(
                        Duration.ofMillis(20),
                        Duration.ofDays(7),
                        source,
                        gauges,
                        srmChecks::incrementAndGet,
                        Clock.fixed(NOW, ZoneOffset.UTC),
                        telemetry)) {
            refresh.start();
            await("first refresh")
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> gauge("trellis.performance.auc").equals(Optional.of(0.70)));
            assertThat(since.get()).isEqualTo(NOW.minus(Duration.ofDays(7)));

            // the store fails for several ticks: the gauges keep their last figures
            storeDown.set(true);
            int before = reads.get();
            await("failing ticks").atMost(Duration.ofSeconds(10)).until(() -> reads.get() >= before + 5);
            assertThat(gauge("trellis.performance.auc")).contains(0.70);
            assertThat(failures()).isGreaterThanOrEqualTo(4);

            // outcomes arrived meanwhile: the next good tick shows them, nobody called GetPerformance
            auc.set(0.80);
            storeDown.set(false);
            await("recovered")
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> gauge("trellis.performance.auc").equals(Optional.of(0.80)));
            assertThat(srmChecks.get()).isGreaterThan(5);
            assertThat(err.text().lines().filter(l -> l.contains("WARN") && l.contains("performance churn=churned")))
                    .hasSize(1)
                    .allSatisfy(
                            l -> assertThat(l).contains("connection refused").contains("logged once"));
            refresh.close();
            assertThat(refresh.terminated()).isTrue();
            int afterClose = reads.get();
            refresh.close(); // idempotent
            assertThat(reads.get()).isEqualTo(afterClose);
        }
    }

    @Test
    void refreshNow_versionGone_itsGaugesDisappear() {
        gauges.track(CHURNED);
        AtomicReference<List<VersionPerformance>> versions = new AtomicReference<>(List.of(binary(0.75)));
        PerformanceRefresh refresh = new PerformanceRefresh(
                Duration.ofMinutes(1),
                Duration.ofDays(7),
                (metric, from, until) -> versions.get(),
                gauges,
                () -> {},
                Clock.systemUTC(),
                telemetry);
        refresh.refreshNow();
        assertThat(gauge("trellis.performance.auc")).contains(0.75);
        versions.set(List.of());
        refresh.refreshNow();
        assertThat(gauge("trellis.performance.auc")).isEmpty();
        refresh.close();
    }

    @Test
    void gauges_regressionVersion_rmseNotAuc() {
        gauges.track(CHURNED);
        gauges.replace(
                CHURNED,
                List.of(VersionPerformance.newBuilder()
                        .setModel("churn")
                        .setVersion("2")
                        .setTargetKind(TargetKind.TARGET_KIND_REGRESSION)
                        .setSufficient(true)
                        .setRmse(3.5)
                        .setR2(0.9)
                        .putBundleTestMetrics("rmse", 3.0)
                        .setRmseChange(0.5)
                        .build()));
        assertThat(gauge("trellis.performance.rmse")).contains(3.5);
        assertThat(gauge("trellis.performance.rmse_change")).contains(0.5);
        assertThat(gauge("trellis.performance.r2")).contains(0.9);
        assertThat(gauge("trellis.performance.auc")).isEmpty();
    }
}
