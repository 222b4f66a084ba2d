package dev.trellis.cli;

import static java.util.Objects.requireNonNull;

import java.io.Closeable;
import java.io.IOException;
import java.io.Writer;

/**
 * Writes RFC 4180 CSV a field at a time: a field is quoted (its quotes doubled) when it holds a
 * comma, a quote or a line break, when it starts or ends with a space or a tab (which readers that
 * trim surrounding blanks, {@link CsvScanner} among them, would drop), and when it is an empty
 * first field (so that a record of one empty field is not an empty line). Records end with LF.
 * What {@link CsvScanner} and commons-csv read back is what was written (tested). Not thread-safe.
 */
final class CsvWriter implements Closeable {
    private final Writer writer;
    private boolean recordStarted;

    CsvWriter(Writer writer) {
        this.writer = requireNonNull(writer, "writer is null");
    }

    /** Writes a record of these fields. */
    void record(Iterable<String> fields) throws IOException {
        for (String field : fields) {
            field(field);
        }
        endRecord();
    }

    /** Writes one field of the current record. */
    void field(String value) throws IOException {
        boolean first = !recordStarted;
        separate();
        if (needsQuotes(value, first)) {
            writer.write('"');
            int from = 0;
            for (int at = value.indexOf('"'); at >= 0; at = value.indexOf('"', from)) {
                writer.write(value, from, at + 1 - from);
                writer.write('"');
                from = at + 1;
            }
            writer.write(value, from, value.length() - from);
            writer.write('"');
        } else {
            writer.write(value);
        }
    }

    /** Writes a number as {@link Double#toString} spells it. */
    void field(double value) throws IOException {
        separate();
        writer.write(Double.toString(value));
    }

    /** Ends the current record. */
    void endRecord() throws IOException {
        writer.write('\n');
        recordStarted = false;
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }

    private void separate() throws IOException {
        if (recordStarted) {
            writer.write(',');
        }
        recordStarted = true;
    }

    private static boolean needsQuotes(String value, boolean first) {
        int length = value.length();
        if (length == 0) {
            return first;
        }
        if (isBlank(value.charAt(0)) || isBlank(value.charAt(length - 1))) {
            return true;
        }
        for (int i = 0; i < length; i++) {
            char c = value.charAt(i);
            if (c == ',' || c == '"' || c == '\n' || c == '\r') {
                return true;
            }
        }
        return false;
    }

    private static boolean isBlank(char c) {
        return c == ' ' || c == '\t';
    }
}
