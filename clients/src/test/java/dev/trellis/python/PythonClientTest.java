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
 * ({@code .ci/run} installs them); fails, never skips, without them. Also {@code oip_compat.py}
 * against a model-server: the Open Inference Protocol calls of Triton's Python client, built and
 * decoded the way tritonclient.grpc builds and decodes them.
 */
class PythonClientTest {
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    @TempDir
    Path dir;

    @Test
    void example_scoresBatchesExplainsAndDecodesFieldViolations() throws Exception {
        Path stubs = generateStubs();
        try (ModelServer replica = startModelServer();
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
            Map<String, Map<String, Value>> calls = jsonLines(output, "call");

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

    @Test
    void oipCompat_tritonclientsCallsAndDecodingWorkAgainstAModelServer() throws Exception {
        Path stubs = generateStubs();
        try (ModelServer server = startModelServer()) {
            server.awaitReady(Duration.ofMinutes(2));
            String output = run(
                    List.of(
                            PYTHON.toString(),
                            pythonDir().resolve("oip_compat.py").toString(),
                            "--target",
                            "127.0.0.1:" + server.port()),
                    Map.of("PYTHONPATH", stubs.toString()));
            Map<String, Map<String, Value>> checks = jsonLines(output, "check");
            assertThat(checks).as(output).containsKeys("health", "metadata", "infer_per_feature", "infer_matrix");

            Map<String, Value> health = checks.get("health");
            assertThat(health.get("live").getBoolValue()).isTrue();
            assertThat(health.get("ready").getBoolValue()).isTrue();
            assertThat(health.get("model_ready").getBoolValue()).isTrue();

            Map<String, Value> metadata = checks.get("metadata");
            assertThat(strings(metadata.get("config_inputs"))).isEqualTo(strings(metadata.get("inputs")));
            assertThat(strings(metadata.get("config_outputs"))).contains("score", "label", "interval");
            assertThat(strings(metadata.get("versions"))).containsExactly("1");
            assertThat(metadata.get("max_batch_size").getNumberValue()).isPositive();

            // the per-feature layout, raw little-endian contents, priority as uint64 (tritonclient's request)
            Map<String, Value> perFeature = checks.get("infer_per_feature");
            List<Double> scores = numbers(perFeature.get("scores"));
            assertThat(scores).hasSize(2).allSatisfy(score -> assertThat(score).isBetween(0.0, 1.0));
            assertThat(numbers(perFeature.get("shape"))).containsExactly(2.0);
            assertThat(strings(perFeature.get("labels")))
                    .hasSize(2)
                    .allSatisfy(label -> assertThat(label).isIn("hot", "warm", "lukewarm", "cold"));
            assertThat(strings(perFeature.get("outputs"))).containsExactly("score", "label");

            // Triton FIL's matrix layout with vocabulary codes: the same rows, the same scores
            Map<String, Value> matrix = checks.get("infer_matrix");
            assertThat(numbers(matrix.get("scores"))).containsExactlyElementsOf(scores);
            assertThat(numbers(matrix.get("interval_shape"))).containsExactly(2.0, 2.0);

            Map<String, Value> statistics = checks.get("statistics");
            assertThat(statistics.get("inference_count").getNumberValue()).isGreaterThanOrEqualTo(4);
            assertThat(statistics.get("success").getNumberValue()).isGreaterThanOrEqualTo(2);

            Map<String, Value> error = checks.get("error");
            assertThat(error.get("raised").getBoolValue()).isTrue();
            assertThat(error.get("status").getStringValue()).isEqualTo("StatusCode.NOT_FOUND");
            assertThat(error.get("message").getStringValue()).contains("no_such_model");
        }
    }

    /** Stubs and wrapper from generate.sh, in a folder for PYTHONPATH. */
    private Path generateStubs() throws Exception {
        requirePythonGrpc();
        Path stubs = dir.resolve("py");
        run(List.of("bash", pythonDir().resolve("generate.sh").toString(), stubs.toString()), Map.of());
        return stubs;
    }

    private ModelServer startModelServer() {
        Path repo = dir.resolve("models");
        TestBundles.install(repo, "churn", 1, 42);
        return ModelServer.start(ModelServerConfig.builder(repo)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(-1)
                .build());
    }

    /** The JSON objects a script printed, one a line, by the value of their {@code key} field. */
    private static Map<String, Map<String, Value>> jsonLines(String output, String key) throws Exception {
        Map<String, Map<String, Value>> objects = new HashMap<>();
        for (String line : output.lines().filter(l -> l.startsWith("{")).toList()) {
            Struct.Builder json = Struct.newBuilder();
            JsonFormat.parser().merge(line, json);
            objects.put(json.getFieldsOrThrow(key).getStringValue(), json.getFieldsMap());
        }
        return objects;
    }

    private static List<String> strings(Value list) {
        return list.getListValue().getValuesList().stream()
                .map(Value::getStringValue)
                .toList();
    }

    private static List<Double> numbers(Value list) {
        return list.getListValue().getValuesList().stream()
                .map(Value::getNumberValue)
                .toList();
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
