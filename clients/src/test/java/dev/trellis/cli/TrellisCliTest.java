package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.Features;
import dev.trellis.client.ScoreResult;
import dev.trellis.client.TrellisClient;
import dev.trellis.testing.FakeTrellis;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrellisCliTest {
    private static FakeTrellis fake;
    private static String target;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        fake = new FakeTrellis();
        target = fake.target();
    }

    @AfterAll
    static void stop() throws Exception {
        fake.close();
    }

    @Test
    void score_typesFeaturesBySchema() {
        CliRunner.Result r = CliRunner.run(
                target,
                "score",
                "--model",
                "leads",
                "--unit",
                "lead-7",
                "--feature",
                "tenure=12",
                "--feature",
                "contract=1",
                "--feature",
                "total_charges=null",
                "--attribute",
                "vertical=insurance");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("score").contains("label").contains("served      leads version");
        ScoreRequest sent = fake.scored.get(fake.scored.size() - 1);
        assertThat(sent.getUnitId()).isEqualTo("lead-7");
        assertThat(sent.getFeaturesOrThrow("tenure").getNumberValue()).isEqualTo(12.0);
        assertThat(sent.getFeaturesOrThrow("contract").getStringValue()).isEqualTo("1");
        assertThat(sent.getFeaturesOrThrow("total_charges").hasNullValue()).isTrue();
        assertThat(sent.getAttributesMap()).containsEntry("vertical", "insurance");
    }

    @Test
    void score_jsonInAndOut() throws Exception {
        CliRunner.Result r = CliRunner.run(
                target,
                "score",
                "--model",
                "leads",
                "--explain",
                "--output",
                "json",
                "--json",
                "{\"unit_id\":\"u1\",\"features\":{\"tenure\":3,\"contract\":\"Two year\"}}");

        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("score").asDouble()).isBetween(0.0, 1.0);
        assertThat(json.get("contributions").get("tenure").asDouble()).isEqualTo(0.03);
        assertThat(json.get("served").get("model").asText()).isEqualTo("leads");
    }

    @Test
    void score_invalidFeaturePrintsStatusAndViolationsExit1() {
        CliRunner.Result r = CliRunner.run(target, "score", "--model", "leads", "--feature", "tenure=twelve");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err())
                .contains("error: INVALID_ARGUMENT: invalid features")
                .contains("features.tenure: expected a number");
        assertThat(r.err()).doesNotContain("at dev.trellis");
    }

    @Test
    void score_badArgumentsExit2WithHint() {
        CliRunner.Result missing = CliRunner.run(target, "score", "--unit", "u");
        CliRunner.Result malformed = CliRunner.run(target, "score", "--model", "leads", "--feature", "tenure");
        CliRunner.Result badDeadline = CliRunner.run(target, "--deadline", "soon", "models");
        CliRunner.Result unknown = CliRunner.run(target, "scroe");

        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err())
                .contains("error: Missing required option: '--model")
                .contains("Try 'trellis score --help'");
        assertThat(malformed.exitCode()).isEqualTo(2);
        assertThat(malformed.err()).contains("--feature expects NAME=VALUE");
        assertThat(badDeadline.exitCode()).isEqualTo(2);
        assertThat(badDeadline.err()).contains("invalid duration 'soon'");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("Did you mean");
    }

    @Test
    void anyCommand_unreachableServerExit1() {
        CliRunner.Result r = CliRunner.run("localhost:1", "--deadline", "1s", "models");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: UNAVAILABLE: could not connect to localhost:1 (is the server running");
    }

    @Test
    void anyCommand_serverAnsweringUnavailable_showsTheServersWordsOnly() {
        CliRunner.Result r = CliRunner.run(target, "score", "--model", "down", "--unit", "u1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: UNAVAILABLE: no replica can serve model 'down'");
        assertThat(r.err()).doesNotContain("could not connect").doesNotContain("running");
    }

    @Test
    void anyCommand_deadlineExpired_saysWhichDeadlineAndHowToRaiseIt() {
        CliRunner.Result r = CliRunner.run(target, "--deadline", "200ms", "score", "--model", "slow", "--unit", "u1");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err())
                .startsWith("error: DEADLINE_EXCEEDED: " + target + " did not answer within the 200ms deadline")
                .contains("--deadline")
                .doesNotContain("buffered_nanos")
                .doesNotContain("deadline exceeded after");
    }

    @Test
    void help_everyCommandHasHelpAndItsTextsFormat() {
        List<picocli.CommandLine> commands = new java.util.ArrayList<>();
        collect(TrellisCli.newCommandLine(), commands);
        assertThat(commands).hasSizeGreaterThan(20);
        for (picocli.CommandLine command : commands) {
            String name = command.getCommandSpec().qualifiedName();
            String[] path = name.substring("trellis".length()).trim().split(" ");
            String[] args = java.util.stream.Stream.concat(
                            java.util.Arrays.stream(path).filter(p -> !p.isEmpty()),
                            java.util.stream.Stream.of("--help"))
                    .toArray(String[]::new);
            CliRunner.Result r = CliRunner.run(null, args);
            assertThat(r.exitCode()).as(name).isZero();
            assertThat(r.out()).as(name).contains("Usage: " + name);
            // picocli treats every description as a format string: a lone '%' prints a WARN instead of the text
            List<String> texts = new java.util.ArrayList<>();
            texts.addAll(List.of(command.getCommandSpec().usageMessage().description()));
            texts.addAll(List.of(command.getCommandSpec().usageMessage().footer()));
            command.getCommandSpec().options().forEach(o -> texts.addAll(List.of(o.description())));
            for (String text : texts) {
                assertThatCode(() -> String.format(java.util.Locale.ROOT, text))
                        .as(name + ": " + text)
                        .doesNotThrowAnyException();
            }
        }
    }

    private static void collect(picocli.CommandLine command, List<picocli.CommandLine> into) {
        into.add(command);
        command.getSubcommands().values().stream().distinct().forEach(c -> collect(c, into));
    }

    @Test
    void batchScore_outputEqualsPerRowScores() throws Exception {
        Path input = dir.resolve("in.csv");
        StringBuilder csv = new StringBuilder("customer_id,tenure,contract,total_charges,churned\n");
        for (int i = 0; i < 1234; i++) {
            csv.append("C")
                    .append(i)
                    .append(',')
                    .append(i % 72)
                    .append(',')
                    .append(i % 3 == 0 ? "\"Month-to-month\"" : "One year")
                    .append(',')
                    .append(i % 50 == 0 ? "" : Double.toString(i * 1.5))
                    .append(',')
                    .append(i % 2)
                    .append('\n');
        }
        Files.writeString(input, csv);
        Path output = dir.resolve("out.csv");
        fake.batches.clear();

        CliRunner.Result r = CliRunner.run(
                target,
                "batch-score",
                "--model",
                "leads",
                "--input",
                input.toString(),
                "--output",
                output.toString(),
                "--batch-size",
                "100",
                "--concurrency",
                "3");

        assertThat(r.exitCode()).as(r.err()).isZero();
        List<CSVRecord> records;
        try (Reader reader = Files.newBufferedReader(output)) {
            records = CSVFormat.RFC4180
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .build()
                    .parse(reader)
                    .getRecords();
        }
        assertThat(records).hasSize(1234);
        try (TrellisClient client = TrellisClient.builder().target(target).build();
                Reader reader = Files.newBufferedReader(input)) {
            List<CSVRecord> rows = CSVFormat.RFC4180
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .build()
                    .parse(reader)
                    .getRecords();
            for (int i = 0; i < rows.size(); i++) {
                CSVRecord row = rows.get(i);
                Features.Builder features = Features.builder()
                        .put("tenure", Double.parseDouble(row.get("tenure")))
                        .put("contract", row.get("contract"));
                if (row.get("total_charges").isEmpty()) {
                    features.missing("total_charges");
                } else {
                    features.put("total_charges", Double.parseDouble(row.get("total_charges")));
                }
                ScoreResult expected = client.score("leads", row.get("customer_id"), features.build());
                CSVRecord actual = records.get(i);
                assertThat(actual.get("customer_id")).isEqualTo(row.get("customer_id"));
                assertThat(Double.parseDouble(actual.get("score"))).isEqualTo(expected.score());
                assertThat(actual.get("label")).isEqualTo(expected.label());
                assertThat(Double.parseDouble(actual.get("lower"))).isEqualTo(expected.lower());
                assertThat(Double.parseDouble(actual.get("upper"))).isEqualTo(expected.upper());
                assertThat(actual.get("version")).isEqualTo(expected.served().version());
                assertThat(actual.get("variant")).isEqualTo(expected.served().variant());
                assertThat(actual.get("reason"))
                        .isEqualTo(expected.served().reason().name());
            }
        }
        // rows went as typed columns; the target column is not a schema feature, so it was never sent
        assertThat(fake.batches).filteredOn(b -> b.hasColumns()).hasSize(13).allSatisfy(b -> {
            assertThat(b.getRowsCount()).isZero();
            assertThat(b.getColumns().getFeaturesList())
                    .extracting(c -> c.getName() + ":" + c.getValuesCase())
                    .containsExactly("tenure:NUMBERS", "contract:STRINGS", "total_charges:NUMBERS");
        });
    }

    @Test
    void batchScore_textInNumericColumnExit2NamingRowAndColumn() throws Exception {
        Path input = dir.resolve("text-in-number.csv");
        Files.writeString(input, "customer_id,tenure,contract\nC1,12,One year\nC2,twelve,Two year\n");

        CliRunner.Result r = CliRunner.run(
                target,
                "batch-score",
                "--model",
                "leads",
                "--input",
                input.toString(),
                "--output",
                dir.resolve("text-in-number-out.csv").toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("row 2 (customer_id C2): column tenure holds 'twelve', which is not a number");
    }

    @Test
    void batchScore_badInputExit2() {
        CliRunner.Result r = CliRunner.run(
                target,
                "batch-score",
                "--model",
                "leads",
                "--input",
                dir.resolve("missing.csv").toString(),
                "--output",
                dir.resolve("o.csv").toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("cannot read --input");
    }

    @Test
    void experiments_putYamlGetListStopWithToken() throws Exception {
        Path file = dir.resolve("exp.yaml");
        Files.writeString(file, """
                key: cli-exp
                model: leads
                status: RUNNING
                metric: converted
                minimumDetectableEffect: 0.02
                variants:
                  - {key: control, version: "1", weight: 0.5}
                  - {key: treatment, version: "2", weight: 0.5}
                """);
        String token = "--token=" + FakeTrellis.TOKEN;

        CliRunner.Result put = CliRunner.run(target, token, "experiments", "put", file.toString());
        CliRunner.Result again = CliRunner.run(target, token, "experiments", "put", file.toString());
        CliRunner.Result update =
                CliRunner.run(target, token, "experiments", "put", file.toString(), "--expected-revision", "1");
        CliRunner.Result list = CliRunner.run(target, "experiments", "list");
        CliRunner.Result get = CliRunner.run(target, "experiments", "get", "cli-exp", "--history");
        CliRunner.Result stop = CliRunner.run(target, token, "experiments", "stop", "cli-exp", "--winner", "treatment");

        assertThat(put.exitCode()).as(put.err()).isZero();
        assertThat(put.out()).contains("stored experiment cli-exp").contains("revision 1");
        assertThat(again.exitCode()).isEqualTo(2);
        assertThat(again.err()).contains("exists at revision 1; pass --expected-revision 1");
        assertThat(update.exitCode()).as(update.err()).isZero();
        assertThat(update.out()).contains("revision 2");
        assertThat(list.out()).contains("cli-exp").contains("control=v1@0.50");
        assertThat(get.out()).contains("\"minimum_detectable_effect\": 0.02").contains("REVISION");
        assertThat(stop.out()).contains("stopped experiment cli-exp").contains("winner treatment");
    }

    @Test
    void experiments_putIfAbsentLeavesExistingUnchanged() throws Exception {
        Path file = dir.resolve("absent.yaml");
        Files.writeString(file, """
                key: if-absent-exp
                model: leads
                status: RUNNING
                variants:
                  - {key: control, version: "1", weight: 0.5}
                  - {key: treatment, version: "2", weight: 0.5}
                """);
        String token = "--token=" + FakeTrellis.TOKEN;

        CliRunner.Result first = CliRunner.run(target, token, "experiments", "put", file.toString(), "--if-absent");
        CliRunner.Result second = CliRunner.run(target, token, "experiments", "put", file.toString(), "--if-absent");
        CliRunner.Result get = CliRunner.run(target, "experiments", "get", "if-absent-exp");

        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(first.out()).contains("stored experiment if-absent-exp").contains("revision 1");
        assertThat(second.exitCode()).as(second.err()).isZero();
        assertThat(second.out()).contains("exists at revision 1").contains("left unchanged");
        assertThat(get.out()).contains("\"revision\": \"1\"");
    }

    @Test
    void experiments_putUnknownFieldIsClearExit2() throws Exception {
        Path file = dir.resolve("typo.yaml");
        Files.writeString(file, "key: typo\nmodel: leads\nvariantz: []\n");

        CliRunner.Result r = CliRunner.run(target, "experiments", "put", file.toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("typo.yaml").contains("variantz");
    }

    @Test
    void experiments_putWithoutTokenIsUnauthenticated() throws Exception {
        Path file = dir.resolve("exp.json");
        Files.writeString(
                file,
                "{\"key\":\"nt\",\"model\":\"leads\",\"status\":\"RUNNING\",\"variants\":[{\"key\":\"a\",\"version\":\"1\",\"weight\":1}]}");

        CliRunner.Result r = CliRunner.run(target, "experiments", "put", file.toString());

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("UNAUTHENTICATED");
    }

    @Test
    void experiments_explainAndResults() {
        CliRunner.Result explain = CliRunner.run(
                target, "experiments", "explain", "--model", "leads", "--unit", "lead-42", "--attribute", "vertical=x");
        CliRunner.Result results = CliRunner.run(target, "experiments", "results", "exp-a");

        assertThat(explain.exitCode()).as(explain.err()).isZero();
        assertThat(explain.out()).contains("version     1 (EXPERIMENT)").contains("<- hash");
        assertThat(results.exitCode()).as(results.err()).isZero();
        assertThat(results.out())
                .contains("RATE")
                .contains("6.00%")
                .contains("+2.02 pp")
                .contains("P-VALUE")
                .contains("SRM check")
                .contains("2,207 units per arm")
                .contains("KEEP_RUNNING");
    }

    @Test
    void outcomesImport_countsAccepted() throws Exception {
        Path file = dir.resolve("outcomes.csv");
        StringBuilder csv = new StringBuilder("unit_id,metric,value,experiment\n");
        for (int i = 0; i < 300; i++) {
            csv.append("lead-").append(i).append(",converted,").append(i % 2).append(",exp-a\n");
        }
        Files.writeString(file, csv);

        CliRunner.Result r =
                CliRunner.run(target, "--token", FakeTrellis.TOKEN, "outcomes", "import", "--file", file.toString());
        CliRunner.Result bad = CliRunner.run(
                target,
                "--token",
                FakeTrellis.TOKEN,
                "outcomes",
                "import",
                "--file",
                dir.resolve("none.csv").toString());

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("imported 300 outcomes (300 accepted)");
        assertThat(fake.outcomes)
                .anyMatch(o ->
                        o.getUnitId().equals("lead-299") && o.getExperiment().equals("exp-a"));
        assertThat(bad.exitCode()).isEqualTo(2);
    }

    @Test
    void outcomesImport_mapsColumnsOfALabelledDataset() throws Exception {
        Path file = dir.resolve("labelled.csv");
        StringBuilder csv = new StringBuilder("\"lead_id\",\"STYPE\",\"converted\"\n");
        for (int i = 0; i < 40; i++) {
            csv.append("\"L")
                    .append(i)
                    .append("\",\"a, quoted\",")
                    .append(i % 4 == 0 ? 1 : 0)
                    .append('\n');
        }
        Files.writeString(file, csv);
        int before = fake.outcomes.size();

        CliRunner.Result r = CliRunner.run(
                target,
                "--token",
                FakeTrellis.TOKEN,
                "outcomes",
                "import",
                "--file",
                file.toString(),
                "--unit-column",
                "lead_id",
                "--value-column",
                "converted",
                "--metric",
                "converted");
        CliRunner.Result noMetric = CliRunner.run(
                target,
                "--token",
                FakeTrellis.TOKEN,
                "outcomes",
                "import",
                "--file",
                file.toString(),
                "--unit-column",
                "lead_id",
                "--value-column",
                "converted");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("imported 40 outcomes (40 accepted)");
        assertThat(fake.outcomes.subList(before, fake.outcomes.size()))
                .anyMatch(o -> o.getUnitId().equals("L4") && o.getMetric().equals("converted") && o.getValue() == 1.0)
                .anyMatch(o -> o.getUnitId().equals("L5") && o.getValue() == 0.0);
        assertThat(noMetric.exitCode()).isEqualTo(2);
        assertThat(noMetric.err()).contains("missing column 'metric'");
    }

    @Test
    void rollout_lifecycle() throws Exception {
        Path tokenFile = dir.resolve("admin.token");
        Files.writeString(tokenFile, FakeTrellis.TOKEN + "\n");
        String tf = "--token-file=" + tokenFile;

        CliRunner.Result start = CliRunner.run(
                target,
                tf,
                "rollout",
                "start",
                "--model",
                "leads",
                "--stable",
                "1",
                "--candidate",
                "2",
                "--steps",
                "10,50,100",
                "--interval",
                "5m",
                "--min-requests",
                "50",
                "--max-psi",
                "0.1");
        CliRunner.Result status = CliRunner.run(target, "rollout", "status", "leads");
        CliRunner.Result pause = CliRunner.run(target, tf, "rollout", "pause", "leads", "--reason", "look");
        CliRunner.Result abort = CliRunner.run(target, tf, "rollout", "abort", "leads", "--reason", "bad");
        CliRunner.Result badStep = CliRunner.run(
                target,
                tf,
                "rollout",
                "start",
                "--model",
                "leads",
                "--stable",
                "1",
                "--candidate",
                "2",
                "--steps",
                "0,200");

        assertThat(start.exitCode()).as(start.err()).isZero();
        assertThat(start.out())
                .contains("stable 1 -> candidate 2")
                .contains("PROGRESSING")
                .contains("10.0%");
        assertThat(fake.rollout.getGuardrails().getMaxScorePsi()).isEqualTo(0.1);
        assertThat(fake.rollout.getStepInterval().getSeconds()).isEqualTo(300);
        assertThat(status.out()).contains("PROGRESSING");
        assertThat(pause.out()).contains("PAUSED (look)");
        assertThat(abort.out()).contains("ABORTED (bad)").contains("0.0%");
        assertThat(badStep.exitCode()).isEqualTo(2);
    }

    @Test
    void models_listsVersionsReadinessFeatures() {
        CliRunner.Result r = CliRunner.run(target, "models");
        CliRunner.Result json = CliRunner.run(target, "models", "--output", "json");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("leads (default version 2)")
                .contains("1/1")
                .contains("fake:8081 ready")
                .contains("contract:cat");
        assertThat(json.out()).contains("\"defaultVersion\" : \"2\"");
    }

    @Test
    void models_showsWhatHoldsEachVersionAndEachReplicasState() {
        CliRunner.Result r = CliRunner.run(target, "models");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("HELD FOR")
                .contains("default, experiment leads-ab/treatment")
                .contains("fake:8081 unavailable");
    }

    @Test
    void modelsKeepAndRelease_callTheRouterAndReportPreciseErrors() {
        CliRunner.Result keep = CliRunner.run(target, "models", "keep", "--model", "leads", "--version", "1");
        CliRunner.Result missing = CliRunner.run(target, "models", "keep", "--model", "leads", "--version", "9");
        CliRunner.Result release = CliRunner.run(target, "models", "release", "--model", "leads", "--version", "1");
        CliRunner.Result again = CliRunner.run(target, "models", "release", "--model", "leads", "--version", "1");
        CliRunner.Result usage = CliRunner.run(target, "models", "keep", "--model", "leads");

        assertThat(keep.exitCode()).as(keep.err()).isZero();
        assertThat(keep.out()).contains("kept leads version 1 (READY on fake:8081)");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).contains("NOT_FOUND").contains("has no version 9");
        assertThat(release.out()).contains("released leads version 1");
        assertThat(again.out()).contains("was not kept; nothing changed");
        assertThat(usage.exitCode()).isEqualTo(2);
        assertThat(fake.kept).isEmpty();
    }

    @Test
    void models_waitReturnsOnceEveryReplicaIsReady() {
        CliRunner.Result ready = CliRunner.run(target, "models", "--wait", "5s");
        CliRunner.Result unknown = CliRunner.run(target, "models", "--model", "nope", "--wait", "1s");

        assertThat(ready.exitCode()).as(ready.err()).isZero();
        assertThat(ready.out()).contains("leads (default version 2)");
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.err()).contains("DEADLINE_EXCEEDED").contains("model 'nope' not listed yet");
    }

    @Test
    void bench_closedLoopReportsPercentiles() throws Exception {
        Path data = dir.resolve("bench.csv");
        Files.writeString(data, "customer_id,tenure,contract\nC1,1,One year\nC2,2,Two year\n");

        CliRunner.Result r = CliRunner.run(
                target,
                "bench",
                "--model",
                "leads",
                "--data",
                data.toString(),
                "--concurrency",
                "2",
                "--duration",
                "300ms",
                "--warmup",
                "100ms");
        CliRunner.Result open = CliRunner.run(
                target,
                "bench",
                "--model",
                "leads",
                "--data",
                data.toString(),
                "--rate",
                "200",
                "--duration",
                "300ms",
                "--warmup",
                "0",
                "--output",
                "json");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("closed loop, 2 callers").contains("p99.9").contains("throughput");
        assertThat(open.exitCode()).as(open.err()).isZero();
        assertThat(open.out()).contains("\"mode\" : \"open\"").contains("\"p999_ms\"");
    }
}
