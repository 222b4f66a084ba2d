package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.TargetKind;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The interface of one model version as its ModelMetadata describes it: the feature inputs in
 * schema order, and what kind of target it predicts (its platform).
 */
public record FeatureSchema(List<Feature> features, Map<String, Feature> byName, TargetKind targetKind) {
    public FeatureSchema {
        features = List.copyOf(requireNonNull(features, "features is null"));
        byName = Map.copyOf(requireNonNull(byName, "byName is null"));
        requireNonNull(targetKind, "targetKind is null");
    }

    /** A version with a binary target. */
    public static FeatureSchema of(List<Feature> features) {
        return of(features, TargetKind.TARGET_KIND_BINARY);
    }

    public static FeatureSchema of(List<Feature> features, TargetKind targetKind) {
        Map<String, Feature> byName = new LinkedHashMap<>();
        for (Feature f : features) {
            if (byName.put(f.name(), f) != null) {
                throw new IllegalArgumentException("duplicate feature " + f.name());
            }
        }
        return new FeatureSchema(features, byName, targetKind);
    }

    /** One feature input: FP32 numeric or BYTES categorical. */
    public record Feature(String name, boolean categorical, int index) {
        public Feature {
            requireNonNull(name, "name is null");
        }

        public String datatype() {
            return categorical ? "BYTES" : "FP32";
        }
    }
}
