package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Value;
import dev.trellis.api.v1.DriftSeverity;
import dev.trellis.api.v1.DriftVerdict;
import dev.trellis.api.v1.FeatureDrift;
import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.VersionDrift;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.testing.TestBundles;
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

    @TempDir
    static Path temp;

    private Cluster cluster;
    private final List<String> unitIds = new ArrayList<>();
    private final List<Map<String, Value>> unseenRows = new ArrayList<>();

    @BeforeAll
    void startCluster() throws Exception {
        Path repository = temp.resolve("repository");
        for (int version = 1; version <= 3; version++) {
            TestBundles.install(repository, MODEL, version, SEED);
        }
        cluster = new Cluster(repository, temp.resolve("trellis.db"), 2, UnaryOperator.identity());
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
        for (int i = 0; i < all.size() && unseenRows.size() < ROWS; i++) {
            if (!trainedLines.contains(i + 2L)) { // data row i is on line i + 2 (after the header)
                unseenRows.add(all.get(i));
                unitIds.add(String.format("C%05d", i + 1));
            }
        }
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

    private void score(String version, UnaryOperator<Map<String, Value>> change) {
        for (int from = 0; from < unseenRows.size(); from += 100) {
            ScoreBatchRequest.Builder batch =
                    ScoreBatchRequest.newBuilder().setModel(MODEL).setVersion(version);
            for (int i = from; i < Math.min(unseenRows.size(), from + 100); i++) {
                batch.addRows(ScoreRequest.newBuilder()
                        .setUnitId(unitIds.get(i))
                        .putAllFeatures(change.apply(new LinkedHashMap<>(unseenRows.get(i)))));
            }
            assertThat(cluster.scoring().scoreBatch(batch.build()).getResultsCount())
                    .isEqualTo(batch.getRowsCount());
        }
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
        score("1", UnaryOperator.identity());
        score("2", row -> {
            row.put(
                    "tenure",
                    Value.newBuilder()
                            .setNumberValue(row.get("tenure").getNumberValue() * 3)
                            .build());
            row.put("contract", Value.newBuilder().setStringValue("Two year").build());
            return row;
        });

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
