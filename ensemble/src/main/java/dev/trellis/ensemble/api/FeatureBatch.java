package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;

/**
 * A batch of rows in columnar form, aligned with a {@link FeatureSchema}: column {@code i} holds
 * feature {@code i}. Numeric columns are {@code double[]} with NaN for missing; categorical columns
 * are {@code String[]} with null for missing. A category outside the vocabulary is treated as
 * missing at scoring time (the documented rule). Not thread-safe while being filled; read-only after.
 */
public final class FeatureBatch {
    private final FeatureSchema schema;
    private final int rows;
    private final double[][] numeric;
    private final String[][] categorical;

    public FeatureBatch(FeatureSchema schema, int rows) {
        this.schema = requireNonNull(schema, "schema is null");
        if (rows < 0) {
            throw new IllegalArgumentException("rows is negative");
        }
        this.rows = rows;
        this.numeric = new double[schema.size()][];
        this.categorical = new String[schema.size()][];
        for (int i = 0; i < schema.size(); i++) {
            if (schema.features().get(i).type() == FeatureType.NUMERIC) {
                numeric[i] = new double[rows];
                Arrays.fill(numeric[i], Double.NaN);
            } else {
                categorical[i] = new String[rows];
            }
        }
    }

    public FeatureSchema schema() {
        return schema;
    }

    public int rows() {
        return rows;
    }

    public void setNumeric(int row, int feature, double value) {
        numeric(feature)[row] = value;
    }

    public void setCategorical(int row, int feature, String value) {
        categorical(feature)[row] = value;
    }

    /** The numeric column of feature {@code feature} (NaN = missing); mutable for fast filling. */
    public double[] numeric(int feature) {
        double[] column = numeric[feature];
        if (column == null) {
            throw new IllegalArgumentException(
                    "feature " + schema.features().get(feature).name() + " is not numeric");
        }
        return column;
    }

    /** The categorical column of feature {@code feature} (null = missing); mutable for fast filling. */
    public String[] categorical(int feature) {
        String[] column = categorical[feature];
        if (column == null) {
            throw new IllegalArgumentException(
                    "feature " + schema.features().get(feature).name() + " is not categorical");
        }
        return column;
    }
}
