package dev.trellis.cli;

import static java.util.Objects.requireNonNull;

import dev.trellis.client.FeatureSchema;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads RFC 4180 CSV in UTF-8 a record at a time straight from the input's bytes: a record's fields
 * are ranges of one reused byte buffer, so that a numeric cell becomes a {@code double} without a
 * {@code String} or a decoded character in between, and a text cell becomes a {@code String} in one
 * copy. It reads what commons-csv's {@code CSVFormat.RFC4180} with surrounding spaces ignored reads
 * (the test holds the two to the same records): fields separated by commas, records by LF, CRLF or
 * CR, a quoted field may hold commas, line breaks and doubled quotes, spaces and tabs around a field
 * are dropped (inside quotes they are kept), an empty line is a record of one empty field, and a
 * final line break does not start another record. A quote inside an unquoted field is kept as it
 * is; text after a closing quote is an error, and so is a record that is not valid UTF-8 (checked
 * whenever a record has a byte outside ASCII). A UTF-8 byte order mark at the start is skipped.
 * Not thread-safe.
 */
final class CsvScanner implements Closeable {
    private static final int END = -1;
    private static final int NEED_MORE = -2;

    private final InputStream input;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private byte[] buffer = new byte[1 << 16];
    private int limit;
    private long bufferOffset;
    private boolean eof;
    private boolean atStart = true;

    // the current record, as ranges of the buffer; fields with doubled quotes are marked
    private int recordStart;
    private int next;
    private boolean ascii;
    private int[] starts = new int[64];
    private int[] ends = new int[64];
    private boolean[] escaped = new boolean[64];
    private int size;

    CsvScanner(InputStream input) {
        this.input = requireNonNull(input, "input is null");
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
        if (atStart) {
            skipByteOrderMark();
        }
        while (true) {
            if (next == limit) {
                if (eof) {
                    return false;
                }
                fill();
                continue;
            }
            int end = parse(next);
            if (end == NEED_MORE) {
                fill();
                continue;
            }
            recordStart = next;
            next = end;
            return true;
        }
    }

    // Excel's "CSV UTF-8" starts with one; it is not part of the first column's name
    private void skipByteOrderMark() throws IOException {
        atStart = false;
        while (limit < 3 && !eof) {
            fill();
        }
        if (limit >= 3 && buffer[0] == (byte) 0xEF && buffer[1] == (byte) 0xBB && buffer[2] == (byte) 0xBF) {
            next = 3;
        }
    }

    /** Fields in the current record. */
    int size() {
        return size;
    }

    /** Byte offset of the current record's first byte in the input. */
    long position() {
        return bufferOffset + recordStart;
    }

    /** Field {@code i} of the current record ("" past its last field). */
    String text(int i) {
        if (i >= size) {
            return "";
        }
        int start = starts[i];
        int length = ends[i] - start;
        if (!escaped[i]) {
            return new String(buffer, start, length, ascii ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
        }
        // a quoted field's doubled quotes stand for one quote each
        byte[] bytes = new byte[length];
        int n = 0;
        for (int k = start; k < start + length; k++) {
            bytes[n++] = buffer[k];
            if (buffer[k] == '"') {
                k++;
            }
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
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
                int digit = buffer[k] - '0';
                if (digit < 0 || digit > 9) {
                    break;
                }
                value = value * 10 + digit;
            }
            if (k == end) {
                return value;
            }
        }
        return FeatureSchema.number(text(i));
    }

    @Override
    public void close() throws IOException {
        input.close();
    }

    /**
     * Parses the record that starts at {@code p} without changing the buffer, so that it can start
     * over after {@link #fill}.
     *
     * @return the index after the record and its line break, or {@link #NEED_MORE} when the buffer
     *         ends inside the record before the input does
     */
    private int parse(int p) throws IOException {
        byte[] b = buffer;
        int lim = limit;
        int bits = 0;
        size = 0;
        while (true) {
            // one field: surrounding blanks dropped
            p = skipBlanks(b, p, lim);
            if (p == lim && !eof) {
                return NEED_MORE;
            }
            int c = p == lim ? END : b[p] & 0xFF;
            if (c == '"') {
                p++;
                int start = p;
                boolean doubled = false;
                while (true) {
                    if (p == lim) {
                        if (!eof) {
                            return NEED_MORE;
                        }
                        throw new IOException(
                                "the CSV ends inside a quoted field (record at byte " + (bufferOffset + next) + ")");
                    }
                    c = b[p++] & 0xFF;
                    bits |= c;
                    if (c == '"') {
                        if (p == lim && !eof) {
                            return NEED_MORE;
                        }
                        if (p < lim && b[p] == '"') {
                            p++;
                            doubled = true;
                            continue;
                        }
                        break;
                    }
                }
                int end = p - 1;
                p = skipBlanks(b, p, lim);
                if (p == lim && !eof) {
                    return NEED_MORE;
                }
                c = p == lim ? END : b[p] & 0xFF;
                if (c != END && c != ',' && c != '\n' && c != '\r') {
                    throw new IOException("invalid character " + describe(c) + " after the closing quote of field "
                            + (size + 1) + " of the record at byte " + (bufferOffset + next));
                }
                addField(start, end, doubled);
            } else {
                int start = p;
                int end = p;
                while (true) {
                    if (p == lim) {
                        if (!eof) {
                            return NEED_MORE;
                        }
                        c = END;
                        break;
                    }
                    c = b[p] & 0xFF;
                    if (c == ',' || c == '\n' || c == '\r') {
                        break;
                    }
                    bits |= c;
                    p++;
                    if (c != ' ' && c != '\t') {
                        end = p;
                    }
                }
                addField(start, end, false);
            }
            if (c == ',') {
                p++;
                continue;
            }
            if (c == '\r') {
                p++;
                if (p == lim && !eof) {
                    return NEED_MORE;
                }
                if (p < lim && b[p] == '\n') {
                    p++;
                }
            } else if (c == '\n') {
                p++;
            }
            ascii = bits < 0x80;
            if (!ascii) {
                checkUtf8(next, p);
            }
            return p;
        }
    }

    private static int skipBlanks(byte[] b, int p, int lim) {
        while (p < lim && (b[p] == ' ' || b[p] == '\t')) {
            p++;
        }
        return p;
    }

    private void checkUtf8(int from, int to) throws IOException {
        try {
            utf8.reset().decode(ByteBuffer.wrap(buffer, from, to - from));
        } catch (CharacterCodingException e) {
            throw new IOException("the CSV is not UTF-8: the record at byte " + (bufferOffset + from)
                    + " holds a byte sequence that is not UTF-8 (" + e + ")");
        }
    }

    /** Keeps the bytes from the next record on, at the buffer's start, and reads more after them. */
    private void fill() throws IOException {
        int kept = limit - next;
        if (next > 0) {
            System.arraycopy(buffer, next, buffer, 0, kept);
            bufferOffset += next;
            recordStart = 0;
            next = 0;
            limit = kept;
        }
        if (limit == buffer.length) {
            // one record longer than the buffer
            buffer = Arrays.copyOf(buffer, buffer.length * 2);
        }
        int n = input.read(buffer, limit, buffer.length - limit);
        if (n < 0) {
            eof = true;
        } else {
            limit += n;
        }
    }

    private void addField(int start, int end, boolean doubled) {
        if (size == starts.length) {
            starts = Arrays.copyOf(starts, size * 2);
            ends = Arrays.copyOf(ends, size * 2);
            escaped = Arrays.copyOf(escaped, size * 2);
        }
        starts[size] = start;
        ends[size] = end;
        escaped[size] = doubled;
        size++;
    }

    private static String describe(int c) {
        return c >= 0x20 && c < 0x7F ? "'" + (char) c + "'" : String.format("0x%02X", c);
    }
}
