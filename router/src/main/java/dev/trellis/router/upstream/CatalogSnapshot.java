package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the replicas serve at one point in time: per model, per version, each replica's state and
 * the version's feature schema. Immutable.
 */
public record CatalogSnapshot(List<String> replicas, Map<String, Model> models) {
    public static final CatalogSnapshot EMPTY = new CatalogSnapshot(List.of(), Map.of());

    /** Versions compare as numbers when they are numbers (so "10" is above "9"). */
    public static final Comparator<String> VERSION_ORDER = Comparator.comparing(
                    (String v) -> v.chars().allMatch(Character::isDigit) && !v.isEmpty() && v.length() < 19
                            ? Long.parseLong(v)
                            : Long.MIN_VALUE)
            .thenComparing(Comparator.naturalOrder());

    public CatalogSnapshot {
        replicas = List.copyOf(requireNonNull(replicas, "replicas is null"));
        models = Map.copyOf(requireNonNull(models, "models is null"));
    }

    public Optional<Model> model(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public boolean anyReady() {
        return models.values().stream().anyMatch(m -> m.highestReady().isPresent());
    }

    /** One model; {@code highestReady} is computed once, since every request asks for it. */
    public record Model(String name, Map<String, Version> versions, Optional<Version> highestReady) {
        public Model {
            requireNonNull(name, "name is null");
            versions = Map.copyOf(requireNonNull(versions, "versions is null"));
            requireNonNull(highestReady, "highestReady is null");
        }

        public static Model of(String name, Map<String, Version> versions) {
            Optional<Version> highest = versions.values().stream()
                    .filter(Version::servable)
                    .max(Comparator.comparing(Version::version, VERSION_ORDER));
            return new Model(name, versions, highest);
        }

        /** Versions, highest first. */
        public List<Version> versionsDescending() {
            return versions.values().stream()
                    .sorted(Comparator.comparing(Version::version, VERSION_ORDER)
                            .reversed())
                    .toList();
        }

        public Optional<Version> version(String version) {
            return Optional.ofNullable(versions.get(version));
        }
    }

    /** One version of a model. */
    public record Version(String version, Map<String, ReplicaState> replicas, Optional<FeatureSchema> schema) {
        public Version {
            requireNonNull(version, "version is null");
            replicas = Map.copyOf(requireNonNull(replicas, "replicas is null"));
            requireNonNull(schema, "schema is null");
        }

        public boolean readyAnywhere() {
            return replicas.values().stream().anyMatch(ReplicaState::ready);
        }

        public boolean servable() {
            return readyAnywhere() && schema.isPresent();
        }
    }

    /** How one replica reports a version. */
    public record ReplicaState(String state, String reason) {
        public ReplicaState {
            requireNonNull(state, "state is null");
            requireNonNull(reason, "reason is null");
        }

        public boolean ready() {
            return "READY".equals(state);
        }
    }
}
