package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionPerformance;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class PerformanceOutputTest {
    private static String print(VersionPerformance v) {
        StringWriter out = new StringWriter();
        MonitorCommand.print(new PrintWriter(out), "charges", v);
        return out.toString();
    }

    @Test
    void print_regressionVersion_rmseMaeR2AgainstTheBundleAndTheTiers() {
        VersionPerformance v = VersionPerformance.newBuilder()
                .setModel("charges")
                .setVersion("1")
                .setTargetKind(TargetKind.TARGET_KIND_REGRESSION)
                .setSamples(300)
                .setWithOutcome(200)
                .setSufficient(true)
                .setRmse(3.25)
                .setMae(2.5)
                .setR2(0.985)
                .setRmseChange(0.25)
                .putBundleTestMetrics("rmse", 3.0)
                .putBundleTestMetrics("mae", 2.25)
                .putBundleTestMetrics("r2", 0.99)
                .addLabels(LabelMix.newBuilder()
                        .setLabel("A")
                        .setRows(50)
                        .setMeanScore(101.5)
                        .setMeanObserved(102.25))
                .build();
        assertThat(print(v))
                .startsWith("charges version 1: 300 samples, 200 with an observed value of charges (continuous target)")
                .contains("RMSE 3.2500 (bundle test 3.0000, change +0.2500)   MAE 2.5000 (bundle test 2.2500)"
                        + "   R² 0.9850 (bundle test 0.9900)")
                .contains("TIER")
                .contains("MEAN OBSERVED")
                .contains("102.250")
                .doesNotContain("AUC");
    }

    @Test
    void print_regressionWithoutVariance_insufficient() {
        VersionPerformance v = VersionPerformance.newBuilder()
                .setModel("charges")
                .setVersion("2")
                .setTargetKind(TargetKind.TARGET_KIND_REGRESSION)
                .setSamples(3)
                .setWithOutcome(1)
                .build();
        assertThat(print(v)).contains("insufficient data: RMSE and R² need 2 observed values that differ");
    }

    @Test
    void print_binaryVersion_aucAsBefore() {
        VersionPerformance v = VersionPerformance.newBuilder()
                .setModel("churn")
                .setVersion("1")
                .setTargetKind(TargetKind.TARGET_KIND_BINARY)
                .setSamples(10)
                .setWithOutcome(8)
                .setPositives(3)
                .setSufficient(true)
                .setAuc(0.8)
                .setBrier(0.1)
                .build();
        assertThat(print(v))
                .contains("8 with an outcome of charges (3 positive)")
                .contains("AUC 0.8000");
    }
}
