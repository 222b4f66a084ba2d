package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ensemble.testing.TestBundles;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10's overload case end to end, real router and model-server: a 300/s single-row stream
 * (2 s deadline, a client's default) while four concurrent 5,000-row ScoreBatch calls with explain
 * run, each on its own connection as other clients' would (in a JVM of their own at low priority,
 * standing for other machines, see {@link OverloadScenario}). On both servers the bulk work
 * (ScoreBatch handling, the bulk upstream calls, the bulk and explain lanes) runs on low-priority
 * threads, so it takes only the CPU the single rows leave over: none may fail, and the batches must
 * complete too. How fast the single rows are is the benchmark's business ({@code
 * OverloadBenchmark}), not this test's.
 */
class OverloadIsolationTest {
    @TempDir
    Path temp;

    @Test
    void singleRows_whileFourLargeExplainBatchesRun_noneFails() throws Exception {
        Path repository = temp.resolve("models");
        TestBundles.install(repository, "churn", 1, 11);
        try (Cluster cluster = new Cluster(repository, temp.resolve("trellis.db"), 1, config -> config)) {
            OverloadScenario.Result result;
            try (OverloadScenario scenario =
                    new OverloadScenario(cluster.channel, "127.0.0.1", cluster.router.port(), "churn", 500)) {
                result = scenario.run(Duration.ofSeconds(5), 300, Duration.ofSeconds(2), 4, 5000, false);
            }

            assertThat(result.failures()).as("single-row failures by code").isEmpty();
            assertThat(result.failures()).doesNotContainKey(Status.Code.DEADLINE_EXCEEDED);
            assertThat(result.latencyMicros().getTotalCount()).isEqualTo(result.sent());
            assertThat(result.batchFailures())
                    .as("explain batch failures by code")
                    .isEmpty();
            assertThat(result.batchesDone()).isEqualTo(4);
        }
    }
}
