package dev.trellis.cli;

import dev.trellis.client.TrellisClient;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/**
 * Issue 14's bulk-scoring benchmark: {@code ./trellis bench batch-score}. Trains version 1 of the
 * lead model, starts a router and two model-servers through the launcher ({@link LocalCluster}),
 * writes the lead file's rows {@code --copies} times with distinct ids, and runs {@code ./trellis
 * batch-score} over it {@code --runs} times as a process of its own, as a user would. Per run it
 * prints the rows/s the command reports and the CPU each process spent per row: the client's (the
 * command's own figure) and each server's ({@code /proc} CPU time before and after). It checks that
 * every run wrote one result per input row.
 */
@Command(
        name = "batch-score",
        mixinStandardHelpOptions = true,
        description = "Bulk scoring end to end: ./trellis batch-score through a router and two model-servers")
public final class BatchScoreBenchmark implements Callable<Integer> {
    // "scored 58,220 rows in 2.13 s (27,333 rows/s, client CPU 3.52 s, 1.40 s of it while scoring) -> out.csv"
    private static final Pattern SUMMARY = Pattern.compile("scored ([\\d,]+) rows in ([\\d.]+) s \\(([\\d,]+) rows/s,"
            + " client CPU ([\\d.]+) s, ([\\d.]+) s of it while scoring\\)");

    @Option(
            names = "--copies",
            defaultValue = "10",
            description = "the lead file's rows this many times (default: ${DEFAULT-VALUE})")
    int copies;

    @Option(
            names = "--runs",
            defaultValue = "5",
            description = "batch-score runs, the first one warms the servers up (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(
            names = "--client-java-opts",
            defaultValue = "",
            description = "JVM options for the batch-score client only, e.g. a flight recording"
                    + " (TRELLIS_JAVA_OPTS would reach the servers as well)")
    String clientJavaOpts;

    @Mixin
    ClusterOptions clusterOptions = new ClusterOptions();

    @Unmatched
    List<String> batchScoreArgs = new ArrayList<>();

    private BatchScoreBenchmark() {}

    public static void main(String[] args) {
        System.exit(new CommandLine(new BatchScoreBenchmark()).execute(args));
    }

    /** One run: rows scored, wall seconds, rows/s, and CPU µs per row of the client and of each server. */
    record Run(
            long rows,
            double seconds,
            long rowsPerSecond,
            double clientMicros,
            double clientScoringMicros,
            List<Double> serverMicros) {}

    @Override
    public Integer call() throws Exception {
        Path root = clusterOptions.root();
        Path work = clusterOptions.workDir("trellis-batch-score-");
        Path launcher = root.resolve("trellis");
        Path data = root.resolve("datasets").resolve("leads_coil2000_train.csv");
        System.out.printf(
                Locale.ROOT,
                "batch-score: the lead file x %d, %d runs; %d cores, Java %s; logs in %s%n",
                copies,
                runs,
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"),
                work);
        Path input = work.resolve("leads-x" + copies + ".csv");
        long rows = repeat(data, input, copies);
        try (LocalCluster cluster = new LocalCluster(launcher, data, work, clusterOptions.fastTraining)) {
            cluster.train(1, 42);
            cluster.start();
            try (TrellisClient client = cluster.adminClient()) {
                LocalCluster.awaitReady(client, "1");
            }
            List<String> names =
                    cluster.servers().stream().map(SoakProcess::name).toList();
            List<Run> results = new ArrayList<>();
            for (int n = 1; n <= runs; n++) {
                Run run = run(cluster, launcher, input, work.resolve("scores-" + n + ".csv"), rows);
                results.add(run);
                StringBuilder line = new StringBuilder(String.format(
                        Locale.ROOT,
                        "run %d: %,d rows in %.2f s = %,d rows/s; CPU per row: client %.1f µs (%.1f while scoring)",
                        n,
                        run.rows(),
                        run.seconds(),
                        run.rowsPerSecond(),
                        run.clientMicros(),
                        run.clientScoringMicros()));
                for (int i = 0; i < names.size(); i++) {
                    line.append(String.format(
                            Locale.ROOT,
                            ", %s %.1f µs",
                            names.get(i),
                            run.serverMicros().get(i)));
                }
                System.out.println(line);
                cluster.checkAlive();
            }
            System.out.println();
            System.out.print(markdown(names, results));
        }
        return 0;
    }

    private Run run(LocalCluster cluster, Path launcher, Path input, Path output, long rows) throws Exception {
        List<SoakProcess> servers = cluster.servers();
        long[] before = servers.stream().mapToLong(s -> cpuNanos(s.pid())).toArray();
        List<String> command = new ArrayList<>(List.of(
                launcher.toString(),
                "--target",
                "127.0.0.1:" + cluster.routerPort(),
                "batch-score",
                "--model",
                LocalCluster.MODEL,
                "--input",
                input.toString(),
                "--id-column",
                "lead_id",
                "--output",
                output.toString()));
        command.addAll(batchScoreArgs);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("TRELLIS_NO_BUILD", "1");
        if (!clientJavaOpts.isBlank()) {
            builder.environment().put("TRELLIS_JAVA_OPTS", clientJavaOpts);
        }
        Process process = builder.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                lines.add(line);
            }
        }
        if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new IllegalStateException("batch-score failed: " + String.join("\n", lines));
        }
        long[] after = servers.stream().mapToLong(s -> cpuNanos(s.pid())).toArray();
        Matcher m = lines.stream()
                .map(SUMMARY::matcher)
                .filter(Matcher::find)
                .findFirst()
                .orElseThrow(() -> new IllegalStateException("no summary line in: " + String.join("\n", lines)));
        long scored = Long.parseLong(m.group(1).replace(",", ""));
        long written;
        try (var results = Files.lines(output)) {
            written = results.count() - 1;
        }
        if (scored != rows || written != rows) {
            throw new IllegalStateException(
                    "batch-score scored " + scored + " and wrote " + written + " rows of " + rows);
        }
        List<Double> serverMicros = new ArrayList<>();
        for (int i = 0; i < servers.size(); i++) {
            serverMicros.add((after[i] - before[i]) / 1000.0 / rows);
        }
        return new Run(
                rows,
                Double.parseDouble(m.group(2)),
                Long.parseLong(m.group(3).replace(",", "")),
                Double.parseDouble(m.group(4)) * 1e6 / rows,
                Double.parseDouble(m.group(5)) * 1e6 / rows,
                serverMicros);
    }

    /**
     * Writes the data rows of {@code data} {@code copies} times, the first column (the id, without
     * escaped quotes) made distinct; returns the rows written.
     */
    static long repeat(Path data, Path out, int copies) throws IOException {
        List<String> lines = Files.readAllLines(data, StandardCharsets.UTF_8);
        long rows = 0;
        try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            w.write(lines.get(0));
            w.newLine();
            for (int copy = 0; copy < copies; copy++) {
                for (String line : lines.subList(1, lines.size())) {
                    if (line.isEmpty()) {
                        continue;
                    }
                    // the id: before its closing quote when quoted ("L00001"), else before the first comma
                    int end = line.startsWith("\"") ? line.indexOf('"', 1) : line.indexOf(',');
                    w.write(line, 0, end);
                    w.write("-" + copy);
                    w.write(line, end, line.length() - end);
                    w.newLine();
                    rows++;
                }
            }
        }
        return rows;
    }

    private static long cpuNanos(long pid) {
        return ProcessHandle.of(pid)
                .flatMap(p -> p.info().totalCpuDuration())
                .map(Duration::toNanos)
                .orElseThrow(() -> new IllegalStateException("no CPU time for pid " + pid));
    }

    static String markdown(List<String> servers, List<Run> runs) {
        StringBuilder md =
                new StringBuilder("| run | rows | seconds | rows/s | client CPU µs/row | of it while scoring |");
        servers.forEach(s -> md.append(' ').append(s).append(" µs/row |"));
        md.append("\n|---|---|---|---|---|---|")
                .append("---|".repeat(servers.size()))
                .append('\n');
        for (int n = 0; n < runs.size(); n++) {
            Run run = runs.get(n);
            md.append(String.format(
                    Locale.ROOT,
                    "| %d | %,d | %.2f | %,d | %.1f | %.1f |",
                    n + 1,
                    run.rows(),
                    run.seconds(),
                    run.rowsPerSecond(),
                    run.clientMicros(),
                    run.clientScoringMicros()));
            run.serverMicros().forEach(us -> md.append(String.format(Locale.ROOT, " %.1f |", us)));
            md.append('\n');
        }
        return md.toString();
    }
}
