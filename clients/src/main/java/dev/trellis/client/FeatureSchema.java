package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.NullValue;
import com.google.protobuf.Value;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's feature inputs, used to type text values (CSV cells, command-line arguments): numeric
 * features become numbers, categorical features stay strings, empty cells and {@code null} become
 * missing. Without a schema (empty), numbers are recognized by their form. Immutable and thread-safe.
 *
 * @param features the features in schema order
 */
public record FeatureSchema(List<Feature> features) {
    private static final Value MISSING =
            Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    // small non-negative integers (codes, counts, flags) dominate tabular files: share their values
    private static final Value[] SMALL_INTEGERS = new Value[1024];

    static {
        for (int i = 0; i < SMALL_INTEGERS.length; i++) {
            SMALL_INTEGERS[i] = Value.newBuilder().setNumberValue(i).build();
        }
    }

    /**
     * Copies the list.
     *
     * @param features the features, not null
     */
    public FeatureSchema {
        features = List.copyOf(requireNonNull(features, "features is null"));
    }

    /**
     * A schema that knows no features: every value is typed by its form.
     *
     * @return the empty schema
     */
    public static FeatureSchema untyped() {
        return new FeatureSchema(List.of());
    }

    /**
     * Whether the schema lists any feature.
     *
     * @return true when empty
     */
    public boolean isEmpty() {
        return features.isEmpty();
    }

    /**
     * Features by name.
     *
     * @return an immutable map in schema order
     */
    public Map<String, Feature> byName() {
        Map<String, Feature> map = new LinkedHashMap<>();
        for (Feature f : features) {
            map.put(f.name(), f);
        }
        return java.util.Collections.unmodifiableMap(map);
    }

    /**
     * Whether the schema has a feature of this name.
     *
     * @param name the feature name
     * @return true when listed
     */
    public boolean contains(String name) {
        return features.stream().anyMatch(f -> f.name().equals(name));
    }

    /**
     * Types one text value.
     *
     * @param feature the feature's schema entry, or null when unknown (typed by form)
     * @param text the text; null, empty or {@code null} mean missing
     * @return the wire value
     */
    public static Value typed(Feature feature, String text) {
        if (isMissing(text)) {
            return MISSING;
        }
        if (feature != null && !feature.numeric()) {
            return Value.newBuilder().setStringValue(text).build();
        }
        int small = smallInteger(text);
        if (small >= 0) {
            return SMALL_INTEGERS[small];
        }
        Double number = parseNumber(text);
        if (number != null) {
            return Value.newBuilder().setNumberValue(number).build();
        }
        // a non-number for a numeric feature goes as a string: the server names the field in its error
        return Value.newBuilder().setStringValue(text).build();
    }

    /**
     * Reads the text of a numeric value as {@link #typed(Feature, String)} does, for columnar
     * batches: missing text is NaN.
     *
     * @param text the text; null, empty or {@code null} mean missing
     * @return the number, or NaN when missing
     * @throws NumberFormatException when the text is neither missing nor a finite number
     */
    public static double number(String text) {
        if (isMissing(text)) {
            return Double.NaN;
        }
        int small = smallInteger(text);
        if (small >= 0) {
            return small;
        }
        Double number = parseNumber(text);
        if (number == null) {
            throw new NumberFormatException("'" + text + "' is not a finite number");
        }
        return number;
    }

    /**
     * Reads the text of a categorical value as {@link #typed(Feature, String)} does, for columnar
     * batches: missing text is the empty string.
     *
     * @param text the text; null, empty or {@code null} mean missing
     * @return the category, or "" when missing
     */
    public static String category(String text) {
        return isMissing(text) ? "" : text;
    }

    private static boolean isMissing(String text) {
        return text == null || text.isEmpty() || text.equals("null");
    }

    /**
     * Types one text value by this schema.
     *
     * @param name the feature name
     * @param text the text
     * @return the wire value
     */
    public Value typed(String name, String text) {
        Feature feature = null;
        for (Feature f : features) {
            if (f.name().equals(name)) {
                feature = f;
                break;
            }
        }
        return typed(feature, text);
    }

    /** The value of a plain integer below {@code SMALL_INTEGERS.length}, else -1. */
    private static int smallInteger(String text) {
        int length = text.length();
        if (length > 4) {
            return -1;
        }
        int value = 0;
        for (int i = 0; i < length; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value < SMALL_INTEGERS.length ? value : -1;
    }

    private static Double parseNumber(String text) {
        char c = text.charAt(0);
        if (!(Character.isDigit(c) || c == '-' || c == '+' || c == '.')) {
            return null;
        }
        try {
            double d = Double.parseDouble(text.trim());
            return Double.isFinite(d) ? d : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * One feature input.
     *
     * @param name the feature name
     * @param datatype {@code FP32} for numeric features, {@code BYTES} for categorical ones
     */
    public record Feature(String name, String datatype) {
        /**
         * Validates the components.
         *
         * @param name the name, not null
         * @param datatype the datatype, not null
         */
        public Feature {
            requireNonNull(name, "name is null");
            requireNonNull(datatype, "datatype is null");
        }

        /**
         * Whether the feature is numeric (any datatype but {@code BYTES}).
         *
         * @return true for numeric features
         */
        public boolean numeric() {
            return !datatype.equals("BYTES");
        }
    }
}
