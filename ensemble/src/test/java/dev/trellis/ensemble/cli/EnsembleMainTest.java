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
}
