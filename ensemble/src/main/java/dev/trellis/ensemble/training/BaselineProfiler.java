package dev.trellis.ensemble.training;

import dev.trellis.common.monitoring.Baseline;
import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.common.monitoring.Profiles;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureType;
import java.util.ArrayList;
import java.util.List;

/**
 * The baseline a bundle carries for drift monitoring: per feature of the training rows a numeric
 * quantile sketch and decile histogram or the category counts, the missing counts, and the
 * out-of-fold score distribution (what unseen rows score, unlike the refit models' in-sample
 * scores). Stateless.
 */
public final class BaselineProfiler {
    private BaselineProfiler() {}

    public static Baseline profile(FeatureBatch rows, double[] outOfFoldScores) {
        if (outOfFoldScores.length != rows.rows()) {
            throw new IllegalArgumentException(
                    outOfFoldScores.length + " out-of-fold scores for " + rows.rows() + " training rows");
        }
        List<FeatureProfile> features = new ArrayList<>();
        List<Feature> schema = rows.schema().features();
        for (int i = 0; i < schema.size(); i++) {
            Feature feature = schema.get(i);
            features.add(
                    feature.type() == FeatureType.NUMERIC
                            ? Profiles.numericBaseline(feature.name(), rows.numeric(i))
                            : Profiles.categorical(feature.name(), rows.categorical(i)));
        }
        return new Baseline(rows.rows(), features, Profiles.numericBaseline(FeatureProfile.SCORE, outOfFoldScores));
    }
}
