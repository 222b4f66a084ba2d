package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.StringValues;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Rows of one model stored column by column: one unit id per row, one array per feature and,
 * optionally, per targeting attribute. The compact form of a batch for bulk scoring: the router
 * checks each column once instead of every row's feature map, and the request is a fraction of
 * the size of the same rows as {@link ScoreRow}s. Scored by
 * {@link TrellisClient#scoreColumns(String, ColumnBatch)}; the results are the same as for the
 * rows. Immutable and thread-safe.
 *
 * <pre>{@code
 * ColumnBatch batch = ColumnBatch.builder(List.of("lead-1", "lead-2"))
 *         .numbers("PPERSAUT", new double[] {6, Double.NaN})   // NaN: missing
 *         .strings("MOSHOOFD", new String[] {"Family with grown ups", ""})   // "": missing
 *         .build();
 * List<ScoreResult> results = client.scoreColumns("leads", batch);
 * }</pre>
 */
public final class ColumnBatch {
    private final List<String> unitIds;
    private final FeatureColumns columns;

    private ColumnBatch(List<String> unitIds, FeatureColumns columns) {
        this.unitIds = unitIds;
        this.columns = columns;
    }

    /**
     * Starts a batch; the unit ids fix its number of rows.
     *
     * @param unitIds one unit id per row (lead id, customer id); "" keeps a row out of experiments
     * @return a builder for the batch's columns
     */
    public static Builder builder(List<String> unitIds) {
        return new Builder(unitIds);
    }

    /**
     * The number of rows.
     *
     * @return the number of unit ids
     */
    public int size() {
        return unitIds.size();
    }

    /**
     * The unit ids, one per row.
     *
     * @return an immutable list
     */
    public List<String> unitIds() {
        return unitIds;
    }

    /**
     * The wire form, for {@code ScoreBatchRequest.columns}.
     *
     * @return the columns message
     */
    public FeatureColumns asProto() {
        return columns;
    }

    /** Adds the columns of a {@link ColumnBatch}, each with exactly one value per row. Not thread-safe. */
    public static final class Builder {
        private final List<String> unitIds;
        private final FeatureColumns.Builder columns = FeatureColumns.newBuilder();
        private final Set<String> features = new HashSet<>();
        private final Set<String> attributes = new HashSet<>();

        private Builder(List<String> unitIds) {
            this.unitIds = List.copyOf(requireNonNull(unitIds, "unitIds is null"));
            columns.addAllUnitIds(this.unitIds);
        }

        /**
         * Adds a numeric feature's column.
         *
         * @param feature the feature name, not given before
         * @param values one value per row, NaN for missing; copied
         * @return this builder
         * @throws IllegalArgumentException when the length differs from the number of rows, the name repeats or a value is infinite
         */
        public Builder numbers(String feature, double[] values) {
            checkColumn(features, "feature", feature, requireNonNull(values, "values is null").length);
            NumberValues.Builder numbers = NumberValues.newBuilder();
            for (double v : values) {
                if (Double.isInfinite(v)) {
                    throw new IllegalArgumentException(
                            "feature " + feature + " has an infinite value; use NaN for missing");
                }
                numbers.addValues(v);
            }
            columns.addFeatures(FeatureColumn.newBuilder().setName(feature).setNumbers(numbers));
            return this;
        }

        /**
         * Adds a categorical feature's column.
         *
         * @param feature the feature name, not given before
         * @param values one value per row, null or "" for missing; copied
         * @return this builder
         * @throws IllegalArgumentException when the length differs from the number of rows or the name repeats
         */
        public Builder strings(String feature, String[] values) {
            checkColumn(features, "feature", feature, requireNonNull(values, "values is null").length);
            StringValues.Builder strings = StringValues.newBuilder();
            for (String v : values) {
                strings.addValues(v == null ? "" : v);
            }
            columns.addFeatures(FeatureColumn.newBuilder().setName(feature).setStrings(strings));
            return this;
        }

        /**
         * Adds a targeting attribute's column, e.g. {@code vertical}.
         *
         * @param name the attribute name, not given before
         * @param values one value per row, null or "" when a row does not have the attribute; copied
         * @return this builder
         * @throws IllegalArgumentException when the length differs from the number of rows or the name repeats
         */
        public Builder attribute(String name, String[] values) {
            checkColumn(attributes, "attribute", name, requireNonNull(values, "values is null").length);
            AttributeColumn.Builder column = AttributeColumn.newBuilder().setName(name);
            for (String v : values) {
                column.addValues(v == null ? "" : v);
            }
            columns.addAttributes(column);
            return this;
        }

        private void checkColumn(Set<String> names, String kind, String name, int length) {
            requireNonNull(name, kind + " name is null");
            if (length != unitIds.size()) {
                throw new IllegalArgumentException(
                        kind + " " + name + " has " + length + " values for " + unitIds.size() + " rows");
            }
            if (!names.add(name)) {
                throw new IllegalArgumentException(kind + " " + name + " is given twice");
            }
        }

        /**
         * Builds the batch.
         *
         * @return the batch
         */
        public ColumnBatch build() {
            return new ColumnBatch(unitIds, columns.build());
        }
    }
}
