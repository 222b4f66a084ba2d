package dev.trellis.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.Variant;
import dev.trellis.testing.FakeTrellis;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TrellisClientTest {
    private static FakeTrellis fake;
    private static TrellisClient client;
    private static TrellisClient admin;

    @BeforeAll
    static void start() throws Exception {
        fake = new FakeTrellis();
        client = TrellisClient.builder().target(fake.target()).plaintext().build();
        admin = TrellisClient.builder()
                .target(fake.target())
                .bearerToken(FakeTrellis.TOKEN)
                .build();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close();
        admin.close();
        fake.close();
    }

    @Test
    void score_typedResult() {
        ScoreResult result = client.score(
                "leads",
                "lead-1",
                Features.builder()
                        .put("tenure", 12)
                        .put("contract", "Month-to-month")
                        .missing("total_charges")
                        .build());

        assertThat(result.score()).isBetween(0.0, 1.0);
        assertThat(result.lower()).isLessThanOrEqualTo(result.score());
        assertThat(result.upper()).isGreaterThanOrEqualTo(result.score());
        assertThat(result.baseScores()).containsOnlyKeys("xgboost", "mlp");
        assertThat(result.explained()).isFalse();
        assertThat(result.served().model()).isEqualTo("leads");
        assertThat(result.served().replica()).isEqualTo("fake:8081");
        ScoreRequest sent = fake.scored.get(fake.scored.size() - 1);
        assertThat(sent.getFeaturesOrThrow("tenure").getNumberValue()).isEqualTo(12.0);
        assertThat(sent.getFeaturesOrThrow("contract").getStringValue()).isEqualTo("Month-to-month");
        assertThat(sent.getFeaturesOrThrow("total_charges").hasNullValue()).isTrue();
    }

    @Test
    void score_explainCarriesContributions() {
        ScoreResult result = client.score(ScoreRequest.newBuilder()
                .setModel("leads")
                .setUnitId("u")
                .setVersion("2")
                .setExplain(true)
                .putAllFeatures(Features.builder().put("tenure", 10).build().asProto())
                .build());

        assertThat(result.explained()).isTrue();
        assertThat(result.contributions()).containsEntry("tenure", 0.1);
        assertThat(result.baseValue()).isEqualTo(-1.0);
        assertThat(result.served().reason()).isEqualTo(RoutingReason.PINNED);
    }

    @Test
    void score_invalidFeatureCarriesStatusAndFieldViolations() {
        TrellisException e = catchThrowableOfType(
                TrellisException.class,
                () -> client.score(
                        "leads", "u", Features.builder().put("tenure", "twelve").build()));

        assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(e.description()).isEqualTo("invalid features");
        assertThat(e.fieldViolations())
                .containsExactly(new FieldViolation("features.tenure", "expected a number, got 'twelve'"));
    }

    @Test
    void score_unknownModelIsNotFound() {
        assertThatThrownBy(() -> client.score("nope", "u", Features.empty()))
                .isInstanceOfSatisfying(
                        TrellisException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void scoreBatch_matchesPerRowScores() {
        List<ScoreRow> rows = IntStream.range(0, 20)
                .mapToObj(i -> ScoreRow.of(
                        "lead-" + i,
                        Features.builder()
                                .put("tenure", i)
                                .put("contract", i % 2 == 0 ? "One year" : "Two year")
                                .build()))
                .toList();

        List<ScoreResult> batch = client.scoreBatch("leads", rows);

        assertThat(batch).hasSize(20);
        for (int i = 0; i < rows.size(); i++) {
            assertThat(batch.get(i))
                    .isEqualTo(client.score(
                            "leads", rows.get(i).unitId(), rows.get(i).features()));
        }
    }

    @Test
    void scoreColumns_matchesPerRowScores() {
        int n = 20;
        List<String> units = IntStream.range(0, n).mapToObj(i -> "lead-" + i).toList();
        double[] tenure = IntStream.range(0, n)
                .mapToDouble(i -> i % 7 == 0 ? Double.NaN : i)
                .toArray();
        String[] contract = IntStream.range(0, n)
                .mapToObj(i -> i % 5 == 0 ? "" : i % 2 == 0 ? "One year" : "Two year")
                .toArray(String[]::new);

        List<ScoreResult> batch = client.scoreColumns(
                "leads",
                ColumnBatch.builder(units)
                        .numbers("tenure", tenure)
                        .strings("contract", contract)
                        .build());

        assertThat(batch).hasSize(n);
        for (int i = 0; i < n; i++) {
            Features.Builder features = Features.builder();
            if (Double.isNaN(tenure[i])) {
                features.missing("tenure");
            } else {
                features.put("tenure", tenure[i]);
            }
            if (contract[i].isEmpty()) {
                features.missing("contract");
            } else {
                features.put("contract", contract[i]);
            }
            assertThat(batch.get(i)).as("row %d", i).isEqualTo(client.score("leads", units.get(i), features.build()));
        }
        assertThat(fake.batches.get(fake.batches.size() - 1).getColumns().getUnitIdsList())
                .containsExactlyElementsOf(units);
    }

    @Test
    void scoreColumnsAsync_wrongColumnTypeCarriesFieldViolation() {
        ColumnBatch batch = ColumnBatch.builder(List.of("a", "b"))
                .strings("tenure", new String[] {"twelve", "one"})
                .build();

        assertThatThrownBy(() -> client.scoreColumnsAsync("leads", batch, "2", java.time.Duration.ofSeconds(5))
                        .join())
                .hasCauseInstanceOf(TrellisException.class)
                .satisfies(e -> assertThat(((TrellisException) e.getCause()).fieldViolations())
                        .extracting(FieldViolation::field)
                        .containsExactly("columns.features[0]"));
        assertThat(fake.batches.get(fake.batches.size() - 1).getVersion()).isEqualTo("2");
    }

    @Test
    void columnBatch_columnOfWrongLengthOrRepeated_isRejected() {
        ColumnBatch.Builder builder = ColumnBatch.builder(List.of("a", "b")).numbers("tenure", new double[] {1, 2});

        assertThatThrownBy(() -> builder.numbers("charges", new double[] {1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("feature charges has 1 values for 2 rows");
        assertThatThrownBy(() -> builder.strings("tenure", new String[] {"x", "y"}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("feature tenure is given twice");
        assertThatThrownBy(() -> builder.numbers("charges", new double[] {1, Double.POSITIVE_INFINITY}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(builder.attribute("plan", new String[] {"pro", null})
                        .build()
                        .asProto()
                        .getAttributes(0)
                        .getValuesList())
                .containsExactly("pro", "");
    }

    @Test
    void scoreAsync_failureIsTrellisException() {
        assertThatThrownBy(() -> client.scoreAsync(
                                ScoreRequest.newBuilder().setModel("nope").build())
                        .join())
                .hasCauseInstanceOf(TrellisException.class);
    }

    @Test
    void putExperiment_withoutTokenIsUnauthenticated() {
        assertThatThrownBy(() -> client.putExperiment(experiment("no-token", 0.5, 0.5), 0))
                .isInstanceOfSatisfying(
                        TrellisException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    @Test
    void putExperiment_revisionsAndStaleRevision() {
        Experiment created = admin.putExperiment(experiment("rev", 0.5, 0.5), 0);
        assertThat(created.getRevision()).isEqualTo(1);

        Experiment updated =
                admin.putExperiment(created.toBuilder().setDescription("second").build(), 1);
        assertThat(updated.getRevision()).isEqualTo(2);
        assertThat(admin.getExperiment("rev").getDescription()).isEqualTo("second");
        assertThat(admin.listExperiments()).extracting(Experiment::getKey).contains("rev");
        assertThatThrownBy(() -> admin.putExperiment(created, 1))
                .isInstanceOfSatisfying(
                        TrellisException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.ABORTED));
        assertThat(admin.stopExperiment("rev", "treatment", 0).getStatus()).isEqualTo(ExperimentStatus.STOPPED);
    }

    @Test
    void putExperiment_badWeightsCarryViolation() {
        TrellisException e =
                catchThrowableOfType(TrellisException.class, () -> admin.putExperiment(experiment("bad", 0.5, 0.7), 0));

        assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(e.fieldViolations()).extracting(FieldViolation::field).containsExactly("experiment.variants");
    }

    @Test
    void explainAssignment_typed() {
        Assignment a = client.explainAssignment("leads", "lead-42", Map.of("vertical", "insurance"));

        assertThat(a.reason()).isEqualTo(RoutingReason.EXPERIMENT);
        assertThat(a.evaluations()).hasSize(1);
        assertThat(a.evaluations()
                        .get(0)
                        .ranges()
                        .get(0)
                        .contains(a.evaluations().get(0).hash()))
                .isTrue();
        assertThat(a.rollout()).isNull();
    }

    @Test
    void recordOutcomes_streamsAll() {
        long before = fake.outcomes.size();
        List<RecordOutcomeRequest> outcomes = IntStream.range(0, 5000)
                .mapToObj(i -> RecordOutcomeRequest.newBuilder()
                        .setUnitId("u" + i)
                        .setMetric("converted")
                        .setValue(i % 2)
                        .build())
                .toList();

        assertThat(admin.recordOutcomes(outcomes.iterator())).isEqualTo(5000);
        assertThat(fake.outcomes.size() - before).isEqualTo(5000);
    }

    @Test
    void results_typed() {
        ExperimentResults r = client.results("exp-a");

        assertThat(r.variants())
                .extracting(ExperimentResults.VariantFigures::variant)
                .containsExactly("control", "treatment");
        assertThat(r.comparisons().get(0).pValue()).isEqualTo(0.076);
        assertThat(r.requiredSampleSizePerArm()).isEqualTo(2207);
    }

    @Test
    void listModels_schemaTypesValues() {
        FeatureSchema schema = client.model("leads").schema(null);

        assertThat(schema.typed("tenure", "12").getNumberValue()).isEqualTo(12.0);
        assertThat(schema.typed("contract", "1").getStringValue()).isEqualTo("1");
        assertThat(schema.typed("tenure", "").hasNullValue()).isTrue();
        assertThat(schema.typed("unknown", "abc").getStringValue()).isEqualTo("abc");
    }

    @Test
    void forChannel_closeLeavesChannelOpen() {
        ManagedChannel channel = Grpc.newChannelBuilder(fake.target(), InsecureChannelCredentials.create())
                .build();
        try {
            TrellisClient borrowed = TrellisClient.forChannel(channel);
            borrowed.close();
            borrowed.close();

            assertThat(channel.isShutdown()).isFalse();
            assertThat(TrellisClient.forChannel(channel).listModels()).hasSize(1);
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void builder_rejectsNonPositiveDeadline() {
        assertThatThrownBy(() -> TrellisClient.builder().defaultDeadline(java.time.Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TrellisClient.builder().build()).isInstanceOf(IllegalStateException.class);
    }

    private static Experiment experiment(String key, double w1, double w2) {
        return Experiment.newBuilder()
                .setKey(key)
                .setModel("leads")
                .setStatus(ExperimentStatus.RUNNING)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(w1))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(w2))
                .build();
    }
}
