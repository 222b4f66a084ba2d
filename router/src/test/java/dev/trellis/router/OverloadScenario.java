package dev.trellis.router;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.sched.BulkThreads;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The overload case of issue 10, shared by {@code OverloadIsolationTest} and
 * {@code OverloadBenchmark}: an open-loop stream of single-row Score calls at a fixed rate
 * (latency measured from each call's due time, so stalls are charged to every call they delay),
 * optionally while bulk callers keep large ScoreBatch calls with {@code explain} in flight
 * back to back, each with its own generous deadline. As in production, the bulk callers are other
 * clients, standing for clients on other machines: they run in a JVM of their own ({@link
 * OverloadBulkClients}, at nice 19), each on its own connection to the router, so their CPU, heap and
 * collector pauses are not the servers'.
 */
public final class OverloadScenario implements AutoCloseable {
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
    private final String model;
    private final List<Map<String, Value>> rows;
    private final BulkClients bulk;
    private boolean warm;

    /**
     * Starts the bulk callers' JVM ({@link OverloadBulkClients}); {@link #close} stops it.
     *
     * @param channel the single-row caller's channel to the router
     * @param host the router's host, for the bulk callers' own connections
     * @param port the router's port
     * @param rowLimit how many churn rows the single rows and the batches cycle through
     */
    public OverloadScenario(Channel channel, String host, int port, String model, int rowLimit) throws IOException {
        this.channel = requireNonNull(channel, "channel is null");
        this.model = requireNonNull(model, "model is null");
        this.rows = ChurnRows.load(rowLimit);
        this.bulk = BulkClients.start(host, port, model, rowLimit);
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
        if (bulkCallers > 0) {
            bulk.run(bulkCallers, batchRows, repeat ? 0 : 1);
            // let the bulk work reach the model-servers before the stream starts
            Thread.sleep(200);
        }

        Histogram latency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(5), 3);
        Map<Status.Code, Integer> failures = new ConcurrentHashMap<>();
        int total = stream(duration, rate, singleDeadline, latency, failures);
        BulkClients.Finished finished = bulkCallers > 0 ? bulk.stopAndAwait() : new BulkClients.Finished(0, Map.of());
        return new Result(total, Map.copyOf(failures), latency, finished.done(), finished.failures());
    }

    /**
     * Warms up as a running service is warm: connections up and both paths, single rows and
     * explained batches, compiled by the JIT (a cold JVM interprets them at many times the CPU per
     * call, which is not what the isolation is about).
     */
    private void warmUp(int rate, Duration singleDeadline, int batchRows) throws InterruptedException {
        bulk.run(1, Math.min(batchRows, 1000), 3);
        bulk.stopAndAwait();
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

    private ScoreRequest single(int i) {
        return ScoreRequest.newBuilder()
                .setModel(model)
                .setUnitId("single-" + i)
                .putAllFeatures(rows.get(i % rows.size()))
                .build();
    }

    /** Stops the bulk callers' JVM. */
    @Override
    public void close() {
        bulk.close();
    }

    /** The bulk callers' JVM, driven over its standard input and output. */
    private static final class BulkClients implements AutoCloseable {
        record Finished(int done, Map<Status.Code, Integer> failures) {}

        private final Process process;
        private final Writer commands;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        private BulkClients(Process process) {
            this.process = process;
            this.commands = new OutputStreamWriter(process.getOutputStream(), UTF_8);
            Thread reader = new Thread(
                    () -> {
                        try (BufferedReader out =
                                new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
                            String line;
                            while ((line = out.readLine()) != null) {
                                lines.add(line);
                            }
                        } catch (IOException e) {
                            // the process is gone; the next await says so
                        }
                        lines.add("eof");
                    },
                    "overload-bulk-clients-output");
            reader.setDaemon(true);
            reader.start();
        }

        static BulkClients start(String host, int port, String model, int rowLimit) throws IOException {
            List<String> command = new ArrayList<>();
            if (Files.isExecutable(Path.of("/usr/bin/nice"))) {
                // a client on another machine: on this one it runs on what the servers leave over
                command.addAll(List.of("/usr/bin/nice", "-n", Integer.toString(BulkThreads.NICE)));
            }
            command.addAll(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx1g",
                    "-XX:+UseParallelGC",
                    "-cp",
                    System.getProperty("java.class.path"),
                    OverloadBulkClients.class.getName(),
                    host,
                    Integer.toString(port),
                    model,
                    Integer.toString(rowLimit)));
            Process process = new ProcessBuilder(command)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            BulkClients clients = new BulkClients(process);
            try {
                String first = clients.next(Duration.ofMinutes(1));
                if (!first.equals("ready")) {
                    throw new IllegalStateException("the bulk callers' JVM said '" + first + "' instead of ready");
                }
            } catch (RuntimeException | InterruptedException e) {
                clients.close();
                throw new IllegalStateException("the bulk callers' JVM did not start", e);
            }
            return clients;
        }

        void run(int callers, int batchRows, int maxPerCaller) {
            send("run " + callers + " " + batchRows + " " + maxPerCaller);
        }

        /** Stops repeating and waits until every caller's last batch has answered. */
        Finished stopAndAwait() throws InterruptedException {
            send("stop");
            String line = next(Duration.ofMinutes(10));
            String[] words = line.split(" ");
            if (words.length != 3 || !words[0].equals("finished")) {
                throw new IllegalStateException("the bulk callers' JVM said '" + line + "'");
            }
            Map<Status.Code, Integer> failures = new HashMap<>();
            if (!words[2].equals("-")) {
                for (String failure : words[2].split(",")) {
                    String[] pair = failure.split("=");
                    failures.put(Status.Code.valueOf(pair[0]), Integer.parseInt(pair[1]));
                }
            }
            return new Finished(Integer.parseInt(words[1]), Map.copyOf(failures));
        }

        private String next(Duration timeout) throws InterruptedException {
            String line = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (line == null || line.equals("eof")) {
                throw new IllegalStateException("the bulk callers' JVM "
                        + (line == null ? "did not answer within " + timeout : "exited (" + process + ")"));
            }
            return line;
        }

        private void send(String command) {
            try {
                commands.write(command + "\n");
                commands.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("the bulk callers' JVM does not take commands", e);
            }
        }

        @Override
        public void close() {
            try {
                commands.close();
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (IOException e) {
                process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
