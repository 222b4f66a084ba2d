package dev.trellis.ensemble.data;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureSchema;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Infers a {@link FeatureSchema} from a CSV table. A column is numeric when every non-empty cell
 * parses as a number, otherwise categorical with the sorted set of its values as vocabulary (sorted
 * so that the same data always yields the same codes). The target and id columns are not features;
 * overrides force a type or drop a column.
 */
public final class SchemaInference {
    private SchemaInference() {}

    public static FeatureSchema infer(RawTable table, String target, List<String> idColumns, SchemaOverrides overrides)
            throws DatasetException {
        if (table.columnIndex(target) < 0) {
            throw new DatasetException(
                    ErrorCode.MISSING_TARGET,
                    table.file(),
                    1,
                    target,
                    "target column not found in header " + table.header());
        }
        for (String id : idColumns) {
            if (table.columnIndex(id) < 0) {
                throw new DatasetException(
                        ErrorCode.MISSING_COLUMN, table.file(), 1, id, "id column not found in header");
            }
        }
        for (Set<String> named : List.of(overrides.categorical(), overrides.numeric(), overrides.drop())) {
            for (String name : named) {
                if (table.columnIndex(name) < 0) {
                    throw new DatasetException(
                            ErrorCode.UNKNOWN_COLUMN,
                            table.file(),
                            1,
                            name,
                            "override names a column that is not in the header");
                }
            }
        }
        List<Feature> features = new ArrayList<>();
        for (int column = 0; column < table.header().size(); column++) {
            String name = table.header().get(column);
            if (name.equals(target)
                    || idColumns.contains(name)
                    || overrides.drop().contains(name)) {
                continue;
            }
            boolean numeric;
            if (overrides.numeric().contains(name)) {
                numeric = true;
                checkNumeric(table, column);
            } else {
                numeric = !overrides.categorical().contains(name) && allNumeric(table, column);
            }
            if (numeric) {
                features.add(Feature.numeric(name));
            } else {
                TreeSet<String> vocabulary = new TreeSet<>();
                for (String[] row : table.rows()) {
                    if (row[column] != null) {
                        vocabulary.add(row[column]);
                    }
                }
                features.add(Feature.categorical(name, List.copyOf(vocabulary)));
            }
        }
        if (features.isEmpty()) {
            throw DatasetException.of(
                    ErrorCode.NO_FEATURES,
                    table.file(),
                    "no feature columns left after excluding target, ids and dropped columns");
        }
        return new FeatureSchema(features, target, idColumns);
    }

    private static boolean allNumeric(RawTable table, int column) {
        for (String[] row : table.rows()) {
            if (row[column] != null && Double.isNaN(parseNumber(row[column]))) {
                return false;
            }
        }
        return true;
    }

    private static void checkNumeric(RawTable table, int column) throws DatasetException {
        for (int i = 0; i < table.rows().size(); i++) {
            String value = table.rows().get(i)[column];
            if (value != null && Double.isNaN(parseNumber(value))) {
                throw new DatasetException(
                        ErrorCode.NOT_A_NUMBER,
                        table.file(),
                        table.lines()[i],
                        table.header().get(column),
                        "'" + value + "' is not a number (column is numeric)");
            }
        }
    }

    /** A finite number, or NaN when {@code value} is not one (NaN/Infinity spellings are not numbers here). */
    public static double parseNumber(String value) {
        char first = value.charAt(0);
        if (!(Character.isDigit(first) || first == '-' || first == '+' || first == '.')) {
            return Double.NaN;
        }
        try {
            double parsed = Double.parseDouble(value);
            return Double.isFinite(parsed) ? parsed : Double.NaN;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }
}
