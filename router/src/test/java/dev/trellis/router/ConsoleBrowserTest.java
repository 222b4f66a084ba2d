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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The web console end to end in the two browsers it must work in: a router and two model-servers
 * with churn models trained by the project's trainer, then per browser its own experiment with
 * traffic and outcomes and its own rollout that has advanced a step (so that the actions of one
 * browser's run leave the other's data alone, in either order); then {@code
 * src/test/browser/console.spec.mjs} drives Debian's Chromium through playwright-core or Debian's
 * Firefox ESR through puppeteer-core (both pinned by its package-lock.json, no browser download)
 * and checks that the pages show GetResults' figures and the interval plot, that an action without
 * the token is refused and with it works, and that the abort appears in the rollout's timeline. The
 * servers start once for both browsers. This test fails, never skips, when node, npm or a browser
 * is missing ({@code .ci/run} installs them). Screenshots: {@code
 * target/console-screenshots/<browser>/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleBrowserTest {
    private static final String METRIC = "churned";
    private static final int UNITS = 800;
    private static final List<String> BROWSERS = List.of("chromium", "firefox");
    /** Each browser's executable, whose file name is also the Debian package that installs it. */
    private static final Map<String, Path> EXECUTABLES =
            Map.of("chromium", Path.of("/usr/bin/chromium"), "firefox", Path.of("/usr/bin/firefox-esr"));

    @TempDir
    static Path temp;

    private Cluster cluster;
    private String node;
    private Path work;

    /** One browser's run: its experiment on its own model and its rollout on another. */
    private record Names(String browser) {
        String model() {
            return "churn-" + browser;
        }

        String experiment() {
            return model() + "-v2-vs-v1";
        }

        String rolloutModel() {
            return "retention-" + browser;
        }

        String unit(int i) {
            return String.format(Locale.ROOT, "%s-%05d", browser, i);
        }
    }

    @BeforeAll
    @Timeout(value = 8, unit = TimeUnit.MINUTES) // trains models, starts three servers, runs npm ci
    void start() throws Exception {
        node = executable("node");
        String npm = executable("npm");
        Path repository = temp.resolve("repository");
        List<String> sampleRates = new ArrayList<>(List.of("0"));
        for (String browser : BROWSERS) {
            Names names = new Names(browser);
            TestBundles.install(repository, names.model(), 1, 42);
            TestBundles.install(repository, names.model(), 2, 7);
            TestBundles.install(repository, names.rolloutModel(), 1, 42);
            TestBundles.install(repository, names.rolloutModel(), 2, 7);
            sampleRates.add(names.model() + "=1");
        }
        cluster = new Cluster(
                repository,
                temp.resolve("trellis.db"),
                2,
                b -> b.httpPort(0).payloadSampleRates(PayloadSampleRates.parse(sampleRates)));
        awaitVersions(cluster, 4 * BROWSERS.size());

        work = Path.of("target", "console-browser");
        Files.createDirectories(work);
        for (String file : List.of("package.json", "package-lock.json", "drivers.mjs", "console.spec.mjs")) {
            Files.copy(
                    Path.of("src", "test", "browser", file), work.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        run(work, Map.of(), Duration.ofMinutes(4), npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts");
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("BROWSERS")
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void console_inBrowser_showsResultsRefusesWithoutTokenAndActsWithIt(String browser) throws Exception {
        Path executable = EXECUTABLES.get(browser);
        assertThat(executable)
                .as(
                        "Debian's %1$s is needed for the console's browser test (apt-get install %1$s; .ci/run does)",
                        executable.getFileName())
                .isExecutable();
        Names names = new Names(browser);
        createExperimentWithTrafficAndOutcomes(cluster, names);
        advanceRolloutOneStep(cluster, names);

        GetResultsResponse results = cluster.anonymous()
                .getResults(GetResultsRequest.newBuilder()
                        .setExperiment(names.experiment())
                        .build());
        Path expected = temp.resolve("expected-" + browser + ".json");
        Files.writeString(expected, expectedJson(cluster, names, results));
        Path shots = Path.of("target", "console-screenshots", browser);
        Files.createDirectories(shots);
        run(
                work,
                Map.of(
                        "BROWSER",
                        browser,
                        "BROWSER_EXECUTABLE",
                        executable.toString(),
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
                        .setModel(names.rolloutModel())
                        .build())
                .getRollout();
        assertThat(aborted.getState()).isEqualTo(RolloutState.ABORTED);
        RolloutEvent last = aborted.getHistory(aborted.getHistoryCount() - 1);
        assertThat(last.getType()).isEqualTo("ABORTED");
        assertThat(aborted.getReason() + " " + last.getDetail()).contains("aborted from the console");
        GetExperimentResponse stopped = cluster.anonymous()
                .getExperiment(GetExperimentRequest.newBuilder()
                        .setKey(names.experiment())
                        .setIncludeHistory(true)
                        .build());
        assertThat(stopped.getExperiment().getStatus()).isEqualTo(ExperimentStatus.STOPPED);
        assertThat(stopped.getExperiment().getWinner()).isEqualTo("treatment");
        assertThat(stopped.getHistory(stopped.getHistoryCount() - 1).getActor()).isEqualTo("browser-operator");
        for (String shot : List.of("experiment.png", "models.png", "rollout.png", "monitoring.png")) {
            assertThat(shots.resolve(shot)).isNotEmptyFile();
        }
    }

    private static void awaitVersions(Cluster cluster, int versions) {
        Awaitility.await("every version of every model ready on both replicas")
                .atMost(Duration.ofSeconds(120))
                .until(() -> cluster.router.catalog().snapshot().models().values().stream()
                                .flatMap(m -> m.versions().values().stream())
                                .filter(v -> v.servable()
                                        && v.replicas().size() == 2
                                        && v.replicas().values().stream().allMatch(s -> s.ready()))
                                .count()
                        == versions);
    }

    private static void createExperimentWithTrafficAndOutcomes(Cluster cluster, Names names) {
        cluster.admin()
                .putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(Experiment.newBuilder()
                                .setKey(names.experiment())
                                .setModel(names.model())
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
            String unit = names.unit(i + 1);
            units.add(unit);
            cluster.scoring()
                    .score(ScoreRequest.newBuilder()
                            .setModel(names.model())
                            .setUnitId(unit)
                            .putAllFeatures(rows.get(i))
                            .build());
        }
        Awaitility.await("every exposure stored")
                .atMost(Duration.ofSeconds(60))
                .until(() -> cluster
                                .anonymous()
                                .getResults(GetResultsRequest.newBuilder()
                                        .setExperiment(names.experiment())
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
                            .setOutcomeId("outcome-" + units.get(i))
                            .build());
        }
        Awaitility.await("payload samples of both versions stored")
                .atMost(Duration.ofSeconds(60))
                .until(() -> MonitoringGrpc.newBlockingStub(cluster.channel)
                                .withDeadlineAfter(30, TimeUnit.SECONDS)
                                .getPerformance(GetPerformanceRequest.newBuilder()
                                        .setModel(names.model())
                                        .setMetric(METRIC)
                                        .build())
                                .getVersionsList()
                                .stream()
                                .mapToLong(v -> v.getSamples())
                                .sum()
                        == units.size());
    }

    /** A rollout that has advanced from 10 % to 50 % (a guardrail check with figures) and then waits. */
    private static void advanceRolloutOneStep(Cluster cluster, Names names) {
        cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(names.rolloutModel())
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
                                        .setModel(names.rolloutModel())
                                        .setUnitId(names.unit(next[0]) + "-rollout")
                                        .putAllFeatures(rows.get(row))
                                        .build());
                    }
                    cluster.router.tickRollouts();
                    Rollout now = cluster.anonymous()
                            .getRollout(GetRolloutRequest.newBuilder()
                                    .setModel(names.rolloutModel())
                                    .build())
                            .getRollout();
                    assertThat(now.getState()).as(now.getReason()).isEqualTo(RolloutState.PROGRESSING);
                    return now.getCurrentWeight() == 50;
                });
    }

    private static String expectedJson(Cluster cluster, Names names, GetResultsResponse results) throws IOException {
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
                .putFields("experiment", text(names.experiment()))
                .putFields("experimentModel", text(names.model()))
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
                .putFields("bundleAuc", number(bundleAuc(cluster, names)))
                .putFields("rolloutModel", text(names.rolloutModel()))
                .putFields("browserActor", text("browser-operator"))
                .putFields("abortReason", text("aborted from the console"))
                .putFields("winner", text("treatment"))
                .build();
        return JsonFormat.printer().print(expected);
    }

    /** Version 1's bundle test AUC as ListModels reports it, checked against the bundle file itself. */
    private static double bundleAuc(Cluster cluster, Names names) throws IOException {
        ModelVersionInfo v1 =
                cluster.anonymous().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                        .filter(m -> m.getName().equals(names.model()))
                        .flatMap(m -> m.getVersionsList().stream())
                        .filter(v -> v.getVersion().equals("1"))
                        .findFirst()
                        .orElseThrow();
        double auc = v1.getBundleTestMetricsOrThrow("auc_roc");
        String bundle = Files.readString(
                cluster.repository.resolve(names.model()).resolve("1").resolve("bundle.json"));
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
