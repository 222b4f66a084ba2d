package dev.trellis.router.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamTargetsTest {
    @Test
    void parse_staticList_becomesOneStaticTarget() {
        UpstreamTargets targets = UpstreamTargets.parse(List.of("10.0.0.1:8081, 10.0.0.2:8082", "host-c"));

        assertThat(targets.isDns()).isFalse();
        assertThat(targets.staticAddresses())
                .extracting(UpstreamTargets.HostPort::toString)
                .containsExactly("10.0.0.1:8081", "10.0.0.2:8082", "host-c:8081");
        assertThat(targets.channelTarget()).isEqualTo("static:///10.0.0.1:8081,10.0.0.2:8082,host-c:8081");
    }

    @Test
    void parse_dnsName_isPassedToTheDnsResolver() {
        UpstreamTargets targets = UpstreamTargets.parse(List.of("dns:///model-server.trellis.svc:8081"));

        assertThat(targets.isDns()).isTrue();
        assertThat(targets.channelTarget()).isEqualTo("dns:///model-server.trellis.svc:8081");
    }

    @Test
    void parse_badInput_isRejected() {
        assertThatThrownBy(() -> UpstreamTargets.parse(List.of("dns:///a:1", "b:2")))
                .hasMessageContaining("cannot be mixed");
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
                .containsEntry("retryableStatusCodes", List.of("UNAVAILABLE", "CANCELLED"));
    }
}
