package dev.trellis.common.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/** Sends bytes of the test's choosing to a method, e.g. ones that do not parse as its request. */
public final class RawCalls {
    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private RawCalls() {}

    /** The status code of a unary call of {@code method} whose request is {@code body}: OK or the failure's. */
    public static Status.Code code(Channel channel, MethodDescriptor<?, ?> method, byte[] body) {
        try {
            unary(channel, method, body);
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    /** A unary call of {@code method} whose request is {@code body}, with a 10 s deadline; returns the response bytes. */
    public static byte[] unary(Channel channel, MethodDescriptor<?, ?> method, byte[] body) {
        return ClientCalls.blockingUnaryCall(
                channel,
                method.toBuilder(BYTES, BYTES).build(),
                CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                body);
    }
}
