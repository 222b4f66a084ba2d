package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Resolves the target of one replica-set channel to exactly the replicas of that set, one address
 * group each (so round_robin and client-side health checking see every replica), with each
 * replica's own TLS authority. The addresses come from the catalog, which looks names up on every
 * refresh; a change of membership or address makes a new set, hence a new channel. Registered per
 * channel, never globally. Thread-safe.
 */
final class ReplicaSetResolverProvider extends NameResolverProvider {
    static final String SCHEME = "trellis-replicas";

    private final List<CatalogSnapshot.Replica> members;

    ReplicaSetResolverProvider(List<CatalogSnapshot.Replica> members) {
        this.members = List.copyOf(requireNonNull(members, "members is null"));
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a replica set needs at least one replica");
        }
    }

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
        return SCHEME.equals(targetUri.getScheme()) ? new Resolver() : null;
    }

    private final class Resolver extends NameResolver {
        private volatile Listener2 listener;

        @Override
        public String getServiceAuthority() {
            return members.get(0).authority();
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
            for (CatalogSnapshot.Replica member : members) {
                groups.add(new EquivalentAddressGroup(
                        member.address(),
                        Attributes.newBuilder()
                                .set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, member.authority())
                                .build()));
            }
            current.onResult2(ResolutionResult.newBuilder()
                    .setAddressesOrError(StatusOr.fromValue(groups))
                    .build());
        }

        @Override
        public void shutdown() {
            listener = null;
        }
    }
}
