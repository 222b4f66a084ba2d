package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.FieldViolation;
import dev.trellis.client.ModelDescription;
import dev.trellis.client.ScoreResult;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import io.grpc.Status;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every CLI command through real servers: one router in front of two model-server replicas on a
 * repository of real (small, fast-trained) churn bundles, versions 1 and 2, all in this JVM on
 * ephemeral ports and shared by the class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RealServersCliTest {
    private static final String TOKEN = "test-admin-token";
    private static final String MODEL = "churn";

    @TempDir
    static Path dir;

    private ModelServer replica1;
    private ModelServer replica2;
    private RouterServer router;
    private String target;

    @BeforeAll
    void start() throws Exception {
        Path repo = dir.resolve("models");
        TestBundles.install(repo, MODEL, 1, 42);
        TestBundles.install(repo, MODEL, 2, 43);
        replica1 = ModelServer.start(ModelServerConfig.builder(repo)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .build());
        replica2 = ModelServer.start(ModelServerConfig.builder(repo)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .build());
        replica1.awaitReady(Duration.ofMinutes(2));
        replica2.awaitReady(Duration.ofMinutes(2));
        router = RouterServer.start(RouterConfig.builder()
                .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .upstreams(List.of("127.0.0.1:" + replica1.port(), "127.0.0.1:" + replica2.port()))
                .store(dir.resolve("trellis.db"))
                .adminToken(TOKEN)
                .build());
        target = "127.0.0.1:" + router.port();
        // the router discovers models by polling the replicas: wait until both versions are ready
        try (TrellisClient client = TrellisClient.builder().target(target).build()) {
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (true) {
                try {
                    List<ModelDescription> models = client.listModels();
                    if (models.stream()
                            .anyMatch(m -> m.name().equals(MODEL)
                                    && m.versions().size() == 2
                                    && m.versions().stream().allMatch(v -> v.readyReplicas() == 2))) {
                        break;
                    }
                } catch (TrellisException e) {
                    // not up yet
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("router never saw both versions ready on both replicas");
                }
                Thread.sleep(200);
            }
        }
    }

    @AfterAll
    void stop() {
        if (router != null) {
            router.close();
        }
        if (replica1 != null) {
            replica1.close();
        }
        if (replica2 != null) {
            replica2.close();
        }
    }

    private CliRunner.Result run(String... args) {
        return CliRunner.run(target, args);
    }

    private CliRunner.Result admin(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "--token=" + TOKEN;
        System.arraycopy(args, 0, all, 1, args.length);
        return CliRunner.run(target, all);
    }

    @Test
    void models_showsVersionsReplicasAndFeatures() {
        CliRunner.Result r = run("models");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("churn (default version")
                .contains("2/2")
                .contains("tenure")
                .contains("contract:cat");
    }

    @Test
    void score_realModel() {
        CliRunner.Result r = run(
                "score",
                "--model",
                MODEL,
                "--unit",
                "C00001",
                "--explain",
                "--feature",
                "tenure=12",
                "--feature",
                "contract=Month-to-month",
                "--feature",
                "monthly_charges=70.5",
                "--feature",
                "total_charges=null",
                "--feature",
                "senior_citizen=0");
        CliRunner.Result pinned = run(
                "score",
                "--model",
                MODEL,
                "--version",
                "1",
                "--output",
                "json",
                "--json",
                "{\"unit_id\":\"C2\",\"features\":{\"tenure\":40,\"contract\":\"Two year\"}}");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("score")
                .contains("label")
                .contains("explanation logit")
                .contains("tenure");
        assertThat(pinned.exitCode()).as(pinned.err()).isZero();
        assertThat(pinned.out()).contains("\"version\" : \"1\"").contains("\"reason\" : \"PINNED\"");
    }

    @Test
    void score_badFeatureReportsFieldViolation() {
        CliRunner.Result r = run("score", "--model", MODEL, "--feature", "tenure=twelve");
        CliRunner.Result unknownModel = run("score", "--model", "nope", "--feature", "tenure=1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: INVALID_ARGUMENT").contains("tenure");
        assertThat(unknownModel.exitCode()).isEqualTo(1);
        assertThat(unknownModel.err()).startsWith("error: NOT_FOUND");
    }

    @Test
    void client_invalidArgumentCarriesFieldViolations() {
        try (TrellisClient client = TrellisClient.builder().target(target).build()) {
            TrellisException e = catchThrowableOfType(
                    TrellisException.class,
                    () -> client.score(ScoreRequest.newBuilder()
                            .setModel(MODEL)
                            .putFeatures(
                                    "tenure",
                                    com.google.protobuf.Value.newBuilder()
                                            .setStringValue("twelve")
                                            .build())
                            .build()));

            assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.fieldViolations()).extracting(FieldViolation::field).anyMatch(f -> f.contains("tenure"));
        }
    }

    @Test
    void batchScore_fullChurnFileEqualsPerRowScores() throws Exception {
        Path output = dir.resolve("churn-scores.csv");

        CliRunner.Result r = run(
                "batch-score",
                "--model",
                MODEL,
                "--input",
                TestBundles.churnCsv().toString(),
                "--output",
                output.toString(),
                "--id-column",
                "customer_id",
                "--batch-size",
                "500",
                "--concurrency",
                "4");

        assertThat(r.exitCode()).as(r.err()).isZero();
        List<CSVRecord> results;
        List<CSVRecord> rows;
        try (Reader out = Files.newBufferedReader(output);
                Reader in = Files.newBufferedReader(TestBundles.churnCsv())) {
            results = CSVFormat.RFC4180
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .build()
                    .parse(out)
                    .getRecords();
            rows = CSVFormat.RFC4180
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .build()
                    .parse(in)
                    .getRecords();
        }
        assertThat(results).hasSize(rows.size());
        try (TrellisClient client = TrellisClient.builder().target(target).build()) {
            FeatureSchema schema = client.model(MODEL).schema(null);
            for (int i = 0; i < rows.size(); i += 7) {
                CSVRecord row = rows.get(i);
                ScoreRequest.Builder request =
                        ScoreRequest.newBuilder().setModel(MODEL).setUnitId(row.get("customer_id"));
                for (FeatureSchema.Feature f : schema.features()) {
                    request.putFeatures(f.name(), FeatureSchema.typed(f, row.get(f.name())));
                }
                ScoreResult expected = client.score(request.build());
                CSVRecord actual = results.get(i);
                assertThat(actual.get("customer_id")).isEqualTo(row.get("customer_id"));
                // Batches of more than 32 rows use XGBoost's native predictor, single rows the Java tree
                // walker: the float sums differ in order, so scores may differ by an FP32 ulp (~6e-8).
                assertThat(Double.parseDouble(actual.get("score")))
                        .as("row %d", i)
                        .isCloseTo(expected.score(), within(1e-6));
                assertThat(actual.get("label")).isEqualTo(expected.label());
                assertThat(Double.parseDouble(actual.get("lower"))).isCloseTo(expected.lower(), within(1e-6));
                assertThat(Double.parseDouble(actual.get("upper"))).isCloseTo(expected.upper(), within(1e-6));
                assertThat(actual.get("version")).isEqualTo(expected.served().version());
                assertThat(actual.get("reason"))
                        .isEqualTo(expected.served().reason().name());
            }
        }
    }

    @Test
    void experiments_fullLifecycle() throws Exception {
        Path file = dir.resolve("churn-exp.yaml");
        Files.writeString(file, """
                key: churn-v2-vs-v1
                model: churn
                status: RUNNING
                metric: converted
                minimumDetectableEffect: 0.05
                variants:
                  - {key: control, version: "1", weight: 0.5}
                  - {key: treatment, version: "2", weight: 0.5}
                """);
        Path outcomes = dir.resolve("outcomes.csv");
        StringBuilder csv = new StringBuilder("unit_id,metric,value\n");
        for (int i = 0; i < 200; i++) {
            csv.append("C")
                    .append(i)
                    .append(",converted,")
                    .append(i % 3 == 0 ? 1 : 0)
                    .append('\n');
        }
        Files.writeString(outcomes, csv);

        CliRunner.Result noToken = run("experiments", "put", file.toString());
        CliRunner.Result put = admin("experiments", "put", file.toString());
        CliRunner.Result list = run("experiments", "list");
        CliRunner.Result get = run("experiments", "get", "churn-v2-vs-v1", "--history");
        CliRunner.Result explain = run("experiments", "explain", "--model", MODEL, "--unit", "C00042");
        try (TrellisClient client = TrellisClient.builder().target(target).build()) {
            for (int i = 0; i < 200; i++) {
                client.score(
                        MODEL,
                        "C" + i,
                        dev.trellis.client.Features.builder()
                                .put("tenure", i % 70)
                                .build());
            }
        }
        CliRunner.Result imported = admin("outcomes", "import", "--file", outcomes.toString());
        CliRunner.Result results = run("experiments", "results", "churn-v2-vs-v1");
        CliRunner.Result stop = admin("experiments", "stop", "churn-v2-vs-v1", "--winner", "treatment");

        assertThat(noToken.exitCode()).isEqualTo(1);
        assertThat(noToken.err()).containsAnyOf("UNAUTHENTICATED", "PERMISSION_DENIED");
        assertThat(put.exitCode()).as(put.err()).isZero();
        assertThat(put.out()).contains("stored experiment churn-v2-vs-v1").contains("revision 1");
        assertThat(list.out()).contains("churn-v2-vs-v1").contains("RUNNING");
        assertThat(get.exitCode()).as(get.err()).isZero();
        assertThat(get.out()).contains("\"key\": \"churn-v2-vs-v1\"").contains("REVISION");
        assertThat(explain.exitCode()).as(explain.err()).isZero();
        assertThat(explain.out()).contains("experiment churn-v2-vs-v1").contains("hash");
        assertThat(imported.exitCode()).as(imported.err()).isZero();
        assertThat(imported.out()).contains("imported 200 outcomes");
        assertThat(results.exitCode()).as(results.err()).isZero();
        assertThat(results.out())
                .contains("control")
                .contains("treatment")
                .contains("SRM check")
                .contains("recommendation");
        assertThat(stop.exitCode()).as(stop.err()).isZero();
        assertThat(stop.out()).contains("stopped experiment churn-v2-vs-v1");
    }

    @Test
    void experiments_deleteDraftOnlyAndUnknownModelIsNotFound() throws Exception {
        Path draft = dir.resolve("churn-draft.yaml");
        Files.writeString(draft, """
                key: churn-draft
                model: churn
                status: DRAFT
                variants:
                  - {key: control, version: "1", weight: 0.5}
                  - {key: treatment, version: "2", weight: 0.5}
                """);
        Path typo = dir.resolve("chrun-draft.yaml");
        Files.writeString(typo, Files.readString(draft).replace("model: churn", "model: chrun"));

        CliRunner.Result unknownModel = admin("experiments", "put", typo.toString());
        CliRunner.Result put = admin("experiments", "put", draft.toString());
        CliRunner.Result noToken = run("experiments", "delete", "churn-draft");
        CliRunner.Result delete = admin("experiments", "delete", "churn-draft", "--expected-revision", "1");
        CliRunner.Result again = admin("experiments", "delete", "churn-draft");
        CliRunner.Result list = run("experiments", "list");

        assertThat(unknownModel.exitCode()).isEqualTo(1);
        assertThat(unknownModel.err()).contains("NOT_FOUND").contains("chrun");
        assertThat(put.exitCode()).as(put.err()).isZero();
        assertThat(noToken.exitCode()).isEqualTo(1);
        assertThat(delete.exitCode()).as(delete.err()).isZero();
        assertThat(delete.out()).contains("deleted DRAFT experiment churn-draft");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).contains("NOT_FOUND");
        assertThat(list.out()).doesNotContain("churn-draft");
    }

    @Test
    void experiments_importGrowthBookPrintsRefusesAndStores() throws Exception {
        Path export = dir.resolve("gb-churn.json");
        Files.writeString(export, """
                {"key": "gb-churn", "variations": ["old", "new"], "coverage": 0.5,
                 "meta": [{"key": "control"}, {"key": "treatment"}], "condition": {"plan": "pro"}}
                """);
        Path unsupported = dir.resolve("gb-forced.json");
        Files.writeString(unsupported, """
                {"key": "gb-forced", "variations": [0, 1], "force": 1, "url": "/pricing"}
                """);

        CliRunner.Result printed = run(
                "experiments",
                "import",
                export.toString(),
                "--model",
                MODEL,
                "--version",
                "control=1",
                "--version",
                "treatment=2",
                "--status",
                "DRAFT");
        Path converted = dir.resolve("gb-churn-trellis.json");
        Files.writeString(converted, printed.out());
        CliRunner.Result valid = admin("experiments", "put", converted.toString(), "--validate-only");
        CliRunner.Result refused =
                run("experiments", "import", unsupported.toString(), "--model", MODEL, "--version", "0=1");
        CliRunner.Result stored = admin(
                "experiments",
                "import",
                export.toString(),
                "--model",
                MODEL,
                "--version",
                "0=1",
                "--version",
                "1=2",
                "--status",
                "DRAFT",
                "--put");
        CliRunner.Result get = run("experiments", "get", "gb-churn");
        CliRunner.Result delete = admin("experiments", "delete", "gb-churn");

        assertThat(printed.exitCode()).as(printed.err()).isZero();
        assertThat(printed.out())
                .contains("\"hash_version\": 1")
                .contains("\"seed\": \"gb-churn\"")
                .contains("\"condition\"")
                .contains("\"coverage\": 0.5");
        assertThat(valid.exitCode()).as(valid.err()).isZero();
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.err())
                .contains("cannot import")
                .contains("force: force forces a variation")
                .contains("url: url targets by URL")
                .contains("--version: no model version for variation(s) [1]");
        assertThat(stored.exitCode()).as(stored.err()).isZero();
        assertThat(stored.out()).contains("stored experiment gb-churn (model churn, DRAFT) revision 1");
        assertThat(get.out()).contains("\"hash_version\": 1");
        assertThat(delete.exitCode()).as(delete.err()).isZero();
    }

    @Test
    void rollout_startStatusPauseResumeAbort() {
        CliRunner.Result start = admin(
                "rollout",
                "start",
                "--model",
                MODEL,
                "--stable",
                "1",
                "--candidate",
                "2",
                "--steps",
                "10,50,100",
                "--interval",
                "1h",
                "--min-requests",
                "10");
        CliRunner.Result status = run("rollout", "status", MODEL);
        CliRunner.Result pause = admin("rollout", "pause", MODEL, "--reason", "checking");
        CliRunner.Result resume = admin("rollout", "resume", MODEL);
        CliRunner.Result abort = admin("rollout", "abort", MODEL, "--reason", "test over");

        assertThat(start.exitCode()).as(start.err()).isZero();
        assertThat(start.out()).contains("stable 1 -> candidate 2");
        assertThat(status.out()).contains("PROGRESSING");
        assertThat(pause.out()).contains("PAUSED");
        assertThat(resume.out()).contains("PROGRESSING");
        assertThat(abort.exitCode()).as(abort.err()).isZero();
        assertThat(abort.out()).contains("ABORTED");
    }

    @Test
    void bench_bothProtocols() {
        String data = TestBundles.churnCsv().toString();
        CliRunner.Result trellis = run(
                "bench",
                "--model",
                MODEL,
                "--data",
                data,
                "--concurrency",
                "4",
                "--duration",
                "1s",
                "--warmup",
                "300ms");
        CliRunner.Result oip = CliRunner.run(
                "127.0.0.1:" + replica1.port(),
                "bench",
                "--protocol",
                "oip",
                "--model",
                MODEL,
                "--data",
                data,
                "--rate",
                "300",
                "--duration",
                "1s",
                "--warmup",
                "0",
                "--max-rows",
                "500");

        assertThat(trellis.exitCode()).as(trellis.err()).isZero();
        assertThat(trellis.out()).contains("throughput").contains("p99.9").contains("0 failed");
        assertThat(oip.exitCode()).as(oip.err()).isZero();
        assertThat(oip.out()).contains("open loop, 300 req/s").contains("0 failed");
    }
}
