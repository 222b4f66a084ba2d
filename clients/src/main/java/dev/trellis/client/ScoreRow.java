package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * One row of a batch: its unit, its features and its targeting attributes.
 *
 * @param unitId the randomization unit (lead id, customer id); empty keeps the row out of experiments
 * @param features the feature values
 * @param attributes targeting attributes, e.g. {@code vertical=insurance}
 */
public record ScoreRow(String unitId, Features features, Map<String, String> attributes) {
    /**
     * Validates the components and copies the attributes.
     *
     * @param unitId the unit id, not null (may be empty)
     * @param features the features, not null
     * @param attributes the attributes, not null
     */
    public ScoreRow {
        requireNonNull(unitId, "unitId is null");
        requireNonNull(features, "features is null");
        attributes = Map.copyOf(requireNonNull(attributes, "attributes is null"));
    }

    /**
     * A row without attributes.
     *
     * @param unitId the unit id
     * @param features the features
     * @return the row
     */
    public static ScoreRow of(String unitId, Features features) {
        return new ScoreRow(unitId, features, Map.of());
    }
}
