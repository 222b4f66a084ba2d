package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import dev.trellis.api.v1.CalibrationBin;
import dev.trellis.api.v1.ExportPayloadsRequest;
import dev.trellis.api.v1.FeatureDrift;
import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.GetPerformanceResponse;
import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PayloadRow;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionDrift;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.ModelDescription;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import dev.trellis.common.text.DurationText;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis monitor drift|performance|export}: the router's Monitoring service. */
@Command(
        name = "monitor",
        mixinStandardHelpOptions = true,
        description = "Drift against the training baseline, live performance from outcomes, payload export.",
        subcommands = {
            MonitorCommand.DriftCommand.class,
            MonitorCommand.PerformanceCommand.class,
            MonitorCommand.ExportCommand.class
        })
final class MonitorCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (drift, performance, export)");
    }

    /** {@code --since}/{@code --until}: an instant (2026-12-01T00:00:00Z) or a duration ago (7d). */
    static Timestamp time(String text) {
        Instant instant;
        try {
            instant = Instant.parse(text);
        } catch (DateTimeParseException e) {
            try {
                instant = Instant.now().minus(DurationText.parse(text));
            } catch (IllegalArgumentException d) {
                throw new TrellisCli.UsageException(
                        "'" + text + "' is neither an instant (2026-12-01T00:00:00Z) nor a duration (7d)");
            }
        }
        return Timestamp.newBuilder()
                .setSeconds(instant.getEpochSecond())
                .setNanos(instant.getNano())
                .build();
    }

    MonitoringGrpc.MonitoringBlockingStub stub(TrellisClient client) {
        return MonitoringGrpc.newBlockingStub(client.channel())
                .withDeadlineAfter(Math.max(10_000, client.defaultDeadline().toMillis()), TimeUnit.MILLISECONDS);
    }

    @Command(
            name = "drift",
            description = {
                "Drift of a model's versions against their training baselines, over the live windows of every replica.",
                "One table per version, most drifted features first; the verdict is DRIFT, NO_DRIFT,",
                "INSUFFICIENT_DATA (too few live rows) or NO_BASELINE (a bundle trained before baselines)."
            },
            footer = {
                "",
                "Examples:",
                "  trellis monitor drift --model churn",
                "  trellis monitor drift --model churn --version 3 --output json"
            })
    static final class DriftCommand implements Callable<Integer> {
        @ParentCommand
        MonitorCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Option(names = "--model", required = true, description = "The model.")
        String model;

        @Mixin
        HelpOption help;

        @Option(names = "--version", description = "One version (default: every ready version).")
        String version;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            GetDriftResponse response;
            try (TrellisClient client = parent.root.client()) {
                response = parent.stub(client)
                        .getDrift(GetDriftRequest.newBuilder()
                                .setModel(model)
                                .setVersion(version == null ? "" : version)
                                .build());
            } catch (StatusRuntimeException e) {
                throw TrellisException.from(e);
            }
            if (format.json(parent.root)) {
                out.println(TrellisCli.toJson(response));
            } else {
                for (VersionDrift v : response.getVersionsList()) {
                    out.println(fmt(
                            "%s version %s: %s (%d live rows on %d replicas, baseline %d rows)",
                            v.getModel(),
                            v.getVersion(),
                            v.getVerdict(),
                            v.getLiveRows(),
                            v.getReplicasCount(),
                            v.getBaselineRows()));
                    out.println("  " + v.getSummary());
                    if (v.getFeaturesCount() > 0) {
                        Table table =
                                new Table("  FEATURE", "KIND", "SEVERITY", "PSI", "KS", "KS P", "CHI2 P", "MISSING");
                        for (FeatureDrift f : v.getFeaturesList()) {
                            boolean numeric = f.getKind().equals("numeric");
                            table.row(
                                    "  " + f.getFeature(),
                                    f.getKind(),
                                    f.getSeverity().name(),
                                    fmt("%.3f", f.getPsi()),
                                    numeric ? fmt("%.3f", f.getKsStatistic()) : "-",
                                    numeric ? fmt("%.2g", f.getKsPValue()) : "-",
                                    numeric ? "-" : fmt("%.2g", f.getChiSquarePValue()),
                                    fmt("%.3f -> %.3f", f.getBaselineMissingRate(), f.getLiveMissingRate()));
                        }
                        table.print(out);
                    }
                    out.println();
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "performance",
            description = {
                "Live performance per version from logged payload samples whose unit has an outcome of --metric:",
                "AUC, Brier score, calibration per score decile and the label mix (RMSE, MAE, R² and the mix per",
                "tier for a continuous target), next to the bundle's test metrics."
            },
            footer = {"", "Example:", "  trellis monitor performance --model churn --metric churned --since 30d"})
    static final class PerformanceCommand implements Callable<Integer> {
        @ParentCommand
        MonitorCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Option(names = "--model", required = true, description = "The model.")
        String model;

        @Option(
                names = "--metric",
                required = true,
                description = "The outcome metric that is the label, e.g. churned.")
        String metric;

        @Mixin
        HelpOption help;

        @Option(names = "--version", description = "One version (default: every version with samples).")
        String version;

        @Option(names = "--since", description = "Samples logged since: an instant or a duration ago (7d).")
        String since;

        @Option(names = "--until", description = "Samples logged before: an instant or a duration ago.")
        String until;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            GetPerformanceRequest.Builder request = GetPerformanceRequest.newBuilder()
                    .setModel(model)
                    .setMetric(metric)
                    .setVersion(version == null ? "" : version);
            if (since != null) {
                request.setSince(time(since));
            }
            if (until != null) {
                request.setUntil(time(until));
            }
            GetPerformanceResponse response;
            try (TrellisClient client = parent.root.client()) {
                response = parent.stub(client).getPerformance(request.build());
            } catch (StatusRuntimeException e) {
                throw TrellisException.from(e);
            }
            if (format.json(parent.root)) {
                out.println(TrellisCli.toJson(response));
                out.flush();
                return 0;
            }
            if (response.getVersionsCount() == 0) {
                out.println("no payload samples (is --payload-sample-rate set on the router?)");
            }
            for (VersionPerformance v : response.getVersionsList()) {
                print(out, metric, v);
            }
            out.flush();
            return 0;
        }
    }

    /** One version's live performance as the performance command prints it. */
    static void print(PrintWriter out, String metric, VersionPerformance v) {
        if (v.getTargetKind() == TargetKind.TARGET_KIND_REGRESSION) {
            printRegression(out, metric, v);
            return;
        }
        out.println(fmt(
                "%s version %s: %d samples, %d with an outcome of %s (%d positive)",
                v.getModel(), v.getVersion(), v.getSamples(), v.getWithOutcome(), metric, v.getPositives()));
        if (!v.getSufficient()) {
            out.println("  insufficient data: AUC needs outcomes of both classes");
        } else {
            Double bundleAuc = v.getBundleTestMetricsMap().get("auc_roc");
            out.println(fmt(
                    "  AUC %.4f%s   Brier %.4f%s",
                    v.getAuc(),
                    bundleAuc == null ? "" : fmt(" (bundle test %.4f, change %+.4f)", bundleAuc, v.getAucChange()),
                    v.getBrier(),
                    bundleFigure(v, "brier")));
        }
        Table calibration = new Table("  SCORE", "ROWS", "MEAN SCORE", "OBSERVED");
        for (CalibrationBin bin : v.getCalibrationList()) {
            calibration.row(
                    fmt("  %.1f-%.1f", bin.getDecile() / 10.0, (bin.getDecile() + 1) / 10.0),
                    Long.toString(bin.getRows()),
                    fmt("%.3f", bin.getMeanScore()),
                    fmt("%.3f", bin.getObservedRate()));
        }
        calibration.print(out);
        Table labels = new Table("  LABEL", "ROWS", "POSITIVE", "OBSERVED");
        for (LabelMix label : v.getLabelsList()) {
            labels.row(
                    "  " + label.getLabel(),
                    Long.toString(label.getRows()),
                    Long.toString(label.getPositives()),
                    fmt("%.3f", label.getObservedRate()));
        }
        labels.print(out);
        out.println();
    }

    private static void printRegression(PrintWriter out, String metric, VersionPerformance v) {
        out.println(fmt(
                "%s version %s: %d samples, %d with an observed value of %s (continuous target)",
                v.getModel(), v.getVersion(), v.getSamples(), v.getWithOutcome(), metric));
        if (!v.getSufficient()) {
            out.println("  insufficient data: RMSE and R² need 2 observed values that differ");
        } else {
            Double bundleRmse = v.getBundleTestMetricsMap().get("rmse");
            out.println(fmt(
                    "  RMSE %.4f%s   MAE %.4f%s   R² %.4f%s",
                    v.getRmse(),
                    bundleRmse == null ? "" : fmt(" (bundle test %.4f, change %+.4f)", bundleRmse, v.getRmseChange()),
                    v.getMae(),
                    bundleFigure(v, "mae"),
                    v.getR2(),
                    bundleFigure(v, "r2")));
        }
        Table tiers = new Table("  TIER", "ROWS", "MEAN PREDICTED", "MEAN OBSERVED");
        for (LabelMix tier : v.getLabelsList()) {
            tiers.row(
                    "  " + tier.getLabel(),
                    Long.toString(tier.getRows()),
                    fmt("%.3f", tier.getMeanScore()),
                    fmt("%.3f", tier.getMeanObserved()));
        }
        tiers.print(out);
        out.println();
    }

    private static String bundleFigure(VersionPerformance v, String metric) {
        Double value = v.getBundleTestMetricsMap().get(metric);
        return value == null ? "" : fmt(" (bundle test %.4f)", value);
    }

    @Command(
            name = "export",
            description = {
                "Writes the logged payload samples of a model whose unit has an outcome of --metric as a CSV that",
                "trellis train reads: unit_id, the features in schema order, and --target-column (1 when the",
                "unit's outcomes sum above 0, else 0; for a model with a continuous target the sum itself).",
                "Admin: the rows are production data."
            },
            footer = {
                "",
                "Example:",
                "  trellis monitor export --model churn --metric churned --since 30d --output rows.csv",
                "  trellis train --data rows.csv --target churned --id unit_id --model churn"
            })
    static final class ExportCommand implements Callable<Integer> {
        @ParentCommand
        MonitorCommand parent;

        @Spec
        CommandSpec spec;

        @Option(names = "--model", required = true, description = "The model.")
        String model;

        @Option(names = "--metric", required = true, description = "The outcome metric that becomes the target.")
        String metric;

        @Mixin
        HelpOption help;

        @Option(names = "--version", description = "Only samples of this version (default: all).")
        String version;

        @Option(names = "--since", description = "Samples logged since: an instant or a duration ago (30d).")
        String since;

        @Option(names = "--until", description = "Samples logged before: an instant or a duration ago.")
        String until;

        @Option(names = "--output", required = true, paramLabel = "CSV", description = "The CSV file to write.")
        Path output;

        @Option(
                names = "--target-column",
                paramLabel = "NAME",
                description = "Name of the target column (default: the metric).")
        String targetColumn;

        @Override
        public Integer call() throws IOException {
            ExportPayloadsRequest.Builder request = ExportPayloadsRequest.newBuilder()
                    .setModel(model)
                    .setMetric(metric)
                    .setVersion(version == null ? "" : version);
            if (since != null) {
                request.setSince(time(since));
            }
            if (until != null) {
                request.setUntil(time(until));
            }
            long rows = 0;
            Path temp = output.resolveSibling(output.getFileName() + ".tmp");
            try (TrellisClient client = parent.root.client()) {
                // the schema of the version asked for, else of the highest one
                Optional<ModelDescription.Version> described = client.model(model).versions().stream()
                        .filter(v -> version == null || v.version().equals(version))
                        .findFirst();
                List<String> features = described
                        .map(v -> v.features().stream()
                                .map(FeatureSchema.Feature::name)
                                .toList())
                        .orElse(List.of());
                // a continuous target's column is the observed value, a binary one's 1 or 0
                boolean continuous = described
                        .map(v -> v.targetKind() == dev.trellis.client.TargetKind.REGRESSION)
                        .orElse(false);
                Iterator<PayloadRow> stream = MonitoringGrpc.newBlockingStub(client.channel())
                        .withDeadlineAfter(10, TimeUnit.MINUTES)
                        .exportPayloads(request.build());
                List<String> header = new ArrayList<>();
                header.add("unit_id");
                header.addAll(features);
                header.add(targetColumn == null ? metric : targetColumn);
                try (Writer writer = Files.newBufferedWriter(temp, StandardCharsets.UTF_8);
                        CSVPrinter printer = new CSVPrinter(
                                writer,
                                CSVFormat.RFC4180
                                        .builder()
                                        .setRecordSeparator('\n')
                                        .setHeader(header.toArray(String[]::new))
                                        .build())) {
                    while (stream.hasNext()) {
                        PayloadRow row = stream.next();
                        List<Object> cells = new ArrayList<>();
                        cells.add(row.getUnitId());
                        for (String feature : features) {
                            cells.add(cell(row.getFeaturesMap().get(feature)));
                        }
                        cells.add(continuous ? number(row.getValue()) : Integer.toString(row.getTarget()));
                        printer.printRecord(cells);
                        rows++;
                    }
                }
                Files.move(temp, output, StandardCopyOption.REPLACE_EXISTING);
            } catch (StatusRuntimeException e) {
                Files.deleteIfExists(temp);
                throw TrellisException.from(e);
            }
            spec.commandLine().getErr().println(fmt("wrote %d rows to %s", rows, output));
            spec.commandLine().getErr().flush();
            return 0;
        }

        /** A number as the shortest text that reads back the same. */
        private static String number(double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
        }

        /** A number as the shortest text that reads back the same, a string as is, missing as an empty cell. */
        private static String cell(Value value) {
            if (value == null) {
                return "";
            }
            return switch (value.getKindCase()) {
                case NUMBER_VALUE -> number(value.getNumberValue());
                case STRING_VALUE -> value.getStringValue();
                default -> "";
            };
        }
    }
}
