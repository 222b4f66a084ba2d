package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.v1.Interval;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.client.ScoreResult;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ScoreOutputTest {
    private static String print(ScoreResponse response) {
        StringWriter out = new StringWriter();
        ScoreCommand.print(ScoreResult.fromProto(response), false, new PrintWriter(out));
        return out.toString();
    }

    @Test
    void print_regressionScore_isAValueWithItsInterval() {
        ScoreResponse response = ScoreResponse.newBuilder()
                .setScore(64.5)
                .setLabel("B")
                .setInterval(
                        Interval.newBuilder().setLower(58.25).setUpper(70.75).setLevel(0.95))
                .setTargetKind(TargetKind.TARGET_KIND_REGRESSION)
                .build();
        assertThat(ScoreResult.fromProto(response).targetKind()).isEqualTo(dev.trellis.client.TargetKind.REGRESSION);
        assertThat(print(response))
                .startsWith("value       64.5000   95% interval [58.2500, 70.7500]")
                .contains("label       B");
    }

    @Test
    void print_scoreWithoutKind_isAProbability() {
        // a router that predates target kinds sends none: its models are binary
        ScoreResponse response = ScoreResponse.newBuilder()
                .setScore(0.25)
                .setLabel("warm")
                .setInterval(Interval.newBuilder().setLower(0.2).setUpper(0.3))
                .build();
        assertThat(ScoreResult.fromProto(response).targetKind()).isEqualTo(dev.trellis.client.TargetKind.BINARY);
        assertThat(print(response)).startsWith("score       0.2500   95% interval [0.2000, 0.3000]");
    }
}
