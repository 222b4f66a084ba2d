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

        // the 10-row request is bulk work, scored alone on the bulk lane's own thread
        assertThat(ensemble.batchSizes()).containsExactlyInAnyOrder(1, 4, 10, 2);
    }

    @Test
    void submit_explanationsHaveTheirOwnLane_plainRowsAreNeverExplained() throws Exception {
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
        assertThat(plain.get(10, TimeUnit.SECONDS).predictions().explanations()).isEmpty();
        assertThat(plain.get(10, TimeUnit.SECONDS).batchRows()).isEqualTo(1);
        assertThat(ensemble.explained()).containsExactlyInAnyOrder(false, false, true);
    }

    @Test
    void lane_followsExplanationSizeAndPriority() {
        Batcher batcher = batcher(64, 100, 1);

        assertThat(batcher.lane(1, false, Priority.DEFAULT)).isEqualTo(LaneKind.INTERACTIVE);
        assertThat(batcher.lane(64, false, Priority.HIGH)).isEqualTo(LaneKind.INTERACTIVE);
        assertThat(batcher.lane(65, false, Priority.HIGH)).isEqualTo(LaneKind.BULK);
        assertThat(batcher.lane(1, false, Priority.LOW)).isEqualTo(LaneKind.BULK);
        assertThat(batcher.lane(1, true, Priority.HIGH)).isEqualTo(LaneKind.EXPLAIN);
    }

    @Test
    void submit_interactiveRowsDoNotWaitBehindBulkOrExplainWork() throws Exception {
        GatedEnsemble gated = new GatedEnsemble(ensemble);
        batcher = new Batcher(
                "churn-v1",
                gated,
                new BatchingOptions(4, Duration.ZERO, 100, 1, 1, 1, 100, 100),
                metrics,
                Attributes.empty());
        // every bulk and explain thread is busy, and more such work is queued
        CompletableFuture<ScoredRows> explain = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), true);
        CompletableFuture<ScoredRows> bulk = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 10, 1), false);
        await("bulk and explain threads busy").atMost(Duration.ofSeconds(30)).until(() -> gated.waiting() == 2);
        CompletableFuture<ScoredRows> lowPriority =
                batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 2), false, Priority.LOW, Long.MAX_VALUE);
        CompletableFuture<ScoredRows> moreExplain = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 3), true);

        ScoredRows interactive = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 4), false)
                .get(10, TimeUnit.SECONDS);

        assertThat(interactive.rows()).isEqualTo(1);
        assertThat(List.of(explain, bulk, lowPriority, moreExplain)).noneMatch(CompletableFuture::isDone);
        assertThat(batcher.queued(LaneKind.BULK)).isEqualTo(1);
        assertThat(batcher.queued(LaneKind.EXPLAIN)).isEqualTo(1);
        gated.open();
        for (CompletableFuture<ScoredRows> result : List.of(explain, bulk, lowPriority, moreExplain)) {
            assertThat(result.get(10, TimeUnit.SECONDS).rows()).isPositive();
        }
    }

    @Test
    void submit_aFullLaneRefusesAtOnce_otherLanesStillAccept() throws Exception {
        GatedEnsemble gated = new GatedEnsemble(ensemble);
        batcher = new Batcher(
                "churn-v1",
                gated,
                new BatchingOptions(4, Duration.ZERO, 100, 1, 1, 1, 1, 1),
                metrics,
                Attributes.empty());
        CompletableFuture<ScoredRows> running = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), true);
        await("the explain thread is busy").atMost(Duration.ofSeconds(30)).until(() -> gated.waiting() == 1);
        CompletableFuture<ScoredRows> queued = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 1), true);

        assertThatThrownBy(() -> batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 2), true))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode().statusCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED))
                .hasMessageContaining("1 explain requests queued");
        assertThat(batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 3), false)
                        .get(10, TimeUnit.SECONDS)
                        .rows())
                .isEqualTo(1);
        gated.open();
        running.get(10, TimeUnit.SECONDS);
        queued.get(10, TimeUnit.SECONDS);
    }

    @Test
    void submit_expiredOrCancelledRequestsAreDroppedUnscored() throws Exception {
        Batcher batcher = batcher(64, 100, 1);
        ensemble.hold();
        CompletableFuture<ScoredRows> first = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false);
        awaitTaken(batcher);
        CompletableFuture<ScoredRows> expired =
                batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 2, 1), false, Priority.DEFAULT, System.nanoTime());
        CompletableFuture<ScoredRows> cancelled = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 3, 2), false);
        cancelled.cancel(false);
        CompletableFuture<ScoredRows> live = batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 4, 3), false);
        ensemble.open();

        first.get(10, TimeUnit.SECONDS);
        assertThat(live.get(10, TimeUnit.SECONDS).rows()).isEqualTo(4);
        assertThatThrownBy(() -> expired.get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(ModelServerException.class)
                .cause()
                .satisfies(
                        e -> assertThat(((ModelServerException) e).errorCode()).isEqualTo(ErrorCode.QUEUE_TIMEOUT));
        assertThat(ensemble.batchSizes()).containsExactly(1, 4);
    }

    /** Holds bulk and explain predictions (more than one row, or explained) until opened. */
    @Test
    void submit_bulkAndExplainLanesScoreAtLowPriority() throws Exception {
        NiceRecordingEnsemble recording = new NiceRecordingEnsemble(ensemble);
        batcher = new Batcher(
                "churn-v1", recording, new BatchingOptions(4, Duration.ZERO, 10, 1), metrics, Attributes.empty());

        batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 0), false).get(30, TimeUnit.SECONDS);
        batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 10, 1), false).get(30, TimeUnit.SECONDS);
        batcher.submit(TestRows.random(FakeEnsemble.SCHEMA, 1, 2), true).get(30, TimeUnit.SECONDS);

        assertThat(recording.nice).containsOnlyKeys("interactive", "bulk", "explain");
        assertThat(recording.nice.get("interactive")).isLessThan(dev.trellis.common.sched.BulkThreads.NICE);
        assertThat(recording.nice)
                .containsEntry("bulk", dev.trellis.common.sched.BulkThreads.NICE)
                .containsEntry("explain", dev.trellis.common.sched.BulkThreads.NICE);
    }

    /** Records the scheduling priority (nice value) of the thread that scores each kind of call. */
    private static final class NiceRecordingEnsemble implements dev.trellis.ensemble.api.Ensemble {
        private final FakeEnsemble delegate;
        final java.util.Map<String, Integer> nice = new java.util.concurrent.ConcurrentHashMap<>();

        NiceRecordingEnsemble(FakeEnsemble delegate) {
            this.delegate = delegate;
        }

        @Override
        public dev.trellis.ensemble.api.FeatureSchema schema() {
            return delegate.schema();
        }

        @Override
        public List<String> baseModels() {
            return delegate.baseModels();
        }

        @Override
        public dev.trellis.ensemble.api.Predictions predict(FeatureBatch batch, boolean explain) {
            nice.put(
                    explain ? "explain" : batch.rows() > 4 ? "bulk" : "interactive",
                    dev.trellis.common.sched.BulkThreads.currentNice());
            return delegate.predict(batch, explain);
        }

        @Override
        public void close() {}
    }

    private static final class GatedEnsemble implements dev.trellis.ensemble.api.Ensemble {
        private final FakeEnsemble delegate;
        private final java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        private final java.util.concurrent.atomic.AtomicInteger waiting =
                new java.util.concurrent.atomic.AtomicInteger();

        GatedEnsemble(FakeEnsemble delegate) {
            this.delegate = delegate;
        }

        @Override
        public dev.trellis.ensemble.api.FeatureSchema schema() {
            return delegate.schema();
        }

        @Override
        public List<String> baseModels() {
            return delegate.baseModels();
        }

        @Override
        public dev.trellis.ensemble.api.Predictions predict(FeatureBatch batch, boolean explain) {
            if (explain || batch.rows() > 1) {
                waiting.incrementAndGet();
                try {
                    if (!gate.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                } finally {
                    waiting.decrementAndGet();
                }
            }
            return delegate.predict(batch, explain);
        }

        int waiting() {
            return waiting.get();
        }

        void open() {
            gate.countDown();
        }

        @Override
        public void close() {
            delegate.close();
        }
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
                .hasMessageContaining("2 interactive requests queued");
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
