package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code trellis outcomes simulate-calls}: the quickstart's demo outcomes. The historical label of a labelled
 * dataset does not depend on the model version, so comparing it across experiment arms only measures the
 * random split. What a lead model changes is who gets called: a unit converts when the version that served it
 * labelled it with one of the called labels (hot or warm) and the unit's historical label is positive.
 *
 * <p>Scores and labels are joined by unit id, not by row position; a unit missing from either file, or a
 * duplicate id, is an error naming the file and line.
 */
@Command(
        name = "simulate-calls",
        mixinStandardHelpOptions = true,
        description = {
            "Writes demo outcomes: sales calls the units their served version labelled hot or warm, and a called unit",
            "whose historical label is positive converts. Output columns: unit_id, metric, value (1 or 0)."
        },
        footer = {
            "",
            "Example (what the quickstart runs):",
            "  trellis outcomes simulate-calls --scores leads-scored.csv --labels datasets/leads_coil2000_train.csv \\",
            "      --id-column lead_id --label-column converted --output outcomes.csv"
        })
final class SimulateCallsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--scores",
            required = true,
            paramLabel = "CSV",
            description = "batch-score output: the id column, then score, label, ...")
    Path scores;

    @Option(names = "--labels", required = true, paramLabel = "CSV", description = "Labelled dataset (0/1 label).")
    Path labels;

    @Option(
            names = "--id-column",
            required = true,
            paramLabel = "COLUMN",
            description = "Unit id column in both files.")
    String idColumn;

    @Option(names = "--label-column", required = true, paramLabel = "COLUMN", description = "0/1 column of --labels.")
    String labelColumn;

    @Option(
            names = "--call",
            split = ",",
            defaultValue = "hot,warm",
            paramLabel = "LABEL",
            description = "Labels that get a call (default: ${DEFAULT-VALUE}).")
    Set<String> called;

    @Option(
            names = "--metric",
            defaultValue = "converted",
            paramLabel = "NAME",
            description = "Metric name written to each row (default: ${DEFAULT-VALUE}).")
    String metric;

    @Option(names = "--output", required = true, paramLabel = "CSV", description = "Outcomes CSV to write.")
    Path output;

    @Override
    public Integer call() throws IOException {
        Map<String, Boolean> positive = new HashMap<>();
        read(labels, List.of(idColumn, labelColumn), (record, line) -> {
            String value = record.get(labelColumn).trim();
            if (!value.equals("0") && !value.equals("1")) {
                throw new TrellisCli.UsageException(
                        fmt("%s line %d: %s must be 0 or 1, got '%s'", labels, line, labelColumn, value));
            }
            if (positive.put(record.get(idColumn), value.equals("1")) != null) {
                throw new TrellisCli.UsageException(
                        fmt("%s line %d: duplicate %s '%s'", labels, line, idColumn, record.get(idColumn)));
            }
        });
        long[] counts = new long[3]; // units, called, converted
        try (CSVPrinter printer =
                CSVFormat.RFC4180.builder().setRecordSeparator('\n').build().print(newWriter(output))) {
            printer.printRecord("unit_id", "metric", "value");
            read(scores, List.of(idColumn, "label"), (record, line) -> {
                String unit = record.get(idColumn);
                Boolean bought = positive.remove(unit);
                if (bought == null) {
                    throw new TrellisCli.UsageException(fmt(
                            "%s line %d: %s '%s' is not in %s (or appears twice)",
                            scores, line, idColumn, unit, labels));
                }
                boolean call = called.contains(record.get("label"));
                boolean converted = call && bought;
                counts[0]++;
                counts[1] += call ? 1 : 0;
                counts[2] += converted ? 1 : 0;
                try {
                    printer.printRecord(unit, metric, converted ? 1 : 0);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        if (!positive.isEmpty()) {
            throw new TrellisCli.UsageException(fmt(
                    "%s: %,d units of %s have no score (e.g. '%s')",
                    scores,
                    positive.size(),
                    labels,
                    positive.keySet().iterator().next()));
        }
        spec.commandLine()
                .getOut()
                .println(fmt(
                        "%,d units, %,d called (labels %s), %,d converted -> %s",
                        counts[0], counts[1], String.join("/", called), counts[2], output));
        spec.commandLine().getOut().flush();
        return 0;
    }

    @FunctionalInterface
    private interface RowHandler {
        void accept(CSVRecord record, long line);
    }

    private static void read(Path file, List<String> required, RowHandler handler) throws IOException {
        if (!Files.isReadable(file)) {
            throw new TrellisCli.UsageException("cannot read " + file);
        }
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
                CSVParser parser = CSVFormat.RFC4180
                        .builder()
                        .setHeader()
                        .setSkipHeaderRecord(true)
                        .build()
                        .parse(reader)) {
            for (String column : required) {
                if (!parser.getHeaderNames().contains(column)) {
                    throw new TrellisCli.UsageException(
                            file + ": missing column '" + column + "' (header: " + parser.getHeaderNames() + ")");
                }
            }
            for (CSVRecord record : parser) {
                handler.accept(record, parser.getCurrentLineNumber());
            }
        }
    }

    private static BufferedWriter newWriter(Path file) throws IOException {
        return Files.newBufferedWriter(file, StandardCharsets.UTF_8);
    }
}
