package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Value;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.Variant;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.experiments.testing.PostgresServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a router does when its PostgreSQL store is unreachable: at startup one clear error and
 * exit code 1; while running, the Experiments service turns NOT_SERVING and its writes fail with
 * UNAVAILABLE, while scoring goes on from the last known definitions, and everything recovers
 * when the database is back.
 */
class StoreOutageTest {
    @TempDir
    Path temp;

    @Test
    void start_unreachableDatabaseOneLineExitOne() {
        StringWriter err = new StringWriter();
        int code = RouterMain.commandLine()
                .setErr(new PrintWriter(err))
                .execute(
                        "--port", "0",
                        "--metrics-port", "0",
                        "--store", "postgresql://trellis@127.0.0.1:1/trellis");

        assertThat(code).isEqualTo(1);
        assertThat(err.toString().strip())
                .startsWith("error: trellis router cannot start: cannot open the experiment store"
                        + " postgresql://trellis@127.0.0.1:1/trellis: ")
                .contains("refused")
                .doesNotContain("\n")
                .doesNotContain("Exception");
    }

    @Test
    void lostDatabase_adminNotServingAndUnavailableScoringGoesOn() throws Exception {
        Path repository = temp.resolve("repository");
        TestBundles.install(repository, "churn", 1, 11);
        TestBundles.install(repository, "churn", 2, 22);
        List<Map<String, Value>> rows = ChurnRows.load(20);
        try (PostgresServer postgres = PostgresServer.start()) {
            String url = postgres.createDatabase();
            try (Cluster cluster = new Cluster(
                    repository, temp.resolve("unused.db"), 1, b -> b.store(url).storePassword(postgres.password()))) {
                cluster.admin()
                        .putExperiment(PutExperimentRequest.newBuilder()
                                .setExperiment(Experiment.newBuilder()
                                        .setKey("outage")
                                        .setModel("churn")
                                        .setStatus(ExperimentStatus.RUNNING)
                                        .addVariants(Variant.newBuilder()
                                                .setKey("a")
                                                .setVersion("1")
                                                .setWeight(0.5))
                                        .addVariants(Variant.newBuilder()
                                                .setKey("b")
                                                .setVersion("2")
                                                .setWeight(0.5)))
                                .build());
                postgres.stop();

                await("Experiments NOT_SERVING")
                        .atMost(Duration.ofSeconds(30))
                        .until(() -> health(cluster, ExperimentsGrpc.SERVICE_NAME) == ServingStatus.NOT_SERVING);
                StatusRuntimeException write = catchThrowableOfType(
                        StatusRuntimeException.class,
                        () -> cluster.admin()
                                .putExperiment(PutExperimentRequest.newBuilder()
                                        .setExperiment(Experiment.newBuilder()
                                                .setKey("x")
                                                .setModel("churn"))
                                        .build()));
                assertThat(write.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                for (int i = 0; i < 20; i++) { // scoring from the last known definitions; exposures buffered
                    ScoreResponse r = cluster.scoring()
                            .score(ScoreRequest.newBuilder()
                                    .setModel("churn")
                                    .setUnitId("u" + i)
                                    .putAllFeatures(rows.get(i))
                                    .build());
                    assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.EXPERIMENT);
                }
                assertThat(health(cluster, "")).isEqualTo(ServingStatus.SERVING);

                postgres.restart();
                await("Experiments SERVING again")
                        .atMost(Duration.ofSeconds(60))
                        .until(() -> health(cluster, ExperimentsGrpc.SERVICE_NAME) == ServingStatus.SERVING);
                assertThat(cluster
                                .admin()
                                .getResults(dev.trellis.api.v1.GetResultsRequest.newBuilder()
                                        .setExperiment("outage")
                                        .setMetric("converted")
                                        .build())
                                .getVariantsList()
                                .stream()
                                .mapToLong(v -> v.getUnits())
                                .sum())
                        .isEqualTo(20); // the buffered exposures were written once the database came back
            }
        }
    }

    private static ServingStatus health(Cluster cluster, String service) {
        return HealthGrpc.newBlockingStub(cluster.channel)
                .check(HealthCheckRequest.newBuilder().setService(service).build())
                .getStatus();
    }
}
