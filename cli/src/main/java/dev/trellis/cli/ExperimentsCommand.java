package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Variant;
import dev.trellis.client.Assignment;
import dev.trellis.client.ExperimentResults;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.definition.GrowthBookImport;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis experiments ...}: experiment definitions, assignment explanations and results. */
@Command(
        name = "experiments",
        mixinStandardHelpOptions = true,
        description =
                "Lists, shows, creates, updates, stops, deletes and imports experiments; explains assignments; shows results.",
        subcommands = {
            ExperimentsCommand.ListCommand.class,
            ExperimentsCommand.GetCommand.class,
            ExperimentsCommand.PutCommand.class,
            ExperimentsCommand.StopCommand.class,
            ExperimentsCommand.DeleteCommand.class,
            ExperimentsCommand.ImportCommand.class,
            ExperimentsCommand.ExplainCommand.class,
            ExperimentsCommand.ResultsCommand.class,
        })
final class ExperimentsCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(
                spec.commandLine(), "missing subcommand (list, get, put, stop, delete, import, explain, results)");
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists experiments.")
    static final class ListCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Option(names = "--model", description = "Only this model's experiments.")
        String model;

        @Option(names = "--status", description = "Only this status: DRAFT, RUNNING or STOPPED.")
        ExperimentStatus status;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                List<Experiment> experiments = client.listExperiments(model, status);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(dev.trellis.api.v1.ListExperimentsResponse.newBuilder()
                            .addAllExperiments(experiments)
                            .build()));
                } else if (experiments.isEmpty()) {
                    out.println("no experiments");
                } else {
                    Table table = new Table("KEY", "MODEL", "STATUS", "VARIANTS", "COVERAGE", "REVISION", "UPDATED");
                    for (Experiment e : experiments) {
                        table.row(
                                e.getKey(),
                                e.getModel(),
                                e.getStatus().name(),
                                variants(e),
                                e.hasCoverage() ? fmt("%.2f", e.getCoverage()) : "1.00",
                                Long.toString(e.getRevision()),
                                e.hasUpdated()
                                        ? Instant.ofEpochSecond(e.getUpdated().getSeconds())
                                                .toString()
                                        : "");
                    }
                    table.print(out);
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "get",
            mixinStandardHelpOptions = true,
            description = "Shows one experiment's definition (proto3 JSON), optionally with its history.")
    static final class GetCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "KEY", description = "Experiment key.")
        String key;

        @Option(names = "--history", description = "Also show the revision history.")
        boolean history;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                Experiment experiment = client.getExperiment(key);
                List<Revision> revisions = history ? client.experimentHistory(key) : List.of();
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(dev.trellis.api.v1.GetExperimentResponse.newBuilder()
                            .setExperiment(experiment)
                            .addAllHistory(revisions)
                            .build()));
                } else {
                    out.println(TrellisCli.toJson(experiment));
                    if (history) {
                        out.println();
                        Table table = new Table("REVISION", "TIME", "ACTOR", "ACTION");
                        for (Revision r : revisions) {
                            table.row(
                                    Long.toString(r.getRevision()),
                                    Instant.ofEpochSecond(r.getTime().getSeconds())
                                            .toString(),
                                    r.getActor(),
                                    r.getAction());
                        }
                        table.print(out);
                    }
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "put",
            mixinStandardHelpOptions = true,
            description = {
                "Creates or updates an experiment from a JSON or YAML file (proto3 JSON mapping; unknown fields are rejected).",
                "Without --expected-revision, a new key is created (revision 0) and an existing key is refused with its current revision."
            },
            footer = {
                "",
                "Example file (YAML):",
                "  key: leads-v2-vs-v1",
                "  model: leads",
                "  status: RUNNING",
                "  metric: converted",
                "  minimumDetectableEffect: 0.02",
                "  variants:",
                "    - {key: control, version: \"1\", weight: 0.5}",
                "    - {key: treatment, version: \"2\", weight: 0.5}"
            })
    static final class PutCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "FILE", description = "Definition file, .json or .yaml/.yml.")
        Path file;

        @Option(names = "--expected-revision", paramLabel = "N", description = "The revision last read (0 to create).")
        Long expectedRevision;

        @Option(names = "--validate-only", description = "Validate the definition without storing it.")
        boolean validateOnly;

        @Option(
                names = "--if-absent",
                description =
                        "Create the experiment only when its key does not exist yet; an existing one is left unchanged (exit 0).")
        boolean ifAbsent;

        @Override
        public Integer call() {
            Experiment experiment =
                    Definitions.read(file, Experiment.newBuilder()).build();
            if (experiment.getKey().isEmpty()) {
                throw new TrellisCli.UsageException(file + ": the definition has no key");
            }
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                long expected;
                if (expectedRevision != null) {
                    expected = expectedRevision;
                } else {
                    expected = 0;
                    try {
                        Experiment current = client.getExperiment(experiment.getKey());
                        if (ifAbsent && !validateOnly) {
                            out.println(fmt(
                                    "experiment %s exists at revision %d (%s); left unchanged",
                                    current.getKey(), current.getRevision(), current.getStatus()));
                            out.flush();
                            return 0;
                        }
                        if (!validateOnly) {
                            throw new TrellisCli.UsageException(fmt(
                                    "experiment '%s' exists at revision %d; pass --expected-revision %d to update it",
                                    experiment.getKey(), current.getRevision(), current.getRevision()));
                        }
                        expected = current.getRevision();
                    } catch (TrellisException e) {
                        if (e.code() != Status.Code.NOT_FOUND) {
                            throw e;
                        }
                    }
                }
                Experiment stored = validateOnly
                        ? client.validateExperiment(experiment, expected)
                        : client.putExperiment(experiment, expected);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(stored));
                } else {
                    out.println(summary(validateOnly ? "valid" : "stored", stored));
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "stop",
            mixinStandardHelpOptions = true,
            description = "Concludes an experiment, optionally naming the winner.")
    static final class StopCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "KEY", description = "Experiment key.")
        String key;

        @Option(names = "--winner", paramLabel = "VARIANT", description = "The winning variant key.")
        String winner;

        @Option(
                names = "--expected-revision",
                paramLabel = "N",
                defaultValue = "0",
                description = "The revision last read (0 skips the check).")
        long expectedRevision;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                Experiment stopped = client.stopExperiment(key, winner, expectedRevision);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(stopped));
                } else {
                    out.println(fmt(
                            "stopped experiment %s at revision %d%s",
                            stopped.getKey(),
                            stopped.getRevision(),
                            stopped.getWinner().isEmpty() ? "" : ", winner " + stopped.getWinner()));
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "delete",
            mixinStandardHelpOptions = true,
            description = "Deletes a DRAFT experiment and its history (RUNNING ones are stopped instead).")
    static final class DeleteCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "KEY", description = "Experiment key.")
        String key;

        @Option(
                names = "--expected-revision",
                paramLabel = "N",
                defaultValue = "0",
                description = "The revision last read (0 skips the check).")
        long expectedRevision;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                Experiment deleted = client.deleteExperiment(key, expectedRevision);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(deleted));
                } else {
                    out.println(
                            fmt("deleted DRAFT experiment %s (revision %d)", deleted.getKey(), deleted.getRevision()));
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "import",
            description = {
                "Converts a GrowthBook experiment, or an experiment rule of a GrowthBook SDK payload (its features JSON),"
                        + " into a Trellis definition that assigns every unit as GrowthBook's SDKs do.",
                "Prints the definition (proto3 JSON, ready for 'experiments put'), or stores it with --put.",
                "Anything Trellis cannot reproduce is refused, each problem naming its field (exit code 2)."
            },
            footer = {
                "",
                "Examples:",
                "  trellis experiments import checkout.json --model leads --version control=1 --version treatment=2",
                "  trellis experiments import features.json --feature new-ranker --model leads --version 0=1 --version 1=2 --put"
            })
    static final class ImportCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        HelpOption help;

        @Parameters(paramLabel = "FILE", description = "GrowthBook JSON: an experiment, an SDK payload or a feature.")
        Path file;

        @Option(names = "--model", required = true, description = "The Trellis model the experiment routes.")
        String model;

        @Option(
                names = "--version",
                paramLabel = "VARIATION=VERSION",
                description = "Model version a variation serves, the variation named by its key (meta) or index;"
                        + " one per variation.")
        Map<String, String> versions = new LinkedHashMap<>();

        @Option(names = "--experiment-key", description = "Trellis experiment key (default: GrowthBook's key).")
        String key;

        @Option(names = "--feature", description = "Feature of an SDK payload whose experiment rule to import.")
        String feature;

        @Option(names = "--rule", description = "Which experiment rule of the feature: its id or index.")
        String rule;

        @Option(
                names = "--status",
                description = "DRAFT or RUNNING (default: RUNNING, DRAFT for an inactive or draft experiment).")
        ExperimentStatus status;

        @Option(
                names = "--ignore-earlier-rules",
                description =
                        "Import the experiment rule although rules before it take some units first in GrowthBook.")
        boolean ignoreEarlierRules;

        @Option(names = "--put", description = "Store the definition (creates it; needs the admin token).")
        boolean put;

        @Override
        public Integer call() {
            String json;
            try {
                json = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new TrellisCli.UsageException("cannot read " + file + ": " + e.getMessage());
            }
            Experiment experiment;
            try {
                experiment = GrowthBookImport.convert(
                        json,
                        new GrowthBookImport.Options(model, versions, key, feature, rule, status, ignoreEarlierRules));
            } catch (ExperimentsException e) {
                PrintWriter err = spec.commandLine().getErr();
                if (e.violations().isEmpty()) {
                    err.println("error: " + file + ": " + e.getMessage());
                } else {
                    err.println("error: cannot import " + file + " into Trellis:");
                    for (dev.trellis.experiments.FieldViolation v : e.violations()) {
                        err.println("  " + v.field() + ": " + v.description());
                    }
                }
                err.flush();
                return 2;
            }
            PrintWriter out = spec.commandLine().getOut();
            if (!put) {
                out.println(TrellisCli.toJson(experiment));
            } else {
                try (TrellisClient client = parent.root.client()) {
                    out.println(summary("stored", client.putExperiment(experiment, 0)));
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "explain",
            mixinStandardHelpOptions = true,
            description = "Explains which experiment, variant and version a unit gets, and why.")
    static final class ExplainCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Option(names = "--model", required = true, description = "Logical model name.")
        String model;

        @Option(names = "--unit", required = true, description = "Unit id.")
        String unit;

        @Option(
                names = "--attribute",
                paramLabel = "KEY=VALUE",
                description = "A targeting attribute; repeat as needed.")
        Map<String, String> attributes = new LinkedHashMap<>();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                Assignment a = client.explainAssignment(model, unit, attributes);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(a));
                } else {
                    out.println(fmt("version     %s (%s)", a.version(), a.reason()));
                    if (!a.experiment().isEmpty()) {
                        out.println(fmt("experiment  %s variant %s", a.experiment(), a.variant()));
                    }
                    if (!a.summary().isEmpty()) {
                        out.println("summary     " + a.summary());
                    }
                    for (Assignment.Evaluation e : a.evaluations()) {
                        out.println();
                        out.println(fmt("experiment %s (seed %s)", e.experiment(), e.seed()));
                        out.println(fmt(
                                "  conditions  %s%s",
                                e.conditionsMet() ? "met" : "not met",
                                e.failedConditions().isEmpty() ? "" : ": " + String.join("; ", e.failedConditions())));
                        if (e.hasNamespace()) {
                            out.println(fmt(
                                    "  namespace   hash %.4f %s",
                                    e.namespaceHash(), e.inNamespace() ? "in range" : "outside range"));
                        }
                        out.println(fmt("  hash        %.4f (coverage %.2f)", e.hash(), e.coverage()));
                        for (Assignment.Range r : e.ranges()) {
                            out.println(fmt(
                                    "  range       %-12s [%.4f, %.4f)%s",
                                    r.variant(), r.start(), r.end(), r.contains(e.hash()) ? "  <- hash" : ""));
                        }
                        out.println("  decision    " + e.decision());
                    }
                    if (a.rollout() != null) {
                        Assignment.RolloutDecision r = a.rollout();
                        out.println();
                        out.println(fmt(
                                "rollout %s -> %s at %.1f%%: hash %.4f -> %s",
                                r.stableVersion(),
                                r.candidateVersion(),
                                r.weight(),
                                r.hash(),
                                r.candidate() ? "candidate" : "stable"));
                    }
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(
            name = "results",
            mixinStandardHelpOptions = true,
            description =
                    "Shows an experiment's results: variants, lift with CI and p-value, SRM check, sample size, recommendation.")
    static final class ResultsCommand implements Callable<Integer> {
        @ParentCommand
        ExperimentsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "KEY", description = "Experiment key.")
        String key;

        @Option(names = "--metric", description = "Metric to analyse (default: the experiment's metric).")
        String metric;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.slowClient()) {
                ExperimentResults r = client.results(key, metric);
                if (format.json(parent.root)) {
                    out.println(TrellisCli.toJson(r));
                } else {
                    printResults(r, out);
                }
            }
            out.flush();
            return 0;
        }
    }

    static void printResults(ExperimentResults r, PrintWriter out) {
        boolean conversion = r.metricType() != dev.trellis.api.v1.MetricType.CONTINUOUS;
        out.println(fmt(
                "experiment %s, metric %s (%s)", r.experiment(), r.metric(), conversion ? "conversion" : "continuous"));
        out.println();
        Table variants = conversion
                ? new Table("VARIANT", "VERSION", "WEIGHT", "UNITS", "CONVERSIONS", "RATE")
                : new Table("VARIANT", "VERSION", "WEIGHT", "UNITS", "MEAN", "STDDEV");
        for (ExperimentResults.VariantFigures v : r.variants()) {
            if (conversion) {
                variants.row(
                        v.variant(),
                        v.version(),
                        fmt("%.2f", v.weight()),
                        fmt("%,d", v.units()),
                        fmt("%,d", v.conversions()),
                        fmt("%.2f%%", v.mean() * 100));
            } else {
                variants.row(
                        v.variant(),
                        v.version(),
                        fmt("%.2f", v.weight()),
                        fmt("%,d", v.units()),
                        fmt("%.4f", v.mean()),
                        fmt("%.4f", v.stddev()));
            }
        }
        variants.print(out);
        if (!r.comparisons().isEmpty()) {
            out.println();
            Table comparisons = new Table("VARIANT", "VS", "ABS LIFT", "95% CI", "REL LIFT", "95% CI", "P-VALUE", "");
            for (ExperimentResults.Comparison c : r.comparisons()) {
                comparisons.row(
                        c.variant(),
                        c.control(),
                        conversion ? fmt("%+.2f pp", c.absoluteLift() * 100) : fmt("%+.4f", c.absoluteLift()),
                        conversion
                                ? fmt("[%+.2f, %+.2f]", c.absoluteLiftLower() * 100, c.absoluteLiftUpper() * 100)
                                : fmt("[%+.4f, %+.4f]", c.absoluteLiftLower(), c.absoluteLiftUpper()),
                        fmt("%+.1f%%", c.relativeLift() * 100),
                        fmt("[%+.1f%%, %+.1f%%]", c.relativeLiftLower() * 100, c.relativeLiftUpper() * 100),
                        fmt("%.4f", c.pValue()),
                        c.significant() ? "significant" : "");
            }
            comparisons.print(out);
        }
        out.println();
        out.println(fmt(
                "SRM check       chi-square %.3f, p %.4f: %s",
                r.srm().chiSquare(),
                r.srm().pValue(),
                r.srm().mismatch() ? "MISMATCH (p < 0.001), fix assignment/logging before reading" : "ok"));
        out.println(fmt("sample size     %,d units per arm needed", r.requiredSampleSizePerArm()));
        out.println(fmt(
                "recommendation  %s%s", r.recommendation(), r.explanation().isEmpty() ? "" : ": " + r.explanation()));
    }

    /** One line about a stored (or validated) definition. */
    static String summary(String what, Experiment e) {
        return fmt(
                "%s experiment %s (model %s, %s) revision %d: %s",
                what, e.getKey(), e.getModel(), e.getStatus(), e.getRevision(), variants(e));
    }

    static String variants(Experiment e) {
        return e.getVariantsList().stream()
                .map((Variant v) -> fmt("%s=v%s@%.2f", v.getKey(), v.getVersion(), v.getWeight()))
                .collect(Collectors.joining(" "));
    }
}
