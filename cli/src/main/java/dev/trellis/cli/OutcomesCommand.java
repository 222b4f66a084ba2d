package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.client.TrellisClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis outcomes import}: streams outcomes from a CSV through RecordOutcomes. */
@Command(
        name = "outcomes",
        mixinStandardHelpOptions = true,
        description = "Records experiment outcomes.",
        subcommands = {OutcomesCommand.ImportCommand.class, SimulateCallsCommand.class})
final class OutcomesCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (import, simulate-calls)");
    }

    @Command(
            name = "import",
            mixinStandardHelpOptions = true,
            description = {
                "Imports outcomes from a CSV with columns unit_id, metric, value[, experiment] through one client stream (admin).",
                "A labelled dataset works too: name its id and label columns with --unit-column and --value-column and the metric with --metric.",
                "Memory stays flat: rows are read only as fast as the stream accepts them.",
                "Each row's outcome id is the file's SHA-256 and the row number, so importing the same file again stores nothing twice."
            },
            footer = {
                "",
                "Examples:",
                "  trellis --token-file admin.token outcomes import --file outcomes.csv",
                "  trellis outcomes import --file datasets/leads_coil2000_train.csv --unit-column lead_id --value-column converted --metric converted"
            })
    static final class ImportCommand implements Callable<Integer> {
        @ParentCommand
        OutcomesCommand parent;

        @Spec
        CommandSpec spec;

        @Option(names = "--file", required = true, paramLabel = "CSV", description = "Outcomes CSV with a header row.")
        Path file;

        @Option(
                names = "--unit-column",
                defaultValue = "unit_id",
                paramLabel = "COLUMN",
                description = "Column holding the unit id (default: ${DEFAULT-VALUE}).")
        String unitColumn;

        @Option(
                names = "--value-column",
                defaultValue = "value",
                paramLabel = "COLUMN",
                description = "Column holding the outcome value (default: ${DEFAULT-VALUE}).")
        String valueColumn;

        @Option(
                names = "--metric",
                paramLabel = "NAME",
                description = "Metric name for every row; without it the CSV needs a 'metric' column.")
        String metric;

        @Option(names = "--progress", description = "Show progress even when stderr is not a terminal.")
        boolean progress;

        @Override
        public Integer call() throws IOException {
            if (!Files.isReadable(file)) {
                throw new TrellisCli.UsageException("cannot read --file " + file);
            }
            Progress bar = new Progress(System.err, progress, "outcomes");
            AtomicLong sent = new AtomicLong();
            long accepted;
            try (CSVParser parser = CSVFormat.RFC4180
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .setIgnoreSurroundingSpaces(true)
                    .build()
                    .parse(Files.newBufferedReader(file, StandardCharsets.UTF_8))) {
                List<String> header = parser.getHeaderNames();
                List<String> requiredColumns =
                        metric == null ? List.of(unitColumn, "metric", valueColumn) : List.of(unitColumn, valueColumn);
                for (String required : requiredColumns) {
                    if (!header.contains(required)) {
                        throw new TrellisCli.UsageException(
                                file + ": missing column '" + required + "' (header: " + header + ")");
                    }
                }
                boolean hasExperiment = header.contains("experiment");
                // the same file and row give the same outcome id: importing a file again (after a
                // failure, or twice by mistake) stores nothing twice
                String fileId = fileId(file);
                long size = Files.size(file);
                Iterator<CSVRecord> records = parser.iterator();
                Iterator<RecordOutcomeRequest> outcomes = new Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return records.hasNext();
                    }

                    @Override
                    public RecordOutcomeRequest next() {
                        if (!records.hasNext()) {
                            throw new NoSuchElementException();
                        }
                        CSVRecord record = records.next();
                        String value = record.get(valueColumn);
                        double number;
                        try {
                            number = Double.parseDouble(value.trim());
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException(fmt(
                                    "%s line %d: value '%s' is not a number",
                                    file, parser.getCurrentLineNumber(), value));
                        }
                        RecordOutcomeRequest.Builder request = RecordOutcomeRequest.newBuilder()
                                .setUnitId(record.get(unitColumn))
                                .setMetric(metric != null ? metric : record.get("metric"))
                                .setValue(number);
                        request.setOutcomeId(fileId + ":" + record.getRecordNumber());
                        if (hasExperiment && record.isSet("experiment")) {
                            request.setExperiment(record.get("experiment"));
                        }
                        long n = sent.incrementAndGet();
                        bar.update(n, size > 0 ? (double) record.getCharacterPosition() / size : -1);
                        return request.build();
                    }
                };
                try (TrellisClient client = parent.root.slowClient()) {
                    accepted = client.recordOutcomes(outcomes);
                }
            }
            bar.finish();
            PrintWriter out = spec.commandLine().getOut();
            if (accepted != sent.get()) {
                throw new IllegalStateException(fmt(
                        "the router acknowledged %,d of %,d outcomes; import the file again", accepted, sent.get()));
            }
            out.println(
                    fmt("imported %,d outcomes (%,d accepted) in %.2f s", sent.get(), accepted, bar.elapsedSeconds()));
            out.flush();
            return 0;
        }

        private static String fileId(Path file) throws IOException {
            try (var in = Files.newInputStream(file)) {
                java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
                byte[] buffer = new byte[1 << 16];
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    sha.update(buffer, 0, n);
                }
                return "csv-" + java.util.HexFormat.of().formatHex(sha.digest(), 0, 12);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
