package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the replicas serve at one point in time: every replica (reachable, healthy), and per model,
 * per version, each replica's state and the version's feature schema. Immutable.
 */
public record CatalogSnapshot(List<Replica> replicas, Map<String, Model> models) {
    public static final CatalogSnapshot EMPTY = new CatalogSnapshot(List.of(), Map.of());

    /** A reachable replica that does not list a version: its repository does not have it. */
    public static final String ABSENT = "ABSENT";

    /** The replica did not answer the last poll. */
    public static final String UNREACHABLE = "UNREACHABLE";

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

    public Optional<Replica> replica(String name) {
        return replicas.stream().filter(r -> r.name().equals(name)).findFirst();
    }

    public boolean anyReady() {
        return models.values().stream().anyMatch(m -> m.highestReady().isPresent());
    }

    /**
     * One replica as the last poll saw it.
     *
     * @param name the replica's name (see {@link UpstreamTargets})
     * @param address where it is, as resolved for this poll
     * @param authority host:port its TLS certificate is checked against
     * @param reachable whether it answered the poll
     * @param serving whether its health check said SERVING for the inference service
     */
    public record Replica(
            String name, InetSocketAddress address, String authority, boolean reachable, boolean serving) {
        public Replica {
            requireNonNull(name, "name is null");
            requireNonNull(address, "address is null");
            requireNonNull(authority, "authority is null");
        }
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

        /** A version that takes traffic somewhere (ready on a replica, schema known). */
        public Optional<Version> servable(String version) {
            return version(version).filter(Version::servable);
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

        /** The replicas that take this version's traffic, sorted by name. */
        public List<String> readyReplicas() {
            return replicas.entrySet().stream()
                    .filter(e -> e.getValue().ready())
                    .map(Map.Entry::getKey)
                    .sorted()
                    .toList();
        }

        /** Whether some replica's repository has it (loaded or not). */
        public boolean inAnyRepository() {
            return replicas.values().stream().anyMatch(ReplicaState::inRepository);
        }

        /**
         * Why the version takes no traffic, replica by replica, e.g. "replica a:8081: FAILED: sha256
         * mismatch; replica b:8081: not in its repository".
         */
        public String whyNotReady() {
            return replicas.entrySet().stream()
                    .sorted(Map.Entry.comparingByKey())
                    .map(e -> "replica " + e.getKey() + ": " + e.getValue().describe())
                    .reduce((a, b) -> a + "; " + b)
                    .orElse("no replica");
        }
    }

    /**
     * How one replica reports a version.
     *
     * @param state the replica's state (READY, STALE, LOADING, ...), or {@link #ABSENT} /
     *     {@link #UNREACHABLE}
     * @param reason the replica's reason for it
     * @param replicaServing whether the replica as a whole is reachable and SERVING
     */
    public record ReplicaState(String state, String reason, boolean replicaServing) {
        public ReplicaState {
            requireNonNull(state, "state is null");
            requireNonNull(reason, "reason is null");
        }

        /** Takes traffic: READY or STALE (serving from memory) on a replica that is SERVING. */
        public boolean ready() {
            return replicaServing && ("READY".equals(state) || "STALE".equals(state));
        }

        /** Whether the replica's repository has the version (in any state). */
        public boolean inRepository() {
            return !ABSENT.equals(state) && !UNREACHABLE.equals(state);
        }

        String describe() {
            if (ABSENT.equals(state)) {
                return "not in its repository";
            }
            if (UNREACHABLE.equals(state)) {
                return "unreachable";
            }
            String text = state + (reason.isEmpty() ? "" : ": " + reason);
            return replicaServing ? text : text + " (replica not SERVING)";
        }
    }
}
