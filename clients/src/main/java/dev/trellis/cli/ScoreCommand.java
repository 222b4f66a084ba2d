package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.ScoreResult;
import dev.trellis.client.TargetKind;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis score}: scores one row and shows the result. */
@Command(
        name = "score",
        description = {
            "Scores one row through the router.",
            "Feature values are typed by the model's schema (ListModels): numbers for numeric features, strings for"
                    + " categorical ones; 'null' or an empty value means missing."
        },
        footer = {
            "",
            "Examples:",
            "  trellis score --model churn --unit C00042 --feature tenure=12 --feature contract=Month-to-month --feature total_charges=null",
            "  trellis score --model leads --unit L1 --explain --json '{\"features\":{\"PPERSAUT\":6,\"MOSHOOFD\":\"8\"}}'"
        })
final class ScoreCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @Mixin
    OutputFormatMixin format;

    @Option(names = "--model", required = true, description = "Logical model name.")
    String model;

    @Option(names = "--unit", description = "Unit id (randomization unit, e.g. the lead id).")
    String unit;

    @Option(names = "--version", description = "Pin a model version (bypasses experiments and rollouts).")
    String version;

    @Option(names = "--explain", description = "Also return per-feature contributions (log-odds).")
    boolean explain;

    @Option(names = "--feature", paramLabel = "NAME=VALUE", description = "A feature value; repeat for each feature.")
    List<String> features = new ArrayList<>();

    @Option(names = "--attribute", paramLabel = "KEY=VALUE", description = "A targeting attribute; repeat as needed.")
    Map<String, String> attributes = new LinkedHashMap<>();

    @ArgGroup(exclusive = true)
    JsonSource json;

    static final class JsonSource {
        @Option(
                names = "--json",
                paramLabel = "JSON",
                description = "The request as JSON, e.g. '{\"features\":{\"tenure\":12}}'.")
        String inline;

        @Option(names = "--json-file", paramLabel = "FILE", description = "The request as a JSON file.")
        Path file;
    }

    @Override
    public Integer call() throws IOException {
        ScoreRequest.Builder request = ScoreRequest.newBuilder();
        if (json != null) {
            String text = json.inline != null ? json.inline : Files.readString(json.file, StandardCharsets.UTF_8);
            try {
                JsonFormat.parser().merge(text, request);
            } catch (InvalidProtocolBufferException e) {
                throw new TrellisCli.UsageException("invalid request JSON: " + e.getMessage());
            }
        }
        request.setModel(model);
        if (unit != null) {
            request.setUnitId(unit);
        }
        if (version != null) {
            request.setVersion(version);
        }
        if (explain) {
            request.setExplain(true);
        }
        request.putAllAttributes(attributes);
        try (TrellisClient client = root.client()) {
            if (!features.isEmpty()) {
                FeatureSchema schema = schema(client);
                for (String feature : features) {
                    int eq = feature.indexOf('=');
                    if (eq <= 0) {
                        throw new TrellisCli.UsageException("--feature expects NAME=VALUE, got '" + feature + "'");
                    }
                    String name = feature.substring(0, eq);
                    request.putFeatures(name, schema.typed(name, feature.substring(eq + 1)));
                }
            }
            ScoreResult result = client.score(request.build());
            print(result, format.json(root), spec.commandLine().getOut());
        }
        return 0;
    }

    private FeatureSchema schema(TrellisClient client) {
        try {
            return client.model(model).schema(version);
        } catch (TrellisException e) {
            if (e.code() == Status.Code.NOT_FOUND
                    || e.code() == Status.Code.UNIMPLEMENTED
                    || e.code() == Status.Code.PERMISSION_DENIED
                    || e.code() == Status.Code.UNAUTHENTICATED) {
                // the Score call reports an unknown model itself; without a schema, values are typed by their form
                return FeatureSchema.untyped();
            }
            throw e;
        }
    }

    static void print(ScoreResult r, boolean json, PrintWriter out) {
        if (json) {
            out.println(TrellisCli.toJson(r));
            out.flush();
            return;
        }
        if (r.targetKind() == TargetKind.REGRESSION) {
            out.println(fmt("value       %.4f   95%% interval [%.4f, %.4f]", r.score(), r.lower(), r.upper()));
        } else {
            out.println(fmt("score       %.4f   95%% interval [%.4f, %.4f]", r.score(), r.lower(), r.upper()));
        }
        out.println(fmt("label       %s", r.label()));
        out.println(fmt("agreement   %.3f", r.agreement()));
        if (!r.baseScores().isEmpty()) {
            StringBuilder sb = new StringBuilder("base        ");
            r.baseScores().forEach((m, s) -> sb.append(fmt("%s %.4f  ", m, s)));
            out.println(sb.toString().stripTrailing());
        }
        StringBuilder served = new StringBuilder(fmt(
                "served      %s version %s (%s)",
                r.served().model(), r.served().version(), r.served().reason()));
        if (!r.served().experiment().isEmpty()) {
            served.append(fmt(
                    " experiment %s variant %s",
                    r.served().experiment(), r.served().variant()));
        }
        if (!r.served().replica().isEmpty()) {
            served.append(" replica ").append(r.served().replica());
        }
        out.println(served);
        if (r.explained()) {
            out.println(fmt(
                    r.targetKind() == TargetKind.REGRESSION
                            ? "explanation value %.4f = base %.4f + mlp %.4f + features:"
                            : "explanation logit %.4f = base %.4f + mlp %.4f + features:",
                    r.explainedLogit(),
                    r.baseValue(),
                    r.mlpTerm()));
            r.contributions().entrySet().stream()
                    .sorted((a, b) -> Double.compare(Math.abs(b.getValue()), Math.abs(a.getValue())))
                    .forEach(e -> out.println(fmt("  %-24s %+.4f", e.getKey(), e.getValue())));
        }
        out.flush();
    }
}
