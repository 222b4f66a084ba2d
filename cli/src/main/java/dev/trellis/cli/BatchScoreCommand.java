package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import dev.trellis.client.ColumnBatch;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.ScoreResult;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import io.grpc.Status;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code trellis batch-score}: streams a CSV through columnar ScoreBatch calls (CSV cells go
 * straight into one array per feature, no per-row feature maps). Up to {@code --concurrency}
 * batches are in flight; results are written in input order, so memory stays bounded by
 * concurrency x batch size whatever the file size.
 */
@Command(
        name = "batch-score",
        description = {
            "Scores every row of a CSV file and writes a CSV of results, in input order.",
            "Columns in the model's schema are sent as typed features; the id column is the unit id; other columns"
                    + " (the target) are ignored. Memory stays flat: at most --concurrency batches are in flight."
        },
        footer = {
            "",
            "Example:",
            "  trellis batch-score --model leads --input datasets/leads_coil2000_train.csv --output scores.csv --id-column lead_id"
        })
final class BatchScoreCommand implements Callable<Integer> {
    static final List<String> RESULT_COLUMNS =
            List.of("score", "label", "lower", "upper", "version", "variant", "experiment", "reason");

    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", required = true, description = "Logical model name.")
    String model;

    @Option(names = "--input", required = true, paramLabel = "CSV", description = "Input CSV with a header row.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "CSV", description = "Output CSV (overwritten).")
    Path output;

    @Option(
            names = "--id-column",
            paramLabel = "NAME",
            description =
                    "Column holding the unit id (default: the first column named id or *_id; else the row number).")
    String idColumn;

    @Option(
            names = "--batch-size",
            defaultValue = "1000",
            description = "Rows per ScoreBatch call (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--concurrency", defaultValue = "4", description = "Batches in flight (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--version", description = "Pin a model version for every row.")
    String version;

    @Option(
            names = "--batch-deadline",
            defaultValue = "60s",
            converter = TrellisCli.DurationConverter.class,
            description = "Deadline of each ScoreBatch call (default: ${DEFAULT-VALUE}).")
    Duration batchDeadline;

    @Option(names = "--progress", description = "Show the progress bar even when stderr is not a terminal.")
    boolean progress;

    private static final int FIRST_BATCH_ROWS = 125;

    private record Pending(long firstRow, List<String> ids, CompletableFuture<List<ScoreResult>> results) {}

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (batchSize < 1 || batchSize > 100_000) {
            throw new TrellisCli.UsageException("--batch-size must be between 1 and 100000, got " + batchSize);
        }
        if (concurrency < 1 || concurrency > 256) {
            throw new TrellisCli.UsageException("--concurrency must be between 1 and 256, got " + concurrency);
        }
        if (!Files.isReadable(input)) {
            throw new TrellisCli.UsageException("cannot read --input " + input);
        }
        long fileSize = Files.size(input);
        try (TrellisClient client = root.client()) {
            FeatureSchema schema = client.model(model).schema(version);
            try (CsvRows rows = CsvRows.open(input, idColumn, schema);
                    CsvWriter printer = new CsvWriter(Files.newBufferedWriter(output, StandardCharsets.UTF_8))) {
                List<String> header = new ArrayList<>();
                header.add(rows.idColumn() == null ? "row" : rows.idColumn());
                header.addAll(RESULT_COLUMNS);
                printer.record(header);

                double cpuAtStart = processCpuSeconds();
                Progress bar = new Progress(System.err, progress, "rows");
                ArrayDeque<Pending> inFlight = new ArrayDeque<>();
                long read = 0;
                long written = 0;
                boolean more = true;
                // Slow start: small first batches give the servers work sooner and fill the
                // pipeline faster; sizes double up to --batch-size.
                int size = Math.min(batchSize, FIRST_BATCH_ROWS);
                while (more) {
                    ColumnBatch batch = rows.nextColumns(size, read + 1);
                    if (batch == null || batch.size() < size) {
                        more = false;
                    }
                    size = Math.min(batchSize, size * 2);
                    if (batch != null) {
                        inFlight.add(new Pending(
                                read + 1,
                                batch.unitIds(),
                                client.scoreColumnsAsync(model, batch, version, batchDeadline)));
                        read += batch.size();
                    }
                    while (inFlight.size() >= concurrency || (!more && !inFlight.isEmpty())) {
                        written += write(inFlight.poll(), printer);
                        bar.update(written, fileSize > 0 ? Math.min(1.0, (double) rows.position() / fileSize) : -1);
                    }
                }
                bar.finish();
                double seconds = bar.elapsedSeconds();
                double cpu = processCpuSeconds();
                System.err.println(fmt(
                        "scored %,d rows in %.2f s (%,.0f rows/s, client CPU %.2f s, %.2f s of it while scoring) -> %s",
                        written, seconds, written / Math.max(seconds, 1e-9), cpu, cpu - cpuAtStart, output));
            }
        }
        return 0;
    }

    /** This JVM's CPU time so far (every thread, JIT and collector included), or NaN where unknown. */
    private static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long nanos = os.getProcessCpuTime();
            return nanos < 0 ? Double.NaN : nanos / 1e9;
        }
        return Double.NaN;
    }

    private long write(Pending pending, CsvWriter printer) throws IOException, InterruptedException {
        List<ScoreResult> results;
        try {
            results = pending.results().get();
        } catch (ExecutionException e) {
            TrellisException failure = TrellisException.from(e.getCause());
            System.err.println(fmt(
                    "batch of rows %d-%d failed",
                    pending.firstRow(), pending.firstRow() + pending.ids().size() - 1));
            String description = failure.description();
            if (failure.code() == Status.Code.RESOURCE_EXHAUSTED
                    && description != null
                    && description.contains("exceeds maximum size")) {
                // gRPC's own limit on one message (the router's --max-message-size, 4 MiB by default)
                System.err.println(fmt(
                        "hint: a batch of %,d rows is larger than the server accepts in one message;"
                                + " use a smaller --batch-size (now %,d)",
                        pending.ids().size(), batchSize));
            }
            throw failure;
        }
        if (results.size() != pending.ids().size()) {
            throw new IllegalStateException(fmt(
                    "router answered %d results for a batch of %d rows",
                    results.size(), pending.ids().size()));
        }
        for (int i = 0; i < results.size(); i++) {
            ScoreResult r = results.get(i);
            printer.field(pending.ids().get(i));
            printer.field(r.score());
            printer.field(r.label());
            printer.field(r.lower());
            printer.field(r.upper());
            printer.field(r.served().version());
            printer.field(r.served().variant());
            printer.field(r.served().experiment());
            printer.field(r.served().reason().name());
            printer.endRecord();
        }
        return results.size();
    }
}
