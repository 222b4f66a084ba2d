package dev.trellis.cli;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import io.grpc.Status;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The soak benchmark's steady traffic: an open loop at a fixed rate (latency from each request's
 * due time, so a stall is charged to every request it delays) over a fixed mix, in every 20
 * requests: 12 single rows without a unit id (the default version), 4 single rows with a unit id
 * (experiment traffic: assigned, exposure logged), 2 single rows with {@code explain}, and 2
 * columnar batches of {@link #BATCH_ROWS} rows. Thread-safe; {@link #interval()} hands out what
 * was recorded since its last call.
 */
final class SoakLoad implements AutoCloseable {
    static final int BATCH_ROWS = 100;

    enum Kind {
        SINGLE("single row"),
        EXPERIMENT("experiment"),
        EXPLAIN("explain"),
        BATCH("batch of " + BATCH_ROWS);

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    private static final Kind[] MIX = mix();

    /** What one interval saw per kind: latencies (µs from due time) and failures by status code. */
    record Interval(Map<Kind, Histogram> latencyMicros, Map<Kind, Map<Status.Code, Long>> failures) {
        long requests() {
            return latencyMicros.values().stream()
                            .mapToLong(Histogram::getTotalCount)
                            .sum()
                    + failed();
        }

        long failed() {
            return failures.values().stream()
                    .flatMap(m -> m.values().stream())
                    .mapToLong(Long::longValue)
                    .sum();
        }
    }

    private final TrellisClient client;
    private final List<ScoreRequest> rows;
    private final List<ScoreBatchRequest> batches;
    private final double rate;
    private final Map<Kind, Recorder> recorders = new EnumMap<>(Kind.class);
    private final Map<Kind, Map<Status.Code, LongAdder>> failures = new EnumMap<>(Kind.class);
    private final Map<String, Boolean> firstErrors = new ConcurrentHashMap<>();
    private final Semaphore inFlight = new Semaphore(4_000);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread sender;

    /**
     * @param rows feature rows (model set, no unit id)
     * @param batches columnar batches of the same model
     */
    SoakLoad(TrellisClient client, List<ScoreRequest> rows, List<ScoreBatchRequest> batches, double rate) {
        this.client = requireNonNull(client, "client is null");
        this.rows = List.copyOf(rows);
        this.batches = List.copyOf(batches);
        if (rows.isEmpty() || batches.isEmpty() || !(rate > 0)) {
            throw new IllegalArgumentException("rows, batches and a positive rate are needed");
        }
        this.rate = rate;
        for (Kind kind : Kind.values()) {
            recorders.put(kind, new Recorder(TimeUnit.MINUTES.toMicros(5), 3));
            failures.put(kind, new ConcurrentHashMap<>());
        }
        this.sender = new Thread(this::send, "soak-load");
        sender.setDaemon(true);
        sender.start();
    }

    private static Kind[] mix() {
        Kind[] mix = new Kind[20];
        for (int i = 0; i < 20; i++) {
            mix[i] = i % 10 == 3 ? Kind.EXPLAIN : i % 10 == 7 ? Kind.BATCH : i % 5 == 1 ? Kind.EXPERIMENT : Kind.SINGLE;
        }
        return mix;
    }

    private void send() {
        long period = (long) (TimeUnit.SECONDS.toNanos(1) / rate);
        long start = System.nanoTime();
        for (long i = 0; running.get(); i++) {
            long due = start + i * period;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            Kind kind = MIX[(int) (i % MIX.length)];
            if (!inFlight.tryAcquire()) {
                // the servers are this far behind: counted as a failure, latency unknown
                fail(kind, Status.Code.RESOURCE_EXHAUSTED, "more than 4,000 requests in flight");
                continue;
            }
            CompletableFuture<?> call = switch (kind) {
                case SINGLE -> client.scoreAsync(row(i));
                case EXPERIMENT ->
                    client.scoreAsync(
                            row(i).toBuilder().setUnitId("soak-" + (i % 50_000)).build());
                case EXPLAIN ->
                    client.scoreAsync(row(i).toBuilder().setExplain(true).build());
                case BATCH -> client.scoreBatchAsync(batches.get((int) (i % batches.size())), Duration.ofSeconds(30));
            };
            call.whenComplete((result, error) -> {
                inFlight.release();
                if (error == null) {
                    recorders.get(kind).recordValue(Math.max(0, (System.nanoTime() - due) / 1000));
                } else {
                    TrellisException failure = TrellisException.from(error);
                    fail(kind, failure.code(), failure.getMessage());
                }
            });
        }
    }

    private ScoreRequest row(long i) {
        return rows.get((int) (i % rows.size()));
    }

    private void fail(Kind kind, Status.Code code, String message) {
        failures.get(kind).computeIfAbsent(code, c -> new LongAdder()).increment();
        if (firstErrors.putIfAbsent(kind + " " + code, Boolean.TRUE) == null) {
            System.err.println("soak: first " + code + " on " + kind.label + ": " + message);
        }
    }

    /** What was recorded since the last call (or the start). */
    Interval interval() {
        Map<Kind, Histogram> latencies = new EnumMap<>(Kind.class);
        Map<Kind, Map<Status.Code, Long>> failed = new EnumMap<>(Kind.class);
        for (Kind kind : Kind.values()) {
            latencies.put(kind, recorders.get(kind).getIntervalHistogram());
            Map<Status.Code, Long> codes = new EnumMap<>(Status.Code.class);
            failures.get(kind).forEach((code, count) -> {
                long n = count.sumThenReset();
                if (n > 0) {
                    codes.put(code, n);
                }
            });
            failed.put(kind, codes);
        }
        return new Interval(latencies, failed);
    }

    /** Stops sending and waits (up to a minute) for the calls in flight. */
    @Override
    public void close() throws InterruptedException {
        if (running.getAndSet(false)) {
            sender.join(TimeUnit.MINUTES.toMillis(1));
            if (inFlight.tryAcquire(4_000, 1, TimeUnit.MINUTES)) {
                inFlight.release(4_000);
            }
        }
    }
}
