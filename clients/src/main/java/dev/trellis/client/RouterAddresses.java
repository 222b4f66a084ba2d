package dev.trellis.client;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Several router addresses as one gRPC target, and the service config that spreads calls over
 * them: {@code round_robin}, client-side health checking (a router that reports NOT_SERVING, as
 * it does as soon as it is asked to stop, leaves the rotation while it still finishes its calls),
 * and retries of UNAVAILABLE for calls that are safe to repeat (scoring, reads, and outcomes,
 * which carry an idempotency key). Thread-safe.
 */
final class RouterAddresses {
    static final String SCHEME = "trellis-routers";
    private static final Object REGISTERED = register();

    private RouterAddresses() {}

    private static Object register() {
        NameResolverRegistry.getDefaultRegistry().register(new Provider());
        return new Object();
    }

    /** The gRPC target for {@code host:port}, a comma list of them, or any gRPC target (dns:///...). */
    static String target(String target) {
        String t = target.strip();
        if (t.contains("://") || !t.contains(",")) {
            return t;
        }
        return REGISTERED == null ? t : SCHEME + ":///" + t;
    }

    static Map<String, Object> serviceConfig() {
        Map<String, Object> retry = Map.of(
                "maxAttempts",
                4.0,
                "initialBackoff",
                "0.02s",
                "maxBackoff",
                "0.5s",
                "backoffMultiplier",
                2.0,
                "retryableStatusCodes",
                List.of("UNAVAILABLE"));
        String scoring = "trellis.v1.Scoring";
        String experiments = "trellis.v1.Experiments";
        List<Map<String, Object>> safe = new ArrayList<>();
        safe.add(Map.of("service", scoring));
        for (String method : List.of(
                "ListExperiments",
                "GetExperiment",
                "ExplainAssignment",
                "GetResults",
                "GetRollout",
                "ListModels",
                "RecordOutcome")) {
            safe.add(Map.of("service", experiments, "method", method));
        }
        return Map.of(
                "loadBalancingConfig", List.of(Map.of("round_robin", Map.of())),
                "healthCheckConfig", Map.of("serviceName", ""),
                "methodConfig", List.of(Map.of("name", safe, "retryPolicy", retry)));
    }

    private static final class Provider extends NameResolverProvider {
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
        public NameResolver newNameResolver(URI uri, NameResolver.Args args) {
            if (!SCHEME.equals(uri.getScheme())) {
                return null;
            }
            List<String> entries = new ArrayList<>();
            for (String entry : uri.getPath().replaceFirst("^/", "").split(",")) {
                if (!entry.isBlank()) {
                    entries.add(entry.strip());
                }
            }
            return new NameResolver() {
                private Listener2 listener;

                @Override
                public String getServiceAuthority() {
                    return entries.get(0);
                }

                @Override
                public void start(Listener2 l) {
                    listener = l;
                    refresh();
                }

                @Override
                public void refresh() {
                    // names are looked up on every refresh: a router that moved is found again
                    List<EquivalentAddressGroup> groups = new ArrayList<>();
                    for (String entry : entries) {
                        int colon = entry.lastIndexOf(':');
                        String host =
                                colon < 0 ? entry : entry.substring(0, colon).replaceAll("^\\[|]$", "");
                        int port = colon < 0 ? 8080 : Integer.parseInt(entry.substring(colon + 1));
                        InetSocketAddress address = new InetSocketAddress(host, port);
                        if (!address.isUnresolved()) {
                            groups.add(new EquivalentAddressGroup(address));
                        }
                    }
                    listener.onResult2(ResolutionResult.newBuilder()
                            .setAddressesOrError(
                                    groups.isEmpty()
                                            ? StatusOr.fromStatus(Status.UNAVAILABLE.withDescription(
                                                    "no router address resolves: " + entries))
                                            : StatusOr.fromValue(groups))
                            .build());
                }

                @Override
                public void shutdown() {}
            };
        }
    }
}
