package dev.trellis.ensemble.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ensemble.testing.TestBundles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EnsembleMainTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = EnsembleMain.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void help_everyCommandHasHelpAndItsTextsFormat() {
        picocli.CommandLine root = new picocli.CommandLine(new EnsembleMain());
        assertThat(root.getSubcommands()).isNotEmpty();
        for (picocli.CommandLine command : root.getSubcommands().values()) {
            String name = command.getCommandName();
            java.io.PrintStream original = System.err;
            java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
            Run help;
            // picocli formats every description; a lone '%' makes it print a WARN on System.err
            System.setErr(new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
            try {
                help = run(name, "--help");
            } finally {
                System.setErr(original);
            }
            assertThat(help.exit()).as(name + ": " + help.err()).isZero();
            assertThat(help.out()).as(name).contains("Usage: ");
            assertThat(warnings.toString(java.nio.charset.StandardCharsets.UTF_8))
                    .as(name)
                    .doesNotContain("WARN");
        }
        assertThat(run("evaluate", "--help").out()).contains("(default: 20% of rows)");
    }

    @Test
    void train_badInputOneLineErrorAndNothingWritten() throws Exception {
        Path repo = dir.resolve("models");
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, "a,b,y\n1,x,0\n2,y,1\n3,z,maybe\n");
        Run run = run("train", "--data", csv.toString(), "--target", "y", "--model", "m", "--repo", repo.toString());
        assertThat(run.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        List<String> errorLines =
                run.err().lines().filter(line -> line.startsWith("error:")).toList();
        assertThat(errorLines).hasSize(1);
        assertThat(errorLines.get(0))
                .contains(csv.toString())
                .contains("line 4")
                .contains("column 'y'");
        assertThat(run.err()).doesNotContain("\tat ");
        assertThat(Files.exists(repo.resolve("m"))).isFalse();

        Run missing = run(
                "train",
                "--data",
                dir.resolve("nope.csv").toString(),
                "--target",
                "y",
                "--model",
                "m",
                "--repo",
                repo.toString());
        assertThat(missing.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(missing.err()).contains("nope.csv").contains("no such file");

        Run forced = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "y",
                "--numeric",
                "b",
                "--model",
                "m",
                "--repo",
                repo.toString());
        assertThat(forced.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(forced.err()).contains("line 2").contains("column 'b'");
        assertThat(Files.exists(repo.resolve("m"))).isFalse();

        Run flag = run("train", "--data", csv.toString());
        assertThat(flag.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(flag.err()).contains("error:").contains("--target");
    }

    @Test
    void trainThenEvaluate_writesNextVersions() throws Exception {
        Path repo = dir.resolve("models");
        Path csv = dir.resolve("churn-small.csv");
        List<String> lines = Files.readAllLines(TestBundles.churnCsv());
        Files.write(csv, lines.subList(0, 900));
        String[] train = {
            "train",
            "--fast",
            "--data",
            csv.toString(),
            "--target",
            "churned",
            "--id",
            "customer_id",
            "--model",
            "churn",
            "--repo",
            repo.toString(),
            "--folds",
            "2"
        };
        Run first = run(train);
        assertThat(first.exit()).as(first.err()).isEqualTo(0);
        assertThat(first.out()).contains("ensemble").contains("AUC").contains("test (");
        assertThat(first.err()).contains("fold 1/2");
        assertThat(repo.resolve("churn/1/bundle.json")).exists();
        assertThat(run(train).exit()).isEqualTo(0);
        assertThat(repo.resolve("churn/2/bundle.json")).exists();

        Run evaluate = run(
                "evaluate", "--repo", repo.toString(), "--model", "churn", "--data", csv.toString(), "--top-k", "50");
        assertThat(evaluate.exit()).as(evaluate.err()).isEqualTo(0);
        assertThat(evaluate.out()).contains("churn v2").contains("ensemble").contains("xgboost");

        Run bad = run("evaluate", "--bundle", repo.resolve("churn/9").toString(), "--data", csv.toString());
        assertThat(bad.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(bad.err()).contains("not a directory");
    }

    @Test
    void train_continuousTargetThenEvaluate_regressionTables() throws Exception {
        Path repo = dir.resolve("models");
        Path csv = dir.resolve("churn-small.csv");
        List<String> lines = Files.readAllLines(TestBundles.churnCsv());
        Files.write(csv, lines.subList(0, 900));
        Run train = run(
                "train",
                "--fast",
                "--data",
                csv.toString(),
                "--target",
                "monthly_charges",
                "--id",
                "customer_id",
                "--drop",
                "total_charges",
                "--drop",
                "churned",
                "--model",
                "charges",
                "--repo",
                repo.toString(),
                "--folds",
                "2");
        assertThat(train.exit()).as(train.err()).isEqualTo(0);
        assertThat(train.err()).contains("(continuous target)");
        assertThat(train.out())
                .contains("RMSE")
                .contains("R2")
                .contains("baseline = predict the training mean")
                .contains("meta-learner: stacked: out-of-fold RMSE");
        String manifest = Files.readString(repo.resolve("charges/1/bundle.json"));
        assertThat(manifest)
                .contains("\"format_version\" : 2")
                .contains("\"kind\" : \"regression\"")
                .contains("\"half_width\"");
        Run evaluate = run("evaluate", "--repo", repo.toString(), "--model", "charges", "--data", csv.toString());
        assertThat(evaluate.exit()).as(evaluate.err()).isEqualTo(0);
        assertThat(evaluate.out()).contains("charges v1").contains("RMSE").contains("ensemble");

        Run badKind = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "monthly_charges",
                "--target-kind",
                "ordinal",
                "--model",
                "x",
                "--repo",
                repo.toString());
        assertThat(badKind.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(badKind.err()).contains("--target-kind must be auto, binary or regression");
        Run fewValues = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "senior_citizen",
                "--target-kind",
                "regression",
                "--model",
                "x",
                "--repo",
                repo.toString(),
                "--fast");
        assertThat(fewValues.exit()).as(fewValues.err()).isEqualTo(0);
        Run threeValues = run(
                "train", "--data", csv.toString(), "--target", "contract", "--model", "x", "--repo", repo.toString());
        assertThat(threeValues.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(threeValues.err()).contains("neither binary").contains("column 'contract'");
    }

    @Test
    void train_smallDataWarnsOnce_paramsReusedFromABundle() throws Exception {
        Path repo = dir.resolve("models");
        Path csv = dir.resolve("churn-tiny.csv");
        List<String> lines = Files.readAllLines(TestBundles.churnCsv());
        Files.write(csv, lines.subList(0, 151));
        Run tiny = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "churned",
                "--id",
                "customer_id",
                "--model",
                "tiny",
                "--repo",
                repo.toString());
        assertThat(tiny.exit()).as(tiny.err()).isEqualTo(0);
        assertThat(tiny.err().lines().filter(line -> line.contains("warning")))
                .singleElement()
                .asString()
                .startsWith("warning: small data (150 rows")
                .contains("MLP skipped");
        assertThat(tiny.out()).contains("MLP skipped: 150 rows").doesNotContain("test (");
        Path bundle = repo.resolve("tiny/1/bundle.json");
        assertThat(Files.readString(bundle))
                .contains("\"base_models\" : [ \"xgboost\", \"lightgbm\" ]")
                .contains("\"warnings\"");

        Path params = dir.resolve("params.json");
        Files.writeString(params, "{\"xgboost\": {\"rounds\": 10}}");
        Run partial = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "churned",
                "--model",
                "tiny",
                "--repo",
                repo.toString(),
                "--params",
                params.toString());
        assertThat(partial.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(partial.err()).contains("--params " + params);
        Run reused = run(
                "train",
                "--data",
                csv.toString(),
                "--target",
                "churned",
                "--id",
                "customer_id",
                "--model",
                "tiny",
                "--repo",
                repo.toString(),
                "--params",
                bundle.toString());
        assertThat(reused.exit()).as(reused.err()).isEqualTo(0);
        String first = Files.readString(bundle);
        String second = Files.readString(repo.resolve("tiny/2/bundle.json"));
        // the small-data settings applied to the reused ones change nothing: same settings, same metrics
        assertThat(section(second, "\"hyperparameters\"")).isEqualTo(section(first, "\"hyperparameters\""));
        assertThat(section(second, "\"metrics\"")).isEqualTo(section(first, "\"metrics\""));

        Path tooSmall = dir.resolve("churn-40.csv");
        Files.write(tooSmall, lines.subList(0, 31));
        Run refused = run(
                "train",
                "--data",
                tooSmall.toString(),
                "--target",
                "churned",
                "--model",
                "tiny",
                "--repo",
                repo.toString());
        assertThat(refused.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(refused.err()).contains("error: ").contains("too little data to train (30 rows");
    }

    @Test
    void evaluateCv_printsMeanAndSdPerModel() throws Exception {
        Path csv = dir.resolve("churn-small.csv");
        List<String> lines = Files.readAllLines(TestBundles.churnCsv());
        Files.write(csv, lines.subList(0, 700));
        Path folds = dir.resolve("folds.csv");
        Run cv = run(
                "evaluate",
                "--cv",
                "1x3",
                "--fast",
                "--data",
                csv.toString(),
                "--target",
                "churned",
                "--id",
                "customer_id",
                "--fold-metrics",
                folds.toString());
        assertThat(cv.exit()).as(cv.err()).isEqualTo(0);
        assertThat(cv.out())
                .contains("1×3 cross-validation, mean ± sd over 3 outer folds")
                .contains("top-20% recall")
                .containsPattern("ensemble +0\\.[0-9]{4} ± 0\\.[0-9]{4}")
                .contains("meta-learner: stacked in");
        assertThat(Files.readAllLines(folds)).first().isEqualTo("repeat,fold,model,metric,value");
        assertThat(Files.readAllLines(folds)).hasSize(1 + 3 * 4 * 6);
        Run bad = run("evaluate", "--cv", "5", "--data", csv.toString(), "--target", "churned");
        assertThat(bad.exit()).isEqualTo(EnsembleMain.USER_ERROR);
        assertThat(bad.err()).contains("--cv must be R×K");
    }

    /** The JSON object (or array) that follows {@code key} in {@code json}, by bracket matching. */
    private static String section(String json, String key) {
        int start = json.indexOf('{', json.indexOf(key));
        int depth = 0;
        for (int i = start; i < json.length(); i++) {
            depth += json.charAt(i) == '{' ? 1 : json.charAt(i) == '}' ? -1 : 0;
            if (depth == 0) {
                return json.substring(start, i + 1);
            }
        }
        throw new AssertionError("no " + key);
    }
}
