package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.FeatureInfo;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.ReplicaStatus;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model known to the router: its default version and its versions with readiness per replica and
 * feature schema.
 *
 * @param name logical model name
 * @param defaultVersion the version served by default
 * @param versions the versions, highest first
 */
public record ModelDescription(String name, String defaultVersion, List<Version> versions) {
    /**
     * Validates the components.
     *
     * @param name the name, not null
     * @param defaultVersion the default version, not null
     * @param versions the versions, not null
     */
    public ModelDescription {
        requireNonNull(name, "name is null");
        requireNonNull(defaultVersion, "defaultVersion is null");
        versions = List.copyOf(requireNonNull(versions, "versions is null"));
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
                info.getVersionsList().stream().map(Version::fromProto).toList());
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
     * @param replicas replica address to readiness
     * @param features the feature inputs in schema order
     * @param targetKind what kind of target the version predicts
     */
    public record Version(
            String version,
            Map<String, Boolean> replicas,
            List<FeatureSchema.Feature> features,
            TargetKind targetKind) {
        /**
         * Copies the collections.
         *
         * @param version the version, not null
         * @param replicas the replicas, not null
         * @param features the features, not null
         * @param targetKind the target kind, not null
         */
        public Version {
            requireNonNull(version, "version is null");
            replicas = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(replicas, "replicas is null")));
            features = List.copyOf(requireNonNull(features, "features is null"));
            requireNonNull(targetKind, "targetKind is null");
        }

        /**
         * A version of a binary model, as before target kinds.
         *
         * @param version the version, not null
         * @param replicas the replicas, not null
         * @param features the features, not null
         */
        public Version(String version, Map<String, Boolean> replicas, List<FeatureSchema.Feature> features) {
            this(version, replicas, features, TargetKind.BINARY);
        }

        static Version fromProto(ModelVersionInfo info) {
            Map<String, Boolean> replicas = new LinkedHashMap<>();
            for (ReplicaStatus r : info.getReplicasList()) {
                replicas.put(r.getReplica(), r.getReady());
            }
            List<FeatureSchema.Feature> features = info.getFeaturesList().stream()
                    .map((FeatureInfo f) -> new FeatureSchema.Feature(f.getName(), f.getDatatype()))
                    .toList();
            return new Version(info.getVersion(), replicas, features, TargetKind.fromProto(info.getTargetKind()));
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
}
