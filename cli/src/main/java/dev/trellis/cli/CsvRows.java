package dev.trellis.cli;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.ColumnBatch;
import dev.trellis.client.FeatureSchema;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Streams a CSV file with a header row into score requests, row by row ({@link #next}) or a batch
 * of columns at a time ({@link #nextColumns}): columns in the model's schema become typed features;
 * the id column becomes the unit id; every other column (the target, other ids) is left out.
 * Without a schema every column but the id column is sent, typed by its form.
 * Not thread-safe.
 */
final class CsvRows implements Closeable {
    private final CsvScanner scanner;
    private final int idIndex;
    private final String idColumn;
    private final int[] featureIndexes;
    private final String[] featureNames;
    private final FeatureSchema.Feature[] featureTypes;
    private long position;

    private CsvRows(CsvScanner scanner, List<String> header, String idColumn, FeatureSchema schema) {
        this.scanner = scanner;
        Set<String> seen = new HashSet<>();
        for (String name : header) {
            if (!seen.add(name)) {
                throw new TrellisCli.UsageException("the CSV header names column '" + name + "' twice: " + header);
            }
        }
        this.idColumn = idColumn == null ? guessIdColumn(header, schema) : idColumn;
        this.idIndex = this.idColumn == null ? -1 : header.indexOf(this.idColumn);
        if (idColumn != null && idIndex < 0) {
            throw new TrellisCli.UsageException("id column '" + idColumn + "' is not in the CSV header " + header);
        }
        Map<String, FeatureSchema.Feature> byName = schema.byName();
        List<Integer> indexes = new ArrayList<>();
        for (int i = 0; i < header.size(); i++) {
            String name = header.get(i);
            if (i == idIndex) {
                continue;
            }
            if (schema.isEmpty() || byName.containsKey(name)) {
                indexes.add(i);
            }
        }
        this.featureIndexes = indexes.stream().mapToInt(Integer::intValue).toArray();
        this.featureNames = new String[featureIndexes.length];
        this.featureTypes = new FeatureSchema.Feature[featureIndexes.length];
        for (int k = 0; k < featureIndexes.length; k++) {
            featureNames[k] = header.get(featureIndexes[k]);
            featureTypes[k] = byName.get(featureNames[k]);
        }
    }

    static CsvRows open(Path file, String idColumn, FeatureSchema schema) throws IOException {
        CsvScanner scanner = new CsvScanner(Files.newInputStream(file));
        try {
            List<String> header = scanner.nextStrings();
            return new CsvRows(scanner, header == null ? List.of() : header, idColumn, schema);
        } catch (IOException | RuntimeException e) {
            scanner.close();
            throw e;
        }
    }

    /** The id column in use, or null when rows are numbered. */
    String idColumn() {
        return idColumn;
    }

    /** Byte offset of the last row read in the file. */
    long position() {
        return position;
    }

    /** Number of feature columns sent. */
    int featureCount() {
        return featureIndexes.length;
    }

    /**
     * The next row, or null at the end of the file.
     *
     * @param rowNumber 1-based row number, used as the id when there is no id column
     */
    Row next(long rowNumber) throws IOException {
        if (!scanner.next()) {
            return null;
        }
        position = scanner.position();
        ScoreRequest.Builder request = ScoreRequest.newBuilder();
        String id = idIndex >= 0 && idIndex < scanner.size() ? scanner.text(idIndex) : Long.toString(rowNumber);
        request.setUnitId(id);
        for (int k = 0; k < featureIndexes.length; k++) {
            String text = scanner.text(featureIndexes[k]);
            Value value = FeatureSchema.typed(featureTypes[k], text);
            request.putFeatures(featureNames[k], value);
        }
        return new Row(id, request);
    }

    /**
     * Reads up to {@code max} rows straight into columns: numeric features of the schema as
     * numbers (NaN when missing), categorical ones as strings ("" when missing). Without a schema a
     * column is numbers when every cell of the batch is a number or missing, else strings.
     *
     * @param max the most rows to read
     * @param firstRowNumber 1-based number of the first row, used for ids when there is no id column
     * @return the rows, or null at the end of the file
     * @throws TrellisCli.UsageException when a numeric feature's cell is not a number
     */
    ColumnBatch nextColumns(int max, long firstRowNumber) throws IOException {
        String[] ids = new String[max];
        double[][] numbers = new double[featureIndexes.length][];
        String[][] texts = new String[featureIndexes.length][];
        for (int k = 0; k < featureIndexes.length; k++) {
            if (featureTypes[k] != null && featureTypes[k].numeric()) {
                numbers[k] = new double[max];
            } else {
                texts[k] = new String[max];
            }
        }
        int n = 0;
        while (n < max && scanner.next()) {
            position = scanner.position();
            long rowNumber = firstRowNumber + n;
            ids[n] = idIndex >= 0 && idIndex < scanner.size() ? scanner.text(idIndex) : Long.toString(rowNumber);
            for (int k = 0; k < featureIndexes.length; k++) {
                int i = featureIndexes[k];
                if (numbers[k] != null) {
                    numbers[k][n] = number(i, k, rowNumber, ids[n]);
                } else {
                    texts[k][n] = scanner.text(i);
                }
            }
            n++;
        }
        if (n == 0) {
            return null;
        }
        ColumnBatch.Builder batch = ColumnBatch.builder(Arrays.asList(ids).subList(0, n));
        for (int k = 0; k < featureIndexes.length; k++) {
            if (numbers[k] != null) {
                batch.numbers(featureNames[k], n == max ? numbers[k] : Arrays.copyOf(numbers[k], n));
            } else if (featureTypes[k] == null && allNumbers(texts[k], n)) {
                double[] values = new double[n];
                for (int row = 0; row < n; row++) {
                    values[row] = FeatureSchema.number(texts[k][row]);
                }
                batch.numbers(featureNames[k], values);
            } else {
                String[] values = new String[n];
                for (int row = 0; row < n; row++) {
                    values[row] = FeatureSchema.category(texts[k][row]);
                }
                batch.strings(featureNames[k], values);
            }
        }
        return batch.build();
    }

    private double number(int i, int k, long rowNumber, String id) {
        try {
            return scanner.number(i);
        } catch (NumberFormatException e) {
            String text = scanner.text(i);
            throw new TrellisCli.UsageException(
                    "row " + rowNumber + (idIndex >= 0 ? " (" + idColumn + " " + id + ")" : "") + ": column "
                            + featureNames[k] + " holds '" + text + "', which is not a number; " + featureNames[k]
                            + " is a numeric feature of the model");
        }
    }

    private static boolean allNumbers(String[] texts, int n) {
        for (int row = 0; row < n; row++) {
            try {
                FeatureSchema.number(texts[row]);
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        scanner.close();
    }

    private static String guessIdColumn(List<String> header, FeatureSchema schema) {
        for (String name : header) {
            String lower = name.toLowerCase(Locale.ROOT);
            if ((lower.equals("id") || lower.endsWith("_id") || lower.equals("unit_id")) && !schema.contains(name)) {
                return name;
            }
        }
        return null;
    }

    /** A parsed row: its id and its request without model. */
    record Row(String id, ScoreRequest.Builder request) {}
}
