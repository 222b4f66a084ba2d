package dev.trellis.router.upstream;

import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import java.util.List;
import java.util.Map;

/**
 * The service config of the pool channel, in the JSON-like map form grpc-java parses
 * (numbers must be doubles, durations strings).
 *
 * <ul>
 *   <li>{@code round_robin} over every resolved replica;</li>
 *   <li>client-side health checking: each replica's {@code grpc.health.v1.Health/Watch} for the
 *       inference service; a NOT_SERVING replica (draining, loading) leaves the rotation;</li>
 *   <li>retry of UNAVAILABLE, CANCELLED and NOT_FOUND for ModelInfer, ModelMetadata and ModelReady:
 *       scoring is idempotent, and round_robin sends the next attempt to the next healthy replica of
 *       the same replica set, i.e. another replica that has the version. CANCELLED is what a
 *       replica that dies abruptly (server shutdownNow) sends for the calls it was running
 *       (RST_STREAM CANCEL); a cancellation by our own caller is never retried, since grpc-java
 *       commits the call when the client cancels. NOT_FOUND: the router sends a version only to
 *       replicas whose last poll said they have it, so a replica answering NOT_FOUND lost it since
 *       (it restarted) and another replica of the set may still have it. Retries stay inside the
 *       call's deadline (grpc-java's retry never outlives it).</li>
 * </ul>
 */
public final class UpstreamServiceConfig {
    private UpstreamServiceConfig() {}

    public static Map<String, Object> build(int maxAttempts, String healthServiceName) {
        Map<String, Object> retryPolicy = Map.of(
                "maxAttempts",
                (double) Math.max(2, maxAttempts),
                "initialBackoff",
                "0.005s",
                "maxBackoff",
                "0.1s",
                "backoffMultiplier",
                2.0,
                "retryableStatusCodes",
                List.of("UNAVAILABLE", "CANCELLED", "NOT_FOUND"));
        String service = GRPCInferenceServiceGrpc.SERVICE_NAME;
        Map<String, Object> methodConfig = Map.of(
                "name",
                List.of(
                        Map.of("service", service, "method", "ModelInfer"),
                        Map.of("service", service, "method", "ModelMetadata"),
                        Map.of("service", service, "method", "ModelReady")),
                "retryPolicy",
                retryPolicy);
        Map<String, Object> noRetry = Map.of("name", List.of(Map.of("service", service, "method", "ModelInfer")));
        return Map.of(
                "loadBalancingConfig", List.of(Map.of("round_robin", Map.of())),
                "healthCheckConfig", Map.of("serviceName", healthServiceName),
                "methodConfig", List.of(maxAttempts > 1 ? methodConfig : noRetry));
    }
}
