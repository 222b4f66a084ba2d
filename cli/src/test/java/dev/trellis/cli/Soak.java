package dev.trellis.cli;

import static java.util.Objects.requireNonNull;
import static org.awaitility.Awaitility.await;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.ColumnBatch;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.TrellisClient;
import dev.trellis.common.text.DurationText;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.HdrHistogram.Histogram;

/**
 * Issue 14's soak: a router and two model-servers started through the {@code trellis} launcher (so
 * with its heap sizes and collector), the lead model's versions 1 and 2 in a 50/50 experiment, a
 * steady open-loop mix ({@link SoakLoad}) for {@code duration}, and every {@code trainEvery} a new
 * version trained into the repository by the launcher's trainer ({@link LocalCluster#train}, in the
 * idle scheduling class because it stands for a training job on another machine), loaded by the replicas' version
 * policy and made the default (so every cycle loads one version and unloads an older one on each
 * replica). Every {@code slice} it samples each server JVM ({@link SoakProbe}: RSS, heap after GC,
 * NMT, file descriptors) and the traffic's p50/p99 per kind. Not thread-safe; one run per instance.
 */
final class Soak {
    private static final String MODEL = LocalCluster.MODEL;

    /**
     * @param duration measured time, after the warm-up
     * @param slice sampling interval
     * @param trainEvery how often a new version is trained and made the default
     * @param rate requests per second
     * @param warmup traffic before the first slice starts
     * @param fastTraining the trainer's {@code --fast} (tests)
     * @param launcher the {@code trellis} script
     * @param data the lead CSV
     * @param dir working folder (repository, store, logs)
     */
    record Options(
            Duration duration,
            Duration slice,
            Duration trainEvery,
            double rate,
            Duration warmup,
            boolean fastTraining,
            Path launcher,
            Path data,
            Path dir) {
        Options {
            requireNonNull(launcher, "launcher is null");
            requireNonNull(data, "data is null");
            requireNonNull(dir, "dir is null");
            if (slice.isZero() || slice.isNegative() || duration.compareTo(slice) < 0) {
                throw new IllegalArgumentException("slice must be positive and at most the duration");
            }
            if (trainEvery.isZero() || trainEvery.isNegative()) {
                throw new IllegalArgumentException("trainEvery must be positive");
            }
        }
    }

    /** A retraining cycle: version trained, when (since the measured start), how long until it was the default. */
    record Retrain(int version, Duration at, Duration took, String failure) {}

    /** One slice: its end (since the measured start), the 1-minute load average, the traffic, the JVMs. */
    record Slice(int number, Duration end, double load, SoakLoad.Interval traffic, List<SoakProbe.Sample> jvms) {}

    record Report(List<Slice> slices, List<Retrain> retrains) {}

    private final Options options;
    private final PrintStream out;
    private final List<Retrain> retrains = new CopyOnWriteArrayList<>();
    private volatile long measuredStart;

    Soak(Options options, PrintStream out) {
        this.options = requireNonNull(options, "options is null");
        this.out = requireNonNull(out, "out is null");
    }

    Report run() throws Exception {
        ScheduledExecutorService trainer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "soak-trainer");
            thread.setDaemon(true);
            return thread;
        });
        try (LocalCluster cluster =
                new LocalCluster(options.launcher(), options.data(), options.dir(), options.fastTraining())) {
            cluster.train(1, 42);
            cluster.train(2, 7);
            cluster.start();
            try (TrellisClient client = cluster.adminClient()) {
                LocalCluster.awaitReady(client, "1");
                LocalCluster.awaitReady(client, "2");
                Experiment experiment = Definitions.read(
                                options.launcher().resolveSibling("examples").resolve("leads-v2-vs-v1.yaml"),
                                Experiment.newBuilder())
                        .build();
                client.putExperiment(experiment, 0);
                FeatureSchema schema = client.model(MODEL).schema("1");
                try (SoakLoad load = new SoakLoad(client, rows(schema), batches(schema), options.rate())) {
                    Thread.sleep(options.warmup().toMillis());
                    load.interval(); // the warm-up is not measured
                    measuredStart = System.nanoTime();
                    trainer.scheduleAtFixedRate(
                            () -> retrain(cluster, client),
                            options.trainEvery().toNanos(),
                            options.trainEvery().toNanos(),
                            TimeUnit.NANOSECONDS);
                    List<SoakProbe> probes =
                            cluster.servers().stream().map(SoakProbe::new).toList();
                    List<Slice> slices = new ArrayList<>();
                    int count = (int)
                            (options.duration().toNanos() / options.slice().toNanos());
                    for (int n = 1; n <= count; n++) {
                        long end = measuredStart + n * options.slice().toNanos();
                        long wait = end - System.nanoTime();
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        }
                        SoakLoad.Interval traffic = load.interval();
                        List<SoakProbe.Sample> jvms = new ArrayList<>();
                        for (SoakProbe probe : probes) {
                            jvms.add(probe.sample());
                        }
                        Slice slice = new Slice(n, since(end), loadAverage(), traffic, List.copyOf(jvms));
                        slices.add(slice);
                        out.println(sliceLine(slice));
                        cluster.checkAlive();
                    }
                    // a cycle under way finishes (its version becomes the default) before the servers stop
                    trainer.shutdown();
                    if (!trainer.awaitTermination(10, TimeUnit.MINUTES)) {
                        throw new IllegalStateException("a retraining cycle did not finish within 10 minutes");
                    }
                    return new Report(List.copyOf(slices), List.copyOf(retrains));
                }
            }
        } finally {
            trainer.shutdownNow();
        }
    }

    /** Trains the next version, waits until both replicas have it READY, makes it the default. */
    private void retrain(LocalCluster cluster, TrellisClient client) {
        long begun = System.nanoTime();
        int version = cluster.nextVersion();
        String failure = null;
        try {
            cluster.train(version, 100 + version);
            LocalCluster.awaitReady(client, Integer.toString(version));
            // an admin call on a busy machine may miss its deadline: retried until the router says so
            await("version " + version + " the default")
                    .atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofSeconds(1))
                    .ignoreExceptions()
                    .until(() -> {
                        client.setDefaultVersion(MODEL, Integer.toString(version));
                        return Integer.toString(version)
                                .equals(client.model(MODEL).defaultVersion());
                    });
        } catch (Exception e) {
            failure = e.toString();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
        Retrain cycle = new Retrain(version, since(begun), Duration.ofNanos(System.nanoTime() - begun), failure);
        retrains.add(cycle);
        out.println(String.format(
                Locale.ROOT,
                "retrain: version %d trained, READY on both replicas and the default after %.1f s%s",
                version,
                cycle.took().toMillis() / 1000.0,
                failure == null ? "" : " FAILED: " + failure));
    }

    /** Rows of the lead file as single-row requests (no unit id). */
    private List<ScoreRequest> rows(FeatureSchema schema) throws IOException {
        List<ScoreRequest> rows = new ArrayList<>();
        try (CsvRows csv = CsvRows.open(options.data(), "lead_id", schema)) {
            for (CsvRows.Row row = csv.next(1); row != null && rows.size() < 2_000; row = csv.next(rows.size() + 1)) {
                rows.add(row.request().setModel(MODEL).clearUnitId().build());
            }
        }
        return rows;
    }

    /** Columnar batches of the lead file (with the lead ids: they take part in the experiment). */
    private List<ScoreBatchRequest> batches(FeatureSchema schema) throws IOException {
        List<ScoreBatchRequest> batches = new ArrayList<>();
        try (CsvRows csv = CsvRows.open(options.data(), "lead_id", schema)) {
            for (ColumnBatch batch = csv.nextColumns(SoakLoad.BATCH_ROWS, 1);
                    batch != null && batches.size() < 20;
                    batch = csv.nextColumns(SoakLoad.BATCH_ROWS, 1)) {
                batches.add(TrellisClient.columnsRequest(MODEL, batch, null));
            }
        }
        return batches;
    }

    private Duration since(long nanos) {
        return Duration.ofNanos(nanos - measuredStart);
    }

    private static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException e) {
            return Double.NaN;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Output
    // ---------------------------------------------------------------------------------------------

    private static String sliceLine(Slice slice) {
        StringBuilder line = new StringBuilder(String.format(
                Locale.ROOT,
                "slice %d (to %s, load %.1f): %,d requests, %d failed;",
                slice.number(),
                DurationText.format(slice.end().withNanos(0)),
                slice.load(),
                slice.traffic().requests(),
                slice.traffic().failed()));
        for (SoakLoad.Kind kind : SoakLoad.Kind.values()) {
            Histogram h = slice.traffic().latencyMicros().get(kind);
            line.append(String.format(Locale.ROOT, " %s %s;", kind.label, percentiles(h)));
        }
        for (SoakProbe.Sample jvm : slice.jvms()) {
            line.append(String.format(
                    Locale.ROOT,
                    " %s RSS %s, live heap %s of %s, native (NMT) %s, %d fds;",
                    jvm.jvm(),
                    mib(jvm.rssKib()),
                    mib(jvm.heapAfterGcKib()),
                    mib(jvm.heapSizeKib()),
                    mib(jvm.nativeCommittedKib()),
                    jvm.fds()));
        }
        return line.toString();
    }

    /** The report as two Markdown tables (memory per JVM and slice, traffic per slice) and the retraining cycles. */
    static String markdown(Report report) {
        StringBuilder md = new StringBuilder();
        md.append(
                "| slice | JVM | RSS MiB | live heap MiB, after a full GC (-Xmx) | native MiB (NMT, outside the heap) | open fds |\n");
        md.append("|---|---|---|---|---|---|\n");
        for (Slice slice : report.slices()) {
            for (SoakProbe.Sample jvm : slice.jvms()) {
                md.append(String.format(
                        Locale.ROOT,
                        "| %d | %s | %s | %s (%s) | %s | %d |%n",
                        slice.number(),
                        jvm.jvm(),
                        mib(jvm.rssKib()),
                        mib(jvm.heapAfterGcKib()),
                        mib(jvm.heapSizeKib()),
                        mib(jvm.nativeCommittedKib()),
                        jvm.fds()));
            }
        }
        md.append("\n| slice | load | requests | failed |");
        for (SoakLoad.Kind kind : SoakLoad.Kind.values()) {
            md.append(' ').append(kind.label).append(" p50 / p99 ms |");
        }
        md.append("\n|---|---|---|---|")
                .append("---|".repeat(SoakLoad.Kind.values().length))
                .append('\n');
        for (Slice slice : report.slices()) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %d | %.1f | %,d | %s |",
                    slice.number(),
                    slice.load(),
                    slice.traffic().requests(),
                    failures(slice.traffic())));
            for (SoakLoad.Kind kind : SoakLoad.Kind.values()) {
                md.append(' ')
                        .append(percentiles(slice.traffic().latencyMicros().get(kind)))
                        .append(" |");
            }
            md.append('\n');
        }
        md.append('\n');
        for (Retrain cycle : report.retrains()) {
            md.append(String.format(
                    Locale.ROOT,
                    "- at %s: version %d trained and the default after %.1f s%s%n",
                    DurationText.format(cycle.at().withNanos(0)),
                    cycle.version(),
                    cycle.took().toMillis() / 1000.0,
                    cycle.failure() == null ? "" : " (FAILED: " + cycle.failure() + ")"));
        }
        return md.toString();
    }

    private static String failures(SoakLoad.Interval traffic) {
        if (traffic.failed() == 0) {
            return "0";
        }
        return traffic.failures().entrySet().stream()
                .filter(e -> !e.getValue().isEmpty())
                .map(e -> e.getKey().label + " " + e.getValue())
                .collect(Collectors.joining(", "));
    }

    private static String percentiles(Histogram h) {
        if (h.getTotalCount() == 0) {
            return "–";
        }
        return String.format(
                Locale.ROOT, "%.2f / %.2f", h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
    }

    private static String mib(long kib) {
        return String.format(Locale.ROOT, "%.0f", kib / 1024.0);
    }
}
