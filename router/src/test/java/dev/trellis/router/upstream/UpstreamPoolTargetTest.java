package dev.trellis.router.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The channel targets that become the client metrics' grpc.target label. */
class UpstreamPoolTargetTest {
    private static CatalogSnapshot.Replica replica(String name, String ip, int port, String authority) {
        return new CatalogSnapshot.Replica(name, InetSocketAddress.createUnresolved(ip, port), authority, true, true);
    }

    @Test
    void target_staticReplicas_sortedAddressesAndLane() {
        List<CatalogSnapshot.Replica> set = List.of(
                replica("10.0.0.8:8081", "10.0.0.8", 8081, "10.0.0.8:8081"),
                replica("10.0.0.7:8081", "10.0.0.7", 8081, "10.0.0.7:8081"));

        assertThat(UpstreamPool.target(set, false))
                .isEqualTo("trellis-replicas:///10.0.0.7:8081,10.0.0.8:8081?lane=interactive");
        assertThat(UpstreamPool.target(set, true))
                .isEqualTo("trellis-replicas:///10.0.0.7:8081,10.0.0.8:8081?lane=bulk");
    }

    @Test
    void target_replicasBehindADnsName_namedByTheNameWhateverTheirPodAddresses() {
        List<CatalogSnapshot.Replica> before = List.of(
                replica("10.1.0.4:8081", "10.1.0.4", 8081, "model-server:8081"),
                replica("10.1.0.5:8081", "10.1.0.5", 8081, "model-server:8081"));
        List<CatalogSnapshot.Replica> afterARestart = List.of(
                replica("10.1.0.9:8081", "10.1.0.9", 8081, "model-server:8081"),
                replica("10.1.0.5:8081", "10.1.0.5", 8081, "model-server:8081"));

        assertThat(UpstreamPool.target(before, false))
                .isEqualTo("trellis-replicas:///model-server:8081?lane=interactive")
                .isEqualTo(UpstreamPool.target(afterARestart, false));
    }

    @Test
    void target_ipv6_isAValidUriOfTheResolverScheme() {
        String target = UpstreamPool.target(List.of(replica("[::1]:8081", "::1", 8081, "[::1]:8081")), false);

        URI uri = URI.create(target);
        assertThat(uri.getScheme()).isEqualTo(ReplicaSetResolverProvider.SCHEME);
        assertThat(uri.getPath()).isEqualTo("/[::1]:8081");
    }
}
