package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.data.Offset.offset;

import com.google.protobuf.Value;
import dev.trellis.api.v1.CalibrationBin;
import dev.trellis.api.v1.DriftSeverity;
import dev.trellis.api.v1.DriftVerdict;
import dev.trellis.api.v1.ExportPayloadsRequest;
import dev.trellis.api.v1.FeatureDrift;
import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.GetPerformanceResponse;
import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PayloadRow;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.VersionDrift;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.router.monitoring.PayloadSampleRates;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Monitoring end to end: a real router, two real model-server replicas, real churn bundles trained
 * by the project's trainer (with their baselines), the shipped churn rows scored through the
 * router. Version 1 gets the rows unchanged, version 2 the same rows with tenure tripled and every
 * contract "Two year"; version 3 gets no traffic.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitoringEndToEndTest {
    private static final String MODEL = "churn";
    private static final long SEED = 42;
    private static final int ROWS = 2000;
    private static final double SAMPLE_RATE = 0.5;
    /** Units with an outcome: the first OUTCOMES of the scored rows. */
    private static final int OUTCOMES = 1200;

    @TempDir
    static Path temp;

    private Cluster cluster;
    private final List<String> unitIds = new ArrayList<>();
    private final List<Map<String, Value>> unseenRows = new ArrayList<>();
    private final List<Integer> unseenLabels = new ArrayList<>();
    private List<ScoreResponse> scoredV1;

    @BeforeAll
    void startCluster() throws Exception {
        Path repository = temp.resolve("repository");
        for (int version = 1; version <= 3; version++) {
            TestBundles.install(repository, MODEL, version, SEED);
        }
        cluster = new Cluster(
                repository,
                temp.resolve("trellis.db"),
                2,
                b -> b.payloadSampleRates(PayloadSampleRates.parse(List.of("0", MODEL + "=" + SAMPLE_RATE))));
        Awaitility.await("three versions ready on both replicas")
                .atMost(java.time.Duration.ofSeconds(120))
                .until(() -> cluster.router.catalog().snapshot().model(MODEL).stream()
                                .flatMap(m -> m.versions().values().stream())
                                .filter(v -> v.servable()
                                        && v.replicas().size() == 2
                                        && v.replicas().values().stream().allMatch(s -> s.ready()))
                                .count()
                        == 3);
        // rows the bundle was not trained on, so their scores compare with out-of-fold scores
        Dataset subset = TestBundles.subset(TestBundles.churn(), TestBundles.SUBSET_ROWS, SEED);
        Set<Long> trainedLines = new HashSet<>();
        Arrays.stream(subset.lines()).forEach(trainedLines::add);
        List<Map<String, Value>> all = ChurnRows.load(100_000);
        int[] labels = TestBundles.churn().labels();
        for (int i = 0; i < all.size() && unseenRows.size() < ROWS; i++) {
            if (!trainedLines.contains(i + 2L)) { // data row i is on line i + 2 (after the header)
                unseenRows.add(all.get(i));
                unseenLabels.add(labels[i]);
                unitIds.add(String.format("C%05d", i + 1));
            }
        }
        scoredV1 = score("1", UnaryOperator.identity());
        score("2", row -> {
            row.put(
                    "tenure",
                    Value.newBuilder()
                            .setNumberValue(row.get("tenure").getNumberValue() * 3)
                            .build());
            row.put("contract", Value.newBuilder().setStringValue("Two year").build());
            return row;
        });
        for (int i = 0; i < OUTCOMES; i++) {
            cluster.admin()
                    .recordOutcome(RecordOutcomeRequest.newBuilder()
                            .setUnitId(unitIds.get(i))
                            .setMetric("churned")
                            .setValue(unseenLabels.get(i))
                            .build());
        }
        // payload samples are written asynchronously (batched): wait until every sampled row is stored
        PayloadSampleRates rates = PayloadSampleRates.parse(List.of(MODEL + "=" + SAMPLE_RATE));
        long sampled = unitIds.stream().filter(u -> rates.sampled(MODEL, u)).count();
        Awaitility.await("payload samples stored")
                .atMost(java.time.Duration.ofSeconds(60))
                .until(() -> monitoring()
                                .getPerformance(GetPerformanceRequest.newBuilder()
                                        .setModel(MODEL)
                                        .setMetric("churned")
                                        .build())
                                .getVersionsList()
                                .stream()
                                .filter(v -> v.getSamples() == sampled)
                                .count()
                        == 2);
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private MonitoringGrpc.MonitoringBlockingStub monitoring() {
        return MonitoringGrpc.newBlockingStub(cluster.channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private List<ScoreResponse> score(String version, UnaryOperator<Map<String, Value>> change) {
        List<ScoreResponse> results = new ArrayList<>();
        for (int from = 0; from < unseenRows.size(); from += 100) {
            ScoreBatchRequest.Builder batch =
                    ScoreBatchRequest.newBuilder().setModel(MODEL).setVersion(version);
            for (int i = from; i < Math.min(unseenRows.size(), from + 100); i++) {
                batch.addRows(ScoreRequest.newBuilder()
                        .setUnitId(unitIds.get(i))
                        .putAllFeatures(change.apply(new LinkedHashMap<>(unseenRows.get(i)))));
            }
            List<ScoreResponse> answers =
                    cluster.scoring().scoreBatch(batch.build()).getResultsList();
            assertThat(answers).hasSize(batch.getRowsCount());
            results.addAll(answers);
        }
        return results;
    }

    private VersionDrift drift(String version) {
        GetDriftResponse response = monitoring()
                .getDrift(GetDriftRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion(version)
                        .build());
        assertThat(response.getVersionsList()).hasSize(1);
        return response.getVersions(0);
    }

    private static Set<String> drifted(VersionDrift drift) {
        Set<String> names = new HashSet<>();
        for (FeatureDrift f : drift.getFeaturesList()) {
            if (f.getSeverity() == DriftSeverity.DRIFTED) {
                names.add(f.getFeature());
            }
        }
        return names;
    }

    @Test
    void getDrift_unchangedRowsNoDrift_tenureAndContractChangedDriftOnThemAndTheScore() {
        VersionDrift unchanged = drift("1");
        assertThat(unchanged.getLiveRows()).isEqualTo(ROWS);
        assertThat(unchanged.getReplicasList()).hasSize(2);
        assertThat(drifted(unchanged)).as(unchanged.getSummary()).isEmpty();
        assertThat(unchanged.getVerdict()).isEqualTo(DriftVerdict.NO_DRIFT);
        assertThat(unchanged.getFeaturesCount())
                .isEqualTo(cluster.router
                                .catalog()
                                .snapshot()
                                .model(MODEL)
                                .orElseThrow()
                                .version("1")
                                .orElseThrow()
                                .schema()
                                .orElseThrow()
                                .features()
                                .size()
                        + 1);

        VersionDrift changed = drift("2");
        assertThat(changed.getVerdict()).as(changed.getSummary()).isEqualTo(DriftVerdict.DRIFT);
        assertThat(drifted(changed))
                .as(changed.getSummary())
                .containsExactlyInAnyOrder("tenure", "contract", "(score)");
        // sorted by severity: the three drifted first
        assertThat(changed.getFeaturesList().subList(0, 3)).allMatch(f -> f.getSeverity() == DriftSeverity.DRIFTED);
        FeatureDrift tenure = changed.getFeaturesList().stream()
                .filter(f -> f.getFeature().equals("tenure"))
                .findFirst()
                .orElseThrow();
        assertThat(tenure.getKind()).isEqualTo("numeric");
        assertThat(tenure.getKsStatistic()).isGreaterThan(0.3);
        assertThat(tenure.getKsPValue()).isLessThan(1e-6);
        FeatureDrift contract = changed.getFeaturesList().stream()
                .filter(f -> f.getFeature().equals("contract"))
                .findFirst()
                .orElseThrow();
        assertThat(contract.getKind()).isEqualTo("categorical");
        assertThat(contract.getChiSquarePValue()).isLessThan(1e-6);
        assertThat(contract.getPsi()).isGreaterThan(0.25);

        // no traffic: insufficient data, not a verdict
        VersionDrift idle = drift("3");
        assertThat(idle.getVerdict()).isEqualTo(DriftVerdict.INSUFFICIENT_DATA);
        assertThat(idle.getSummary()).startsWith("insufficient data: 0 live rows");
        assertThat(idle.getFeaturesList()).isEmpty();

        // without a version: every ready version, highest first
        assertThat(monitoring()
                        .getDrift(GetDriftRequest.newBuilder().setModel(MODEL).build())
                        .getVersionsList())
                .extracting(VersionDrift::getVersion)
                .containsExactly("3", "2", "1");
    }

    /** The scored rows of version 1 that were sampled and have an outcome, by index. */
    private List<Integer> sampledWithOutcome() {
        PayloadSampleRates rates = PayloadSampleRates.parse(List.of(MODEL + "=" + SAMPLE_RATE));
        List<Integer> rows = new ArrayList<>();
        for (int i = 0; i < OUTCOMES; i++) {
            if (rates.sampled(MODEL, unitIds.get(i))) {
                rows.add(i);
            }
        }
        return rows;
    }

    @Test
    void exportPayloads_exactlyTheSampledRowsWithOutcomesAsScored() {
        List<Integer> expected = sampledWithOutcome();
        assertThat(expected.size()).isBetween(OUTCOMES / 2 - 100, OUTCOMES / 2 + 100); // the rate is honoured
        List<PayloadRow> exported = new ArrayList<>();
        MonitoringGrpc.newBlockingStub(cluster.channel)
                .withInterceptors(adminHeaders())
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .exportPayloads(ExportPayloadsRequest.newBuilder()
                        .setModel(MODEL)
                        .setMetric("churned")
                        .setVersion("1")
                        .build())
                .forEachRemaining(exported::add);
        assertThat(exported)
                .extracting(PayloadRow::getUnitId)
                .containsExactlyElementsOf(expected.stream().map(unitIds::get).toList());
        for (int k = 0; k < exported.size(); k++) {
            PayloadRow row = exported.get(k);
            int i = expected.get(k);
            assertThat(row.getTarget()).isEqualTo(unseenLabels.get(i));
            assertThat(row.getScore()).isEqualTo(scoredV1.get(i).getScore());
            assertThat(row.getLabel()).isEqualTo(scoredV1.get(i).getLabel());
            assertThat(row.getVersion()).isEqualTo("1");
            for (Map.Entry<String, Value> feature : unseenRows.get(i).entrySet()) {
                // as the caller sent it (numbers, strings, null)
                assertThat(row.getFeaturesOrThrow(feature.getKey())).isEqualTo(feature.getValue());
            }
        }
        // both versions: the same units were scored by version 2 too
        List<PayloadRow> both = new ArrayList<>();
        MonitoringGrpc.newBlockingStub(cluster.channel)
                .withInterceptors(adminHeaders())
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .exportPayloads(ExportPayloadsRequest.newBuilder()
                        .setModel(MODEL)
                        .setMetric("churned")
                        .build())
                .forEachRemaining(both::add);
        assertThat(both).hasSize(2 * expected.size());
        assertThat(both.stream().filter(r -> r.getVersion().equals("2")).count())
                .isEqualTo(expected.size());
        // export is an admin call: production rows
        StatusRuntimeException anonymous = catchThrowableOfType(
                () -> monitoring()
                        .exportPayloads(ExportPayloadsRequest.newBuilder()
                                .setModel(MODEL)
                                .setMetric("churned")
                                .build())
                        .hasNext(),
                StatusRuntimeException.class);
        assertThat(anonymous.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void getPerformance_equalsAnIndependentComputationOverTheSameRows() {
        GetPerformanceResponse response = monitoring()
                .getPerformance(GetPerformanceRequest.newBuilder()
                        .setModel(MODEL)
                        .setMetric("churned")
                        .build());
        assertThat(response.getVersionsList())
                .extracting(VersionPerformance::getVersion)
                .containsExactly("2", "1");
        VersionPerformance v1 = response.getVersions(1);

        List<Integer> rows = sampledWithOutcome();
        double[] scores =
                rows.stream().mapToDouble(i -> scoredV1.get(i).getScore()).toArray();
        int[] labels = rows.stream().mapToInt(unseenLabels::get).toArray();
        MetricSet independent = Metrics.compute(scores, labels, 0.5, 10);
        assertThat(v1.getSufficient()).isTrue();
        assertThat(v1.getWithOutcome()).isEqualTo(rows.size());
        assertThat(v1.getSamples()).isGreaterThan(rows.size()); // sampled rows without an outcome count too
        assertThat(v1.getPositives() + 0L)
                .isEqualTo(Arrays.stream(labels).filter(y -> y == 1).count());
        assertThat(v1.getPositives()).isEqualTo(Arrays.stream(labels).sum());
        assertThat(v1.getAuc()).isCloseTo(independent.aucRoc(), offset(1e-9));
        assertThat(v1.getBrier()).isCloseTo(independent.brier(), offset(1e-9));
        assertThat(v1.getBundleTestMetricsMap()).containsKey("auc_roc");
        assertThat(v1.getAucChange()).isCloseTo(v1.getAuc() - v1.getBundleTestMetricsOrThrow("auc_roc"), offset(1e-12));

        // calibration and label mix, recounted here
        Map<Integer, long[]> deciles = new java.util.TreeMap<>();
        Map<String, long[]> mix = new java.util.TreeMap<>();
        for (int k = 0; k < rows.size(); k++) {
            long[] d = deciles.computeIfAbsent(Math.min(9, (int) Math.floor(scores[k] * 10)), x -> new long[2]);
            d[0]++;
            d[1] += labels[k];
            long[] m = mix.computeIfAbsent(scoredV1.get(rows.get(k)).getLabel(), x -> new long[2]);
            m[0]++;
            m[1] += labels[k];
        }
        assertThat(v1.getCalibrationList())
                .extracting(CalibrationBin::getDecile)
                .containsExactlyElementsOf(deciles.keySet());
        for (CalibrationBin bin : v1.getCalibrationList()) {
            long[] d = deciles.get(bin.getDecile());
            assertThat(bin.getRows()).isEqualTo(d[0]);
            assertThat(bin.getObservedRate()).isCloseTo((double) d[1] / d[0], offset(1e-12));
        }
        assertThat(v1.getLabelsList()).extracting(LabelMix::getLabel).containsExactlyElementsOf(mix.keySet());
        for (LabelMix label : v1.getLabelsList()) {
            assertThat(label.getRows()).isEqualTo(mix.get(label.getLabel())[0]);
            assertThat(label.getPositives()).isEqualTo(mix.get(label.getLabel())[1]);
        }

        StatusRuntimeException noMetric = catchThrowableOfType(
                () -> monitoring()
                        .getPerformance(GetPerformanceRequest.newBuilder()
                                .setModel(MODEL)
                                .build()),
                StatusRuntimeException.class);
        assertThat(noMetric.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(catchThrowableOfType(
                                () -> monitoring()
                                        .getPerformance(GetPerformanceRequest.newBuilder()
                                                .setModel("no-such-model")
                                                .setMetric("churned")
                                                .build()),
                                StatusRuntimeException.class)
                        .getStatus()
                        .getCode())
                .isEqualTo(Status.Code.NOT_FOUND);
    }

    private static io.grpc.ClientInterceptor adminHeaders() {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(dev.trellis.router.auth.AuthInterceptor.AUTHORIZATION, "Bearer " + Cluster.ADMIN_TOKEN);
        return io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers);
    }

    @Test
    void getDrift_badInput_preciseStatusAndTheRouterKeepsServing() {
        assertThat(code(GetDriftRequest.newBuilder().setModel("no-such-model").build()))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(code(GetDriftRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion("99")
                        .build()))
                .isEqualTo(Status.Code.NOT_FOUND);
        StatusRuntimeException empty = catchThrowableOfType(
                () -> monitoring().getDrift(GetDriftRequest.getDefaultInstance()), StatusRuntimeException.class);
        assertThat(empty.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(empty.getStatus().getDescription()).contains("model");
        assertThat(drift("3").getModel()).isEqualTo(MODEL);
    }

    private Status.Code code(GetDriftRequest request) {
        return catchThrowableOfType(() -> monitoring().getDrift(request), StatusRuntimeException.class)
                .getStatus()
                .getCode();
    }
}
