package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.TargetKind;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Feature rows with their target, in schema order: 0/1 labels for a binary target, values for a
 * continuous one. Categories outside the schema's vocabulary are kept as strings here; encoders
 * treat them as missing.
 */
public record Dataset(
        Path source, String sha256, FeatureBatch features, TargetKind kind, double[] targets, long[] lines) {
    /** A target is taken as continuous (with automatic detection) only with at least this many distinct values. */
    public static final int MIN_CONTINUOUS_VALUES = 10;

    public Dataset {
        requireNonNull(source, "source is null");
        requireNonNull(sha256, "sha256 is null");
        requireNonNull(features, "features is null");
        requireNonNull(kind, "kind is null");
        requireNonNull(targets, "targets is null");
        requireNonNull(lines, "lines is null");
        if (targets.length != features.rows()) {
            throw new IllegalArgumentException("targets and rows differ");
        }
    }

    public FeatureSchema schema() {
        return features.schema();
    }

    public int rows() {
        return targets.length;
    }

    /** The 0/1 labels of a binary target. */
    public int[] labels() {
        if (kind != TargetKind.BINARY) {
            throw new IllegalStateException("a continuous target has no labels");
        }
        int[] labels = new int[targets.length];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (int) targets[i];
        }
        return labels;
    }

    /** Rows with target 1 (binary); 0 for a continuous target. */
    public int positives() {
        if (kind != TargetKind.BINARY) {
            return 0;
        }
        int positives = 0;
        for (double target : targets) {
            positives += (int) target;
        }
        return positives;
    }

    /** Reads a CSV file and infers its schema and, unless {@code kind} names it, the kind of target. */
    public static Dataset load(
            Path file,
            String target,
            java.util.List<String> idColumns,
            SchemaOverrides overrides,
            java.util.Optional<TargetKind> kind)
            throws DatasetException {
        RawTable table = CsvReader.read(file);
        FeatureSchema schema = SchemaInference.infer(table, target, idColumns, overrides);
        Dataset dataset = from(table, schema, kind.isPresent() ? kind.get() : detectKind(table, target));
        if (dataset.kind() == TargetKind.BINARY) {
            dataset.requireBothClasses();
        } else {
            dataset.requireSpread();
        }
        return dataset;
    }

    /** Reads a CSV file with a binary target and infers its schema. */
    public static Dataset load(Path file, String target, java.util.List<String> idColumns, SchemaOverrides overrides)
            throws DatasetException {
        return load(file, target, idColumns, overrides, java.util.Optional.of(TargetKind.BINARY));
    }

    /** Reads a CSV file against an existing schema (e.g. a bundle's), for evaluation. */
    public static Dataset load(Path file, FeatureSchema schema, TargetKind kind) throws DatasetException {
        return from(CsvReader.read(file), schema, kind);
    }

    /** Reads a CSV file with a binary target against an existing schema. */
    public static Dataset load(Path file, FeatureSchema schema) throws DatasetException {
        return load(file, schema, TargetKind.BINARY);
    }

    /**
     * Binary when every target cell is 0/1 or true/false; continuous when every cell is a number and
     * there are at least {@value #MIN_CONTINUOUS_VALUES} distinct values; otherwise an error that
     * says which to ask for.
     */
    static TargetKind detectKind(RawTable table, String target) throws DatasetException {
        int column = table.columnIndex(target);
        if (column < 0) {
            throw new DatasetException(
                    ErrorCode.MISSING_TARGET,
                    table.file(),
                    1,
                    target,
                    "target column not found in header " + table.header());
        }
        java.util.Set<String> distinct = new java.util.TreeSet<>();
        boolean binary = true;
        for (int r = 0; r < table.rows().size(); r++) {
            String value = table.rows().get(r)[column];
            if (value == null) {
                throw new DatasetException(
                        ErrorCode.NON_BINARY_TARGET, table.file(), table.lines()[r], target, "target is empty");
            }
            binary &= binaryLabel(value) >= 0;
            if (!binary && Double.isNaN(SchemaInference.parseNumber(value))) {
                throw new DatasetException(
                        ErrorCode.NON_BINARY_TARGET,
                        table.file(),
                        table.lines()[r],
                        target,
                        "target value '" + value + "' is neither binary (0/1, true/false) nor a number");
            }
            if (distinct.size() <= MIN_CONTINUOUS_VALUES) {
                distinct.add(value);
            }
        }
        if (binary) {
            return TargetKind.BINARY;
        }
        if (distinct.size() < MIN_CONTINUOUS_VALUES) {
            throw DatasetException.of(
                    ErrorCode.NON_BINARY_TARGET,
                    table.file(),
                    "target '" + target + "' has " + distinct.size() + " distinct values " + distinct
                            + ": not binary (0/1, true/false), and too few for a continuous target; pass"
                            + " --target-kind regression to train a regressor on it anyway");
        }
        return TargetKind.REGRESSION;
    }

    public static Dataset from(RawTable table, FeatureSchema schema) throws DatasetException {
        return from(table, schema, TargetKind.BINARY);
    }

    public static Dataset from(RawTable table, FeatureSchema schema, TargetKind kind) throws DatasetException {
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
        double[] targets = new double[rows];
        for (int r = 0; r < rows; r++) {
            String[] cells = table.rows().get(r);
            targets[r] = kind == TargetKind.BINARY
                    ? parseLabel(cells[targetColumn], table, r, schema.target())
                    : parseValue(cells[targetColumn], table, r, schema.target());
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
        return new Dataset(table.file(), table.sha256(), batch, kind, targets, table.lines());
    }

    private static int binaryLabel(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "0", "0.0", "false" -> 0;
            case "1", "1.0", "true" -> 1;
            default -> -1;
        };
    }

    private static double parseValue(String value, RawTable table, int row, String target) throws DatasetException {
        double number = value == null ? Double.NaN : SchemaInference.parseNumber(value);
        if (Double.isNaN(number)) {
            throw new DatasetException(
                    ErrorCode.NON_NUMERIC_TARGET,
                    table.file(),
                    table.lines()[row],
                    target,
                    value == null
                            ? "target is empty (a continuous target needs a number in every row)"
                            : "target value '" + value + "' is not a number (the target is continuous)");
        }
        return number;
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
        int label = binaryLabel(value);
        if (label < 0) {
            throw new DatasetException(
                    ErrorCode.NON_BINARY_TARGET,
                    table.file(),
                    table.lines()[row],
                    target,
                    "target value '" + value + "' is not binary (expected 0/1 or true/false)");
        }
        return label;
    }

    /** Training a regressor needs a target that varies. */
    public void requireSpread() throws DatasetException {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double target : targets) {
            min = Math.min(min, target);
            max = Math.max(max, target);
        }
        if (!(max > min)) {
            throw new DatasetException(
                    ErrorCode.SINGLE_CLASS_TARGET,
                    source,
                    -1,
                    schema().target(),
                    "target is constant (" + min + " in " + rows() + " rows); nothing to learn");
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
        double[] subsetTargets = new double[indices.length];
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
            subsetTargets[i] = targets[indices[i]];
            subsetLines[i] = lines[indices[i]];
        }
        return new Dataset(source, sha256, batch, kind, subsetTargets, subsetLines);
    }
}
