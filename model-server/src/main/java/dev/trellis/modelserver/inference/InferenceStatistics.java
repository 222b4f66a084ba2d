package dev.trellis.modelserver.inference;

import dev.trellis.proto.inference.InferStatistics;
import dev.trellis.proto.inference.ModelStatistics;
import dev.trellis.proto.inference.StatisticDuration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Triton's cumulative ModelStatistics per model version, since the server started: what
 * {@code perf_analyzer} and {@code tritonclient.get_inference_statistics} read. Counted where the
 * requests are answered (InferenceService), from the timings the batcher hands back. Thread-safe.
 */
final class InferenceStatistics {
    private final Map<String, VersionStatistics> versions = new ConcurrentHashMap<>();

    /** One successful request: its rows, total time, queue, decode, ensemble and encode times. */
    void success(
            String model,
            int version,
            int rows,
            boolean firstOfBatch,
            long totalNanos,
            long queueNanos,
            long inputNanos,
            long inferNanos,
            long outputNanos) {
        VersionStatistics statistics = of(model, version);
        statistics.success.add(totalNanos);
        statistics.queue.add(queueNanos);
        statistics.computeInput.add(inputNanos);
        statistics.computeInfer.add(inferNanos);
        statistics.computeOutput.add(outputNanos);
        statistics.inferences.add(rows);
        if (firstOfBatch) {
            statistics.executions.increment();
        }
        statistics.lastInferenceMillis.accumulateAndGet(System.currentTimeMillis(), Math::max);
    }

    /** One request refused or failed after its version was resolved. */
    void failure(String model, int version, long totalNanos) {
        of(model, version).fail.add(totalNanos);
    }

    ModelStatistics snapshot(String model, int version) {
        VersionStatistics statistics = versions.get(key(model, version));
        ModelStatistics.Builder builder =
                ModelStatistics.newBuilder().setName(model).setVersion(String.valueOf(version));
        if (statistics == null) {
            return builder.setInferenceStats(InferStatistics.newBuilder()
                            .setSuccess(StatisticDuration.getDefaultInstance())
                            .setFail(StatisticDuration.getDefaultInstance())
                            .setQueue(StatisticDuration.getDefaultInstance())
                            .setComputeInput(StatisticDuration.getDefaultInstance())
                            .setComputeInfer(StatisticDuration.getDefaultInstance())
                            .setComputeOutput(StatisticDuration.getDefaultInstance()))
                    .build();
        }
        return builder.setLastInference(statistics.lastInferenceMillis.get())
                .setInferenceCount(statistics.inferences.sum())
                .setExecutionCount(statistics.executions.sum())
                .setInferenceStats(InferStatistics.newBuilder()
                        .setSuccess(statistics.success.snapshot())
                        .setFail(statistics.fail.snapshot())
                        .setQueue(statistics.queue.snapshot())
                        .setComputeInput(statistics.computeInput.snapshot())
                        .setComputeInfer(statistics.computeInfer.snapshot())
                        .setComputeOutput(statistics.computeOutput.snapshot()))
                .build();
    }

    private VersionStatistics of(String model, int version) {
        return versions.computeIfAbsent(key(model, version), k -> new VersionStatistics());
    }

    private static String key(String model, int version) {
        return model + "/" + version;
    }

    private static final class VersionStatistics {
        final Duration success = new Duration();
        final Duration fail = new Duration();
        final Duration queue = new Duration();
        final Duration computeInput = new Duration();
        final Duration computeInfer = new Duration();
        final Duration computeOutput = new Duration();
        final LongAdder inferences = new LongAdder();
        final LongAdder executions = new LongAdder();
        final AtomicLong lastInferenceMillis = new AtomicLong();
    }

    private static final class Duration {
        private final LongAdder count = new LongAdder();
        private final LongAdder nanos = new LongAdder();

        void add(long durationNanos) {
            count.increment();
            nanos.add(Math.max(0, durationNanos));
        }

        StatisticDuration snapshot() {
            return StatisticDuration.newBuilder()
                    .setCount(count.sum())
                    .setNs(nanos.sum())
                    .build();
        }
    }
}
