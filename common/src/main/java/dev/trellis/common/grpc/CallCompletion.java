package dev.trellis.common.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Observes how server calls end, for status metrics: exactly once per call, with the status the
 * server closed it with, or CANCELLED when the client went away first. Thread-safe.
 */
public final class CallCompletion {
    private CallCompletion() {}

    /** Starts the call through {@code next}, calling {@code onDone} once when it ends. */
    public static <ReqT, RespT> ServerCall.Listener<ReqT> observe(
            ServerCall<ReqT, RespT> call,
            Metadata headers,
            ServerCallHandler<ReqT, RespT> next,
            Consumer<Status> onDone) {
        AtomicBoolean done = new AtomicBoolean();
        ServerCall<ReqT, RespT> observed = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                if (done.compareAndSet(false, true)) {
                    onDone.accept(status);
                }
                super.close(status, trailers);
            }
        };
        ServerCall.Listener<ReqT> delegate = next.startCall(observed, headers);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    if (done.compareAndSet(false, true)) {
                        onDone.accept(Status.CANCELLED);
                    }
                }
            }
        };
    }
}
