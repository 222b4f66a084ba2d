package dev.trellis.cli;

import static java.util.Objects.requireNonNull;

import dev.trellis.client.FeatureSchema;
import java.io.Closeable;
import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads RFC 4180 CSV a record at a time into one reused character buffer, so that a numeric cell
 * becomes a {@code double} without a {@code String} in between. It reads what commons-csv's
 * {@code CSVFormat.RFC4180} with surrounding spaces ignored reads (the test holds the two to the
 * same records): fields separated by commas, records by LF, CRLF or CR, a quoted field may hold
 * commas, line breaks and doubled quotes, spaces and tabs around a field are dropped (inside quotes
 * they are kept), an empty line is a record of one empty field, and a final line break does not
 * start another record. A quote inside an unquoted field is kept as it is; text after a closing
 * quote is an error. Not thread-safe.
 */
final class CsvScanner implements Closeable {
    private final Reader reader;
    private final char[] input = new char[1 << 16];
    private int inputLength;
    private int inputPosition;
    private boolean eof;

    private char[] record = new char[1024];
    private int[] starts = new int[64];
    private int[] ends = new int[64];
    private int size;
    private long consumed;
    private long recordPosition;

    CsvScanner(Reader reader) {
        this.reader = requireNonNull(reader, "reader is null");
    }

    /** The next record's fields as strings, or null at the end of the input (for the header). */
    List<String> nextStrings() throws IOException {
        if (!next()) {
            return null;
        }
        List<String> fields = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            fields.add(text(i));
        }
        return fields;
    }

    /** Reads the next record; false at the end of the input. */
    boolean next() throws IOException {
        int c = read();
        if (c < 0) {
            return false;
        }
        recordPosition = consumed - 1;
        size = 0;
        int length = 0;
        while (true) {
            // one field: surrounding blanks dropped
            while (c == ' ' || c == '\t') {
                c = read();
            }
            int start = length;
            int end;
            if (c == '"') {
                while (true) {
                    c = read();
                    if (c < 0) {
                        throw new IOException(
                                "the CSV ends inside a quoted field (record at character " + recordPosition + ")");
                    }
                    if (c == '"') {
                        c = read();
                        if (c != '"') {
                            break;
                        }
                    }
                    length = append(length, (char) c);
                }
                end = length;
                while (c == ' ' || c == '\t') {
                    c = read();
                }
                if (c >= 0 && c != ',' && c != '\n' && c != '\r') {
                    throw new IOException("invalid character '" + (char) c + "' after the closing quote of field "
                            + (size + 1) + " of the record at character " + recordPosition);
                }
            } else {
                end = length;
                while (c >= 0 && c != ',' && c != '\n' && c != '\r') {
                    length = append(length, (char) c);
                    if (c != ' ' && c != '\t') {
                        end = length;
                    }
                    c = read();
                }
            }
            addField(start, end);
            if (c == ',') {
                c = read();
                continue;
            }
            if (c == '\r') {
                c = read();
                if (c != '\n' && c >= 0) {
                    unread();
                }
            }
            return true;
        }
    }

    /** Fields in the current record. */
    int size() {
        return size;
    }

    /** Character offset of the current record's first character in the input. */
    long position() {
        return recordPosition;
    }

    /** Field {@code i} of the current record ("" past its last field). */
    String text(int i) {
        return i < size ? new String(record, starts[i], ends[i] - starts[i]) : "";
    }

    /**
     * Field {@code i} as a number, as {@link FeatureSchema#number(String)} reads its text (missing is
     * NaN), without making a string for plain integers of up to nine digits.
     *
     * @throws NumberFormatException when the text is neither missing nor a finite number
     */
    double number(int i) {
        if (i >= size) {
            return Double.NaN;
        }
        int start = starts[i];
        int end = ends[i];
        if (end > start && end - start <= 9) {
            int value = 0;
            int k = start;
            for (; k < end; k++) {
                char c = record[k];
                if (c < '0' || c > '9') {
                    break;
                }
                value = value * 10 + (c - '0');
            }
            if (k == end) {
                return value;
            }
        }
        return FeatureSchema.number(text(i));
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }

    private void addField(int start, int end) {
        if (size == starts.length) {
            starts = Arrays.copyOf(starts, size * 2);
            ends = Arrays.copyOf(ends, size * 2);
        }
        starts[size] = start;
        ends[size] = end;
        size++;
    }

    private int append(int length, char c) {
        if (length == record.length) {
            record = Arrays.copyOf(record, length * 2);
        }
        record[length] = c;
        return length + 1;
    }

    private int read() throws IOException {
        if (inputPosition == inputLength) {
            if (eof) {
                return -1;
            }
            int n = reader.read(input, 0, input.length);
            if (n <= 0) {
                eof = true;
                return -1;
            }
            inputLength = n;
            inputPosition = 0;
        }
        consumed++;
        return input[inputPosition++];
    }

    /** Steps back over the character just read (always still in the buffer). */
    private void unread() {
        inputPosition--;
        consumed--;
    }
}
