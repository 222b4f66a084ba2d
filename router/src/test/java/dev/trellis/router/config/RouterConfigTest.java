package dev.trellis.router.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.common.text.DurationText;
import dev.trellis.router.RouterMain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RouterConfigTest {
    @Test
    void builder_defaults() {
        RouterConfig config = RouterConfig.builder().build();

        assertThat(config.host()).isEqualTo("0.0.0.0");
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.metricsPort()).isEqualTo(9090);
        assertThat(config.upstreams()).containsExactly("localhost:8081");
        assertThat(config.store()).isEqualTo("trellis.db");
        assertThat(config.storePassword()).isEmpty();
        assertThat(config.retention()).isEmpty();
        assertThat(config.shutdownDelay()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.adminToken()).isEmpty();
        assertThat(config.scoringToken()).isEmpty();
        assertThat(config.tlsCert()).isEmpty();
        assertThat(config.upstreamTls()).isFalse();
        assertThat(config.upstreamToken()).isEmpty();
        assertThat(config.defaultDeadline()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.maxMessageSize()).isEqualTo(4 * 1024 * 1024);
        assertThat(config.rolloutTick()).isEqualTo(Duration.ofSeconds(1));
        assertThat(config.catalogRefresh()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.upstreamMaxAttempts()).isEqualTo(3);
        assertThat(config.upstreamHealthService()).isEqualTo("inference.GRPCInferenceService");
        assertThat(config.traceLog()).isFalse();
        assertThat(config.performanceRefresh()).isEqualTo(Duration.ofMinutes(1));
        assertThat(config.performanceWindow()).isEqualTo(Duration.ofDays(7));
        assertThat(config.performanceMetrics()).isEmpty();
    }

    @Test
    void httpPort_offByDefault_flagSetsIt() {
        assertThat(RouterConfig.builder().build().httpPort()).isEqualTo(-1);
        assertThat(RouterMain.parse(new String[0], Map.of()).httpPort()).isEqualTo(-1);
        assertThat(RouterMain.parse(new String[] {"--http-port", "8000"}, Map.of())
                        .httpPort())
                .isEqualTo(8000);
        assertThat(RouterMain.parse(new String[] {"--http-port", "0"}, Map.of()).httpPort())
                .isZero();
        assertThatThrownBy(() -> RouterConfig.builder().httpPort(-2).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("http port");
    }

    @Test
    void parse_noFlags_matchesBuilderDefaults() {
        RouterConfig parsed = RouterMain.parse(new String[0], Map.of());
        RouterConfig defaults = RouterConfig.builder().build();

        assertThat(parsed.port()).isEqualTo(defaults.port());
        assertThat(parsed.host()).isEqualTo(defaults.host());
        assertThat(parsed.upstreams()).isEqualTo(defaults.upstreams());
        assertThat(parsed.defaultDeadline()).isEqualTo(defaults.defaultDeadline());
        assertThat(parsed.rolloutTick()).isEqualTo(defaults.rolloutTick());
        assertThat(parsed.catalogRefresh()).isEqualTo(defaults.catalogRefresh());
        assertThat(parsed.maxMessageSize()).isEqualTo(defaults.maxMessageSize());
        assertThat(parsed.store()).isEqualTo(defaults.store());
        assertThat(parsed.retention()).isEqualTo(defaults.retention());
        assertThat(parsed.shutdownDelay()).isEqualTo(defaults.shutdownDelay());
        assertThat(parsed.performanceRefresh()).isEqualTo(defaults.performanceRefresh());
        assertThat(parsed.performanceWindow()).isEqualTo(defaults.performanceWindow());
        assertThat(parsed.performanceMetrics()).isEqualTo(defaults.performanceMetrics());
    }

    @Test
    void parse_everyFlag_mapsOntoConfig(@TempDir Path dir) throws Exception {
        Path admin = Files.writeString(dir.resolve("admin"), "s3cret\n");
        Path scoring = Files.writeString(dir.resolve("scoring"), "score-token");
        Path cert = Files.writeString(dir.resolve("cert.pem"), "x");
        Path key = Files.writeString(dir.resolve("key.pem"), "x");
        Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
        Path upstreamToken = Files.writeString(dir.resolve("upstream"), " replica-token\n");

        RouterConfig config = RouterMain.parse(
                new String[] {
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--metrics-port",
                    "0",
                    "--upstream",
                    "a:1,b:2",
                    "--upstream",
                    "c:3",
                    "--store",
                    "/var/lib/trellis.db",
                    "--admin-token-file",
                    admin.toString(),
                    "--scoring-token-file",
                    scoring.toString(),
                    "--tls-cert",
                    cert.toString(),
                    "--tls-key",
                    key.toString(),
                    "--upstream-tls",
                    "--upstream-ca",
                    ca.toString(),
                    "--upstream-token-file",
                    upstreamToken.toString(),
                    "--default-deadline",
                    "750ms",
                    "--max-message-size",
                    "1048576",
                    "--rollout-tick",
                    "5s",
                    "--catalog-refresh",
                    "PT1M",
                    "--upstream-max-attempts",
                    "4",
                    "--shutdown-grace",
                    "3s",
                    "--shutdown-delay",
                    "7s",
                    "--retention",
                    "90d",
                    "--performance-refresh",
                    "30s",
                    "--performance-window",
                    "24h",
                    "--performance-metric",
                    "churn=churned",
                    "--performance-metric",
                    "leads = converted",
                    "--trace-log"
                },
                Map.of("TRELLIS_ADMIN_TOKEN", "ignored-when-file-given"));

        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isZero();
        assertThat(config.metricsPort()).isZero();
        assertThat(config.upstreams()).containsExactly("a:1", "b:2", "c:3");
        assertThat(config.store()).isEqualTo("/var/lib/trellis.db");
        assertThat(config.shutdownDelay()).isEqualTo(Duration.ofSeconds(7));
        assertThat(config.retention()).contains(Duration.ofDays(90));
        assertThat(config.adminToken()).contains("s3cret");
        assertThat(config.scoringToken()).contains("score-token");
        assertThat(config.tlsCert()).contains(cert);
        assertThat(config.tlsKey()).contains(key);
        assertThat(config.upstreamTls()).isTrue();
        assertThat(config.upstreamCa()).contains(ca);
        assertThat(config.upstreamToken()).contains("replica-token");
        assertThat(config.defaultDeadline()).isEqualTo(Duration.ofMillis(750));
        assertThat(config.maxMessageSize()).isEqualTo(1_048_576);
        assertThat(config.rolloutTick()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.catalogRefresh()).isEqualTo(Duration.ofMinutes(1));
        assertThat(config.upstreamMaxAttempts()).isEqualTo(4);
        assertThat(config.shutdownGrace()).isEqualTo(Duration.ofSeconds(3));
        assertThat(config.traceLog()).isTrue();
        assertThat(config.performanceRefresh()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.performanceWindow()).isEqualTo(Duration.ofHours(24));
        assertThat(config.performanceMetrics())
                .containsExactly(
                        new dev.trellis.router.monitoring.TrackedMetric("churn", "churned"),
                        new dev.trellis.router.monitoring.TrackedMetric("leads", "converted"));
    }

    @Test
    void parse_postgresStorePasswordFromFileOrEnvironmentNeverTheUrl(@TempDir Path dir) throws Exception {
        Path password = Files.writeString(dir.resolve("pw"), "from-file\n");
        String url = "postgresql://trellis@db:5432/trellis";

        RouterConfig fromFile = RouterMain.parse(
                new String[] {"--store", url, "--store-password-file", password.toString()},
                Map.of("TRELLIS_STORE_PASSWORD", "ignored-when-file-given"));
        RouterConfig fromEnv =
                RouterMain.parse(new String[] {"--store", url}, Map.of("TRELLIS_STORE_PASSWORD", "from-env"));

        assertThat(fromFile.store()).isEqualTo(url);
        assertThat(fromFile.storePassword()).contains("from-file");
        assertThat(fromEnv.storePassword()).contains("from-env");
    }

    @Test
    void parse_tokensFromEnvironment() {
        RouterConfig config = RouterMain.parse(
                new String[] {"--upstream", "dns:///model-server:8081"},
                Map.of(
                        "TRELLIS_ADMIN_TOKEN",
                        " env-admin ",
                        "TRELLIS_SCORING_TOKEN",
                        "",
                        "TRELLIS_UPSTREAM_TOKEN",
                        "env-upstream"));

        assertThat(config.adminToken()).contains("env-admin");
        assertThat(config.scoringToken()).isEqualTo(Optional.empty());
        assertThat(config.upstreamToken()).contains("env-upstream");
        assertThat(config.upstreams()).containsExactly("dns:///model-server:8081");
    }

    @Test
    void build_inconsistentSettings_areRejected() {
        assertThatThrownBy(() -> RouterConfig.builder().tlsCert(Path.of("c")).build())
                .hasMessageContaining("--tls-key");
        assertThatThrownBy(() -> RouterConfig.builder().upstreamCa(Path.of("c")).build())
                .hasMessageContaining("--upstream-tls");
        assertThatThrownBy(() -> RouterConfig.builder().upstreams(List.of()).build())
                .hasMessageContaining("upstream");
        assertThatThrownBy(() ->
                        RouterConfig.builder().defaultDeadline(Duration.ZERO).build())
                .hasMessageContaining("positive");
        assertThatThrownBy(() -> RouterConfig.builder().upstreamMaxAttempts(6).build())
                .hasMessageContaining("1..5");
        assertThatThrownBy(() -> DurationText.parse("soon")).hasMessageContaining("invalid duration");
        assertThatThrownBy(() ->
                        RouterConfig.builder().performanceRefresh(Duration.ZERO).build())
                .hasMessageContaining("performance refresh must be positive");
        assertThatThrownBy(() -> RouterMain.parse(new String[] {"--performance-metric", "churn"}, Map.of()))
                .hasMessageContaining("expected MODEL=METRIC");
        assertThatThrownBy(() -> RouterMain.parse(new String[] {"--performance-metric", "churn="}, Map.of()))
                .hasMessageContaining("MODEL=METRIC");
    }
}
