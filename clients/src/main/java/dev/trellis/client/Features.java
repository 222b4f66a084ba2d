package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.NullValue;
import com.google.protobuf.Value;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The feature values of one row: numbers for numeric features, strings for categorical ones, and
 * explicit missing values. Immutable and thread-safe.
 *
 * <pre>{@code
 * Features features = Features.builder()
 *         .put("tenure", 12)
 *         .put("contract", "Month-to-month")
 *         .missing("total_charges")
 *         .build();
 * }</pre>
 */
public final class Features {
    private static final Value MISSING =
            Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    private static final Features EMPTY = new Features(Map.of());

    private final Map<String, Value> values;

    private Features(Map<String, Value> values) {
        this.values = values;
    }

    /**
     * Starts a new set of features.
     *
     * @return an empty builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * No features at all.
     *
     * @return the empty set
     */
    public static Features empty() {
        return EMPTY;
    }

    /**
     * Features from a plain map: {@link Number} values become numbers, {@code null} becomes missing,
     * {@link Value} is taken as is, anything else becomes its string form.
     *
     * @param values name to value
     * @return the features
     */
    public static Features of(Map<String, ?> values) {
        Builder builder = builder();
        requireNonNull(values, "values is null").forEach(builder::putObject);
        return builder.build();
    }

    /**
     * Features from protobuf values as they appear in {@code ScoreRequest.features}.
     *
     * @param values name to protobuf value
     * @return the features
     */
    public static Features fromProto(Map<String, Value> values) {
        return new Features(Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(values, "values is null"))));
    }

    /**
     * The values in the wire form of {@code ScoreRequest.features}.
     *
     * @return an immutable map in insertion order
     */
    public Map<String, Value> asProto() {
        return values;
    }

    /**
     * Number of features, missing ones included.
     *
     * @return the count
     */
    public int size() {
        return values.size();
    }

    /**
     * One feature's wire value.
     *
     * @param name the feature name
     * @return its value, or null when the feature was not set at all
     */
    public Value get(String name) {
        return values.get(name);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Features other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return values.toString();
    }

    /** Collects feature values in insertion order. Not thread-safe. */
    public static final class Builder {
        private final Map<String, Value> values = new LinkedHashMap<>();

        private Builder() {}

        /**
         * Sets a numeric feature.
         *
         * @param name the feature name
         * @param value the value
         * @return this builder
         */
        public Builder put(String name, double value) {
            values.put(checkName(name), Value.newBuilder().setNumberValue(value).build());
            return this;
        }

        /**
         * Sets a numeric feature from an integer.
         *
         * @param name the feature name
         * @param value the value
         * @return this builder
         */
        public Builder put(String name, long value) {
            return put(name, (double) value);
        }

        /**
         * Sets a categorical feature; a null value marks the feature missing.
         *
         * @param name the feature name
         * @param value the category
         * @return this builder
         */
        public Builder put(String name, String value) {
            values.put(
                    checkName(name),
                    value == null
                            ? MISSING
                            : Value.newBuilder().setStringValue(value).build());
            return this;
        }

        /**
         * Sets a numeric feature; a null value marks the feature missing.
         *
         * @param name the feature name
         * @param value the value
         * @return this builder
         */
        public Builder put(String name, Number value) {
            return value == null ? missing(name) : put(name, value.doubleValue());
        }

        /**
         * Sets a feature from a wire value.
         *
         * @param name the feature name
         * @param value the protobuf value (number, string or null)
         * @return this builder
         */
        public Builder put(String name, Value value) {
            values.put(checkName(name), requireNonNull(value, "value is null"));
            return this;
        }

        /**
         * Sets a feature from any object: numbers as numbers, null as missing, {@link Value} as is,
         * anything else as its string form.
         *
         * @param name the feature name
         * @param value the value
         * @return this builder
         */
        public Builder putObject(String name, Object value) {
            if (value == null) {
                return missing(name);
            }
            if (value instanceof Number number) {
                return put(name, number.doubleValue());
            }
            if (value instanceof Value wire) {
                return put(name, wire);
            }
            return put(name, value.toString());
        }

        /**
         * Marks a feature as missing (sent as null; the models handle missing values natively).
         *
         * @param name the feature name
         * @return this builder
         */
        public Builder missing(String name) {
            values.put(checkName(name), MISSING);
            return this;
        }

        /**
         * Builds the immutable features.
         *
         * @return the features
         */
        public Features build() {
            return new Features(Collections.unmodifiableMap(new LinkedHashMap<>(values)));
        }

        private static String checkName(String name) {
            requireNonNull(name, "name is null");
            if (name.isEmpty()) {
                throw new IllegalArgumentException("feature name is empty");
            }
            return name;
        }
    }
}
