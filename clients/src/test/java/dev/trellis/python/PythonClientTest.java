package dev.trellis.python;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.client.TrellisClient;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python example ({@code clients/python}) against a real router and model-server: stubs
 * generated from the same protos, then Score, ScoreBatch with columns, ExplainAssignment and an
 * error whose field violations Python decodes. Needs Debian's python3-grpcio and python3-grpc-tools
 * ({@code .ci/run} installs them); fails, never skips, without them.
 */
class PythonClientTest {
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    @TempDir
    Path dir;

    @Test
    void example_scoresBatchesExplainsAndDecodesFieldViolations() throws Exception {
        requirePythonGrpc();
        Path stubs = dir.resolve("py");
        run(List.of("bash", pythonDir().resolve("generate.sh").toString(), stubs.toString()), Map.of());

        Path repo = dir.resolve("models");
        TestBundles.install(repo, "churn", 1, 42);
        try (ModelServer replica = ModelServer.start(ModelServerConfig.builder(repo)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(-1)
                        .build());
                RouterServer router = startRouter(replica)) {
            String target = "127.0.0.1:" + router.port();
            try (TrellisClient client = TrellisClient.builder().target(target).build()) {
                await("the router sees churn ready")
                        .atMost(Duration.ofMinutes(1))
                        .ignoreExceptions()
                        .until(() -> client.listModels().stream()
                                .anyMatch(m -> m.name().equals("churn")
                                        && m.versions().stream().anyMatch(v -> v.readyReplicas() > 0)));
            }

            String output = run(
                    List.of(PYTHON.toString(), pythonDir().resolve("example.py").toString(), "--target", target),
                    Map.of("PYTHONPATH", stubs.toString()));
            Map<String, Map<String, Value>> calls = new HashMap<>();
            for (String line : output.lines().filter(l -> l.startsWith("{")).toList()) {
                Struct.Builder json = Struct.newBuilder();
                JsonFormat.parser().merge(line, json);
                calls.put(json.getFieldsOrThrow("call").getStringValue(), json.getFieldsMap());
            }

            Map<String, Value> score = calls.get("Score");
            assertThat(score).as(output).isNotNull();
            assertThat(score.get("score").getNumberValue()).isBetween(0.0, 1.0);
            assertThat(score.get("label").getStringValue()).isIn("hot", "warm", "lukewarm", "cold");
            assertThat(score.get("served_model").getStringValue()).isEqualTo("churn");
            assertThat(score.get("served_version").getStringValue()).isEqualTo("1");
            assertThat(score.get("contributions").getStructValue().getFieldsMap())
                    .containsKey("tenure");

            List<Value> rows =
                    calls.get("ScoreBatch").get("rows").getListValue().getValuesList();
            assertThat(rows).hasSize(3);
            assertThat(rows)
                    .allSatisfy(row -> assertThat(row.getStructValue()
                                    .getFieldsOrThrow("score")
                                    .getNumberValue())
                            .isBetween(0.0, 1.0));

            Map<String, Value> assignment = calls.get("ExplainAssignment");
            assertThat(assignment.get("version").getStringValue()).isEqualTo("1");
            assertThat(assignment.get("reason").getStringValue()).isEqualTo("DEFAULT");

            Map<String, Value> error = calls.get("Error");
            assertThat(error.get("raised").getBoolValue()).isTrue();
            assertThat(error.get("code").getStringValue()).isEqualTo("INVALID_ARGUMENT");
            List<String> fields = new ArrayList<>();
            for (Value violation : error.get("field_violations").getListValue().getValuesList()) {
                fields.add(violation.getStructValue().getFieldsOrThrow("field").getStringValue());
            }
            assertThat(fields).contains("features.no_such_feature");
        }
    }

    private RouterServer startRouter(ModelServer replica) {
        return RouterServer.start(RouterConfig.builder()
                .shutdownDelay(Duration.ZERO)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(-1)
                .upstreams(List.of("127.0.0.1:" + replica.port()))
                .store(dir.resolve("trellis.db"))
                .catalogRefresh(Duration.ofMillis(200))
                .build());
    }

    private static void requirePythonGrpc() throws Exception {
        String missing = "python3-grpcio and python3-grpc-tools are needed (apt-get install -y python3-grpcio "
                + "python3-grpc-tools; .ci/run installs them when missing)";
        assertThat(Files.isExecutable(PYTHON)).as(missing).isTrue();
        run(List.of(PYTHON.toString(), "-c", "import grpc, grpc_tools.protoc"), Map.of());
    }

    private static Path pythonDir() {
        // the tests run in clients/
        return Path.of("python").toAbsolutePath();
    }

    /** Runs a command to completion (bounded), returns its output; fails with the output otherwise. */
    private static String run(List<String> command, Map<String, String> environment) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment);
        Process process = builder.start();
        process.getOutputStream().close();
        byte[] bytes;
        try {
            bytes = process.getInputStream().readAllBytes();
        } catch (IOException e) {
            process.destroyForcibly();
            throw e;
        }
        if (!process.waitFor(2, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError(command + " did not finish within 2 minutes");
        }
        String output = new String(bytes, StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as(command + " failed:\n" + output).isZero();
        return output;
    }
}
