package dev.trellis.experiments.stats;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Comparison;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.Recommendation;
import dev.trellis.api.v1.SampleRatioCheck;
import dev.trellis.api.v1.Variant;
import dev.trellis.api.v1.VariantResult;
import dev.trellis.experiments.store.VariantStats;
import java.util.Locale;
import java.util.Map;

/**
 * Turns unit-level aggregates into an experiment's results and a recommendation:
 * INVESTIGATE_SRM when the exposures do not match the weights (nothing else can be trusted);
 * otherwise SHIP_TREATMENT when a treatment is significantly better than the control (p < 0.05,
 * higher metric = better), ROLL_BACK when one is significantly worse and none better,
 * NO_DIFFERENCE when every arm reached the required sample size, else KEEP_RUNNING.
 * Stateless and thread-safe.
 */
public final class ResultsCalculator {
    public static final double SIGNIFICANCE = 0.05;

    public GetResultsResponse calculate(Experiment experiment, String metric, Map<String, VariantStats> stats) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(metric, "metric is null");
        requireNonNull(stats, "stats is null");
        MetricType type =
                experiment.getMetricType() == MetricType.CONTINUOUS ? MetricType.CONTINUOUS : MetricType.CONVERSION;
        boolean conversion = type == MetricType.CONVERSION;
        GetResultsResponse.Builder out = GetResultsResponse.newBuilder()
                .setExperiment(experiment.getKey())
                .setMetric(metric)
                .setMetricType(type);

        int k = experiment.getVariantsCount();
        VariantStats[] arms = new VariantStats[k];
        long[] units = new long[k];
        double[] weights = new double[k];
        for (int i = 0; i < k; i++) {
            Variant v = experiment.getVariants(i);
            arms[i] = stats.getOrDefault(v.getKey(), VariantStats.empty(v.getKey()));
            units[i] = arms[i].units();
            weights[i] = v.getWeight();
            out.addVariants(VariantResult.newBuilder()
                    .setVariant(v.getKey())
                    .setVersion(v.getVersion())
                    .setWeight(v.getWeight())
                    .setUnits(arms[i].units())
                    .setConversions(arms[i].positiveUnits())
                    .setMean(conversion ? rate(arms[i]) : arms[i].mean())
                    .setStddev(Math.sqrt(conversion ? indicatorVariance(arms[i]) : arms[i].variance())));
        }
        if (k < 2) {
            return out.setRecommendation(Recommendation.KEEP_RUNNING)
                    .setExplanation("fewer than 2 variants")
                    .build();
        }

        SampleRatioMismatch.Result srm = SampleRatioMismatch.test(units, weights);
        out.setSrm(SampleRatioCheck.newBuilder()
                .setChiSquare(srm.chiSquare())
                .setPValue(srm.pValue())
                .setMismatch(srm.mismatch()));

        String control = experiment.getVariants(0).getKey();
        String bestPositive = null;
        double bestLift = Double.NEGATIVE_INFINITY;
        String negative = null;
        boolean enoughData = true;
        for (int i = 1; i < k; i++) {
            Comparison.Builder c = Comparison.newBuilder()
                    .setVariant(experiment.getVariants(i).getKey())
                    .setControl(control);
            if (conversion) {
                if (arms[0].units() == 0 || arms[i].units() == 0) {
                    enoughData = false;
                    continue;
                }
                TwoProportionComparison.Result r = TwoProportionComparison.compare(
                        arms[0].positiveUnits(), arms[0].units(), arms[i].positiveUnits(), arms[i].units());
                c.setAbsoluteLift(r.absoluteLift())
                        .setAbsoluteLiftLower(r.absoluteLower())
                        .setAbsoluteLiftUpper(r.absoluteUpper())
                        .setRelativeLift(r.relativeLift())
                        .setRelativeLiftLower(r.relativeLower())
                        .setRelativeLiftUpper(r.relativeUpper())
                        .setPValue(r.pValue())
                        .setStatistic(r.z());
            } else {
                if (arms[0].units() < 2 || arms[i].units() < 2) {
                    enoughData = false;
                    continue;
                }
                WelchComparison.Result r = WelchComparison.compare(
                        arms[0].units(),
                        arms[0].mean(),
                        arms[0].variance(),
                        arms[i].units(),
                        arms[i].mean(),
                        arms[i].variance());
                c.setAbsoluteLift(r.difference())
                        .setAbsoluteLiftLower(r.lower())
                        .setAbsoluteLiftUpper(r.upper())
                        .setRelativeLift(r.relativeLift())
                        .setRelativeLiftLower(r.relativeLower())
                        .setRelativeLiftUpper(r.relativeUpper())
                        .setPValue(r.pValue())
                        .setStatistic(r.t());
            }
            boolean significant = c.getPValue() < SIGNIFICANCE;
            c.setSignificant(significant);
            out.addComparisons(c);
            if (significant && c.getAbsoluteLift() > 0 && c.getAbsoluteLift() > bestLift) {
                bestLift = c.getAbsoluteLift();
                bestPositive = c.getVariant();
            } else if (significant && c.getAbsoluteLift() < 0 && negative == null) {
                negative = c.getVariant();
            }
        }

        long required = requiredSampleSize(experiment, arms, conversion);
        out.setRequiredSampleSizePerArm(required);
        long minUnits = Long.MAX_VALUE;
        for (long u : units) {
            minUnits = Math.min(minUnits, u);
        }

        if (srm.mismatch()) {
            return out.setRecommendation(Recommendation.INVESTIGATE_SRM)
                    .setExplanation(String.format(
                            Locale.ROOT,
                            "exposed units %s do not match the weights (chi-square %.2f, p %.2g < %s): the assignment or exposure "
                                    + "logging is broken; fix it before reading the results",
                            java.util.Arrays.toString(units),
                            srm.chiSquare(),
                            srm.pValue(),
                            SampleRatioMismatch.THRESHOLD))
                    .build();
        }
        if (bestPositive != null) {
            return out.setRecommendation(Recommendation.SHIP_TREATMENT)
                    .setExplanation(String.format(
                            Locale.ROOT,
                            "'%s' is significantly better than '%s' (lift %+.4g, p < %s)",
                            bestPositive,
                            control,
                            bestLift,
                            SIGNIFICANCE))
                    .build();
        }
        if (negative != null) {
            return out.setRecommendation(Recommendation.ROLL_BACK)
                    .setExplanation(String.format(
                            Locale.ROOT,
                            "'%s' is significantly worse than '%s' (p < %s)",
                            negative,
                            control,
                            SIGNIFICANCE))
                    .build();
        }
        if (enoughData && required > 0 && minUnits >= required) {
            return out.setRecommendation(Recommendation.NO_DIFFERENCE)
                    .setExplanation(String.format(
                            Locale.ROOT,
                            "every arm has at least %d units (needed for an effect of %s) and no difference is significant",
                            required,
                            experiment.getMinimumDetectableEffect()))
                    .build();
        }
        String why = required > 0
                ? String.format(Locale.ROOT, "smallest arm has %d of the %d units needed per arm", minUnits, required)
                : "no minimum_detectable_effect (or baseline) to size the experiment";
        return out.setRecommendation(Recommendation.KEEP_RUNNING)
                .setExplanation("no significant difference yet; " + why)
                .build();
    }

    private static long requiredSampleSize(Experiment experiment, VariantStats[] arms, boolean conversion) {
        double mde = experiment.getMinimumDetectableEffect();
        if (!(mde > 0) || arms[0].units() == 0) {
            return 0;
        }
        if (conversion) {
            return SampleSize.perArmForProportion(rate(arms[0]), mde);
        }
        // Pooled variance of all arms estimates the metric's per-unit variance.
        double num = 0;
        long den = 0;
        for (VariantStats arm : arms) {
            if (arm.units() >= 2) {
                num += arm.variance() * (arm.units() - 1);
                den += arm.units() - 1;
            }
        }
        return den == 0 ? 0 : SampleSize.perArmForMean(Math.sqrt(num / den), mde);
    }

    private static double rate(VariantStats arm) {
        return arm.units() == 0 ? 0 : (double) arm.positiveUnits() / arm.units();
    }

    private static double indicatorVariance(VariantStats arm) {
        if (arm.units() < 2) {
            return 0;
        }
        double p = rate(arm);
        return p * (1 - p) * arm.units() / (arm.units() - 1);
    }
}
