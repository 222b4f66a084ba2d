package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.trellis.ensemble.bundle.BaselineFile;
import dev.trellis.ensemble.cli.EnsembleMain;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.monitoring.PayloadSampleRates;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trellis monitor} through real servers, and the loop it closes: rows scored through the
 * router with every payload logged, outcomes imported for some of them, {@code monitor export}
 * writing them as a CSV, and {@code trellis train} training the next version from that CSV, which
 * the model-server then serves.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitorCliTest {
    private static final String TOKEN = "test-admin-token";
    private static final String MODEL = "churn";
    private static final int SCORED = 700;
    private static final int WITH_OUTCOME = 500;

    @TempDir
    static Path dir;

    private Path repo;
    private ModelServer replica;
    private RouterServer router;
    private String target;
    private int modelServerMetrics;
    private int routerMetrics;

    @BeforeAll
    void start() throws Exception {
        modelServerMetrics = freePort();
        routerMetrics = freePort();
        repo = dir.resolve("models");
        TestBundles.install(repo, MODEL, 1, 42);
        replica = ModelServer.start(ModelServerConfig.builder(repo)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(modelServerMetrics)
                .defaultVersionPolicy(VersionPolicy.parse("all"))
                .pollInterval(Duration.ofMillis(200))
                .build());
        replica.awaitReady(Duration.ofMinutes(2));
        router = RouterServer.start(RouterConfig.builder()
                .shutdownDelay(Duration.ZERO)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(routerMetrics)
                .upstreams(List.of("127.0.0.1:" + replica.port()))
                .store(dir.resolve("trellis.db"))
                .adminToken(TOKEN)
                .catalogRefresh(Duration.ofMillis(200))
                .payloadSampleRates(PayloadSampleRates.parse(List.of(MODEL + "=1")))
                .performanceRefresh(Duration.ofMillis(200))
                .build());
        target = "127.0.0.1:" + router.port();
        Awaitility.await("router sees the model")
                .atMost(Duration.ofMinutes(1))
                .until(() -> run("models").out().contains("churn (default version"));
    }

    @AfterAll
    void stop() {
        if (router != null) {
            router.close();
        }
        if (replica != null) {
            replica.close();
        }
    }

    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket socket =
                new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** The live /metrics text of a server, after promtool check metrics found nothing to complain about in it. */
    private static String checkedMetrics(int port) throws Exception {
        java.net.http.HttpResponse<String> response = java.net.http.HttpClient.newHttpClient()
                .send(
                        java.net.http.HttpRequest.newBuilder(
                                        java.net.URI.create("http://127.0.0.1:" + port + "/metrics"))
                                .timeout(Duration.ofSeconds(30))
                                .build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        Path file = Files.createTempFile(dir, "metrics-", ".txt");
        Files.writeString(file, response.body());
        Process promtool = new ProcessBuilder("promtool", "check", "metrics")
                .redirectInput(file.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(promtool.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(promtool.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        // two known complaints that the standard telemetry setup (issue 13) removes: the exporter's
        // target_info has no HELP line, and the router's latency histogram is in milliseconds;
        // nothing else, and nothing of monitoring's, may draw one
        assertThat(output.lines()
                        .filter(line -> !line.startsWith("target_info ")
                                && !line.startsWith("trellis_router_latency_milliseconds ")))
                .as(output)
                .isEmpty();
        return response.body();
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

    /** The header and the first {@code rows} data lines of the shipped churn file. */
    private static Path firstRows(String name, int rows) throws Exception {
        List<String> lines = Files.readAllLines(TestBundles.churnCsv());
        Path file = dir.resolve(name);
        Files.write(file, lines.subList(0, rows + 1));
        return file;
    }

    @Test
    void export_sampledRowsWithOutcomesTrainTheNextVersion_andDriftAndPerformanceShowThem() throws Exception {
        CliRunner.Result scored = run(
                "batch-score",
                "--model",
                MODEL,
                "--input",
                firstRows("scored.csv", SCORED).toString(),
                "--output",
                dir.resolve("scores.csv").toString(),
                "--id-column",
                "customer_id");
        assertThat(scored.exitCode()).as(scored.err()).isZero();
        CliRunner.Result outcomes = admin(
                "outcomes", "import",
                "--file", firstRows("outcomes.csv", WITH_OUTCOME).toString(),
                "--unit-column", "customer_id",
                "--value-column", "churned",
                "--metric", "churned");
        assertThat(outcomes.exitCode()).as(outcomes.err()).isZero();

        // samples are written in batches: wait until the export holds every sampled row with an outcome
        Path rows = dir.resolve("rows.csv");
        Awaitility.await("every sampled row with an outcome exported")
                .atMost(Duration.ofMinutes(1))
                .until(() -> {
                    CliRunner.Result export = admin(
                            "monitor", "export", "--model", MODEL, "--metric", "churned", "--output", rows.toString());
                    return export.exitCode() == 0 && Files.readAllLines(rows).size() == WITH_OUTCOME + 1;
                });
        List<String> lines = Files.readAllLines(rows);
        assertThat(lines.get(0))
                .startsWith("unit_id,")
                .endsWith(",churned")
                .contains(",tenure,")
                .contains(",contract,");
        // the rows are the scored rows with an outcome, each with its label as the target
        List<String> original = Files.readAllLines(TestBundles.churnCsv()).subList(1, WITH_OUTCOME + 1);
        Map<String, String> expected = new HashMap<>();
        for (String line : original) {
            expected.put(line.substring(1, line.indexOf('"', 1)), line.substring(line.lastIndexOf(',') + 1));
        }
        Map<String, String> exported = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            exported.put(line.substring(0, line.indexOf(',')), line.substring(line.lastIndexOf(',') + 1));
        }
        assertThat(exported).isEqualTo(expected);

        // the export trains the next version with the project's trainer, and it is served
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int trained = EnsembleMain.run(
                new String[] {
                    "train",
                    "--data",
                    rows.toString(),
                    "--target",
                    "churned",
                    "--id",
                    "unit_id",
                    "--model",
                    MODEL,
                    "--repo",
                    repo.toString(),
                    "--fast",
                    "--folds",
                    "2"
                },
                new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertThat(trained).as(err.toString()).isZero();
        assertThat(repo.resolve(MODEL).resolve("2").resolve(BaselineFile.FILE_NAME))
                .isRegularFile();
        Awaitility.await("version 2 served")
                .atMost(Duration.ofMinutes(2))
                .until(() -> run(
                                        "score",
                                        "--model",
                                        MODEL,
                                        "--version",
                                        "2",
                                        "--unit",
                                        "C00001",
                                        "--feature",
                                        "tenure=12",
                                        "--feature",
                                        "contract=Month-to-month")
                                .exitCode()
                        == 0);

        CliRunner.Result drift = run("monitor", "drift", "--model", MODEL, "--version", "1", "--output", "json");
        assertThat(drift.exitCode()).as(drift.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(drift.out());
        assertThat(json.at("/versions/0/live_rows").asLong()).isEqualTo(SCORED);
        assertThat(json.at("/versions/0/verdict").asText()).isIn("NO_DRIFT", "DRIFT");
        CliRunner.Result table = run("monitor", "drift", "--model", MODEL);
        assertThat(table.exitCode()).as(table.err()).isZero();
        assertThat(table.out())
                .contains("churn version 1: ")
                .contains("FEATURE")
                .contains("tenure");

        CliRunner.Result performance = run("monitor", "performance", "--model", MODEL, "--metric", "churned");
        assertThat(performance.exitCode()).as(performance.err()).isZero();
        assertThat(performance.out())
                .contains("churn version 1: " + SCORED + " samples, " + WITH_OUTCOME + " with an outcome of churned")
                .contains("AUC ")
                .contains("bundle test")
                .contains("LABEL");

        // the gauges the alert rules read, on the live /metrics of both servers, clean for promtool
        assertThat(checkedMetrics(modelServerMetrics))
                .contains("trellis_drift_detected{")
                .contains("trellis_drift_psi{")
                .contains("feature=\"tenure\"")
                .contains("trellis_drift_window_rows{");
        // the performance call tracks (churn, churned): the router's refresh job publishes its gauges
        Awaitility.await("the live-performance gauges")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> checkedMetrics(routerMetrics).contains("trellis_performance_auc_change{"));
        assertThat(checkedMetrics(routerMetrics))
                .contains("trellis_performance_auc_change{")
                .contains("trellis_performance_label_rows{")
                .contains("trellis_performance_calibration_observed_rate{")
                .contains("trellis_performance_auc{")
                .contains("trellis_store_dropped_records_total")
                .contains("trellis_control_replicas_missing_desired");

        CliRunner.Result unknown = run("monitor", "drift", "--model", "no-such-model");
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.err()).contains("NOT_FOUND");
        CliRunner.Result anonymousExport =
                run("monitor", "export", "--model", MODEL, "--metric", "churned", "--output", rows.toString());
        assertThat(anonymousExport.exitCode()).isEqualTo(1);
        assertThat(anonymousExport.err()).contains("UNAUTHENTICATED");
    }
}
