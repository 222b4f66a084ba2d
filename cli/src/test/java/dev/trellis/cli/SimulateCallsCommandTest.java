package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulateCallsCommandTest {
    @TempDir
    Path dir;

    @Test
    void simulateCalls_calledBuyersConvertJoinedByIdNotPosition() throws Exception {
        Path labels = write("labels.csv", "lead_id,PPERSAUT,converted", "L1,6,1", "L2,0,1", "L3,5,0", "L4,6,1");
        // scored in another order than the labels: the join is by id
        Path scores = write(
                "scores.csv",
                "lead_id,score,label,lower,upper,version,variant,experiment,reason",
                "L4,0.30,hot,0.2,0.4,1,control,x,EXPERIMENT",
                "L3,0.20,warm,0.1,0.3,2,treatment,x,EXPERIMENT",
                "L2,0.01,cold,0.0,0.1,2,treatment,x,EXPERIMENT",
                "L1,0.10,warm,0.0,0.2,1,control,x,EXPERIMENT");
        Path out = dir.resolve("outcomes.csv");

        CliRunner.Result r = CliRunner.run(
                null,
                "outcomes",
                "simulate-calls",
                "--scores",
                scores.toString(),
                "--labels",
                labels.toString(),
                "--id-column",
                "lead_id",
                "--label-column",
                "converted",
                "--output",
                out.toString());

        assertThat(r.exitCode()).as(r.err()).isZero();
        // L4 hot + bought, L1 warm + bought convert; L3 called but did not buy; L2 bought but was not called
        assertThat(Files.readAllLines(out))
                .containsExactly(
                        "unit_id,metric,value", "L4,converted,1", "L3,converted,0", "L2,converted,0", "L1,converted,1");
        assertThat(r.out()).contains("4 units, 3 called (labels hot/warm), 2 converted");
    }

    @Test
    void simulateCalls_unitWithoutScoreOrLabel_isAnErrorNamingIt() throws Exception {
        Path labels = write("labels.csv", "lead_id,converted", "L1,1", "L2,0");
        Path scores = write("scores.csv", "lead_id,score,label", "L1,0.3,hot", "L9,0.2,warm");

        CliRunner.Result r = CliRunner.run(
                null,
                "outcomes",
                "simulate-calls",
                "--scores",
                scores.toString(),
                "--labels",
                labels.toString(),
                "--id-column",
                "lead_id",
                "--label-column",
                "converted",
                "--output",
                dir.resolve("o.csv").toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("line 3").contains("lead_id 'L9' is not in");
    }

    @Test
    void simulateCalls_nonBinaryLabel_isAnErrorNamingTheLine() throws Exception {
        Path labels = write("labels.csv", "lead_id,converted", "L1,1", "L2,yes");
        Path scores = write("scores.csv", "lead_id,score,label", "L1,0.3,hot");

        CliRunner.Result r = CliRunner.run(
                null,
                "outcomes",
                "simulate-calls",
                "--scores",
                scores.toString(),
                "--labels",
                labels.toString(),
                "--id-column",
                "lead_id",
                "--label-column",
                "converted",
                "--output",
                dir.resolve("o.csv").toString());

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("line 3: converted must be 0 or 1, got 'yes'");
    }

    private Path write(String name, String... lines) throws Exception {
        return Files.write(dir.resolve(name), List.of(lines));
    }
}
