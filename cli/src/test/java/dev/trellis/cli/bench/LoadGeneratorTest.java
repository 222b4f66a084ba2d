package dev.trellis.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoadGeneratorTest {
    @Test
    void run_openLoopMeasuresFromIntendedTimeAndCountsErrors() throws Exception {
        // a fake clock that moves 100 µs per reading, and a sleeper that moves it instead of sleeping
        AtomicLong now = new AtomicLong();
        LoadGenerator generator = new LoadGenerator(() -> now.addAndGet(100_000), now::addAndGet);
        RequestSender sender = seq -> seq % 10 == 0
                ? CompletableFuture.failedFuture(Status.UNAVAILABLE.asRuntimeException())
                : CompletableFuture.completedFuture("ok");

        BenchReport report =
                generator.run(BenchOptions.openLoop(1000, 100, Duration.ofSeconds(1), Duration.ofMillis(100)), sender);

        assertThat(report.succeeded()).isPositive();
        assertThat(report.failed()).isPositive();
        assertThat(report.errors()).containsOnlyKeys("UNAVAILABLE");
        assertThat(report.latencyMicros().getTotalCount()).isEqualTo(report.succeeded());
        // every request was sent at or after its intended time, so no latency is below one clock tick
        assertThat(report.latencyMicros().getMinValue()).isGreaterThanOrEqualTo(99);
        assertThat(report.format()).contains("p99.9").contains("UNAVAILABLE");
    }

    @Test
    void run_closedLoopRecordsEveryMeasuredCall() throws Exception {
        AtomicLong now = new AtomicLong();
        LoadGenerator generator = new LoadGenerator(() -> now.addAndGet(50_000), now::addAndGet);

        BenchReport report = generator.run(
                BenchOptions.closedLoop(2, Duration.ofMillis(200), Duration.ZERO),
                seq -> CompletableFuture.completedFuture(seq));

        assertThat(report.succeeded()).isPositive();
        assertThat(report.failed()).isZero();
        assertThat(report.throughput()).isPositive();
    }

    @Test
    void options_rejectNonsense() {
        assertThatThrownBy(() -> BenchOptions.openLoop(0, 1, Duration.ofSeconds(1), Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BenchOptions.closedLoop(0, Duration.ofSeconds(1), Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BenchOptions.closedLoop(1, Duration.ZERO, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
