package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import com.google.protobuf.Value;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.metrics.RegressionMetricSet;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.router.monitoring.PayloadSampleRates;
import dev.trellis.router.monitoring.TrackedMetric;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live performance end to end, for a binary and a continuous target: a real router with payload
 * sampling of every row, one real model-server, the churn model and a regression model of
 * {@code monthly_charges} trained by the project's trainer. The router's monitoring job keeps the
 * gauges of (churn, churned) and (charges, charges) fresh with nobody calling GetPerformance, and
 * every figure equals an independent computation (ensemble's metrics) over the same rows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LivePerformanceEndToEndTest {
    private static final Set<String> NOT_INPUTS = Set.of("monthly_charges", "total_charges");

    @TempDir
    static Path temp;

    private Cluster cluster;

    @BeforeAll
    void startCluster() throws Exception {
        Path repository = temp.resolve("repository");
        TestBundles.install(repository, "churn", 1, 11);
        TestBundles.installRegression(repository, "charges", 1, 11);
        cluster = new Cluster(
                repository,
                temp.resolve("trellis.db"),
                1,
                b -> b.payloadSampleRates(PayloadSampleRates.parse(List.of("1")))
                        .performanceMetrics(
                                List.of(new TrackedMetric("churn", "churned"), new TrackedMetric("charges", "charges")))
                        .performanceRefresh(Duration.ofMillis(200)));
        Awaitility.await("both models ready")
                .atMost(Duration.ofSeconds(120))
                .until(() ->
                        cluster.router.catalog().snapshot().model("charges").isPresent()
                                && cluster.router
                                        .catalog()
                                        .snapshot()
                                        .model("charges")
                                        .get()
                                        .servable("1")
                                        .isPresent());
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private List<ScoreResponse> score(String model, String unitPrefix, List<Map<String, Value>> rows) {
        List<ScoreResponse> out = new ArrayList<>();
        for (int from = 0; from < rows.size(); from += 100) {
            ScoreBatchRequest.Builder batch =
                    ScoreBatchRequest.newBuilder().setModel(model).setVersion("1");
            for (int i = from; i < Math.min(rows.size(), from + 100); i++) {
                batch.addRows(ScoreRequest.newBuilder()
                        .setUnitId(String.format("%s%05d", unitPrefix, i))
                        .putAllFeatures(rows.get(i)));
            }
            out.addAll(cluster.scoring().scoreBatch(batch.build()).getResultsList());
        }
        assertThat(out).hasSize(rows.size());
        return out;
    }

    private void outcomes(String metric, String unitPrefix, int from, int to, double[] values) {
        for (int i = from; i < to; i++) {
            cluster.admin()
                    .recordOutcome(RecordOutcomeRequest.newBuilder()
                            .setUnitId(String.format("%s%05d", unitPrefix, i))
                            .setMetric(metric)
                            .setValue(values[i])
                            .build());
        }
    }

    /** The value of a router gauge for one model, as Prometheus scrapes it. */
    private Optional<Double> gauge(String name, String model) throws Exception {
        String metrics = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + cluster.router.metricsPort() + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        return metrics.lines()
                .filter(l -> l.startsWith(name + "{") && l.contains("model=\"" + model + "\""))
                .map(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .findFirst();
    }

    private static boolean near(Optional<Double> value, double expected) {
        return value.isPresent() && Math.abs(value.get() - expected) < 1e-6;
    }

    @Test
    void gauges_outcomesArriveWithoutAnyGetPerformance_refreshOnTheirOwn() throws Exception {
        List<Map<String, Value>> rows = ChurnRows.load(300);
        double[] scores = score("churn", "U", rows).stream()
                .mapToDouble(ScoreResponse::getScore)
                .toArray();
        int[] labels = Arrays.copyOf(TestBundles.churn().labels(), rows.size());
        double[] values = Arrays.stream(labels).asDoubleStream().toArray();

        outcomes("churned", "U", 0, 150, values);
        double auc150 = Metrics.compute(Arrays.copyOf(scores, 150), Arrays.copyOf(labels, 150), 0.5, 10)
                .aucRoc();
        Awaitility.await("the gauges of the first 150 outcomes")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> near(gauge("trellis_performance_outcomes", "churn"), 150)
                        && near(gauge("trellis_performance_auc", "churn"), auc150));

        outcomes("churned", "U", 150, 250, values);
        double auc250 = Metrics.compute(Arrays.copyOf(scores, 250), Arrays.copyOf(labels, 250), 0.5, 10)
                .aucRoc();
        assertThat(auc250).isNotCloseTo(auc150, offset(1e-6));
        Awaitility.await("the gauges follow the next 100 outcomes")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> near(gauge("trellis_performance_outcomes", "churn"), 250)
                        && near(gauge("trellis_performance_auc", "churn"), auc250));
        assertThat(gauge("trellis_performance_auc_change", "churn")).isPresent();
        assertThat(gauge("trellis_performance_brier", "churn")).isPresent();
        assertThat(gauge("trellis_performance_rmse", "churn")).isEmpty();
    }

    @Test
    void getPerformance_regression_equalsAnIndependentComputationAndItsGauges() throws Exception {
        List<Map<String, Value>> all = ChurnRows.load(300);
        double[] observed = all.stream()
                .mapToDouble(r -> r.get("monthly_charges").getNumberValue())
                .toArray();
        List<Map<String, Value>> inputs = all.stream()
                .map(r -> {
                    Map<String, Value> row = new LinkedHashMap<>(r);
                    row.keySet().removeAll(NOT_INPUTS);
                    return Map.copyOf(row);
                })
                .toList();
        List<ScoreResponse> scored = score("charges", "R", inputs);
        int withOutcome = 200;
        outcomes("charges", "R", 0, withOutcome, observed);

        MonitoringGrpc.MonitoringBlockingStub monitoring =
                MonitoringGrpc.newBlockingStub(cluster.channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        GetPerformanceRequest request = GetPerformanceRequest.newBuilder()
                .setModel("charges")
                .setMetric("charges")
                .build();
        Awaitility.await("samples and outcomes stored")
                .atMost(Duration.ofSeconds(60))
                .until(() -> {
                    List<VersionPerformance> versions =
                            monitoring.getPerformance(request).getVersionsList();
                    return versions.size() == 1
                            && versions.get(0).getSamples() == all.size()
                            && versions.get(0).getWithOutcome() == withOutcome;
                });
        VersionPerformance v1 = monitoring.getPerformance(request).getVersions(0);

        double[] predicted = scored.subList(0, withOutcome).stream()
                .mapToDouble(ScoreResponse::getScore)
                .toArray();
        double[] actual = Arrays.copyOf(observed, withOutcome);
        RegressionMetricSet independent = RegressionMetricSet.compute(predicted, actual, 0, null, null);
        assertThat(v1.getTargetKind()).isEqualTo(TargetKind.TARGET_KIND_REGRESSION);
        assertThat(v1.getSufficient()).isTrue();
        assertThat(v1.getRmse()).isCloseTo(independent.rmse(), offset(1e-9));
        assertThat(v1.getMae()).isCloseTo(independent.mae(), offset(1e-9));
        assertThat(v1.getR2()).isCloseTo(independent.r2(), offset(1e-9));
        assertThat(v1.getR2()).isGreaterThan(0.5); // a real model of monthly charges, not noise
        assertThat(v1.getBundleTestMetricsMap()).containsKeys("rmse", "mae", "r2");
        assertThat(v1.getRmseChange()).isCloseTo(v1.getRmse() - v1.getBundleTestMetricsOrThrow("rmse"), offset(1e-12));
        // the binary figures stay empty
        assertThat(v1.getAuc()).isZero();
        assertThat(v1.getPositives()).isZero();
        assertThat(v1.getCalibrationList()).isEmpty();

        // the tier mix, recounted here
        Map<String, double[]> tiers = new TreeMap<>();
        for (int i = 0; i < withOutcome; i++) {
            double[] t = tiers.computeIfAbsent(scored.get(i).getLabel(), k -> new double[3]);
            t[0]++;
            t[1] += predicted[i];
            t[2] += actual[i];
        }
        assertThat(v1.getLabelsList()).extracting(LabelMix::getLabel).containsExactlyElementsOf(tiers.keySet());
        for (LabelMix tier : v1.getLabelsList()) {
            double[] t = tiers.get(tier.getLabel());
            assertThat(tier.getRows()).isEqualTo((long) t[0]);
            assertThat(tier.getMeanScore()).isCloseTo(t[1] / t[0], offset(1e-9));
            assertThat(tier.getMeanObserved()).isCloseTo(t[2] / t[0], offset(1e-9));
        }

        // the export carries each unit's observed value, the target of the next version
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(dev.trellis.router.auth.AuthInterceptor.AUTHORIZATION, "Bearer " + Cluster.ADMIN_TOKEN);
        List<dev.trellis.api.v1.PayloadRow> exported = new ArrayList<>();
        MonitoringGrpc.newBlockingStub(cluster.channel)
                .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .exportPayloads(dev.trellis.api.v1.ExportPayloadsRequest.newBuilder()
                        .setModel("charges")
                        .setMetric("charges")
                        .build())
                .forEachRemaining(exported::add);
        assertThat(exported).hasSize(withOutcome);
        for (dev.trellis.api.v1.PayloadRow row : exported) {
            int i = Integer.parseInt(row.getUnitId().substring(1));
            assertThat(row.getValue()).isEqualTo(observed[i]);
        }

        Awaitility.await("the regression gauges")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> near(gauge("trellis_performance_rmse", "charges"), independent.rmse())
                        && near(gauge("trellis_performance_r2", "charges"), independent.r2()));
        assertThat(gauge("trellis_performance_rmse_change", "charges")).isPresent();
        assertThat(gauge("trellis_performance_auc", "charges")).isEmpty();
    }
}
