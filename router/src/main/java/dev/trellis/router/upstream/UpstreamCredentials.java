package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Optional;

/**
 * Sends {@code authorization: Bearer <token>} on every call to a model-server (scoring, polling,
 * repository control) when the router has an upstream token ({@code --upstream-token-file} or
 * {@code TRELLIS_UPSTREAM_TOKEN}); without one it sends nothing. Thread-safe.
 */
public final class UpstreamCredentials implements ClientInterceptor {
    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final Optional<String> header;

    public UpstreamCredentials(Optional<String> token) {
        this.header = requireNonNull(token, "token is null").map(t -> "Bearer " + t);
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
            MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
        ClientCall<ReqT, RespT> call = next.newCall(method, callOptions);
        if (header.isEmpty()) {
            return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
            @Override
            public void start(Listener<RespT> listener, Metadata headers) {
                headers.put(AUTHORIZATION, header.get());
                super.start(listener, headers);
            }
        };
    }
}
