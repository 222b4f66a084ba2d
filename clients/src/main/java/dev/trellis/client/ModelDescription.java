package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.FeatureInfo;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.VersionHolder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model known to the router: its default version and its versions with readiness per replica,
 * feature schema, and what the control plane holds them for.
 *
 * @param name logical model name
 * @param defaultVersion the version served by default
 * @param versions the versions, highest first
 * @param fallbackVersion while the default version is READY on no replica, the version its requests
 *     fall back to (reason FALLBACK); empty otherwise
 */
public record ModelDescription(String name, String defaultVersion, List<Version> versions, String fallbackVersion) {
    /**
     * Validates the components.
     *
     * @param name the name, not null
     * @param defaultVersion the default version, not null
     * @param versions the versions, not null
     * @param fallbackVersion the fallback version or empty, not null
     */
    public ModelDescription {
        requireNonNull(name, "name is null");
        requireNonNull(defaultVersion, "defaultVersion is null");
        versions = List.copyOf(requireNonNull(versions, "versions is null"));
        requireNonNull(fallbackVersion, "fallbackVersion is null");
    }

    /**
     * A model that does not fall back.
     *
     * @param name the name, not null
     * @param defaultVersion the default version, not null
     * @param versions the versions, not null
     */
    public ModelDescription(String name, String defaultVersion, List<Version> versions) {
        this(name, defaultVersion, versions, "");
    }

    /**
     * Converts the wire form.
     *
     * @param info the protobuf message
     * @return the record
     */
    public static ModelDescription fromProto(ModelInfo info) {
        return new ModelDescription(
                info.getName(),
                info.getDefaultVersion(),
                info.getVersionsList().stream().map(Version::fromProto).toList(),
                info.getFallbackVersion());
    }

    /**
     * One version by its name.
     *
     * @param version the version, e.g. {@code "2"}
     * @return the version, when known
     */
    public Optional<Version> version(String version) {
        return versions.stream().filter(v -> v.version().equals(version)).findFirst();
    }

    /**
     * The feature schema to type values with: the given version's, else the default version's, else
     * the highest version's.
     *
     * @param version a pinned version, or null
     * @return the schema; empty when the model has no versions
     */
    public FeatureSchema schema(String version) {
        Optional<Version> chosen = Optional.empty();
        if (version != null && !version.isEmpty()) {
            chosen = version(version);
        }
        if (chosen.isEmpty()) {
            chosen = version(defaultVersion);
        }
        if (chosen.isEmpty() && !versions.isEmpty()) {
            chosen = Optional.of(versions.get(0));
        }
        return new FeatureSchema(chosen.map(Version::features).orElse(List.of()));
    }

    /**
     * One model version.
     *
     * @param version the version
     * @param replicas replica address to readiness (takes traffic there)
     * @param features the feature inputs in schema order
     * @param states replica address to that replica's state of the version (READY, STALE, FAILED,
     *     ABSENT, UNREACHABLE, ...) and its reason
     * @param heldBy why the control plane keeps the version loaded ("default", "experiment KEY/VARIANT",
     *     "rollout stable", "rollout candidate", "kept by ACTOR"); empty when it is not desired
     * @param problem for a desired version that is READY on no replica, why; empty otherwise
     * @param targetKind what kind of target the version predicts
     */
    public record Version(
            String version,
            Map<String, Boolean> replicas,
            List<FeatureSchema.Feature> features,
            Map<String, ReplicaState> states,
            List<String> heldBy,
            String problem,
            TargetKind targetKind) {
        /**
         * Copies the collections.
         *
         * @param version the version, not null
         * @param replicas the replicas, not null
         * @param features the features, not null
         * @param states the replicas' states, not null
         * @param heldBy the holders, not null
         * @param problem the problem or empty, not null
         * @param targetKind the target kind, not null
         */
        public Version {
            requireNonNull(version, "version is null");
            replicas = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(replicas, "replicas is null")));
            features = List.copyOf(requireNonNull(features, "features is null"));
            states = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(states, "states is null")));
            heldBy = List.copyOf(requireNonNull(heldBy, "heldBy is null"));
            requireNonNull(problem, "problem is null");
            requireNonNull(targetKind, "targetKind is null");
        }

        /**
         * A version of a binary model without state details and not held.
         *
         * @param version the version, not null
         * @param replicas the replicas, not null
         * @param features the features, not null
         */
        public Version(String version, Map<String, Boolean> replicas, List<FeatureSchema.Feature> features) {
            this(version, replicas, features, Map.of(), List.of(), "", TargetKind.BINARY);
        }

        static Version fromProto(ModelVersionInfo info) {
            Map<String, Boolean> replicas = new LinkedHashMap<>();
            Map<String, ReplicaState> states = new LinkedHashMap<>();
            for (ReplicaStatus r : info.getReplicasList()) {
                replicas.put(r.getReplica(), r.getReady());
                states.put(r.getReplica(), new ReplicaState(r.getState(), r.getReason()));
            }
            List<FeatureSchema.Feature> features = info.getFeaturesList().stream()
                    .map((FeatureInfo f) -> new FeatureSchema.Feature(f.getName(), f.getDatatype()))
                    .toList();
            List<String> heldBy =
                    info.getHoldersList().stream().map(Version::describe).toList();
            return new Version(
                    info.getVersion(),
                    replicas,
                    features,
                    states,
                    heldBy,
                    info.getProblem(),
                    TargetKind.fromProto(info.getTargetKind()));
        }

        private static String describe(VersionHolder holder) {
            return switch (holder.getKind()) {
                case HOLDER_DEFAULT -> "default";
                case HOLDER_EXPERIMENT -> "experiment " + holder.getName();
                case HOLDER_ROLLOUT -> "rollout " + holder.getName();
                case HOLDER_KEPT -> "kept by " + holder.getName();
                default -> holder.getKind().name().toLowerCase(java.util.Locale.ROOT);
            };
        }

        /**
         * Whether the control plane keeps this version loaded.
         *
         * @return true when something holds it
         */
        public boolean desired() {
            return !heldBy.isEmpty();
        }

        /**
         * Number of replicas on which this version is READY.
         *
         * @return the count
         */
        public long readyReplicas() {
            return replicas.values().stream().filter(Boolean::booleanValue).count();
        }
    }

    /**
     * How one replica reports a version.
     *
     * @param state READY, STALE, LOADING, DRAINING, UNAVAILABLE, FAILED, ABSENT (not in that replica's
     *     repository), UNREACHABLE; empty from a router that does not report it
     * @param reason the replica's reason, e.g. the checksum that did not match
     */
    public record ReplicaState(String state, String reason) {
        /**
         * Validates the components.
         *
         * @param state the state, not null
         * @param reason the reason, not null
         */
        public ReplicaState {
            requireNonNull(state, "state is null");
            requireNonNull(reason, "reason is null");
        }
    }
}
