package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ModelServerCommandTest {
    private static ModelServerConfig parse(String... args) {
        ModelServerCommand command = new ModelServerCommand();
        new CommandLine(command).parseArgs(args);
        return command.toConfig();
    }

    @Test
    void toConfig_defaults() {
        ModelServerConfig config = parse("--repo", "/models");

        assertThat(config)
                .isEqualTo(ModelServerConfig.builder(Path.of("/models")).build());
        assertThat(config.host()).isEqualTo("0.0.0.0");
        assertThat(config.port()).isEqualTo(8081);
        assertThat(config.metricsPort()).isEqualTo(9091);
        assertThat(config.models()).isEmpty();
        assertThat(config.defaultVersionPolicy()).isEqualTo(new VersionPolicy.Latest(2));
        assertThat(config.versionPolicies()).isEmpty();
        assertThat(config.pollInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.maxBatchSize()).isEqualTo(64);
        assertThat(config.maxQueueDelay()).isEqualTo(Duration.ZERO);
        assertThat(config.maxQueueSize()).isEqualTo(2048);
        assertThat(config.batchWorkers()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(config.maxMessageSize()).isEqualTo(16 * 1024 * 1024);
        assertThat(config.maxBatchRows()).isEqualTo(10_000);
        assertThat(config.drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.tlsCert()).isEmpty();
        assertThat(config.tlsKey()).isEmpty();
        assertThat(config.tlsClientCa()).isEmpty();
        assertThat(config.adminToken()).isEmpty();
        assertThat(config.inferenceToken()).isEmpty();
        assertThat(config.bulkWorkers())
                .isEqualTo(Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
        assertThat(config.explainWorkers()).isEqualTo(config.bulkWorkers());
        assertThat(config.bulkQueueSize()).isEqualTo(64);
        assertThat(config.explainQueueSize()).isEqualTo(64);
        assertThat(config.maxExplainRows()).isEqualTo(1000);
        assertThat(config.traceLog()).isFalse();
    }

    @Test
    void toConfig_securityAndLaneFlags(@TempDir Path temp) throws Exception {
        Path admin = Files.writeString(temp.resolve("admin"), "s3cret-admin\n");
        Path inference = Files.writeString(temp.resolve("inference"), " s3cret-inference ");

        ModelServerConfig config = parse(
                "--repo",
                "/models",
                "--tls-cert",
                "/tls/cert.pem",
                "--tls-key",
                "/tls/key.pem",
                "--tls-client-ca",
                "/tls/clients.pem",
                "--admin-token-file",
                admin.toString(),
                "--inference-token-file",
                inference.toString(),
                "--bulk-workers",
                "2",
                "--explain-workers",
                "3",
                "--bulk-queue-size",
                "10",
                "--explain-queue-size",
                "11",
                "--max-explain-rows",
                "200");

        assertThat(config.tlsClientCa()).contains(Path.of("/tls/clients.pem"));
        assertThat(config.adminToken().orElseThrow().matches("s3cret-admin")).isTrue();
        assertThat(config.inferenceToken().orElseThrow().matches("s3cret-inference"))
                .isTrue();
        assertThat(config.toString()).doesNotContain("s3cret");
        assertThat(config.bulkWorkers()).isEqualTo(2);
        assertThat(config.explainWorkers()).isEqualTo(3);
        assertThat(config.bulkQueueSize()).isEqualTo(10);
        assertThat(config.explainQueueSize()).isEqualTo(11);
        assertThat(config.maxExplainRows()).isEqualTo(200);
        assertThat(config.toBuilder().build()).isEqualTo(config);
        Path empty = Files.writeString(temp.resolve("empty"), "  ");
        assertThatThrownBy(() -> parse("--repo", "/m", "--admin-token-file", empty.toString()))
                .hasMessageContaining("is empty");
        assertThatThrownBy(() -> parse("--repo", "/m", "--tls-client-ca", "/ca.pem"))
                .hasMessageContaining("--tls-client-ca needs --tls-cert");
    }

    @Test
    void toConfig_everyFlag() {
        ModelServerConfig config = parse(
                "--repo",
                "/models",
                "--host",
                "127.0.0.1",
                "--port",
                "9000",
                "--metrics-port",
                "0",
                "--models",
                "churn,leads",
                "--version-policy",
                "all",
                "--version-policy",
                "churn=latest:3",
                "--version-policy",
                "leads=specific:1,3",
                "--poll-interval",
                "250ms",
                "--max-batch-size",
                "32",
                "--max-queue-delay",
                "500us",
                "--max-queue-size",
                "100",
                "--batch-workers",
                "3",
                "--max-message-size",
                "4MiB",
                "--max-batch-rows",
                "500",
                "--drain-timeout",
                "PT10S",
                "--tls-cert",
                "/tls/cert.pem",
                "--tls-key",
                "/tls/key.pem",
                "--trace-log");

        assertThat(config.repository()).isEqualTo(Path.of("/models"));
        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isEqualTo(9000);
        assertThat(config.metricsPort()).isZero();
        assertThat(config.models()).containsExactly("churn", "leads");
        assertThat(config.defaultVersionPolicy()).isEqualTo(new VersionPolicy.All());
        assertThat(config.versionPolicies())
                .isEqualTo(Map.of(
                        "churn", new VersionPolicy.Latest(3),
                        "leads", new VersionPolicy.Specific(Set.of(1, 3))));
        assertThat(config.versionPolicy("churn")).isEqualTo(new VersionPolicy.Latest(3));
        assertThat(config.versionPolicy("other")).isEqualTo(new VersionPolicy.All());
        assertThat(config.pollInterval()).isEqualTo(Duration.ofMillis(250));
        assertThat(config.maxBatchSize()).isEqualTo(32);
        assertThat(config.maxQueueDelay()).isEqualTo(Duration.ofNanos(500_000));
        assertThat(config.maxQueueSize()).isEqualTo(100);
        assertThat(config.batchWorkers()).isEqualTo(3);
        assertThat(config.maxMessageSize()).isEqualTo(4 * 1024 * 1024);
        assertThat(config.maxBatchRows()).isEqualTo(500);
        assertThat(config.drainTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.tlsCert()).isEqualTo(Optional.of(Path.of("/tls/cert.pem")));
        assertThat(config.tlsKey()).isEqualTo(Optional.of(Path.of("/tls/key.pem")));
        assertThat(config.traceLog()).isTrue();
        assertThat(config.toBuilder().build()).isEqualTo(config);
    }

    @Test
    void toConfig_invalidValues() {
        assertThatThrownBy(() -> parse("--repo", "/m", "--version-policy", "newest"))
                .hasMessageContaining("invalid version policy 'newest'");
        assertThatThrownBy(() -> parse("--repo", "/m", "--poll-interval", "soon"))
                .hasMessageContaining("invalid duration 'soon'");
        assertThatThrownBy(() -> parse("--repo", "/m", "--tls-cert", "/c.pem"))
                .hasMessageContaining("both a certificate and a key");
        assertThatThrownBy(() -> parse("--port", "1")).isInstanceOf(CommandLine.MissingParameterException.class);
    }

    @Test
    void usage_documentsEveryFlagWithDefault() {
        String usage =
                new CommandLine(new ModelServerCommand()).getUsageMessage().replaceAll("\\s+", " ");

        for (String flag : List.of(
                "--repo",
                "--port",
                "--host",
                "--metrics-port",
                "--models",
                "--version-policy",
                "--poll-interval",
                "--max-batch-size",
                "--max-queue-delay",
                "--max-queue-size",
                "--batch-workers",
                "--max-message-size",
                "--max-batch-rows",
                "--drain-timeout",
                "--tls-cert",
                "--tls-key",
                "--tls-client-ca",
                "--admin-token-file",
                "--inference-token-file",
                "--bulk-workers",
                "--explain-workers",
                "--bulk-queue-size",
                "--explain-queue-size",
                "--max-explain-rows",
                "--trace-log")) {
            assertThat(usage).contains(flag);
        }
        assertThat(usage)
                .contains("Default: 8081")
                .contains("Default: 9091")
                .contains("Default: 5s")
                .contains("Default: 30s")
                .contains("Default: 16MiB")
                .contains("Default: latest:2");
    }
}
