package dev.trellis.client;

import com.google.protobuf.CodedOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Appends protobuf's wire format to a growing byte array: the few field kinds a columnar batch is
 * made of, written as protobuf-java writes them (length-delimited fields with their length first,
 * packed doubles as their raw little-endian bits), so that a message built here has exactly the
 * bytes of the same message built and serialized by protobuf-java ({@code ColumnBatchTest}
 * compares them). Not thread-safe.
 */
final class WireWriter {
    private static final int LENGTH_DELIMITED = 2;

    private byte[] buffer;
    private int size;

    WireWriter(int capacity) {
        this.buffer = new byte[Math.max(16, capacity)];
    }

    /** Bytes written so far. */
    int size() {
        return size;
    }

    /** The bytes written, copied. */
    byte[] toByteArray() {
        return Arrays.copyOf(buffer, size);
    }

    /** Appends another writer's bytes as they are. */
    void append(WireWriter other) {
        ensure(other.size);
        System.arraycopy(other.buffer, 0, buffer, size, other.size);
        size += other.size;
    }

    /** A length-delimited field: its tag, its length, then {@code bytes}. */
    void bytesField(int field, byte[] bytes) {
        header(field, bytes.length);
        ensure(bytes.length);
        System.arraycopy(bytes, 0, buffer, size, bytes.length);
        size += bytes.length;
    }

    /** The tag and length of a length-delimited field whose {@code length} bytes follow. */
    void header(int field, int length) {
        varint(field << 3 | LENGTH_DELIMITED);
        varint(length);
    }

    /** A string field, written even when empty (an element of a repeated field). */
    void stringField(int field, String value) {
        bytesField(field, utf8(value));
    }

    /** A proto3 string field: left out when empty, as proto3 does. */
    void optionalStringField(int field, String value) {
        if (!value.isEmpty()) {
            stringField(field, value);
        }
    }

    /** The values of a packed repeated double field, after its {@link #header}. */
    void doubles(double[] values) {
        int length = values.length * Double.BYTES;
        ensure(length);
        ByteBuffer.wrap(buffer, size, length)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asDoubleBuffer()
                .put(values);
        size += length;
    }

    /** The size of a packed repeated double field of {@code count} values ({@code 0} when empty). */
    static int packedDoublesSize(int field, int count) {
        return count == 0 ? 0 : delimitedSize(field, count * Double.BYTES);
    }

    /** The size of a length-delimited field whose content is {@code length} bytes. */
    static int delimitedSize(int field, int length) {
        return CodedOutputStream.computeTagSize(field) + CodedOutputStream.computeUInt32SizeNoTag(length) + length;
    }

    /** UTF-8 as protobuf-java encodes a string (an unpaired surrogate becomes '?', as it does there). */
    static byte[] utf8(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /** A non-negative int as a varint. */
    private void varint(int value) {
        ensure(5);
        while ((value & ~0x7F) != 0) {
            buffer[size++] = (byte) (value & 0x7F | 0x80);
            value >>>= 7;
        }
        buffer[size++] = (byte) value;
    }

    private void ensure(int more) {
        if (buffer.length - size < more) {
            buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, size + more));
        }
    }
}
