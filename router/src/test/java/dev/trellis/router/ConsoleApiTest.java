package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetExperimentResponse;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.ListModelsResponse;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.PutExperimentResponse;
import dev.trellis.api.v1.Variant;
import dev.trellis.common.http.HttpAnswers;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.config.RouterConfig;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console's JSON API over real HTTP against a real router (with a hand-written replica): every
 * method of Experiments and Monitoring answers as its gRPC call does (same message, HTTP status of
 * the gRPC code), the token rules are the gRPC ones, and bad requests get a precise 400.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleApiTest {
    @TempDir
    static Path temp;

    private FakeReplica replica;
    private RouterServer router;
    private ManagedChannel channel;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    void start() throws Exception {
        replica = new FakeReplica();
        router = RouterServer.start(RouterConfig.builder()
                .host("127.0.0.1")
                .port(0)
                .metricsPort(-1)
                .httpPort(0)
                .upstreams(List.of(replica.address()))
                .store(temp.resolve("trellis.db"))
                .adminToken(Cluster.ADMIN_TOKEN)
                .catalogRefresh(Duration.ofMillis(200))
                .build());
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
    }

    @AfterAll
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (router != null) {
            router.close();
        }
        if (replica != null) {
            replica.close();
        }
    }

    private HttpResponse<String> post(String method, String body, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri("/api/v1/" + method))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return http.send(
                HttpRequest.newBuilder(uri(pathAndQuery))
                        .timeout(Duration.ofSeconds(30))
                        .GET()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + router.httpPort() + pathAndQuery);
    }

    private Channel withHeaders(String authorization, String actor) {
        Metadata headers = new Metadata();
        if (authorization != null) {
            headers.put(AuthInterceptor.AUTHORIZATION, authorization);
        }
        if (actor != null) {
            headers.put(AuthInterceptor.ACTOR, actor);
        }
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static Struct json(HttpResponse<String> response) throws IOException {
        Struct.Builder body = Struct.newBuilder();
        JsonFormat.parser().merge(response.body(), body);
        return body.build();
    }

    private static String error(HttpResponse<String> response) throws IOException {
        return json(response).getFieldsOrThrow("error").getStringValue();
    }

    @Test
    void everyMethod_emptyRequest_answersExactlyAsGrpc() throws Exception {
        List<String> checked = new ArrayList<>();
        for (ServiceDescriptor service :
                List.of(ExperimentsGrpc.getServiceDescriptor(), MonitoringGrpc.getServiceDescriptor())) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                HttpResponse<String> response = post(method.getBareMethodName(), "{}", "Bearer " + Cluster.ADMIN_TOKEN);
                if (method.getType() != MethodDescriptor.MethodType.UNARY) {
                    assertThat(response.statusCode())
                            .as(method.getFullMethodName())
                            .isEqualTo(405);
                    assertThat(error(response)).contains(method.getBareMethodName(), "over gRPC");
                    checked.add(method.getBareMethodName());
                    continue;
                }
                @SuppressWarnings("unchecked")
                MethodDescriptor<Message, Message> typed = (MethodDescriptor<Message, Message>) method;
                Message request = (Message)
                        ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller()).getMessagePrototype();
                try {
                    Message expected = ClientCalls.blockingUnaryCall(
                            withHeaders("Bearer " + Cluster.ADMIN_TOKEN, null),
                            typed,
                            CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
                            request);
                    assertThat(response.statusCode())
                            .as(method.getFullMethodName())
                            .isEqualTo(200);
                    Message.Builder actual = expected.newBuilderForType();
                    JsonFormat.parser().merge(response.body(), actual);
                    assertThat(actual.build()).as(method.getFullMethodName()).isEqualTo(expected);
                } catch (StatusRuntimeException e) {
                    assertThat(response.statusCode())
                            .as(method.getFullMethodName() + " " + e.getStatus())
                            .isEqualTo(HttpAnswers.httpStatus(e.getStatus().getCode()));
                    Struct body = json(response);
                    assertThat(body.getFieldsOrThrow("code").getStringValue())
                            .isEqualTo(e.getStatus().getCode().name());
                    assertThat(body.getFieldsOrThrow("error").getStringValue())
                            .isEqualTo(e.getStatus().getDescription());
                }
                checked.add(method.getBareMethodName());
            }
        }
        assertThat(checked).contains("GetResults", "StopExperiment", "GetDrift", "GetPerformance", "RecordOutcomes");
    }

    @Test
    void getExperiment_unknownKey_404WithTheGrpcMessage() throws Exception {
        StatusRuntimeException grpc = StatusAssertions.catchStatus(() -> ExperimentsGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .getExperiment(
                        GetExperimentRequest.newBuilder().setKey("no-such").build()));
        assertThat(grpc.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);

        HttpResponse<String> viaGet = get("/api/v1/GetExperiment?key=no-such");
        HttpResponse<String> viaPost = post("GetExperiment", "{\"key\":\"no-such\"}", null);

        for (HttpResponse<String> response : List.of(viaGet, viaPost)) {
            assertThat(response.statusCode()).isEqualTo(404);
            assertThat(response.headers().firstValue("Content-Type")).contains("application/json");
            assertThat(error(response)).isEqualTo(grpc.getStatus().getDescription());
            assertThat(json(response).getFieldsOrThrow("code").getStringValue()).isEqualTo("NOT_FOUND");
        }
    }

    @Test
    void getResults_unknownExperiment_404WithTheGrpcMessage() throws Exception {
        StatusRuntimeException grpc = StatusAssertions.catchStatus(() -> ExperimentsGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .getResults(GetResultsRequest.newBuilder().setExperiment("nope").build()));

        HttpResponse<String> response = get("/api/v1/trellis.v1.Experiments/GetResults?experiment=nope");

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(error(response)).isEqualTo(grpc.getStatus().getDescription());
        // exactly what the README shows
        String body = "{\"error\":\"experiment \\u0027nope\\u0027 does not exist\",\"code\":\"NOT_FOUND\","
                + "\"reason\":\"NOT_FOUND\"}";
        assertThat(response.body()).isEqualTo(body);
        assertThat(Files.readString(Path.of("..", "README.md"))).contains(body + " 404");
    }

    @Test
    void putExperiment_tokenRules_sameAsGrpc_andTheActorIsRecorded() throws Exception {
        String body = JsonFormat.printer()
                .print(PutExperimentRequest.newBuilder()
                        .setExperiment(Experiment.newBuilder()
                                .setKey("json-api-exp")
                                .setModel("m")
                                .setStatus(ExperimentStatus.DRAFT)
                                .setMetric("converted")
                                .addVariants(Variant.newBuilder()
                                        .setKey("control")
                                        .setVersion("1")
                                        .setWeight(0.5))
                                .addVariants(Variant.newBuilder()
                                        .setKey("treatment")
                                        .setVersion("1")
                                        .setWeight(0.5)))
                        .build());

        HttpResponse<String> anonymous = post("PutExperiment", body, null);
        HttpResponse<String> wrong = post("PutExperiment", body, "Bearer not-the-token");
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(json(anonymous).getFieldsOrThrow("code").getStringValue()).isEqualTo("UNAUTHENTICATED");
        assertThat(wrong.statusCode()).isEqualTo(403);
        assertThat(json(wrong).getFieldsOrThrow("code").getStringValue()).isEqualTo("PERMISSION_DENIED");
        StatusRuntimeException grpcWrong = StatusAssertions.catchStatus(
                () -> ExperimentsGrpc.newBlockingStub(withHeaders("Bearer not-the-token", null))
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .putExperiment(PutExperimentRequest.getDefaultInstance()));
        assertThat(error(wrong)).isEqualTo(grpcWrong.getStatus().getDescription());

        HttpRequest admitted = HttpRequest.newBuilder(uri("/api/v1/PutExperiment"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + Cluster.ADMIN_TOKEN)
                .header("X-Trellis-Actor", "console-user")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> created = http.send(admitted, HttpResponse.BodyHandlers.ofString());
        assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
        PutExperimentResponse.Builder put = PutExperimentResponse.newBuilder();
        JsonFormat.parser().merge(created.body(), put);
        assertThat(put.getExperiment().getRevision()).isEqualTo(1);

        HttpResponse<String> read = get("/api/v1/GetExperiment?key=json-api-exp&include_history=true");
        assertThat(read.statusCode()).isEqualTo(200);
        GetExperimentResponse.Builder got = GetExperimentResponse.newBuilder();
        JsonFormat.parser().merge(read.body(), got);
        assertThat(got.getHistoryList()).hasSize(1);
        assertThat(got.getHistory(0).getActor()).isEqualTo("console-user");
        // fields with no presence are printed too, so a page need not know proto3's defaults
        assertThat(read.body()).contains("\"versionIssues\":[]");

        HttpResponse<String> stale = post("PutExperiment", body, "Bearer " + Cluster.ADMIN_TOKEN);
        assertThat(stale.statusCode()).isEqualTo(409); // ABORTED: expected_revision 0 on an existing one
    }

    @Test
    void get_onAnAdminMethod_405SaysToPost() throws Exception {
        HttpResponse<String> response = get("/api/v1/StopExperiment?key=x");

        assertThat(response.statusCode()).isEqualTo(405);
        assertThat(error(response)).contains("StopExperiment changes state", "POST");
    }

    @Test
    void badJson_400NamesTheTypeAndTheProblem() throws Exception {
        HttpResponse<String> notJson = post("GetResults", "{\"experiment\":", null);
        HttpResponse<String> unknownField = post("GetResults", "{\"experimentt\":\"x\"}", null);
        HttpResponse<String> unknownQuery = get("/api/v1/GetResults?bogus=1");

        for (HttpResponse<String> response : List.of(notJson, unknownField, unknownQuery)) {
            assertThat(response.statusCode()).isEqualTo(400);
            Struct body = json(response);
            assertThat(body.getFieldsOrThrow("code").getStringValue()).isEqualTo("INVALID_ARGUMENT");
            assertThat(body.getFieldsOrThrow("error").getStringValue()).contains("trellis.v1.GetResultsRequest");
            assertThat(body.getFieldsOrThrow("field_violations").getListValue().getValuesCount())
                    .isEqualTo(1);
        }
        assertThat(error(unknownField)).contains("experimentt");
        assertThat(error(unknownQuery)).contains("bogus");
        // the router keeps serving
        assertThat(get("/api/v1/ListModels").statusCode()).isEqualTo(200);
    }

    @Test
    void listModels_viaGet_sameMessageAsGrpc() throws Exception {
        Awaitility.await("the replica's model in the catalog")
                .atMost(Duration.ofSeconds(30))
                .until(() -> !ExperimentsGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .listModels(dev.trellis.api.v1.ListModelsRequest.getDefaultInstance())
                        .getModelsList()
                        .isEmpty());
        ListModelsResponse grpc = ExperimentsGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .listModels(dev.trellis.api.v1.ListModelsRequest.getDefaultInstance());

        HttpResponse<String> response = get("/api/v1/ListModels");

        assertThat(response.statusCode()).isEqualTo(200);
        ListModelsResponse.Builder parsed = ListModelsResponse.newBuilder();
        JsonFormat.parser().merge(response.body(), parsed);
        assertThat(parsed.build()).isEqualTo(grpc);
        assertThat(parsed.getModels(0).getName()).isEqualTo("m");
    }

    @Test
    void unknownMethodAndPaths_404_index_listsEveryMethodWithItsAccess() throws Exception {
        HttpResponse<String> unknown = get("/api/v1/NoSuchMethod");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(error(unknown)).contains("NoSuchMethod");
        assertThat(get("/api/v1x").statusCode()).isEqualTo(404);

        HttpResponse<String> index = get("/api/v1");
        assertThat(index.statusCode()).isEqualTo(200);
        List<String> listed = json(index).getFieldsOrThrow("methods").getListValue().getValuesList().stream()
                .map(v -> v.getStructValue().getFieldsOrThrow("name").getStringValue())
                .toList();
        List<String> expected = new ArrayList<>();
        for (ServiceDescriptor service :
                List.of(ExperimentsGrpc.getServiceDescriptor(), MonitoringGrpc.getServiceDescriptor())) {
            service.getMethods().forEach(m -> expected.add(m.getFullMethodName()));
        }
        assertThat(listed).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(index.body()).contains("\"path\":\"/api/v1/GetResults\"").contains("\"access\":\"admin token\"");
    }

    @Test
    void console_servesItsFilesWithAContentSecurityPolicy_andNothingElse() throws Exception {
        HttpResponse<String> page = get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type"))
                .hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(page.headers().firstValue("Content-Security-Policy"))
                .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'", "frame-ancestors 'none'"));
        assertThat(page.body()).contains("<script type=\"module\" src=\"/console.js\"></script>");
        for (String file : List.of("/console.js", "/api.js", "/views.js", "/charts.js", "/format.js")) {
            HttpResponse<String> script = get(file);
            assertThat(script.statusCode()).as(file).isEqualTo(200);
            assertThat(script.headers().firstValue("Content-Type"))
                    .hasValueSatisfying(t -> assertThat(t).startsWith("text/javascript"));
        }
        assertThat(get("/console.css").statusCode()).isEqualTo(200);
        // no CORS: another origin's page can neither read the API nor send it a bearer header
        HttpResponse<String> preflight = http.send(
                HttpRequest.newBuilder(uri("/api/v1/StopExperiment"))
                        .timeout(Duration.ofSeconds(30))
                        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                        .header("Origin", "https://elsewhere.example")
                        .header("Access-Control-Request-Method", "POST")
                        .header("Access-Control-Request-Headers", "authorization")
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(preflight.statusCode()).isEqualTo(405);
        assertThat(preflight.headers().map().keySet())
                .noneMatch(name -> name.toLowerCase(java.util.Locale.ROOT).startsWith("access-control-"));
        assertThat(get("/api/v1/ListModels").headers().map().keySet())
                .noneMatch(name -> name.toLowerCase(java.util.Locale.ROOT).startsWith("access-control-"));
        assertThat(page.headers().firstValue("Set-Cookie")).isEmpty();
        assertThat(get("/../pom.xml").statusCode()).isEqualTo(404);
        assertThat(get("/dev/trellis/router/RouterServer.class").statusCode()).isEqualTo(404);
    }

    /**
     * Every {@code curl} of the JSON API in the README names a real method, its query parses into
     * the method's request (the test router answers something other than 400 or an unknown method)
     * and its {@code -d} payload parses strictly into that request type.
     */
    @Test
    void readme_everyJsonApiCurlNamesAMethodAndParses() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Map<String, Descriptors.Descriptor> requests = new HashMap<>();
        for (ServiceDescriptor service :
                List.of(ExperimentsGrpc.getServiceDescriptor(), MonitoringGrpc.getServiceDescriptor())) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                Descriptors.Descriptor type = ((Message)
                                ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller())
                                        .getMessagePrototype())
                        .getDescriptorForType();
                requests.put(method.getBareMethodName(), type);
                requests.put(method.getFullMethodName(), type);
            }
        }
        Pattern call = Pattern.compile("localhost:8088/api/v1/([A-Za-z0-9.]+(?:/[A-Za-z]+)?)(\\?[^'\"\\s]*)?");
        List<String> checked = new ArrayList<>();
        for (String command : readme.replace("\\\n", " ").split("\n")) {
            if (!command.contains("curl ")) {
                continue;
            }
            Matcher matcher = call.matcher(command);
            if (!matcher.find()) {
                continue;
            }
            String method = matcher.group(1);
            assertThat(requests).as("README curl names method %s", method).containsKey(method);
            if (matcher.group(2) != null) {
                HttpResponse<String> response = get("/api/v1/" + method + matcher.group(2));
                assertThat(response.statusCode())
                        .as(command + ": " + response.body())
                        .isNotEqualTo(400);
                assertThat(response.body()).as(command).doesNotContain("no such method");
            }
            int data = command.indexOf("-d '");
            if (data >= 0) {
                String json = command.substring(data + 4, command.indexOf('\'', data + 4));
                JsonFormat.parser().merge(json, DynamicMessage.newBuilder(requests.get(method)));
            }
            checked.add(method);
        }
        assertThat(checked).contains("GetResults", "StopExperiment", "AbortRollout", "SetDefaultVersion", "GetDrift");
    }

    @Test
    void httpPort_notConfigured_noConsole() throws Exception {
        try (RouterServer plain = RouterServer.start(RouterConfig.builder()
                .host("127.0.0.1")
                .port(0)
                .metricsPort(-1)
                .upstreams(List.of(replica.address()))
                .store(temp.resolve("plain.db"))
                .build())) {
            assertThat(plain.httpPort()).isEqualTo(-1);
        }
    }
}
