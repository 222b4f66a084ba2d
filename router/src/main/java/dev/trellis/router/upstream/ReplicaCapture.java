package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Records which replica answered a call (the remote address of the committed attempt), for
 * {@code served.replica}, by the name the catalog and ListModels use for it (not the resolved IP of
 * a configured host name). The caller passes a holder through {@link #KEY}. Thread-safe.
 */
public final class ReplicaCapture implements ClientInterceptor {
    public static final CallOptions.Key<AtomicReference<String>> KEY = CallOptions.Key.create("trellis-replica");

    private final Map<SocketAddress, String> names;

    /** @param names the replica name of each address this channel connects to */
    public ReplicaCapture(Map<SocketAddress, String> names) {
        this.names = Map.copyOf(requireNonNull(names, "names is null"));
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
            MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
        AtomicReference<String> holder = callOptions.getOption(KEY);
        ClientCall<ReqT, RespT> call = next.newCall(method, callOptions);
        if (holder == null) {
            return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
            @Override
            public void start(Listener<RespT> listener, Metadata headers) {
                ClientCall<ReqT, RespT> self = this;
                super.start(
                        new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                            @Override
                            public void onHeaders(Metadata responseHeaders) {
                                holder.set(name(self.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)));
                                super.onHeaders(responseHeaders);
                            }
                        },
                        headers);
            }
        };
    }

    String name(SocketAddress address) {
        String known = address == null ? null : names.get(address);
        return known != null ? known : format(address);
    }

    static String format(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return address == null ? "" : address.toString();
    }
}
