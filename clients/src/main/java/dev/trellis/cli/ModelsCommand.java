package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import dev.trellis.client.FeatureSchema;
import dev.trellis.client.ModelDescription;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import io.grpc.Status;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis models}: models, versions, readiness per replica and features. */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description = "Lists models: versions, default, readiness per replica, features.")
final class ModelsCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    OutputFormatMixin format;

    @Option(names = "--model", description = "Only this model.")
    String model;

    @Option(
            names = "--wait",
            paramLabel = "DURATION",
            description =
                    "Wait up to DURATION (e.g. 60s) until the router answers and every listed version is ready on every replica.")
    Duration wait;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        try (TrellisClient client = root.client()) {
            List<ModelDescription> models = wait == null ? list(client) : waitUntilReady(client);
            if (model != null && models.isEmpty()) {
                throw new TrellisException(Status.Code.NOT_FOUND, "unknown model '" + model + "'", List.of(), null);
            }
            if (format.json(root)) {
                out.println(TrellisCli.toJson(models));
            } else if (models.isEmpty()) {
                out.println("no models");
            } else {
                for (ModelDescription m : models) {
                    out.println(fmt(
                            "%s (default version %s)",
                            m.name(), m.defaultVersion().isEmpty() ? "none" : m.defaultVersion()));
                    Table table = new Table("  VERSION", "READY", "REPLICAS", "FEATURES", "TARGET");
                    for (ModelDescription.Version v : m.versions()) {
                        String replicas = v.replicas().entrySet().stream()
                                .map((Map.Entry<String, Boolean> e) ->
                                        e.getKey() + (e.getValue() ? " ready" : " not-ready"))
                                .collect(Collectors.joining(", "));
                        long numeric = v.features().stream()
                                .filter(FeatureSchema.Feature::numeric)
                                .count();
                        table.row(
                                "  " + v.version() + (v.version().equals(m.defaultVersion()) ? " *" : ""),
                                v.readyReplicas() + "/" + v.replicas().size(),
                                replicas,
                                fmt(
                                        "%d (%d numeric, %d categorical)",
                                        v.features().size(),
                                        numeric,
                                        v.features().size() - numeric),
                                v.targetKind().name().toLowerCase(java.util.Locale.ROOT));
                    }
                    table.print(out);
                    m.versions().stream()
                            .filter(v -> v.version().equals(m.defaultVersion()))
                            .findFirst()
                            .or(() -> m.versions().stream().findFirst())
                            .ifPresent(v -> out.println("  features: "
                                    + v.features().stream()
                                            .map(f -> f.name() + (f.numeric() ? "" : ":cat"))
                                            .collect(Collectors.joining(" "))));
                    out.println();
                }
            }
        }
        out.flush();
        return 0;
    }

    private List<ModelDescription> list(TrellisClient client) {
        return client.listModels().stream()
                .filter(m -> model == null || m.name().equals(model))
                .toList();
    }

    /** Polls ListModels until every version of the listed models is ready on all its replicas. */
    private List<ModelDescription> waitUntilReady(TrellisClient client) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        String lastProblem;
        while (true) {
            try {
                List<ModelDescription> models = list(client);
                Optional<String> notReady = models.stream()
                        .flatMap(m -> m.versions().stream()
                                .filter(v -> v.replicas().isEmpty()
                                        || v.readyReplicas() < v.replicas().size())
                                .map(v -> m.name() + " version " + v.version() + " (" + v.readyReplicas() + "/"
                                        + v.replicas().size() + " replicas ready)"))
                        .findFirst();
                if (!models.isEmpty() && notReady.isEmpty()) {
                    return models;
                }
                lastProblem = notReady.orElse(model == null ? "no models yet" : "model '" + model + "' not listed yet");
            } catch (TrellisException e) {
                if (e.code() != Status.Code.UNAVAILABLE && e.code() != Status.Code.DEADLINE_EXCEEDED) {
                    throw e;
                }
                lastProblem = e.code() + ": " + e.description();
            }
            if (System.nanoTime() > deadline) {
                throw new TrellisException(
                        Status.Code.DEADLINE_EXCEEDED,
                        "models not ready after " + wait + ": " + lastProblem,
                        List.of(),
                        null);
            }
            Thread.sleep(500);
        }
    }
}
