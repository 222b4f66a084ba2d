package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/**
 * A protobuf message already in its wire form, sent as it is: the response type of a server
 * method whose answers the router encodes itself ({@link Answers}). Which message the
 * bytes are is the method's business; reflection and clients see the method's proto types.
 */
public final class EncodedMessage {
    /** Streams the bytes without a copy (gRPC drains them into its frames). */
    public static final MethodDescriptor.Marshaller<EncodedMessage> MARSHALLER = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(EncodedMessage value) {
            return new Stream(value.bytes);
        }

        @Override
        public EncodedMessage parse(InputStream stream) {
            try {
                return new EncodedMessage(stream.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private final byte[] bytes;

    EncodedMessage(byte[] bytes) {
        this.bytes = requireNonNull(bytes, "bytes is null");
    }

    /** The wire form itself (this package only: the bytes are not copied). */
    byte[] bytes() {
        return bytes;
    }

    /** A copy of the wire form. */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    private static final class Stream extends ByteArrayInputStream implements KnownLength, Drainable {
        Stream(byte[] bytes) {
            super(bytes);
        }

        @Override
        public int drainTo(OutputStream target) throws IOException {
            int length = count - pos;
            target.write(buf, pos, length);
            pos = count;
            return length;
        }
    }
}
