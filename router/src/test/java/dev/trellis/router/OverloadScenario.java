package dev.trellis.router;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Value;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.StringValues;
import dev.trellis.common.sched.BulkThreads;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The overload case of issue 10, shared by {@code OverloadIsolationTest} and
 * {@code OverloadBenchmark}: an open-loop stream of single-row Score calls at a fixed rate
 * (latency measured from each call's due time, so stalls are charged to every call they delay),
 * optionally while bulk callers keep large ScoreBatch calls with {@code explain} in flight
 * back to back, each with its own generous deadline. As in production, the bulk callers are other
 * clients: each has its own connection to the router, and with {@link #remoteClients} they stand
 * for clients on other machines.
 */
public final class OverloadScenario {
    /**
     * What one run saw.
     *
     * @param sent single-row calls sent
     * @param failures single-row failures by status code
     * @param latencyMicros single-row latency from due time to answer
     * @param batchesDone explain batches answered
     * @param batchFailures explain batch failures by status code
     */
    public record Result(
            int sent,
            Map<Status.Code, Integer> failures,
            Histogram latencyMicros,
            int batchesDone,
            Map<Status.Code, Integer> batchFailures) {
        public int failed() {
            return failures.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private final Channel channel;
    private final Supplier<ManagedChannel> bulkChannels;
    private final String model;
    private final List<Map<String, Value>> rows;
    private boolean warm;

    /**
     * @param channel the single-row caller's channel to the router
     * @param bulkChannels opens a bulk caller's own channel to the router
     */
    public OverloadScenario(
            Channel channel, Supplier<ManagedChannel> bulkChannels, String model, List<Map<String, Value>> rows) {
        this.channel = requireNonNull(channel, "channel is null");
        this.bulkChannels = requireNonNull(bulkChannels, "bulkChannels is null");
        this.model = requireNonNull(model, "model is null");
        this.rows = List.copyOf(rows);
    }

    /**
     * Runs the stream for {@code duration} at {@code rate} calls/s with {@code singleDeadline};
     * meanwhile {@code bulkCallers} callers each send one ScoreBatch of {@code batchRows} rows with
     * explain (none when 0), and with {@code repeat} another as soon as one answers, until the
     * stream ends. Returns once every call has answered.
     */
    public Result run(
            Duration duration, int rate, Duration singleDeadline, int bulkCallers, int batchRows, boolean repeat)
            throws InterruptedException {
        if (!warm) {
            warmUp(rate, singleDeadline, batchRows);
            warm = true;
        }
        AtomicBoolean streaming = new AtomicBoolean(true);
        AtomicInteger batchesDone = new AtomicInteger();
        Map<Status.Code, Integer> batchFailures = new ConcurrentHashMap<>();
        List<Thread> bulk = new ArrayList<>();
        ScoreBatchRequest batch = explainBatch(batchRows);
        for (int i = 0; i < bulkCallers; i++) {
            ManagedChannel bulkChannel = bulkChannels.get();
            Thread caller = new Thread(
                    () -> {
                        // a client on another machine: its CPU is not the servers'
                        BulkThreads.lowerCurrentThread();
                        boolean first = true;
                        while (first || (repeat && streaming.get())) {
                            first = false;
                            try {
                                ScoreBatchResponse response = ScoringGrpc.newBlockingStub(bulkChannel)
                                        .withDeadlineAfter(5, TimeUnit.MINUTES)
                                        .scoreBatch(batch);
                                if (response.getResultsCount() != batchRows) {
                                    throw new IllegalStateException("a batch answered " + response.getResultsCount());
                                }
                                batchesDone.incrementAndGet();
                            } catch (RuntimeException e) {
                                batchFailures.merge(Status.fromThrowable(e).getCode(), 1, Integer::sum);
                            }
                        }
                        bulkChannel.shutdownNow();
                    },
                    "overload-bulk-" + i);
            caller.setDaemon(true);
            bulk.add(caller);
            caller.start();
        }
        if (bulkCallers > 0) {
            // let the bulk work reach the model-servers before the stream starts
            Thread.sleep(200);
        }

        Histogram latency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(5), 3);
        Map<Status.Code, Integer> failures = new ConcurrentHashMap<>();
        int total = stream(duration, rate, singleDeadline, latency, failures);
        streaming.set(false);
        for (Thread caller : bulk) {
            caller.join(TimeUnit.MINUTES.toMillis(5));
        }
        return new Result(total, Map.copyOf(failures), latency, batchesDone.get(), Map.copyOf(batchFailures));
    }

    /**
     * Channels for bulk callers that stand for clients on other machines, as in production: their
     * transport threads (like the bulk caller threads, see {@link #run}) are {@link BulkThreads},
     * so the CPU they spend writing their requests and reading their own large answers, which on
     * another machine would not be the servers' CPU, does not count against the servers under
     * test on this one. The interactive caller's channel is an ordinary one.
     */
    public static Supplier<ManagedChannel> remoteClients(String host, int port) {
        return () -> NettyChannelBuilder.forAddress(host, port)
                .eventLoopGroup(RemoteLoops.GROUP)
                .channelType(NioSocketChannel.class)
                .usePlaintext()
                .build();
    }

    /**
     * Warms up as a running service is warm: connections up and both paths, single rows and
     * explained batches, compiled by the JIT (a cold JVM interprets them at many times the CPU per
     * call, which is not what the isolation is about).
     */
    private void warmUp(int rate, Duration singleDeadline, int batchRows) throws InterruptedException {
        ManagedChannel bulkChannel = bulkChannels.get();
        try {
            ScoreBatchRequest batch = explainBatch(Math.min(batchRows, 1000));
            for (int i = 0; i < 3; i++) {
                ScoringGrpc.newBlockingStub(bulkChannel)
                        .withDeadlineAfter(5, TimeUnit.MINUTES)
                        .scoreBatch(batch);
            }
        } finally {
            bulkChannel.shutdownNow();
        }
        stream(Duration.ofSeconds(3), rate, singleDeadline, new ConcurrentHistogram(3), new ConcurrentHashMap<>());
    }

    /** The open-loop single-row stream; returns the number of calls sent, all answered. */
    private int stream(
            Duration duration, int rate, Duration singleDeadline, Histogram latency, Map<Status.Code, Integer> failures)
            throws InterruptedException {
        long periodNanos = TimeUnit.SECONDS.toNanos(1) / rate;
        int total = (int) (duration.toNanos() / periodNanos);
        CountDownLatch answered = new CountDownLatch(total);
        ScoringGrpc.ScoringStub stub = ScoringGrpc.newStub(channel);
        long start = System.nanoTime();
        for (int i = 0; i < total; i++) {
            long due = start + i * periodNanos;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            AtomicLong dueNanos = new AtomicLong(due);
            stub.withDeadlineAfter(singleDeadline.toNanos(), TimeUnit.NANOSECONDS)
                    .score(single(i), new StreamObserver<>() {
                        @Override
                        public void onNext(ScoreResponse value) {}

                        @Override
                        public void onError(Throwable t) {
                            failures.merge(Status.fromThrowable(t).getCode(), 1, Integer::sum);
                            answered.countDown();
                        }

                        @Override
                        public void onCompleted() {
                            latency.recordValue(Math.max(0, (System.nanoTime() - dueNanos.get()) / 1000));
                            answered.countDown();
                        }
                    });
        }
        if (!answered.await(singleDeadline.toMillis() + 30_000, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("single-row calls still unanswered past their deadline");
        }
        return total;
    }

    private static final class RemoteLoops {
        static final EventLoopGroup GROUP = new NioEventLoopGroup(2, BulkThreads.factory("remote-client-loop"));
    }

    private ScoreRequest single(int i) {
        return ScoreRequest.newBuilder()
                .setModel(model)
                .setUnitId("single-" + i)
                .putAllFeatures(rows.get(i % rows.size()))
                .build();
    }

    /** The explain batch in the columnar form bulk pipelines use (what {@code batch-score} sends). */
    private ScoreBatchRequest explainBatch(int batchRows) {
        FeatureColumns.Builder columns = FeatureColumns.newBuilder();
        for (int i = 0; i < batchRows; i++) {
            columns.addUnitIds("bulk-" + i);
        }
        for (String feature : rows.get(0).keySet()) {
            boolean numeric = rows.stream()
                    .map(row -> row.get(feature))
                    .anyMatch(value -> value != null && value.hasNumberValue());
            NumberValues.Builder numbers = NumberValues.newBuilder();
            StringValues.Builder strings = StringValues.newBuilder();
            for (int i = 0; i < batchRows; i++) {
                Value value = rows.get(i % rows.size()).get(feature);
                if (numeric) {
                    numbers.addValues(value != null && value.hasNumberValue() ? value.getNumberValue() : Double.NaN);
                } else {
                    strings.addValues(value != null && value.hasStringValue() ? value.getStringValue() : "");
                }
            }
            FeatureColumn.Builder column = FeatureColumn.newBuilder().setName(feature);
            columns.addFeatures(numeric ? column.setNumbers(numbers) : column.setStrings(strings));
        }
        return ScoreBatchRequest.newBuilder()
                .setModel(model)
                .setExplain(true)
                .setColumns(columns)
                .build();
    }
}
