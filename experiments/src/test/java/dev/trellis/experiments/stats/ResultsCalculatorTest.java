package dev.trellis.experiments.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.Recommendation;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.store.VariantStats;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResultsCalculatorTest {
    private final ResultsCalculator calculator = new ResultsCalculator();

    private static Experiment experiment(double mde) {
        return Experiment.newBuilder()
                .setKey("e")
                .setModel("m")
                .setMetric("converted")
                .setMetricType(MetricType.CONVERSION)
                .setMinimumDetectableEffect(mde)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5))
                .build();
    }

    private static VariantStats conversions(String variant, long units, long conversions) {
        return new VariantStats(variant, units, conversions, conversions, conversions);
    }

    @Test
    void calculate_significantPositiveShipsTreatment() {
        GetResultsResponse r = calculator.calculate(
                experiment(0.02),
                "converted",
                Map.of("control", conversions("control", 2000, 200), "treatment", conversions("treatment", 2000, 250)));
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.SHIP_TREATMENT);
        assertThat(r.getComparisons(0).getPValue()).isCloseTo(0.0123509477111914, within(1e-6));
        assertThat(r.getVariants(0).getMean()).isEqualTo(0.1);
        assertThat(r.getRequiredSampleSizePerArm()).isEqualTo(3841);
    }

    @Test
    void calculate_significantNegativeRollsBack() {
        GetResultsResponse r = calculator.calculate(
                experiment(0.02),
                "converted",
                Map.of("control", conversions("control", 2000, 250), "treatment", conversions("treatment", 2000, 200)));
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.ROLL_BACK);
    }

    @Test
    void calculate_srmWinsOverEverything() {
        GetResultsResponse r = calculator.calculate(
                experiment(0.02),
                "converted",
                Map.of("control", conversions("control", 5300, 500), "treatment", conversions("treatment", 4700, 600)));
        assertThat(r.getSrm().getMismatch()).isTrue();
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.INVESTIGATE_SRM);
    }

    @Test
    void calculate_enoughUnitsNoDifference() {
        GetResultsResponse r = calculator.calculate(
                experiment(0.02),
                "converted",
                Map.of("control", conversions("control", 4000, 400), "treatment", conversions("treatment", 4000, 410)));
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.NO_DIFFERENCE);
    }

    @Test
    void calculate_fewUnitsKeepsRunning() {
        GetResultsResponse r = calculator.calculate(
                experiment(0.02),
                "converted",
                Map.of("control", conversions("control", 400, 40), "treatment", conversions("treatment", 400, 41)));
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.KEEP_RUNNING);
        assertThat(r.getExplanation()).contains("400 of the 3841");
    }

    @Test
    void calculate_noExposuresKeepsRunning() {
        GetResultsResponse r = calculator.calculate(experiment(0.02), "converted", Map.of());
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.KEEP_RUNNING);
        assertThat(r.getVariantsCount()).isEqualTo(2);
    }
}
