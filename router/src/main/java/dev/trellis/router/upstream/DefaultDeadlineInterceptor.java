package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Gives every upstream call a deadline. A caller's deadline arrives in the gRPC {@link Context}
 * of the server call and grpc-java applies it to outgoing calls made in that context by itself;
 * this interceptor only covers calls that have neither (a caller without a deadline, background
 * work). Thread-safe.
 */
public final class DefaultDeadlineInterceptor implements ClientInterceptor {
    private final long nanos;

    public DefaultDeadlineInterceptor(Duration deadline) {
        this.nanos = requireNonNull(deadline, "deadline is null").toNanos();
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
            MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
        if (callOptions.getDeadline() == null && Context.current().getDeadline() == null) {
            return next.newCall(method, callOptions.withDeadlineAfter(nanos, TimeUnit.NANOSECONDS));
        }
        return next.newCall(method, callOptions);
    }
}
