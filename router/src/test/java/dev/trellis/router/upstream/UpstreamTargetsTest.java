package dev.trellis.router.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamTargetsTest {
    @Test
    void parse_staticList_replicasNamedAsConfigured() {
        UpstreamTargets targets = UpstreamTargets.parse(List.of("10.0.0.1:8081, 10.0.0.2:8082", "host-c"));

        assertThat(targets.dnsNames()).isEmpty();
        assertThat(targets.resolve().replicas())
                .extracting(UpstreamTargets.Replica::name)
                .containsExactly("10.0.0.1:8081", "10.0.0.2:8082", "host-c:8081");
        assertThat(targets).hasToString("10.0.0.1:8081,10.0.0.2:8082,host-c:8081");
    }

    @Test
    void parse_dnsNamesAndAddressesMixed_mergeIntoOneReplicaList() {
        UpstreamTargets targets = UpstreamTargets.parse(List.of("dns:///localhost:9001", "127.0.0.1:9002"));

        UpstreamTargets.Resolution resolution = targets.resolve();
        assertThat(resolution.problems()).isEmpty();
        // a name behind DNS is named by its resolved address; TLS still checks the DNS name
        assertThat(resolution.replicas())
                .extracting(UpstreamTargets.Replica::name)
                .contains("127.0.0.1:9002")
                .anyMatch(name -> name.endsWith(":9001") && !name.startsWith("localhost"));
        assertThat(resolution.replicas())
                .filteredOn(r -> r.port() == 9001)
                .allSatisfy(r -> assertThat(r.authority()).isEqualTo("localhost:9001"));
        assertThat(targets).hasToString("127.0.0.1:9002,dns:///localhost:9001");
    }

    @Test
    void resolve_unknownDnsName_isAProblemNotAnError() {
        UpstreamTargets.Resolution resolution = UpstreamTargets.parse(
                        List.of("dns:///no-such-host.invalid:8081", "a:1"))
                .resolve();

        assertThat(resolution.replicas())
                .extracting(UpstreamTargets.Replica::name)
                .containsExactly("a:1");
        assertThat(resolution.problems()).singleElement().asString().contains("no-such-host.invalid");
    }

    @Test
    void parse_badInput_isRejected() {
        assertThatThrownBy(() -> UpstreamTargets.parse(List.of("a:notaport"))).hasMessageContaining("bad port");
        assertThatThrownBy(() -> UpstreamTargets.parse(List.of(" , "))).hasMessageContaining("no upstream");
    }

    @Test
    void serviceConfig_roundRobinHealthCheckAndRetryOfUnavailable() {
        Map<String, Object> config = UpstreamServiceConfig.build(3, "inference.GRPCInferenceService");

        assertThat(config.get("loadBalancingConfig")).isEqualTo(List.of(Map.of("round_robin", Map.of())));
        assertThat(config.get("healthCheckConfig")).isEqualTo(Map.of("serviceName", "inference.GRPCInferenceService"));
        @SuppressWarnings("unchecked")
        Map<String, Object> method = ((List<Map<String, Object>>) config.get("methodConfig")).get(0);
        @SuppressWarnings("unchecked")
        Map<String, Object> retry = (Map<String, Object>) method.get("retryPolicy");
        assertThat(retry)
                .containsEntry("maxAttempts", 3.0)
                .containsEntry("retryableStatusCodes", List.of("UNAVAILABLE", "CANCELLED", "NOT_FOUND"));
    }
}
