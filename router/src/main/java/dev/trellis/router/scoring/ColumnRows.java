package dev.trellis.router.scoring;

import com.google.protobuf.ByteString;
import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.StringValues;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.RouterException.Violation;
import dev.trellis.router.upstream.FeatureSchema;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;

/**
 * Rows given as {@code FeatureColumns} (ScoreBatch's {@code columns}): one array per feature, so
 * names and types are checked once per column, not per row, and values are sliced straight into
 * the tensors of each version's ModelInfer call without a per-row map. Field names are
 * {@code columns.features[i]}, {@code columns.attributes[i]}. Not thread-safe: the scoring path
 * validates on the calling thread before any upstream call, and only reads afterwards.
 */
final class ColumnRows implements ScoreRows {
    private final FeatureColumns columns;
    private final int size;
    // feature column by name
    private final Map<String, FeatureColumn> byName;
    // schemas already checked: versions with the same schema would only repeat the same violations
    private final Set<FeatureSchema> validated = new HashSet<>();

    private ColumnRows(FeatureColumns columns, Map<String, FeatureColumn> byName) {
        this.columns = columns;
        this.size = columns.getUnitIdsCount();
        this.byName = byName;
    }

    /** Checks the shape of the columns: names given once, a type set, as many values as unit ids, finite numbers. */
    static ColumnRows of(FeatureColumns columns) {
        int rows = columns.getUnitIdsCount();
        List<Violation> violations = new ArrayList<>();
        Map<String, FeatureColumn> byName = new HashMap<>();
        Map<String, Integer> firstIndex = new HashMap<>();
        for (int i = 0; i < columns.getFeaturesCount(); i++) {
            FeatureColumn column = columns.getFeatures(i);
            String field = "columns.features[" + i + "]";
            Integer earlier = firstIndex.putIfAbsent(column.getName(), i);
            if (earlier != null) {
                violations.add(new Violation(
                        field,
                        "feature " + column.getName() + " is already given by columns.features[" + earlier + "]"));
                continue;
            }
            byName.put(column.getName(), column);
            String problem = switch (column.getValuesCase()) {
                case NUMBERS -> lengthProblem(column.getNumbers().getValuesCount(), rows);
                case STRINGS -> lengthProblem(column.getStrings().getValuesCount(), rows);
                case VALUES_NOT_SET -> "set numbers (numeric feature) or strings (categorical feature)";
            };
            if (problem == null && column.hasNumbers()) {
                problem = infinityProblem(column);
            }
            if (problem != null) {
                violations.add(new Violation(field, "feature " + column.getName() + ": " + problem));
            }
        }
        for (int i = 0; i < columns.getAttributesCount(); i++) {
            AttributeColumn column = columns.getAttributes(i);
            String problem = lengthProblem(column.getValuesCount(), rows);
            if (problem != null) {
                violations.add(new Violation(
                        "columns.attributes[" + i + "]", "attribute " + column.getName() + ": " + problem));
            }
        }
        if (!violations.isEmpty()) {
            throw RouterException.invalidRequest("invalid columns", violations);
        }
        return new ColumnRows(columns, byName);
    }

    private static String lengthProblem(int values, int rows) {
        return values == rows
                ? null
                : values + " values for " + rows + " rows (columns.unit_ids); every column needs one value per row";
    }

    private static String infinityProblem(FeatureColumn column) {
        NumberValues values = column.getNumbers();
        for (int row = 0; row < values.getValuesCount(); row++) {
            double v = values.getValues(row);
            if (Double.isInfinite(v)) {
                return "numbers.values[" + row + "] is " + v + "; send a finite number, or NaN for missing";
            }
        }
        return null;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String unitId(int row) {
        return columns.getUnitIds(row);
    }

    @Override
    public Map<String, String> attributes(int row) {
        if (columns.getAttributesCount() == 0) {
            return Map.of();
        }
        Map<String, String> attributes = new HashMap<>();
        for (AttributeColumn column : columns.getAttributesList()) {
            String value = column.getValues(row);
            if (!value.isEmpty()) {
                attributes.put(column.getName(), value);
            }
        }
        return attributes;
    }

    @Override
    public String version(int row) {
        return "";
    }

    @Override
    public boolean explain(int row) {
        return false;
    }

    @Override
    public String requestId(int row) {
        return "";
    }

    /** Checks every column once per schema, whichever rows the version serves: a column's type holds for all its rows. */
    @Override
    public void validate(
            FeatureSchema schema, List<Integer> rows, String model, String version, List<Violation> violations) {
        if (!validated.add(schema)) {
            return;
        }
        for (int i = 0; i < columns.getFeaturesCount(); i++) {
            FeatureColumn column = columns.getFeatures(i);
            FeatureSchema.Feature feature = schema.byName().get(column.getName());
            String problem;
            if (feature == null) {
                problem = column.getName() + ": " + InferenceCodec.unknownFeature(schema, model, version);
            } else if (feature.categorical() && column.hasNumbers()) {
                problem = column.getName() + " is a categorical feature: send strings (\"\" for missing), not numbers";
            } else if (!feature.categorical() && column.hasStrings()) {
                problem = column.getName() + " is a numeric feature: send numbers (NaN for missing), not strings";
            } else {
                continue;
            }
            violations.add(new Violation("columns.features[" + i + "]", problem));
        }
    }

    @Override
    public IntToDoubleFunction numbers(FeatureSchema.Feature feature) {
        FeatureColumn column = byName.get(feature.name());
        if (column == null || !column.hasNumbers()) {
            return row -> Double.NaN;
        }
        NumberValues values = column.getNumbers();
        return values::getValues;
    }

    @Override
    public IntFunction<ByteString> categories(FeatureSchema.Feature feature) {
        FeatureColumn column = byName.get(feature.name());
        if (column == null || !column.hasStrings()) {
            return row -> InferenceCodec.MISSING_CATEGORY;
        }
        StringValues values = column.getStrings();
        return values::getValuesBytes; // "" is the missing category
    }
}
