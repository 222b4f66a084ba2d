package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Feature rows with binary labels, in schema order. Categories outside the schema's vocabulary are
 * kept as strings here; encoders treat them as missing.
 */
public record Dataset(Path source, String sha256, FeatureBatch features, int[] labels, long[] lines) {
    public Dataset {
        requireNonNull(source, "source is null");
        requireNonNull(sha256, "sha256 is null");
        requireNonNull(features, "features is null");
        requireNonNull(labels, "labels is null");
        requireNonNull(lines, "lines is null");
        if (labels.length != features.rows()) {
            throw new IllegalArgumentException("labels and rows differ");
        }
    }

    public FeatureSchema schema() {
        return features.schema();
    }

    public int rows() {
        return labels.length;
    }

    public int positives() {
        int positives = 0;
        for (int label : labels) {
            positives += label;
        }
        return positives;
    }

    /** Reads a CSV file and infers its schema. */
    public static Dataset load(Path file, String target, java.util.List<String> idColumns, SchemaOverrides overrides)
            throws DatasetException {
        RawTable table = CsvReader.read(file);
        FeatureSchema schema = SchemaInference.infer(table, target, idColumns, overrides);
        Dataset dataset = from(table, schema);
        dataset.requireBothClasses();
        return dataset;
    }

    /** Reads a CSV file against an existing schema (e.g. a bundle's), for evaluation. */
    public static Dataset load(Path file, FeatureSchema schema) throws DatasetException {
        return from(CsvReader.read(file), schema);
    }

    public static Dataset from(RawTable table, FeatureSchema schema) throws DatasetException {
        int targetColumn = table.columnIndex(schema.target());
        if (targetColumn < 0) {
            throw new DatasetException(
                    ErrorCode.MISSING_TARGET,
                    table.file(),
                    1,
                    schema.target(),
                    "target column not found in header " + table.header());
        }
        int[] columns = new int[schema.size()];
        for (int i = 0; i < schema.size(); i++) {
            columns[i] = table.columnIndex(schema.features().get(i).name());
            if (columns[i] < 0) {
                throw new DatasetException(
                        ErrorCode.MISSING_COLUMN,
                        table.file(),
                        1,
                        schema.features().get(i).name(),
                        "feature column not found in header");
            }
        }
        int rows = table.rows().size();
        FeatureBatch batch = new FeatureBatch(schema, rows);
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) {
            String[] cells = table.rows().get(r);
            labels[r] = parseLabel(cells[targetColumn], table, r, schema.target());
            for (int f = 0; f < schema.size(); f++) {
                Feature feature = schema.features().get(f);
                String value = cells[columns[f]];
                if (feature.type() == FeatureType.NUMERIC) {
                    if (value != null) {
                        double number = SchemaInference.parseNumber(value);
                        if (Double.isNaN(number)) {
                            throw new DatasetException(
                                    ErrorCode.NOT_A_NUMBER,
                                    table.file(),
                                    table.lines()[r],
                                    feature.name(),
                                    "'" + value + "' is not a number (column is numeric)");
                        }
                        batch.setNumeric(r, f, number);
                    }
                } else {
                    batch.setCategorical(r, f, value);
                }
            }
        }
        return new Dataset(table.file(), table.sha256(), batch, labels, table.lines());
    }

    private static int parseLabel(String value, RawTable table, int row, String target) throws DatasetException {
        if (value == null) {
            throw new DatasetException(
                    ErrorCode.NON_BINARY_TARGET,
                    table.file(),
                    table.lines()[row],
                    target,
                    "target is empty (expected 0/1 or true/false)");
        }
        switch (value.toLowerCase(Locale.ROOT)) {
            case "0", "0.0", "false":
                return 0;
            case "1", "1.0", "true":
                return 1;
            default:
                throw new DatasetException(
                        ErrorCode.NON_BINARY_TARGET,
                        table.file(),
                        table.lines()[row],
                        target,
                        "target value '" + value + "' is not binary (expected 0/1 or true/false)");
        }
    }

    /** Training needs both classes. */
    public void requireBothClasses() throws DatasetException {
        int positives = positives();
        if (positives == 0 || positives == rows()) {
            throw new DatasetException(
                    ErrorCode.SINGLE_CLASS_TARGET,
                    source,
                    -1,
                    schema().target(),
                    "target has a single class (" + (positives == 0 ? "all 0" : "all 1") + " in " + rows()
                            + " rows); need both");
        }
    }

    /** The rows at {@code indices}, in that order. */
    public Dataset subset(int[] indices) {
        FeatureSchema schema = schema();
        FeatureBatch batch = new FeatureBatch(schema, indices.length);
        int[] subsetLabels = new int[indices.length];
        long[] subsetLines = new long[indices.length];
        for (int f = 0; f < schema.size(); f++) {
            if (schema.features().get(f).type() == FeatureType.NUMERIC) {
                double[] from = features.numeric(f);
                double[] to = batch.numeric(f);
                for (int i = 0; i < indices.length; i++) {
                    to[i] = from[indices[i]];
                }
            } else {
                String[] from = features.categorical(f);
                String[] to = batch.categorical(f);
                for (int i = 0; i < indices.length; i++) {
                    to[i] = from[indices[i]];
                }
            }
        }
        for (int i = 0; i < indices.length; i++) {
            subsetLabels[i] = labels[indices[i]];
            subsetLines[i] = lines[indices[i]];
        }
        return new Dataset(source, sha256, batch, subsetLabels, subsetLines);
    }
}
