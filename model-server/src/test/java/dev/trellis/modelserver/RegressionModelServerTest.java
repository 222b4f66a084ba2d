package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.inference.InferenceService;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with a continuous target (monthly charges, trained by the ensemble module's trainer) next
 * to a binary one, over a real port: the platform and the response parameters say which is which,
 * scores are predicted values with their conformal interval, and the binary model's responses are
 * unchanged.
 */
class RegressionModelServerTest {
    @TempDir
    Path repository;

    @Test
    void modelInfer_regressionModel_valuesIntervalTiersAndItsKindOnTheWire() throws Exception {
        Path dir = TestBundles.installRegression(repository, "charges", 1, 42);
        TestBundles.install(repository, "churn", 1, 42);
        try (ModelServer server = ModelServer.start(ModelServerConfig.builder(repository)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .build());
                LoadedBundle bundle = BundleLoader.load(dir)) {
            server.awaitReady(Duration.ofMinutes(2));
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port())
                    .usePlaintext()
                    .build();
            try {
                var stub = GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
                ModelMetadataResponse metadata = stub.modelMetadata(
                        ModelMetadataRequest.newBuilder().setName("charges").build());
                assertThat(metadata.getPlatform()).isEqualTo(InferenceService.REGRESSION_PLATFORM);
                assertThat(stub.modelMetadata(ModelMetadataRequest.newBuilder()
                                        .setName("churn")
                                        .build())
                                .getPlatform())
                        .isEqualTo(InferenceService.PLATFORM);

                FeatureBatch rows = TestBundles.churnRegression()
                        .subset(new int[] {0, 1, 2, 3, 4})
                        .features();
                ModelInferResponse response = stub.modelInfer(TestRows.request("charges", "", rows, false));
                assertThat(response.getParametersMap().get("target_kind").getStringParam())
                        .isEqualTo("regression");
                String[] range = response.getParametersMap()
                        .get("score_range")
                        .getStringParam()
                        .split(",");
                assertThat(Double.parseDouble(range[0]))
                        .isEqualTo(bundle.ensemble().targetRange().min());
                assertThat(Double.parseDouble(range[1]))
                        .isEqualTo(bundle.ensemble().targetRange().max());
                Predictions expected = bundle.ensemble().predict(rows, false);
                List<Float> scores =
                        TestRows.output(response, "score").getContents().getFp32ContentsList();
                List<Float> interval =
                        TestRows.output(response, "interval").getContents().getFp32ContentsList();
                for (int r = 0; r < 5; r++) {
                    assertThat((double) scores.get(r)).isCloseTo(expected.score()[r], within(1e-3));
                    assertThat(interval.get(2 * r)).isLessThan(scores.get(r));
                    assertThat(interval.get(2 * r + 1)).isGreaterThan(scores.get(r));
                }
                assertThat(TestRows.output(response, "label").getContents().getBytesContentsList())
                        .allSatisfy(label -> assertThat(label.toStringUtf8()).isIn("A", "B", "C", "D"));

                ModelInferResponse binary = stub.modelInfer(TestRows.request(
                        "churn", "", TestBundles.churn().subset(new int[] {0}).features(), false));
                assertThat(binary.getParametersMap()).isEmpty();
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }
}
