package dev.trellis.router.upstream;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Resolves {@code static:///host1:port1,host2:port2} to one address group per replica, so that the
 * pool channel's round_robin policy and client-side health checking see each replica. Host names
 * are looked up again on every refresh (the channel refreshes after connection failures).
 * Thread-safe.
 */
public final class StaticNameResolverProvider extends NameResolverProvider {
    public static final String SCHEME = "static";

    @Override
    protected boolean isAvailable() {
        return true;
    }

    @Override
    protected int priority() {
        return 5;
    }

    @Override
    public String getDefaultScheme() {
        return SCHEME;
    }

    @Override
    public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
        return List.of(InetSocketAddress.class);
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
        if (!SCHEME.equals(targetUri.getScheme())) {
            return null;
        }
        String path = targetUri.getPath();
        String list = path.startsWith("/") ? path.substring(1) : path;
        List<UpstreamTargets.HostPort> addresses = new ArrayList<>();
        for (String entry : list.split(",")) {
            if (!entry.isBlank()) {
                addresses.add(UpstreamTargets.HostPort.parse(entry, 8081));
            }
        }
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("no address in " + targetUri);
        }
        return new StaticResolver(list, List.copyOf(addresses));
    }

    private static final class StaticResolver extends NameResolver {
        private final String authority;
        private final List<UpstreamTargets.HostPort> addresses;
        private volatile Listener2 listener;

        StaticResolver(String authority, List<UpstreamTargets.HostPort> addresses) {
            this.authority = authority.length() > 200
                    ? "trellis-upstream"
                    : addresses.get(0).toString();
            this.addresses = addresses;
        }

        @Override
        public String getServiceAuthority() {
            return authority;
        }

        @Override
        public void start(Listener2 listener) {
            this.listener = listener;
            resolve();
        }

        @Override
        public void refresh() {
            resolve();
        }

        private void resolve() {
            Listener2 current = listener;
            if (current == null) {
                return;
            }
            List<EquivalentAddressGroup> groups = new ArrayList<>();
            for (UpstreamTargets.HostPort address : addresses) {
                InetSocketAddress socket = new InetSocketAddress(address.host(), address.port());
                if (!socket.isUnresolved()) {
                    groups.add(new EquivalentAddressGroup(socket));
                }
            }
            StatusOr<List<EquivalentAddressGroup>> result = groups.isEmpty()
                    ? StatusOr.fromStatus(
                            Status.UNAVAILABLE.withDescription("no upstream address resolves: " + addresses))
                    : StatusOr.fromValue(groups);
            current.onResult2(
                    ResolutionResult.newBuilder().setAddressesOrError(result).build());
        }

        @Override
        public void shutdown() {
            listener = null;
        }
    }
}
