package dev.trellis.modelserver.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.modelserver.FakeEnsemble;
import dev.trellis.modelserver.TestRows;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BatcherTest {
    private final FakeEnsemble ensemble = new FakeEnsemble(-1);
    private final ServerMetrics metrics = new ServerMetrics(OpenTelemetry.noop());
    private Batcher batcher;

    @AfterEach
    void tearDown() {
        ensemble.open();
        if (batcher != null) {
            batcher.close();
        }
    }

    private Batcher batcher(int maxBatchSize, int maxQueueSize, int workers) {
        batcher = new Batcher(
                "churn-v1",
                ensemble,
                new BatchingOptions(maxBatchSize, Duration.ZERO, maxQueueSize, workers),
                metrics,
                Attributes.empty());
        return batcher;
    }

    /** Waits until a worker took everything queued (and sits at the ensemble's gate). */
    private static void awaitTaken(Batcher batcher) {
        await("a worker takes the queue")
                .atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(1))
                .until(() -> batcher.queued() == 0);
    }

    @Test
    void submit_queuedRequestsShareOneCallAndGetTheirOwnRows() throws Exception {
        Batcher batcher = batcher(64, 100, 1);
        ensemble.hold();
        // the first request occupies the only worker; the next ten queue up behind it
        CompletableFuture<ScoredRows> first = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false);
        awaitTaken(batcher);
        List<FeatureBatch> inputs = new ArrayList<>();
        List<CompletableFuture<ScoredRows>> results = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            FeatureBatch rows = TestRows.random(FakeEnsemble.SCHEMA, 1 + i % 3, i + 1);
            inputs.add(rows);
            results.add(batcher.submit(rows, false));
        }
        ensemble.open();
        first.get(10, TimeUnit.SECONDS);

        for (int i = 0; i < 10; i++) {
            ScoredRows scored = results.get(i).get(10, TimeUnit.SECONDS);
            FeatureBatch rows = inputs.get(i);
            assertThat(scored.rows()).isEqualTo(rows.rows());
            for (int row = 0; row < rows.rows(); row++) {
                double expected = FakeEnsemble.sigmoid(
                        FakeEnsemble.logit(-1, rows.numeric(0)[row], rows.numeric(1)[row], rows.categorical(2)[row]));
                assertThat(scored.predictions().score()[scored.offset() + row]).isCloseTo(expected, within(1e-12));
            }
        }
        // one call for the first request, one for all the queued ones
        assertThat(ensemble.batchSizes()).containsExactly(1, 19);
    }

    @Test
    void submit_cutsBatchesAtMaxBatchSizeAndScoresLargeRequestsAlone() throws Exception {
        Batcher batcher = batcher(4, 100, 1);
        ensemble.hold();
        List<CompletableFuture<ScoredRows>> results = new ArrayList<>();
        results.add(batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false));
        awaitTaken(batcher);
        for (int rows : new int[] {3, 1, 10, 2}) {
            results.add(batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, rows, rows), false));
        }
        ensemble.open();
        for (CompletableFuture<ScoredRows> result : results) {
            result.get(10, TimeUnit.SECONDS);
        }

        assertThat(ensemble.batchSizes()).containsExactly(1, 4, 10, 2);
    }

    @Test
    void submit_explainsTheBatchWhenAnyRequestAsks() throws Exception {
        Batcher batcher = batcher(64, 100, 1);
        ensemble.hold();
        CompletableFuture<ScoredRows> first = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false);
        awaitTaken(batcher);
        CompletableFuture<ScoredRows> plain = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false);
        CompletableFuture<ScoredRows> explained = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 2), true);
        ensemble.open();
        first.get(10, TimeUnit.SECONDS);

        assertThat(explained.get(10, TimeUnit.SECONDS).predictions().explanations())
                .isPresent();
        assertThat(plain.get(10, TimeUnit.SECONDS).batchRows()).isEqualTo(2);
        assertThat(ensemble.explained()).containsExactly(false, true);
    }

    @Test
    void submit_refusesWhenTheQueueIsFull() throws Exception {
        Batcher batcher = batcher(64, 2, 1);
        ensemble.hold();
        CompletableFuture<ScoredRows> running = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false);
        awaitTaken(batcher);
        batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false);
        batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 2), false);

        assertThatThrownBy(() -> batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 3), false))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.QUEUE_FULL))
                .hasMessageContaining("2 requests queued");
        ensemble.open();
        running.get(10, TimeUnit.SECONDS);
    }

    @Test
    void close_scoresWhatIsQueuedThenRefuses() throws Exception {
        Batcher batcher = batcher(64, 100, 2);
        CompletableFuture<ScoredRows> result = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 2, 0), false);
        batcher.close(Duration.ofSeconds(10));
        batcher.close(Duration.ofSeconds(10));

        assertThat(result.get(10, TimeUnit.SECONDS).rows()).isEqualTo(2);
        assertThatThrownBy(() -> batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.SHUTTING_DOWN));
    }
}
