package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KServe v2 REST with real HTTP requests against a real churn bundle: health, metadata, readiness,
 * inference (the same scores as gRPC), and the same errors and auth as the gRPC port.
 */
class RestEndToEndTest {
    private static final String MODEL = "churn";
    private static final String INFERENCE_TOKEN = "rest-inference-token-0123456789";

    @TempDir
    static Path repository;

    private static ModelServer server;
    private static ManagedChannel channel;
    private static LoadedBundle bundle;
    private static FeatureSchema schema;
    private static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void startServer() throws Exception {
        TestBundles.install(repository, MODEL, 1, 42);
        server = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(-1)
                .httpPort(0)
                .inferenceToken(BearerToken.of(INFERENCE_TOKEN))
                .build());
        server.awaitReady(Duration.ofMinutes(2));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port())
                .usePlaintext()
                .build();
        bundle = BundleLoader.load(repository.resolve(MODEL).resolve("1"));
        schema = bundle.ensemble().schema();
    }

    @AfterAll
    static void stopServer() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
        bundle.close();
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
                        .timeout(Duration.ofSeconds(30))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String path, String body, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static Map<String, Value> json(String body) throws Exception {
        Struct.Builder struct = Struct.newBuilder();
        JsonFormat.parser().merge(body, struct);
        return struct.getFieldsMap();
    }

    /** The rows as a KServe v2 REST body: one JSON tensor per feature, null for missing. */
    private static String inferBody(FeatureBatch rows) {
        StringBuilder body = new StringBuilder("{\"id\":\"r1\",\"inputs\":[");
        for (int i = 0; i < schema.size(); i++) {
            boolean numeric = schema.features().get(i).type() == FeatureType.NUMERIC;
            body.append(i == 0 ? "" : ",")
                    .append("{\"name\":\"")
                    .append(schema.features().get(i).name())
                    .append("\",\"datatype\":\"")
                    .append(numeric ? "FP32" : "BYTES")
                    .append("\",\"shape\":[")
                    .append(rows.rows())
                    .append("],\"data\":[");
            for (int row = 0; row < rows.rows(); row++) {
                body.append(row == 0 ? "" : ",");
                if (numeric) {
                    double value = rows.numeric(i)[row];
                    body.append(Double.isNaN(value) ? "null" : String.valueOf((float) value));
                } else {
                    String value = rows.categorical(i)[row];
                    body.append(value == null ? "null" : "\"" + value + "\"");
                }
            }
            body.append("]}");
        }
        return body.append("]}").toString();
    }

    @Test
    void healthMetadataAndReadiness() throws Exception {
        assertThat(get("/v2/health/live").statusCode()).isEqualTo(200);
        HttpResponse<String> ready = get("/v2/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(json(ready.body()).get("ready").getBoolValue()).isTrue();
        assertThat(json(get("/v2").body()).get("name").getStringValue()).isEqualTo("trellis-model-server");

        HttpResponse<String> metadata = get("/v2/models/churn");
        assertThat(metadata.statusCode()).isEqualTo(200);
        assertThat(json(metadata.body()).get("inputs").getListValue().getValuesCount())
                .isEqualTo(schema.size());
        assertThat(get("/v2/models/churn/versions/1").statusCode()).isEqualTo(200);
        assertThat(get("/v2/models/churn/ready").statusCode()).isEqualTo(200);
        assertThat(get("/v2/models/churn/versions/1/ready").statusCode()).isEqualTo(200);

        HttpResponse<String> unknown = get("/v2/models/nope");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(json(unknown.body()).get("error").getStringValue()).contains("nope");
        assertThat(get("/v2/models/churn/versions/7").statusCode()).isEqualTo(404);
    }

    @Test
    void infer_sameScoresAsGrpc() throws Exception {
        FeatureBatch rows = TestRows.random(schema, 4, 11);
        HttpResponse<String> response = post("/v2/models/churn/infer", inferBody(rows), INFERENCE_TOKEN);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        Map<String, Value> body = json(response.body());
        assertThat(body.get("model_version").getStringValue()).isEqualTo("1");
        assertThat(body.get("id").getStringValue()).isEqualTo("r1");

        ModelInferResponse grpc = TestTokens.bearer(
                        GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS),
                        INFERENCE_TOKEN)
                .modelInfer(TestRows.request(MODEL, "", rows, false));
        List<Float> expected = TestRows.output(grpc, "score").getContents().getFp32ContentsList();
        Value score = body.get("outputs").getListValue().getValuesList().stream()
                .filter(v -> v.getStructValue()
                        .getFieldsMap()
                        .get("name")
                        .getStringValue()
                        .equals("score"))
                .findFirst()
                .orElseThrow();
        List<Float> actual = score.getStructValue().getFieldsMap().get("data").getListValue().getValuesList().stream()
                .map(v -> (float) v.getNumberValue())
                .toList();
        assertThat(actual).containsExactlyElementsOf(expected);
        assertThat(score.getStructValue()
                        .getFieldsMap()
                        .get("parameters")
                        .getStructValue()
                        .getFieldsMap()
                        .get("content_type")
                        .getStringValue())
                .isEqualTo("np");
    }

    @Test
    void errors_sameStatusMessageAndViolationsAsGrpc() throws Exception {
        // the inference token is required, as on the gRPC port
        HttpResponse<String> missing = post("/v2/models/churn/infer", inferBody(TestRows.random(schema, 1, 1)), null);
        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(json(missing.body()).get("reason").getStringValue()).isEqualTo("MISSING_CREDENTIAL");
        HttpResponse<String> wrong =
                post("/v2/models/churn/infer", inferBody(TestRows.random(schema, 1, 1)), "not-the-token-at-all");
        assertThat(wrong.statusCode()).isEqualTo(403);

        String badDatatype = "{\"inputs\":[{\"name\":\""
                + schema.features().get(0).name() + "\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[1]}]}";
        HttpResponse<String> invalid = post("/v2/models/churn/infer", badDatatype, INFERENCE_TOKEN);
        assertThat(invalid.statusCode()).isEqualTo(400);
        Map<String, Value> error = json(invalid.body());
        assertThat(error.get("code").getStringValue()).isEqualTo("INVALID_ARGUMENT");
        assertThat(error.get("error").getStringValue()).contains("FP16");
        assertThat(error.get("field_violations")
                        .getListValue()
                        .getValues(0)
                        .getStructValue()
                        .getFieldsMap()
                        .get("field")
                        .getStringValue())
                .isEqualTo("inputs[0].datatype");

        HttpResponse<String> notJson = post("/v2/models/churn/infer", "{garbage", INFERENCE_TOKEN);
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(json(notJson.body()).get("error").getStringValue()).contains("not a JSON object");
        assertThat(post("/v2/models/nope/infer", "{\"inputs\":[]}", INFERENCE_TOKEN)
                        .statusCode())
                .isEqualTo(404);

        // still serving
        assertThat(post("/v2/models/churn/infer", inferBody(TestRows.random(schema, 2, 2)), INFERENCE_TOKEN)
                        .statusCode())
                .isEqualTo(200);
    }
}
