package dev.trellis.client;

import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoringGrpc;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A {@code ScoreBatchRequest} of a {@link ColumnBatch}, already in its wire form: the model and
 * version fields, then the batch's encoded columns as they are. Sent through {@link #METHOD}, which
 * is {@code trellis.v1.Scoring/ScoreBatch} with a marshaller that writes these bytes instead of
 * serializing a message (the server sees an ordinary {@code ScoreBatchRequest}; the service config,
 * retries and interceptors apply as to the generated stub's calls).
 */
final class ColumnsRequest {
    // ScoreBatchRequest fields
    private static final int MODEL = 1;
    private static final int VERSION = 3;
    private static final int COLUMNS = 5;

    static final MethodDescriptor<ColumnsRequest, ScoreBatchResponse> METHOD =
            ScoringGrpc.getScoreBatchMethod().toBuilder(
                            new Marshaller(), ScoringGrpc.getScoreBatchMethod().getResponseMarshaller())
                    .build();

    private final byte[] head;
    private final byte[] columns;

    /**
     * @param model the logical model name
     * @param batch the rows
     * @param version a version pin for every row, or null
     */
    ColumnsRequest(String model, ColumnBatch batch, String version) {
        this.columns = batch.wire();
        WireWriter head = new WireWriter(32 + model.length() + (version == null ? 0 : version.length()));
        head.optionalStringField(MODEL, model);
        if (version != null) {
            head.optionalStringField(VERSION, version);
        }
        head.header(COLUMNS, columns.length);
        this.head = head.toByteArray();
    }

    /** The whole request's bytes (for tests: they parse as the {@link ScoreBatchRequest} it stands for). */
    byte[] toByteArray() {
        byte[] bytes = new byte[head.length + columns.length];
        System.arraycopy(head, 0, bytes, 0, head.length);
        System.arraycopy(columns, 0, bytes, head.length, columns.length);
        return bytes;
    }

    private static final class Marshaller implements MethodDescriptor.Marshaller<ColumnsRequest> {
        @Override
        public InputStream stream(ColumnsRequest request) {
            return new Stream(request.head, request.columns);
        }

        @Override
        public ColumnsRequest parse(InputStream stream) {
            throw new UnsupportedOperationException("a client-side request form: servers parse ScoreBatchRequest");
        }
    }

    /** Two byte arrays one after the other; gRPC drains it straight into its frame. */
    private static final class Stream extends InputStream implements KnownLength, Drainable {
        private final byte[] first;
        private final byte[] second;
        private int position;

        Stream(byte[] first, byte[] second) {
            this.first = first;
            this.second = second;
        }

        @Override
        public int read() {
            if (position < first.length) {
                return first[position++] & 0xFF;
            }
            if (position < first.length + second.length) {
                return second[position++ - first.length] & 0xFF;
            }
            return -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            int available = available();
            if (len == 0) {
                return 0;
            }
            if (available == 0) {
                return -1;
            }
            int n = Math.min(len, available);
            for (int copied = 0; copied < n; ) {
                int chunk;
                if (position < first.length) {
                    chunk = Math.min(n - copied, first.length - position);
                    System.arraycopy(first, position, b, off + copied, chunk);
                } else {
                    int at = position - first.length;
                    chunk = Math.min(n - copied, second.length - at);
                    System.arraycopy(second, at, b, off + copied, chunk);
                }
                position += chunk;
                copied += chunk;
            }
            return n;
        }

        @Override
        public int available() {
            return first.length + second.length - position;
        }

        @Override
        public int drainTo(OutputStream target) throws IOException {
            int n = available();
            if (position < first.length) {
                target.write(first, position, first.length - position);
                target.write(second);
            } else {
                target.write(second, position - first.length, second.length - (position - first.length));
            }
            position = first.length + second.length;
            return n;
        }
    }
}
