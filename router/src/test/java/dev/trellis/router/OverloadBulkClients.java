package dev.trellis.router;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.protobuf.Value;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.StringValues;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The bulk callers of {@link OverloadScenario}, in a JVM of their own as clients on other machines
 * would be: their CPU, their heap and their garbage collector's pauses are not the servers'. The
 * scenario starts it at nice 19, so on a shared machine it runs on what the servers leave over.
 *
 * <p>Arguments: {@code host port model rowLimit} (the first {@code rowLimit} churn rows make the
 * batches). Lines on standard input: {@code run CALLERS ROWS MAX} starts {@code CALLERS} callers,
 * each on its own connection, each sending ScoreBatch calls of {@code ROWS} rows with explain back
 * to back, exactly {@code MAX} each or, with 0, until {@code stop}. When every caller is done it prints
 * {@code finished DONE FAILURES} ({@code FAILURES}: {@code CODE=N,...}, or {@code -} for none).
 * It prints {@code ready} once it can take commands and exits at the end of its input.
 */
public final class OverloadBulkClients {
    private OverloadBulkClients() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String model = args[2];
        List<Map<String, Value>> rows = ChurnRows.load(Integer.parseInt(args[3]));
        AtomicBoolean repeating = new AtomicBoolean();
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        System.out.println("ready");
        System.out.flush();
        Thread running = null;
        String line;
        while ((line = commands.readLine()) != null) {
            String[] words = line.trim().split(" ");
            switch (words[0]) {
                case "run" -> {
                    if (running != null) {
                        running.join();
                    }
                    int callers = Integer.parseInt(words[1]);
                    ScoreBatchRequest batch = explainBatch(model, rows, Integer.parseInt(words[2]));
                    int max = Integer.parseInt(words[3]);
                    repeating.set(true);
                    running = new Thread(() -> run(host, port, callers, batch, max, repeating), "bulk-run");
                    running.start();
                }
                case "stop" -> repeating.set(false);
                default -> throw new IllegalArgumentException("unknown command: " + line);
            }
        }
        repeating.set(false);
        if (running != null) {
            running.join();
        }
        System.exit(0);
    }

    private static void run(
            String host, int port, int callers, ScoreBatchRequest batch, int max, AtomicBoolean repeating) {
        AtomicInteger done = new AtomicInteger();
        Map<Status.Code, Integer> failures = new ConcurrentHashMap<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            Thread caller = new Thread(
                    () -> {
                        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port)
                                .usePlaintext()
                                .build();
                        try {
                            for (int sent = 0; max > 0 ? sent < max : sent == 0 || repeating.get(); sent++) {
                                try {
                                    ScoreBatchResponse response = ScoringGrpc.newBlockingStub(channel)
                                            .withDeadlineAfter(5, TimeUnit.MINUTES)
                                            .scoreBatch(batch);
                                    if (response.getResultsCount()
                                            != batch.getColumns().getUnitIdsCount()) {
                                        throw new IllegalStateException(
                                                "a batch answered " + response.getResultsCount() + " rows");
                                    }
                                    done.incrementAndGet();
                                } catch (RuntimeException e) {
                                    failures.merge(Status.fromThrowable(e).getCode(), 1, Integer::sum);
                                }
                            }
                        } finally {
                            channel.shutdownNow();
                        }
                    },
                    "bulk-caller-" + i);
            threads.add(caller);
            caller.start();
        }
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        String failed = failures.isEmpty()
                ? "-"
                : new TreeMap<>(failures)
                        .entrySet().stream()
                                .map(e -> e.getKey() + "=" + e.getValue())
                                .collect(Collectors.joining(","));
        System.out.println("finished " + done.get() + " " + failed);
        System.out.flush();
    }

    /** The explain batch in the columnar form bulk pipelines use (what {@code batch-score} sends). */
    static ScoreBatchRequest explainBatch(String model, List<Map<String, Value>> rows, int batchRows) {
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
