package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.trellis.api.v1.FeatureColumns;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Rows of one model stored column by column: one unit id per row, one array per feature and,
 * optionally, per targeting attribute. The compact form of a batch for bulk scoring: the router
 * checks each column once instead of every row's feature map, and the request is a fraction of
 * the size of the same rows as {@link ScoreRow}s. Scored by
 * {@link TrellisClient#scoreColumns(String, ColumnBatch)}; the results are the same as for the
 * rows. The builder writes each column straight to its wire form (a numeric column is one copy of
 * its array), which the client sends as it is: no protobuf message per value on the way out.
 * Immutable and thread-safe.
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
    // FeatureColumns fields
    private static final int UNIT_IDS = 1;
    private static final int FEATURES = 2;
    private static final int ATTRIBUTES = 3;
    // FeatureColumn fields
    private static final int NAME = 1;
    private static final int NUMBERS = 2;
    private static final int STRINGS = 3;
    // NumberValues, StringValues and AttributeColumn fields
    private static final int VALUES = 1;
    private static final int ATTRIBUTE_VALUES = 2;

    private final List<String> unitIds;
    private final byte[] wire;
    private volatile FeatureColumns proto;

    private ColumnBatch(List<String> unitIds, byte[] wire) {
        this.unitIds = unitIds;
        this.wire = wire;
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
     * @return the columns message (parsed from the encoded columns the first time it is asked for)
     */
    public FeatureColumns asProto() {
        FeatureColumns columns = proto;
        if (columns == null) {
            try {
                columns = FeatureColumns.parseFrom(wire);
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException("the batch's own encoding does not parse", e);
            }
            proto = columns;
        }
        return columns;
    }

    /** The encoded {@code FeatureColumns} message; not copied, not to be changed. */
    byte[] wire() {
        return wire;
    }

    /** Adds the columns of a {@link ColumnBatch}, each with exactly one value per row. Not thread-safe. */
    public static final class Builder {
        private final List<String> unitIds;
        private final WireWriter features;
        private final WireWriter attributes = new WireWriter(64);
        private final Set<String> featureNames = new HashSet<>();
        private final Set<String> attributeNames = new HashSet<>();

        private Builder(List<String> unitIds) {
            this.unitIds = List.copyOf(requireNonNull(unitIds, "unitIds is null"));
            this.features = new WireWriter(64 + this.unitIds.size() * Double.BYTES * 16);
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
            checkColumn(featureNames, "feature", feature, requireNonNull(values, "values is null").length);
            for (double v : values) {
                if (Double.isInfinite(v)) {
                    throw new IllegalArgumentException(
                            "feature " + feature + " has an infinite value; use NaN for missing");
                }
            }
            byte[] name = WireWriter.utf8(feature);
            int numbersSize = WireWriter.packedDoublesSize(VALUES, values.length);
            features.header(FEATURES, nameSize(name) + WireWriter.delimitedSize(NUMBERS, numbersSize));
            name(features, name);
            features.header(NUMBERS, numbersSize);
            if (values.length > 0) {
                features.header(VALUES, values.length * Double.BYTES);
                features.doubles(values);
            }
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
            checkColumn(featureNames, "feature", feature, requireNonNull(values, "values is null").length);
            byte[] name = WireWriter.utf8(feature);
            byte[][] encoded = encode(values);
            int stringsSize = stringsSize(VALUES, encoded);
            features.header(FEATURES, nameSize(name) + WireWriter.delimitedSize(STRINGS, stringsSize));
            name(features, name);
            features.header(STRINGS, stringsSize);
            for (byte[] value : encoded) {
                features.bytesField(VALUES, value);
            }
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
            checkColumn(attributeNames, "attribute", name, requireNonNull(values, "values is null").length);
            byte[] nameBytes = WireWriter.utf8(name);
            byte[][] encoded = encode(values);
            attributes.header(ATTRIBUTES, nameSize(nameBytes) + stringsSize(ATTRIBUTE_VALUES, encoded));
            name(attributes, nameBytes);
            for (byte[] value : encoded) {
                attributes.bytesField(ATTRIBUTE_VALUES, value);
            }
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
            WireWriter wire = new WireWriter(features.size() + attributes.size() + unitIds.size() * 16);
            for (String id : unitIds) {
                wire.stringField(UNIT_IDS, id);
            }
            wire.append(features);
            wire.append(attributes);
            return new ColumnBatch(unitIds, wire.toByteArray());
        }

        private static byte[][] encode(String[] values) {
            byte[][] encoded = new byte[values.length][];
            for (int i = 0; i < values.length; i++) {
                encoded[i] = values[i] == null ? new byte[0] : WireWriter.utf8(values[i]);
            }
            return encoded;
        }

        private static int stringsSize(int field, byte[][] values) {
            int size = 0;
            for (byte[] value : values) {
                size += WireWriter.delimitedSize(field, value.length);
            }
            return size;
        }

        // proto3 leaves an empty name out
        private static int nameSize(byte[] name) {
            return name.length == 0 ? 0 : WireWriter.delimitedSize(NAME, name.length);
        }

        private static void name(WireWriter writer, byte[] name) {
            if (name.length > 0) {
                writer.bytesField(NAME, name);
            }
        }
    }
}
