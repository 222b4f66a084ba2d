package dev.trellis.modelserver;

import static dev.trellis.modelserver.StatusAssertions.assertFails;
import static dev.trellis.modelserver.StatusAssertions.errorInfo;
import static dev.trellis.modelserver.StatusAssertions.violations;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.ByteString;
import com.google.protobuf.DynamicMessage;
import com.google.rpc.BadRequest;
import dev.trellis.common.testing.ReflectionClient;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.proto.inference.DataType;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelConfig;
import dev.trellis.proto.inference.ModelConfigRequest;
import dev.trellis.proto.inference.ModelConfigResponse;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelInferResponse.InferOutputTensor;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.ModelMetadataResponse.TensorMetadata;
import dev.trellis.proto.inference.ModelOutput;
import dev.trellis.proto.inference.ModelReadyRequest;
import dev.trellis.proto.inference.ModelStatistics;
import dev.trellis.proto.inference.ModelStatisticsRequest;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse.ModelIndex;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.ServerLiveRequest;
import dev.trellis.proto.inference.ServerMetadataRequest;
import dev.trellis.proto.inference.ServerMetadataResponse;
import dev.trellis.proto.inference.ServerReadyRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every RPC over a real Netty loopback port, against a real churn bundle trained by the ensemble
 * module's trainer. Scores on the wire are FP32: they are compared with {@code (float)} of the
 * in-process double score of the same rows (the inputs are exact in FP32 too).
 */
class ModelServerEndToEndTest {
    private static final String MODEL = "churn";
    private static final int MAX_BATCH_ROWS = 500;
    private static final int MAX_MESSAGE_SIZE = 1024 * 1024;

    @TempDir
    static Path repository;

    private static ModelServer server;
    private static ManagedChannel channel;
    private static LoadedBundle bundle;
    private static FeatureSchema schema;

    @BeforeAll
    static void startServer() throws Exception {
        TestBundles.install(repository, MODEL, 1, 42);
        server = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .maxBatchRows(MAX_BATCH_ROWS)
                .maxMessageSize(MAX_MESSAGE_SIZE)
                .adminToken(dev.trellis.common.auth.BearerToken.of(TestTokens.ADMIN))
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

    private static GRPCInferenceServiceBlockingStub stub() {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static ServingStatus health(String service) {
        return HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build())
                .getStatus();
    }

    /** After a refused request the server still serves: health SERVING and a good request scores. */
    private static void assertHealthy() {
        assertThat(health("")).isEqualTo(ServingStatus.SERVING);
        assertThat(health("inference.GRPCInferenceService")).isEqualTo(ServingStatus.SERVING);
        ModelInferResponse response =
                stub().modelInfer(TestRows.request(MODEL, "", TestRows.random(schema, 2, 99), false));
        assertThat(TestRows.output(response, "score").getContents().getFp32ContentsCount())
                .isEqualTo(2);
    }

    private static ModelInferRequest.Builder goodRequest(int rows) {
        return TestRows.request(MODEL, "", TestRows.random(schema, rows, 5), false).toBuilder();
    }

    private static int firstFeature(FeatureType type) {
        for (int i = 0; i < schema.size(); i++) {
            if (schema.features().get(i).type() == type) {
                return i;
            }
        }
        throw new AssertionError("the churn schema has no " + type + " feature");
    }

    @Test
    void serverRpcs_liveReadyMetadataHealthReflection() throws Exception {
        assertThat(stub().serverLive(ServerLiveRequest.getDefaultInstance()).getLive())
                .isTrue();
        assertThat(stub().serverReady(ServerReadyRequest.getDefaultInstance()).getReady())
                .isTrue();
        ServerMetadataResponse metadata = stub().serverMetadata(ServerMetadataRequest.getDefaultInstance());
        assertThat(metadata.getName()).isEqualTo("trellis-model-server");
        assertThat(metadata.getExtensionsList()).contains("model_repository");
        assertThat(health("")).isEqualTo(ServingStatus.SERVING);

        ReflectionClient reflection = new ReflectionClient(channel);
        assertThat(reflection.listServices())
                .containsExactlyInAnyOrder(
                        "inference.GRPCInferenceService",
                        "trellis.v1.ReplicaMonitoring",
                        "grpc.health.v1.Health",
                        "grpc.reflection.v1.ServerReflection",
                        "grpc.reflection.v1alpha.ServerReflection");
    }

    @Test
    void reflection_servesCommentsAndDecodesBadRequest() throws Exception {
        ReflectionClient reflection = new ReflectionClient(channel);
        assertThat(reflection.fieldComment("inference.ModelInferRequest", "outputs"))
                .contains("Which outputs to return. All when empty");
        assertThat(reflection.fieldComment("inference.ModelInferRequest.InferInputTensor", "name"))
                .contains("Tensor name");

        ModelInferRequest.Builder request = goodRequest(1);
        request.getInputsBuilder(2).setDatatype("FP16");
        StatusRuntimeException error =
                catchThrowableOfType(() -> stub().modelInfer(request.build()), StatusRuntimeException.class);
        assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        ReflectionClient.DecodedStatus decoded = reflection.decodeStatus(error);
        DynamicMessage badRequest = decoded.detail("google.rpc.BadRequest").orElseThrow();
        assertThat(decoded.violationFields()).containsExactly("inputs[2].datatype");
        assertThat(badRequest.getDescriptorForType()).isNotSameAs(com.google.rpc.BadRequest.getDescriptor());
        assertHealthy();
    }

    @Test
    void matrixLayout_scoresLikeOneTensorPerFeature() {
        FeatureBatch rows = TestRows.random(schema, 6, 17);
        ModelInferResponse perFeature = stub().modelInfer(TestRows.request(MODEL, "", rows, false));

        // what Triton FIL and MLServer's numpy codec send: one [batch, features] tensor, schema order
        InferTensorContents.Builder matrix = InferTensorContents.newBuilder();
        for (int row = 0; row < rows.rows(); row++) {
            for (int i = 0; i < schema.size(); i++) {
                Feature feature = schema.features().get(i);
                if (feature.type() == FeatureType.NUMERIC) {
                    matrix.addFp32Contents((float) rows.numeric(i)[row]);
                } else {
                    String value = rows.categorical(i)[row];
                    matrix.addFp32Contents(
                            value == null ? -1 : feature.vocabulary().indexOf(value));
                }
            }
        }
        ModelInferResponse response = stub().modelInfer(ModelInferRequest.newBuilder()
                .setModelName(MODEL)
                .addInputs(InferInputTensor.newBuilder()
                        .setName("input__0")
                        .setDatatype("FP32")
                        .addShape(rows.rows())
                        .addShape(schema.size())
                        .setContents(matrix))
                .build());

        assertThat(TestRows.output(response, "score").getContents().getFp32ContentsList())
                .containsExactlyElementsOf(
                        TestRows.output(perFeature, "score").getContents().getFp32ContentsList());
        assertThat(TestRows.output(response, "score")
                        .getParametersOrThrow("content_type")
                        .getStringParam())
                .isEqualTo("np");
        assertThat(TestRows.output(response, "label")
                        .getParametersOrThrow("content_type")
                        .getStringParam())
                .isEqualTo("str");
        assertThat(response.getOutputsList())
                .allSatisfy(output -> assertThat(output.getParametersMap()).containsKey("content_type"));
    }

    @Test
    void rawInputContents_answerInRawOutputContents_asTritonDoes() {
        FeatureBatch rows = TestRows.random(schema, 5, 23);
        ModelInferRequest typed = TestRows.request(MODEL, "", rows, false);
        ModelInferResponse typedResponse = stub().modelInfer(typed);

        // what tritonclient sends: each input's values as little-endian bytes, BYTES length-prefixed
        ModelInferRequest.Builder raw = typed.toBuilder();
        for (int i = 0; i < raw.getInputsCount(); i++) {
            InferTensorContents contents = raw.getInputs(i).getContents();
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            ByteBuffer element = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            if (raw.getInputs(i).getDatatype().equals("BYTES")) {
                for (ByteString value : contents.getBytesContentsList()) {
                    bytes.writeBytes(element.clear().putInt(value.size()).array());
                    bytes.writeBytes(value.toByteArray());
                }
            } else {
                for (float value : contents.getFp32ContentsList()) {
                    bytes.writeBytes(element.clear().putFloat(value).array());
                }
            }
            raw.setInputs(i, raw.getInputs(i).toBuilder().clearContents());
            raw.addRawInputContents(ByteString.copyFrom(bytes.toByteArray()));
        }
        ModelInferResponse rawResponse = stub().modelInfer(raw.build());

        assertThat(rawResponse.getRawOutputContentsCount()).isEqualTo(rawResponse.getOutputsCount());
        assertThat(rawResponse.getOutputsList())
                .allSatisfy(output -> assertThat(output.hasContents()).isFalse());
        for (int i = 0; i < rawResponse.getOutputsCount(); i++) {
            InferOutputTensor output = rawResponse.getOutputs(i);
            InferOutputTensor expected = TestRows.output(typedResponse, output.getName());
            assertThat(output.getShapeList()).isEqualTo(expected.getShapeList());
            assertThat(output.getParametersMap()).isEqualTo(expected.getParametersMap());
            ByteBuffer values =
                    rawResponse.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            if (output.getDatatype().equals("BYTES")) {
                List<String> labels = new ArrayList<>();
                while (values.hasRemaining()) {
                    byte[] label = new byte[values.getInt()];
                    values.get(label);
                    labels.add(new String(label, StandardCharsets.UTF_8));
                }
                assertThat(labels)
                        .containsExactlyElementsOf(expected.getContents().getBytesContentsList().stream()
                                .map(ByteString::toStringUtf8)
                                .toList());
            } else {
                List<Float> floats = new ArrayList<>();
                while (values.hasRemaining()) {
                    floats.add(values.getFloat());
                }
                assertThat(floats)
                        .containsExactlyElementsOf(expected.getContents().getFp32ContentsList());
            }
        }
    }

    @Test
    void readmeModelInferExamples_scoreOnTheChurnModel() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
        java.util.regex.Matcher example = java.util.regex.Pattern.compile(
                        "-d '(\\{\"model_name\":\"churn\"[^']*)'[^']*?inference\\.GRPCInferenceService/ModelInfer")
                .matcher(readme);
        int checked = 0;
        while (example.find()) {
            ModelInferRequest.Builder request = ModelInferRequest.newBuilder();
            com.google.protobuf.util.JsonFormat.parser().merge(example.group(1), request);
            ModelInferResponse response = stub().modelInfer(request.build());
            assertThat(TestRows.output(response, "score").getContents().getFp32ContentsCount())
                    .as(example.group(1))
                    .isEqualTo((int) request.getInputs(0).getShape(0));
            checked++;
        }
        assertThat(checked).as("README ModelInfer examples on churn").isGreaterThanOrEqualTo(3);
    }

    @Test
    void metrics_standardNamesInSeconds_promtoolClean() throws Exception {
        stub().modelInfer(TestRows.request(MODEL, "", TestRows.random(schema, 2, 3), false));
        assertThat(server.metricsPort()).isPositive().isNotEqualTo(server.port());
        String metrics = dev.trellis.common.testing.Promtool.scrape("127.0.0.1", server.metricsPort());
        assertThat(metrics)
                .containsPattern("grpc_server_call_duration_seconds_count\\{[^}]*"
                        + "grpc_method=\"inference.GRPCInferenceService/ModelInfer\"[^}]*grpc_status=\"OK\"")
                .contains("trellis_modelserver_queue_delay_seconds_bucket")
                .contains("trellis_modelserver_versions_loaded")
                .contains("jvm_memory_used_bytes")
                .doesNotContain("_milliseconds");
        assertThat(dev.trellis.common.testing.Promtool.check(metrics))
                .as("promtool check metrics")
                .isEmpty();
    }

    @Test
    void modelConfig_describesInputsOutputsAndBatchLimit() {
        ModelConfigResponse response = stub().modelConfig(
                        ModelConfigRequest.newBuilder().setName(MODEL).build());
        ModelConfig config = response.getConfig();
        assertThat(config.getName()).isEqualTo(MODEL);
        assertThat(config.getMaxBatchSize()).isEqualTo(MAX_BATCH_ROWS);
        assertThat(config.getInputList()).hasSize(schema.size());
        for (int i = 0; i < schema.size(); i++) {
            Feature feature = schema.features().get(i);
            assertThat(config.getInput(i).getName()).isEqualTo(feature.name());
            assertThat(config.getInput(i).getDataType())
                    .isEqualTo(feature.type() == FeatureType.NUMERIC ? DataType.TYPE_FP32 : DataType.TYPE_STRING);
            assertThat(config.getInput(i).getDimsList()).containsExactly(1L);
            if (feature.type() == FeatureType.CATEGORICAL) {
                assertThat(config.getParametersOrThrow("vocabulary:" + feature.name())
                                .getStringValue())
                        .startsWith("[\"" + feature.vocabulary().get(0) + "\"");
            }
        }
        assertThat(config.getOutputList().stream().map(ModelOutput::getName))
                .containsExactly("score", "label", "interval", "agreement", "base_scores", "contributions");
        assertFails(
                () -> stub().modelConfig(
                                ModelConfigRequest.newBuilder().setName("nope").build()),
                Status.Code.NOT_FOUND,
                "nope");
        assertHealthy();
    }

    @Test
    void modelStatistics_countsRequestsRowsAndFailures() {
        ModelStatistics before = statistics();
        stub().modelInfer(TestRows.request(MODEL, "", TestRows.random(schema, 3, 4), false));
        ModelInferRequest.Builder bad = goodRequest(1);
        bad.getInputsBuilder(0).setDatatype("FP16");
        assertFails(() -> stub().modelInfer(bad.build()), Status.Code.INVALID_ARGUMENT);
        ModelStatistics after = statistics();

        assertThat(after.getVersion()).isEqualTo("1");
        assertThat(after.getInferenceCount() - before.getInferenceCount()).isGreaterThanOrEqualTo(3);
        assertThat(after.getInferenceStats().getSuccess().getCount()
                        - before.getInferenceStats().getSuccess().getCount())
                .isGreaterThanOrEqualTo(1);
        assertThat(after.getInferenceStats().getFail().getCount()
                        - before.getInferenceStats().getFail().getCount())
                .isGreaterThanOrEqualTo(1);
        assertThat(after.getExecutionCount()).isGreaterThan(before.getExecutionCount());
        assertThat(after.getInferenceStats().getComputeInfer().getNs())
                .isGreaterThan(before.getInferenceStats().getComputeInfer().getNs());
        assertThat(after.getLastInference()).isPositive();
        assertThat(stub().modelStatistics(ModelStatisticsRequest.getDefaultInstance())
                        .getModelStatsList())
                .extracting(ModelStatistics::getName)
                .contains(MODEL);
        assertFails(
                () -> stub().modelStatistics(ModelStatisticsRequest.newBuilder()
                        .setName(MODEL)
                        .setVersion("9")
                        .build()),
                Status.Code.NOT_FOUND,
                "9");
    }

    private static ModelStatistics statistics() {
        return stub().modelStatistics(
                        ModelStatisticsRequest.newBuilder().setName(MODEL).build())
                .getModelStats(0);
    }

    @Test
    void repositoryCalls_unknownRepository_isNotFound() {
        com.google.rpc.Status status = assertFails(
                () -> stub().repositoryIndex(RepositoryIndexRequest.newBuilder()
                        .setRepositoryName("elsewhere")
                        .build()),
                Status.Code.NOT_FOUND,
                "unknown repository 'elsewhere'");
        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("repository_name");
        assertThat(stub().repositoryIndex(RepositoryIndexRequest.newBuilder()
                                .setRepositoryName(repository.getFileName().toString())
                                .build())
                        .getModelsCount())
                .isPositive();
        assertHealthy();
    }

    @Test
    void modelRpcs_readyMetadataAndRepository() {
        assertThat(stub().modelReady(
                                ModelReadyRequest.newBuilder().setName(MODEL).build())
                        .getReady())
                .isTrue();
        assertThat(stub().modelReady(ModelReadyRequest.newBuilder()
                                .setName(MODEL)
                                .setVersion("1")
                                .build())
                        .getReady())
                .isTrue();

        ModelMetadataResponse metadata = stub().modelMetadata(
                        ModelMetadataRequest.newBuilder().setName(MODEL).build());
        assertThat(metadata.getPlatform()).isEqualTo("trellis_stacked_ensemble");
        assertThat(metadata.getVersionsList()).containsExactly("1");
        assertThat(metadata.getInputsList()).hasSize(schema.size());
        for (int i = 0; i < schema.size(); i++) {
            Feature feature = schema.features().get(i);
            TensorMetadata input = metadata.getInputs(i);
            assertThat(input.getName()).isEqualTo(feature.name());
            assertThat(input.getDatatype()).isEqualTo(feature.type() == FeatureType.NUMERIC ? "FP32" : "BYTES");
            assertThat(input.getShapeList()).containsExactly(-1L);
        }
        int k = bundle.ensemble().baseModels().size();
        assertThat(metadata.getOutputsList())
                .extracting(TensorMetadata::getName, TensorMetadata::getDatatype, TensorMetadata::getShapeList)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("score", "FP32", List.of(-1L)),
                        org.assertj.core.groups.Tuple.tuple("label", "BYTES", List.of(-1L)),
                        org.assertj.core.groups.Tuple.tuple("interval", "FP32", List.of(-1L, 2L)),
                        org.assertj.core.groups.Tuple.tuple("agreement", "FP32", List.of(-1L)),
                        org.assertj.core.groups.Tuple.tuple("base_scores", "FP32", List.of(-1L, (long) k)),
                        org.assertj.core.groups.Tuple.tuple(
                                "contributions", "FP32", List.of(-1L, (long) schema.size() + 2)));

        List<ModelIndex> index = stub().repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                .getModelsList();
        assertThat(index)
                .extracting(ModelIndex::getName, ModelIndex::getVersion, ModelIndex::getState)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(MODEL, "1", "READY"));
        TestTokens.admin(stub())
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName(MODEL)
                        .build());
        assertThat(stub().repositoryIndex(RepositoryIndexRequest.newBuilder()
                                .setReady(true)
                                .build())
                        .getModelsCount())
                .isEqualTo(1);
        assertHealthy();
    }

    @Test
    void modelInfer_scoresOverTheWireEqualInProcessScores() throws Exception {
        FeatureBatch rows = TestRows.random(schema, 50, 11);
        Predictions expected = bundle.ensemble().predict(rows, false);

        ModelInferResponse response = stub().modelInfer(TestRows.request(MODEL, "", rows, false));

        assertThat(response.getModelName()).isEqualTo(MODEL);
        assertThat(response.getModelVersion()).isEqualTo("1");
        assertMatches(response, expected, 0, rows.rows());

        // single rows sent concurrently are batched together on the server and still get their own scores
        List<CompletableFuture<ModelInferResponse>> singles = new ArrayList<>();
        GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub futures =
                GRPCInferenceServiceGrpc.newFutureStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        for (int row = 0; row < rows.rows(); row++) {
            var future = futures.modelInfer(TestRows.request(MODEL, "1", slice(rows, row), false));
            CompletableFuture<ModelInferResponse> completable = new CompletableFuture<>();
            future.addListener(
                    () -> {
                        try {
                            completable.complete(future.get());
                        } catch (Exception e) {
                            completable.completeExceptionally(e);
                        }
                    },
                    Runnable::run);
            singles.add(completable);
        }
        for (int row = 0; row < rows.rows(); row++) {
            assertMatches(singles.get(row).get(30, TimeUnit.SECONDS), expected, row, 1);
        }
    }

    private static void assertMatches(ModelInferResponse response, Predictions expected, int from, int rows) {
        InferOutputTensor score = TestRows.output(response, "score");
        InferOutputTensor label = TestRows.output(response, "label");
        InferOutputTensor interval = TestRows.output(response, "interval");
        InferOutputTensor agreement = TestRows.output(response, "agreement");
        InferOutputTensor base = TestRows.output(response, "base_scores");
        int k = expected.baseModels().size();
        assertThat(score.getShapeList()).containsExactly((long) rows);
        assertThat(interval.getShapeList()).containsExactly((long) rows, 2L);
        assertThat(base.getShapeList()).containsExactly((long) rows, (long) k);
        assertThat(base.getParametersMap().get("columns").getStringParam())
                .isEqualTo(String.join(",", expected.baseModels()));
        for (int row = 0; row < rows; row++) {
            int source = from + row;
            assertThat((double) score.getContents().getFp32Contents(row))
                    .isCloseTo((float) expected.score()[source], within(1e-6));
            assertThat(label.getContents().getBytesContents(row).toStringUtf8()).isEqualTo(expected.label()[source]);
            assertThat((double) interval.getContents().getFp32Contents(2 * row))
                    .isCloseTo((float) expected.lower()[source], within(1e-6));
            assertThat((double) interval.getContents().getFp32Contents(2 * row + 1))
                    .isCloseTo((float) expected.upper()[source], within(1e-6));
            assertThat((double) agreement.getContents().getFp32Contents(row))
                    .isCloseTo((float) expected.agreement()[source], within(1e-6));
            for (int column = 0; column < k; column++) {
                assertThat((double) base.getContents().getFp32Contents(row * k + column))
                        .isCloseTo((float) expected.baseScores()[source][column], within(1e-6));
            }
        }
    }

    private static FeatureBatch slice(FeatureBatch rows, int row) {
        FeatureBatch one = new FeatureBatch(rows.schema(), 1);
        for (int i = 0; i < rows.schema().size(); i++) {
            if (rows.schema().features().get(i).type() == FeatureType.NUMERIC) {
                one.setNumeric(0, i, rows.numeric(i)[row]);
            } else {
                one.setCategorical(0, i, rows.categorical(i)[row]);
            }
        }
        return one;
    }

    @Test
    void modelInfer_explainContributionsSumToTheEnsembleLogit() {
        FeatureBatch rows = TestRows.random(schema, 8, 3);
        Predictions expected = bundle.ensemble().predict(rows, true);

        ModelInferResponse response = stub().modelInfer(TestRows.request(MODEL, "", rows, true));

        InferOutputTensor contributions = TestRows.output(response, "contributions");
        int width = schema.size() + 2;
        assertThat(contributions.getShapeList()).containsExactly(8L, (long) width);
        List<String> columns =
                new ArrayList<>(schema.features().stream().map(Feature::name).toList());
        columns.add("mlp");
        columns.add("bias");
        assertThat(contributions.getParametersMap().get("columns").getStringParam())
                .isEqualTo(String.join(",", columns));
        for (int row = 0; row < 8; row++) {
            double sum = 0;
            for (int column = 0; column < width; column++) {
                sum += contributions.getContents().getFp32Contents(row * width + column);
            }
            double logit = expected.explanations().orElseThrow().logit()[row];
            assertThat(sum).isCloseTo(logit, within(1e-3));
        }
    }

    @Test
    void modelInfer_absentFeatureIsMissingInEveryRow() {
        FeatureBatch rows = TestRows.random(schema, 4, 8);
        int dropped = firstFeature(FeatureType.NUMERIC);
        FeatureBatch withMissing = TestRows.random(schema, 4, 8);
        java.util.Arrays.fill(withMissing.numeric(dropped), Double.NaN);
        Predictions expected = bundle.ensemble().predict(withMissing, false);
        ModelInferRequest.Builder request = TestRows.request(MODEL, "", rows, false).toBuilder();
        request.removeInputs(dropped);

        ModelInferResponse response = stub().modelInfer(request.build());

        assertMatches(response, expected, 0, 4);
    }

    @Test
    void modelInfer_bytesThatDoNotParse_invalidArgumentAndTheServerKeepsServing() {
        // ModelInferRequest.model_name (field 1, a string) holding invalid UTF-8, then plain garbage
        for (byte[] body : List.of(new byte[] {0x0A, 0x02, (byte) 0xC3, 0x28}, new byte[] {(byte) 0xFF, 0x7F, 0x01})) {
            com.google.rpc.Status status = assertFails(
                    () -> dev.trellis.common.testing.RawCalls.unary(
                            channel, GRPCInferenceServiceGrpc.getModelInferMethod(), body),
                    Status.Code.INVALID_ARGUMENT,
                    "request could not be parsed as inference.ModelInferRequest");
            assertThat(errorInfo(status).orElseThrow().getReason()).isEqualTo("MALFORMED_REQUEST");
            assertHealthy();
        }
    }

    @Test
    void modelInfer_infiniteValue_invalidArgumentNanIsMissing() {
        int numeric = firstFeature(FeatureType.NUMERIC);
        ModelInferRequest.Builder request = goodRequest(2);
        InferInputTensor tensor = request.getInputs(numeric);
        request.setInputs(
                numeric,
                tensor.toBuilder()
                        .setContents(InferTensorContents.newBuilder()
                                .addFp32Contents(Float.NaN)
                                .addFp32Contents(Float.NEGATIVE_INFINITY)));

        com.google.rpc.Status status = assertFails(
                () -> stub().modelInfer(request.build()), Status.Code.INVALID_ARGUMENT, "-Infinity in row 1");

        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("inputs[" + numeric + "].contents.fp32_contents");
        request.setInputs(
                numeric,
                tensor.toBuilder()
                        .setContents(InferTensorContents.newBuilder()
                                .addFp32Contents(Float.NaN)
                                .addFp32Contents(Float.NaN)));
        assertThat(TestRows.output(stub().modelInfer(request.build()), "score")
                        .getContents()
                        .getFp32ContentsCount())
                .isEqualTo(2);
        assertHealthy();
    }

    @Test
    void modelInfer_wrongDatatype() {
        int numeric = firstFeature(FeatureType.NUMERIC);
        String name = schema.features().get(numeric).name();
        ModelInferRequest.Builder request = goodRequest(2);
        request.setInputs(
                numeric,
                request.getInputs(numeric).toBuilder()
                        .setDatatype("BYTES")
                        .clearContents()
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("a"))
                                .addBytesContents(ByteString.copyFromUtf8("b"))));

        com.google.rpc.Status status = assertFails(
                () -> stub().modelInfer(request.build()),
                Status.Code.INVALID_ARGUMENT,
                "'" + name + "'",
                "BYTES",
                "expected FP32");

        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("inputs[" + numeric + "].datatype");
        assertThat(errorInfo(status).orElseThrow().getReason()).isEqualTo("INVALID_TENSOR_DATATYPE");
        assertHealthy();
    }

    @Test
    void modelInfer_wrongShape() {
        int categorical = firstFeature(FeatureType.CATEGORICAL);
        String name = schema.features().get(categorical).name();
        ModelInferRequest.Builder request = goodRequest(2);
        request.setInputs(
                categorical,
                request.getInputs(categorical).toBuilder()
                        .clearShape()
                        .addShape(1)
                        .addShape(2));

        com.google.rpc.Status status = assertFails(
                () -> stub().modelInfer(request.build()),
                Status.Code.INVALID_ARGUMENT,
                "'" + name + "'",
                "shape [1, 2]",
                "expected [batch] or [batch, 1]");

        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("inputs[" + categorical + "].shape");
        assertHealthy();
    }

    @Test
    void modelInfer_mismatchedBatchSizes() {
        ModelInferRequest.Builder request = goodRequest(3);
        InferInputTensor last = request.getInputs(schema.size() - 1);
        InferInputTensor.Builder shorter = last.toBuilder().clearShape().addShape(2);
        InferTensorContents.Builder contents = last.getContents().toBuilder();
        if (last.getDatatype().equals("FP32")) {
            contents.clearFp32Contents().addFp32Contents(1).addFp32Contents(2);
        } else {
            contents.clearBytesContents().addBytesContents(ByteString.EMPTY).addBytesContents(ByteString.EMPTY);
        }
        request.setInputs(schema.size() - 1, shorter.setContents(contents));

        com.google.rpc.Status status = assertFails(
                () -> stub().modelInfer(request.build()),
                Status.Code.INVALID_ARGUMENT,
                "batch size",
                "'" + last.getName() + "' has 2 rows",
                "has 3");

        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("inputs[" + (schema.size() - 1) + "].shape");
        assertHealthy();
    }

    @Test
    void modelInfer_unknownTensor() {
        ModelInferRequest.Builder request = goodRequest(1)
                .addInputs(InferInputTensor.newBuilder()
                        .setName("shoe_size")
                        .setDatatype("FP32")
                        .addShape(1)
                        .setContents(InferTensorContents.newBuilder().addFp32Contents(42)));

        com.google.rpc.Status status = assertFails(
                () -> stub().modelInfer(request.build()),
                Status.Code.INVALID_ARGUMENT,
                "unknown input tensors: shoe_size",
                schema.features().get(0).name());

        assertThat(violations(status))
                .extracting(BadRequest.FieldViolation::getDescription)
                .containsExactly("unknown input tensor 'shoe_size'");
        assertHealthy();
    }

    @Test
    void modelInfer_unknownModelAndVersion() {
        com.google.rpc.Status model = assertFails(
                () -> stub().modelInfer(goodRequest(1).setModelName("leads").build()),
                Status.Code.NOT_FOUND,
                "model 'leads' not found",
                "available models: churn");
        assertThat(errorInfo(model).orElseThrow().getMetadataMap()).containsEntry("model", "leads");

        assertFails(
                () -> stub().modelInfer(goodRequest(1).setModelVersion("7").build()),
                Status.Code.NOT_FOUND,
                "model 'churn' has no version '7'",
                "available versions: 1");
        assertFails(
                () -> stub().modelInfer(goodRequest(1).setModelVersion("latest").build()),
                Status.Code.NOT_FOUND,
                "no version 'latest'");
        assertFails(
                () -> stub().modelMetadata(ModelMetadataRequest.newBuilder()
                        .setName("leads")
                        .build()),
                Status.Code.NOT_FOUND,
                "leads");
        assertFails(
                () -> stub().modelReady(ModelReadyRequest.newBuilder()
                        .setName("churn")
                        .setVersion("7")
                        .build()),
                Status.Code.NOT_FOUND,
                "7");
        assertHealthy();
    }

    @Test
    void modelInfer_oversizedRequests() {
        com.google.rpc.Status rows = assertFails(
                () -> stub().modelInfer(goodRequest(MAX_BATCH_ROWS + 1).build()),
                Status.Code.RESOURCE_EXHAUSTED,
                (MAX_BATCH_ROWS + 1) + " rows",
                "limit is " + MAX_BATCH_ROWS);
        assertThat(errorInfo(rows).orElseThrow().getReason()).isEqualTo("REQUEST_TOO_LARGE");
        assertHealthy();

        int categorical = firstFeature(FeatureType.CATEGORICAL);
        ModelInferRequest.Builder huge = goodRequest(1);
        huge.setInputs(
                categorical,
                huge.getInputs(categorical).toBuilder()
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFrom(new byte[MAX_MESSAGE_SIZE + 1]))));
        assertFails(() -> stub().modelInfer(huge.build()), Status.Code.RESOURCE_EXHAUSTED);
        assertHealthy();
    }
}
