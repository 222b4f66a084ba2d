package dev.trellis.router.control;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.HolderKind;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.Variant;
import dev.trellis.api.v1.VersionHolder;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.store.KeptVersion;
import dev.trellis.router.upstream.CatalogSnapshot;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The control plane's desired state: for every model, the versions that must stay loaded and who
 * needs each: the default, every variant of a RUNNING experiment, an active rollout's stable and
 * candidate, and versions kept by an operator. Versions being checked for a definition that is not
 * stored yet ({@link ControlPlane#prepare}) count too, without a holder. Every router computes the
 * same state from the same definitions. Immutable.
 */
public record DesiredVersions(
        Map<String, Map<String, List<VersionHolder>>> holders, Map<String, Set<String>> preparing) {
    public static final DesiredVersions EMPTY = new DesiredVersions(Map.of(), Map.of());

    public DesiredVersions {
        holders = Map.copyOf(requireNonNull(holders, "holders is null"));
        preparing = Map.copyOf(requireNonNull(preparing, "preparing is null"));
    }

    /**
     * @param models every model to consider
     * @param states each model's default, running experiments and active rollout
     * @param kept versions operators keep
     * @param preparing model to versions being checked for definitions not stored yet
     */
    static DesiredVersions compute(
            Collection<String> models,
            Function<String, ModelRoutingState> states,
            List<KeptVersion> kept,
            Map<String, Set<String>> preparing) {
        Map<String, Map<String, List<VersionHolder>>> holders = new HashMap<>();
        for (String model : new TreeSet<>(models)) {
            Map<String, List<VersionHolder>> versions = new TreeMap<>(CatalogSnapshot.VERSION_ORDER);
            ModelRoutingState state = states.apply(model);
            state.defaultVersion().ifPresent(v -> add(versions, v, HolderKind.HOLDER_DEFAULT, ""));
            for (Experiment experiment : state.runningExperiments()) {
                for (Variant variant : experiment.getVariantsList()) {
                    add(
                            versions,
                            variant.getVersion(),
                            HolderKind.HOLDER_EXPERIMENT,
                            experiment.getKey() + "/" + variant.getKey());
                }
            }
            if (state.activeRollout().isPresent()) {
                Rollout rollout = state.activeRollout().get();
                add(versions, rollout.getStableVersion(), HolderKind.HOLDER_ROLLOUT, "stable");
                add(versions, rollout.getCandidateVersion(), HolderKind.HOLDER_ROLLOUT, "candidate");
            }
            for (KeptVersion k : kept) {
                if (k.model().equals(model)) {
                    add(versions, k.version(), HolderKind.HOLDER_KEPT, k.actor());
                }
            }
            if (!versions.isEmpty()) {
                Map<String, List<VersionHolder>> frozen = new TreeMap<>(CatalogSnapshot.VERSION_ORDER);
                versions.forEach((v, list) -> frozen.put(v, List.copyOf(list)));
                holders.put(model, java.util.Collections.unmodifiableMap(frozen));
            }
        }
        Map<String, Set<String>> extra = new HashMap<>();
        preparing.forEach((model, versions) -> extra.put(model, Set.copyOf(versions)));
        return new DesiredVersions(holders, extra);
    }

    private static void add(Map<String, List<VersionHolder>> versions, String version, HolderKind kind, String name) {
        if (version.isEmpty()) {
            return;
        }
        versions.computeIfAbsent(version, v -> new ArrayList<>())
                .add(VersionHolder.newBuilder().setKind(kind).setName(name).build());
    }

    /** Who holds each version of a model, versions ascending; empty when nothing holds any. */
    public Map<String, List<VersionHolder>> of(String model) {
        return holders.getOrDefault(model, Map.of());
    }

    /** Every version of a model that must stay loaded (including ones being prepared). */
    public Set<String> versions(String model) {
        Set<String> versions = new TreeSet<>(CatalogSnapshot.VERSION_ORDER);
        versions.addAll(of(model).keySet());
        versions.addAll(preparing.getOrDefault(model, Set.of()));
        return versions;
    }

    /** Models with at least one desired version. */
    public Set<String> models() {
        Set<String> models = new TreeSet<>(holders.keySet());
        models.addAll(preparing.keySet());
        return models;
    }

    /** "1 (default), 2 (experiment leads-ab/treatment)" for log lines. */
    String describe(String model, Collection<Integer> versions) {
        return versions.stream()
                .map(v -> v + " ("
                        + of(model).getOrDefault(String.valueOf(v), List.of()).stream()
                                .map(DesiredVersions::describe)
                                .collect(Collectors.collectingAndThen(
                                        Collectors.joining(", "), s -> s.isEmpty() ? "being prepared" : s))
                        + ")")
                .collect(Collectors.joining(", "));
    }

    static String describe(VersionHolder holder) {
        return switch (holder.getKind()) {
            case HOLDER_DEFAULT -> "default";
            case HOLDER_EXPERIMENT -> "experiment " + holder.getName();
            case HOLDER_ROLLOUT -> "rollout " + holder.getName();
            case HOLDER_KEPT -> "kept by " + holder.getName();
            default -> holder.getKind().name();
        };
    }
}
