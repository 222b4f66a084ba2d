package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.Comparison;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetExperimentResponse;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvent;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.Variant;
import dev.trellis.api.v1.VariantResult;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.router.monitoring.PayloadSampleRates;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console end to end in a real browser: a router and two model-servers with churn models
 * trained by the project's trainer, an experiment with traffic and outcomes, a rollout that has
 * advanced a step; then {@code src/test/browser/console.spec.mjs} drives Debian's Chromium through
 * playwright-core (pinned by its package-lock.json, no browser download) and checks that the pages
 * show GetResults' figures and the interval plot, that an action without the token is refused and
 * with it works, and that the abort appears in the rollout's timeline. This test fails, never
 * skips, when node, npm or chromium are missing ({@code .ci/run} installs them). Screenshots:
 * {@code target/console-screenshots/}.
 */
class ConsoleBrowserTest {
    private static final String EXPERIMENT = "churn-v2-vs-v1";
    private static final String MODEL = "churn";
    private static final String ROLLOUT_MODEL = "retention";
    private static final String METRIC = "churned";
    private static final int UNITS = 800;
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    @TempDir
    Path temp;

    @Test
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    void console_inChromium_showsResultsRefusesWithoutTokenAndActsWithIt() throws Exception {
        String node = executable("node");
        String npm = executable("npm");
        assertThat(CHROMIUM)
                .as(
                        "Debian's chromium is needed for the console's browser test (apt-get install chromium; .ci/run does)")
                .isExecutable();

        Path repository = temp.resolve("repository");
        TestBundles.install(repository, MODEL, 1, 42);
        TestBundles.install(repository, MODEL, 2, 7);
        TestBundles.install(repository, ROLLOUT_MODEL, 1, 42);
        TestBundles.install(repository, ROLLOUT_MODEL, 2, 7);
        try (Cluster cluster = new Cluster(
                repository,
                temp.resolve("trellis.db"),
                2,
                b -> b.httpPort(0).payloadSampleRates(PayloadSampleRates.parse(List.of("0", MODEL + "=1"))))) {
            awaitVersions(cluster);
            createExperimentWithTrafficAndOutcomes(cluster);
            advanceRolloutOneStep(cluster);

            GetResultsResponse results = cluster.anonymous()
                    .getResults(GetResultsRequest.newBuilder()
                            .setExperiment(EXPERIMENT)
                            .build());
            Path expected = temp.resolve("expected.json");
            Files.writeString(expected, expectedJson(cluster, results));

            Path work = Path.of("target", "console-browser");
            Path shots = Path.of("target", "console-screenshots");
            Files.createDirectories(work);
            Files.createDirectories(shots);
            for (String file : List.of("package.json", "package-lock.json", "console.spec.mjs")) {
                Files.copy(
                        Path.of("src", "test", "browser", file),
                        work.resolve(file),
                        StandardCopyOption.REPLACE_EXISTING);
            }
            run(work, Map.of(), Duration.ofMinutes(4), npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts");
            run(
                    work,
                    Map.of(
                            "CONSOLE_URL",
                            "http://127.0.0.1:" + cluster.router.httpPort(),
                            "ADMIN_TOKEN",
                            Cluster.ADMIN_TOKEN,
                            "EXPECTED_FILE",
                            expected.toAbsolutePath().toString(),
                            "SCREENSHOT_DIR",
                            shots.toAbsolutePath().toString()),
                    Duration.ofMinutes(5),
                    node,
                    "console.spec.mjs");

            // what the browser did, read back over gRPC
            Rollout aborted = cluster.anonymous()
                    .getRollout(GetRolloutRequest.newBuilder()
                            .setModel(ROLLOUT_MODEL)
                            .build())
                    .getRollout();
            assertThat(aborted.getState()).isEqualTo(RolloutState.ABORTED);
            RolloutEvent last = aborted.getHistory(aborted.getHistoryCount() - 1);
            assertThat(last.getType()).isEqualTo("ABORTED");
            assertThat(aborted.getReason() + " " + last.getDetail()).contains("aborted from the console");
            GetExperimentResponse stopped = cluster.anonymous()
                    .getExperiment(GetExperimentRequest.newBuilder()
                            .setKey(EXPERIMENT)
                            .setIncludeHistory(true)
                            .build());
            assertThat(stopped.getExperiment().getStatus()).isEqualTo(ExperimentStatus.STOPPED);
            assertThat(stopped.getExperiment().getWinner()).isEqualTo("treatment");
            assertThat(stopped.getHistory(stopped.getHistoryCount() - 1).getActor())
                    .isEqualTo("browser-operator");
            for (String shot : List.of("experiment.png", "models.png", "rollout.png", "monitoring.png")) {
                assertThat(shots.resolve(shot)).isNotEmptyFile();
            }
        }
    }

    private static void awaitVersions(Cluster cluster) {
        Awaitility.await("both versions of both models ready on both replicas")
                .atMost(Duration.ofSeconds(120))
                .until(() -> cluster.router.catalog().snapshot().models().values().stream()
                                .flatMap(m -> m.versions().values().stream())
                                .filter(v -> v.servable()
                                        && v.replicas().size() == 2
                                        && v.replicas().values().stream().allMatch(s -> s.ready()))
                                .count()
                        == 4);
    }

    private static void createExperimentWithTrafficAndOutcomes(Cluster cluster) {
        cluster.admin()
                .putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(Experiment.newBuilder()
                                .setKey(EXPERIMENT)
                                .setModel(MODEL)
                                .setDescription("churn model trained with seed 7 against seed 42")
                                .setStatus(ExperimentStatus.RUNNING)
                                .setMetric(METRIC)
                                .setMetricType(MetricType.CONVERSION)
                                .setMinimumDetectableEffect(0.05)
                                .addVariants(Variant.newBuilder()
                                        .setKey("control")
                                        .setVersion("1")
                                        .setWeight(0.5))
                                .addVariants(Variant.newBuilder()
                                        .setKey("treatment")
                                        .setVersion("2")
                                        .setWeight(0.5)))
                        .build());
        List<Map<String, Value>> rows = ChurnRows.load(UNITS);
        int[] labels = TestBundles.churn().labels();
        List<String> units = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            String unit = String.format(Locale.ROOT, "C%05d", i + 1);
            units.add(unit);
            cluster.scoring()
                    .score(ScoreRequest.newBuilder()
                            .setModel(MODEL)
                            .setUnitId(unit)
                            .putAllFeatures(rows.get(i))
                            .build());
        }
        Awaitility.await("every exposure stored")
                .atMost(Duration.ofSeconds(60))
                .until(() -> cluster
                                .anonymous()
                                .getResults(GetResultsRequest.newBuilder()
                                        .setExperiment(EXPERIMENT)
                                        .build())
                                .getVariantsList()
                                .stream()
                                .mapToLong(VariantResult::getUnits)
                                .sum()
                        == units.size());
        for (int i = 0; i < units.size(); i++) {
            cluster.admin()
                    .recordOutcome(RecordOutcomeRequest.newBuilder()
                            .setUnitId(units.get(i))
                            .setMetric(METRIC)
                            .setValue(labels[i])
                            .setOutcomeId("outcome-" + i)
                            .build());
        }
        Awaitility.await("payload samples of both versions stored")
                .atMost(Duration.ofSeconds(60))
                .until(() -> MonitoringGrpc.newBlockingStub(cluster.channel)
                                .withDeadlineAfter(30, TimeUnit.SECONDS)
                                .getPerformance(GetPerformanceRequest.newBuilder()
                                        .setModel(MODEL)
                                        .setMetric(METRIC)
                                        .build())
                                .getVersionsList()
                                .stream()
                                .mapToLong(v -> v.getSamples())
                                .sum()
                        == units.size());
    }

    /** A rollout that has advanced from 10 % to 50 % (a guardrail check with figures) and then waits. */
    private static void advanceRolloutOneStep(Cluster cluster) {
        cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(ROLLOUT_MODEL)
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .addSteps(10)
                                .addSteps(50)
                                .addSteps(100)
                                .setStepInterval(Durations.fromMillis(200))
                                .setMinCandidateRequests(20)
                                .setGuardrails(Guardrails.newBuilder()
                                        .setMaxErrorRateIncrease(0.01)
                                        .setMaxP99LatencyRatio(50)
                                        .setMaxScorePsi(2)))
                        .build());
        List<Map<String, Value>> rows = ChurnRows.load(400);
        int[] next = {0};
        Awaitility.await("the rollout at its second step")
                .atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> {
                    for (int i = 0; i < 40; i++) {
                        int row = next[0]++ % rows.size();
                        cluster.scoring()
                                .score(ScoreRequest.newBuilder()
                                        .setModel(ROLLOUT_MODEL)
                                        .setUnitId("R" + next[0])
                                        .putAllFeatures(rows.get(row))
                                        .build());
                    }
                    cluster.router.tickRollouts();
                    Rollout now = cluster.anonymous()
                            .getRollout(GetRolloutRequest.newBuilder()
                                    .setModel(ROLLOUT_MODEL)
                                    .build())
                            .getRollout();
                    assertThat(now.getState()).as(now.getReason()).isEqualTo(RolloutState.PROGRESSING);
                    return now.getCurrentWeight() == 50;
                });
    }

    private static String expectedJson(Cluster cluster, GetResultsResponse results) throws IOException {
        ListValue.Builder variants = ListValue.newBuilder();
        for (VariantResult v : results.getVariantsList()) {
            variants.addValues(object(Struct.newBuilder()
                    .putFields("variant", text(v.getVariant()))
                    .putFields("unitsText", text(String.format(Locale.US, "%,d", v.getUnits())))
                    .putFields("conversionsText", text(String.format(Locale.US, "%,d", v.getConversions())))
                    .putFields("mean", number(v.getMean()))));
        }
        ListValue.Builder comparisons = ListValue.newBuilder();
        for (Comparison c : results.getComparisonsList()) {
            comparisons.addValues(object(Struct.newBuilder()
                    .putFields("variant", text(c.getVariant()))
                    .putFields("absoluteLift", number(c.getAbsoluteLift()))
                    .putFields("absoluteLiftLower", number(c.getAbsoluteLiftLower()))
                    .putFields("absoluteLiftUpper", number(c.getAbsoluteLiftUpper()))
                    .putFields("relativeLift", number(c.getRelativeLift()))
                    .putFields("pValue", number(c.getPValue()))));
        }
        ListValue.Builder replicas = ListValue.newBuilder();
        for (int i = 0; i < cluster.ports.size(); i++) {
            replicas.addValues(text(cluster.replicaName(i)));
        }
        Struct expected = Struct.newBuilder()
                .putFields("experiment", text(EXPERIMENT))
                .putFields("experimentModel", text(MODEL))
                .putFields("metric", text(METRIC))
                .putFields("variants", Value.newBuilder().setListValue(variants).build())
                .putFields(
                        "comparisons",
                        Value.newBuilder().setListValue(comparisons).build())
                .putFields("recommendation", text(results.getRecommendation().name()))
                .putFields("explanation", text(results.getExplanation()))
                .putFields("srmPValue", number(results.getSrm().getPValue()))
                .putFields("required", text(Long.toString(results.getRequiredSampleSizePerArm())))
                .putFields("actor", text("e2e-test"))
                .putFields("replicas", Value.newBuilder().setListValue(replicas).build())
                .putFields("bundleAuc", number(bundleAuc(cluster)))
                .putFields("rolloutModel", text(ROLLOUT_MODEL))
                .putFields("browserActor", text("browser-operator"))
                .putFields("abortReason", text("aborted from the console"))
                .putFields("winner", text("treatment"))
                .build();
        return JsonFormat.printer().print(expected);
    }

    /** Version 1's bundle test AUC as ListModels reports it, checked against the bundle file itself. */
    private static double bundleAuc(Cluster cluster) throws IOException {
        ModelVersionInfo v1 =
                cluster.anonymous().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                        .filter(m -> m.getName().equals(MODEL))
                        .flatMap(m -> m.getVersionsList().stream())
                        .filter(v -> v.getVersion().equals("1"))
                        .findFirst()
                        .orElseThrow();
        double auc = v1.getBundleTestMetricsOrThrow("auc_roc");
        String bundle =
                Files.readString(cluster.repository.resolve(MODEL).resolve("1").resolve("bundle.json"));
        java.util.regex.Matcher written = java.util.regex.Pattern.compile("\"auc_roc\"\\s*:\\s*([-0-9.eE]+)")
                .matcher(bundle);
        List<Double> values = new ArrayList<>();
        while (written.find()) {
            values.add(Double.parseDouble(written.group(1)));
        }
        assertThat(values)
                .as("auc_roc values in version 1's bundle.json")
                .anySatisfy(v -> assertThat(v).isCloseTo(auc, org.assertj.core.data.Offset.offset(1e-12)));
        return auc;
    }

    private static Value object(Struct.Builder struct) {
        return Value.newBuilder().setStructValue(struct).build();
    }

    private static Value text(String value) {
        return Value.newBuilder().setStringValue(value).build();
    }

    private static Value number(double value) {
        return Value.newBuilder().setNumberValue(value).build();
    }

    /** The command's path; fails (never skips) when it is missing. */
    private static String executable(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new AssertionError(name + " is needed for the console's browser test and is not on the PATH "
                + "(apt-get install nodejs npm; .ci/run does)");
    }

    /** Runs a command in {@code dir}; fails with its output when it fails or outlives {@code limit}. */
    private static void run(Path dir, Map<String, String> env, Duration limit, String... command)
            throws IOException, InterruptedException {
        Path log = Files.createTempFile(dir.toAbsolutePath(), "run-", ".log");
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process process = builder.start();
        boolean finished = process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
        if (!finished) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(finished)
                .as(String.join(" ", command) + " did not finish within " + limit + ":\n" + output)
                .isTrue();
        assertThat(process.exitValue())
                .as(String.join(" ", command) + " failed:\n" + output)
                .isZero();
    }
}
