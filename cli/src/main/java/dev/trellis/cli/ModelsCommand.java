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
import java.util.Locale;
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

/**
 * {@code trellis models}: models, versions, what the control plane holds them for, readiness and
 * state per replica, and features; {@code models keep} and {@code models release} pin versions.
 */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description = "Lists models: versions, default, why each version is held, state per replica, features.",
        subcommands = {ModelsCommand.KeepCommand.class, ModelsCommand.ReleaseCommand.class})
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
            description = "Wait up to DURATION (e.g. 60s) until the router answers and every desired version (every"
                    + " version, from a router that does not say) is ready on every replica whose repository has it.")
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
                models.forEach(m -> print(m, out));
            }
        }
        out.flush();
        return 0;
    }

    private static void print(ModelDescription m, PrintWriter out) {
        String fallback = m.fallbackVersion().isEmpty()
                ? ""
                : ", READY nowhere: requests fall back to version " + m.fallbackVersion();
        out.println(fmt(
                "%s (default version %s%s)",
                m.name(), m.defaultVersion().isEmpty() ? "none" : m.defaultVersion(), fallback));
        Table table = new Table("  VERSION", "READY", "REPLICAS", "HELD FOR", "FEATURES", "TARGET");
        for (ModelDescription.Version v : m.versions()) {
            String replicas = v.replicas().entrySet().stream()
                    .map((Map.Entry<String, Boolean> e) -> e.getKey() + " " + replicaState(v, e.getKey(), e.getValue()))
                    .collect(Collectors.joining(", "));
            long numeric =
                    v.features().stream().filter(FeatureSchema.Feature::numeric).count();
            table.row(
                    "  " + v.version() + (v.version().equals(m.defaultVersion()) ? " *" : ""),
                    v.readyReplicas() + "/" + v.replicas().size(),
                    replicas,
                    v.desired() ? String.join(", ", v.heldBy()) : "-",
                    v.features().isEmpty()
                            ? "-"
                            : fmt(
                                    "%d (%d numeric, %d categorical)",
                                    v.features().size(), numeric, v.features().size() - numeric),
                    v.targetKind().name().toLowerCase(java.util.Locale.ROOT));
        }
        table.print(out);
        for (ModelDescription.Version v : m.versions()) {
            if (!v.problem().isEmpty()) {
                out.println("  version " + v.version() + " is READY on no replica: " + v.problem());
            }
            v.states().forEach((replica, state) -> {
                if (state.state().equals("STALE")) {
                    out.println("  version " + v.version() + " on " + replica + " is STALE: " + state.reason());
                }
            });
        }
        m.versions().stream()
                .filter(v ->
                        v.version().equals(m.defaultVersion()) && !v.features().isEmpty())
                .findFirst()
                .or(() -> m.versions().stream()
                        .filter(v -> !v.features().isEmpty())
                        .findFirst())
                .ifPresent(v -> out.println("  features: "
                        + v.features().stream()
                                .map(f -> f.name() + (f.numeric() ? "" : ":cat"))
                                .collect(Collectors.joining(" "))));
        out.println();
    }

    /** "ready", "stale" (serving from memory), or the state in lower case ("absent", "failed", ...). */
    private static String replicaState(ModelDescription.Version v, String replica, boolean ready) {
        String state = Optional.ofNullable(v.states().get(replica))
                .map(ModelDescription.ReplicaState::state)
                .orElse("");
        if (ready) {
            return state.equals("STALE") ? "stale" : "ready";
        }
        return state.isEmpty() ? "not-ready" : state.toLowerCase(Locale.ROOT);
    }

    private List<ModelDescription> list(TrellisClient client) {
        return client.listModels().stream()
                .filter(m -> model == null || m.name().equals(model))
                .toList();
    }

    /**
     * Polls ListModels until every desired version of the listed models is ready on every replica
     * whose repository has it (every version, when the router reports no desired versions).
     */
    private List<ModelDescription> waitUntilReady(TrellisClient client) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        String lastProblem;
        while (true) {
            try {
                List<ModelDescription> models = list(client);
                Optional<String> notReady = models.stream()
                        .flatMap(m -> m.versions().stream()
                                .filter(v -> v.desired()
                                        || m.versions().stream().noneMatch(ModelDescription.Version::desired))
                                .filter(v -> !readyWhereItIs(v))
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

    /** Ready on at least one replica and on every replica that has it (a replica without it is not waited for). */
    private static boolean readyWhereItIs(ModelDescription.Version v) {
        long has = v.replicas().keySet().stream()
                .filter(r -> !Optional.ofNullable(v.states().get(r))
                        .map(s -> s.state().equals("ABSENT"))
                        .orElse(false))
                .count();
        return v.readyReplicas() > 0 && v.readyReplicas() >= has;
    }

    /** A call on one version of a model: {@code models keep} and {@code models release}. */
    abstract static class VersionAction implements Callable<Integer> {
        @ParentCommand
        ModelsCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        HelpOption help;

        @Option(names = "--model", required = true, description = "Logical model name.")
        String model;

        @Option(names = "--version", required = true, description = "The version.")
        String version;

        /** Makes the call; returns the line to print. */
        abstract String act(TrellisClient client);

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TrellisClient client = parent.root.client()) {
                out.println(act(client));
            }
            out.flush();
            return 0;
        }
    }

    /** {@code trellis models keep}: keeps a version loaded whatever definitions name it. */
    @Command(
            name = "keep",
            description = "Keeps a version loaded on every replica that has it until 'models release' (admin; stored,"
                    + " survives router restarts).",
            footer = {"", "Example:", "  trellis models keep --model leads --version 4"})
    static final class KeepCommand extends VersionAction {
        @Override
        String act(TrellisClient client) {
            List<String> ready = client.keepVersion(model, version);
            return fmt("kept %s version %s (READY on %s)", model, version, String.join(", ", ready));
        }
    }

    /** {@code trellis models release}: undoes {@code models keep}. */
    @Command(
            name = "release",
            description = "Releases a kept version: it stays loaded while a default, experiment or rollout needs it,"
                    + " else each replica's --version-policy decides (admin).",
            footer = {"", "Example:", "  trellis models release --model leads --version 4"})
    static final class ReleaseCommand extends VersionAction {
        @Override
        String act(TrellisClient client) {
            return client.releaseVersion(model, version)
                    ? fmt("released %s version %s", model, version)
                    : fmt("%s version %s was not kept; nothing changed", model, version);
        }
    }
}
