package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.Recommendation;
import java.util.List;

/**
 * An experiment's results: per-variant figures, each treatment against the control, the
 * sample-ratio-mismatch check, the required sample size and the recommendation.
 *
 * @param experiment the experiment key
 * @param metric the metric analysed
 * @param metricType CONVERSION or CONTINUOUS
 * @param variants one entry per variant, control first
 * @param comparisons each treatment against the control
 * @param srm the sample-ratio-mismatch check
 * @param requiredSampleSizePerArm units needed per arm for the minimum detectable effect
 * @param recommendation what to do
 * @param explanation the recommendation in words
 */
public record ExperimentResults(
        String experiment,
        String metric,
        MetricType metricType,
        List<VariantFigures> variants,
        List<Comparison> comparisons,
        SampleRatio srm,
        long requiredSampleSizePerArm,
        Recommendation recommendation,
        String explanation) {
    /**
     * Validates the components and copies the lists.
     *
     * @param experiment the experiment key, not null
     * @param metric the metric, not null
     * @param metricType the metric type, not null
     * @param variants the variants, not null
     * @param comparisons the comparisons, not null
     * @param srm the SRM check, not null
     * @param requiredSampleSizePerArm the required sample size
     * @param recommendation the recommendation, not null
     * @param explanation the explanation, not null
     */
    public ExperimentResults {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(metric, "metric is null");
        requireNonNull(metricType, "metricType is null");
        variants = List.copyOf(requireNonNull(variants, "variants is null"));
        comparisons = List.copyOf(requireNonNull(comparisons, "comparisons is null"));
        requireNonNull(srm, "srm is null");
        requireNonNull(recommendation, "recommendation is null");
        requireNonNull(explanation, "explanation is null");
    }

    /**
     * Converts the wire form.
     *
     * @param r the protobuf response
     * @return the record
     */
    public static ExperimentResults fromProto(GetResultsResponse r) {
        List<VariantFigures> variants = r.getVariantsList().stream()
                .map(v -> new VariantFigures(
                        v.getVariant(),
                        v.getVersion(),
                        v.getWeight(),
                        v.getUnits(),
                        v.getConversions(),
                        v.getMean(),
                        v.getStddev()))
                .toList();
        List<Comparison> comparisons = r.getComparisonsList().stream()
                .map(c -> new Comparison(
                        c.getVariant(),
                        c.getControl(),
                        c.getAbsoluteLift(),
                        c.getAbsoluteLiftLower(),
                        c.getAbsoluteLiftUpper(),
                        c.getRelativeLift(),
                        c.getRelativeLiftLower(),
                        c.getRelativeLiftUpper(),
                        c.getPValue(),
                        c.getStatistic(),
                        c.getSignificant()))
                .toList();
        SampleRatio srm = new SampleRatio(
                r.getSrm().getChiSquare(), r.getSrm().getPValue(), r.getSrm().getMismatch());
        MetricType type =
                r.getMetricType() == MetricType.UNRECOGNIZED ? MetricType.METRIC_TYPE_UNSPECIFIED : r.getMetricType();
        Recommendation rec = r.getRecommendation() == Recommendation.UNRECOGNIZED
                ? Recommendation.RECOMMENDATION_UNSPECIFIED
                : r.getRecommendation();
        return new ExperimentResults(
                r.getExperiment(),
                r.getMetric(),
                type,
                variants,
                comparisons,
                srm,
                r.getRequiredSampleSizePerArm(),
                rec,
                r.getExplanation());
    }

    /**
     * One variant's figures; units count once, at their first exposure.
     *
     * @param variant the variant key
     * @param version its model version
     * @param weight configured weight
     * @param units exposed units
     * @param conversions exposed units with the metric above 0
     * @param mean conversion rate, or the mean for continuous metrics
     * @param stddev standard deviation of the per-unit metric
     */
    public record VariantFigures(
            String variant, String version, double weight, long units, long conversions, double mean, double stddev) {}

    /**
     * A treatment against the control.
     *
     * @param variant the treatment's key
     * @param control the control's key
     * @param absoluteLift treatment minus control
     * @param absoluteLiftLower lower end of its 95% CI
     * @param absoluteLiftUpper upper end of its 95% CI
     * @param relativeLift (treatment - control) / control
     * @param relativeLiftLower lower end of its 95% CI
     * @param relativeLiftUpper upper end of its 95% CI
     * @param pValue two-sided p-value
     * @param statistic the test statistic
     * @param significant whether p &lt; 0.05
     */
    public record Comparison(
            String variant,
            String control,
            double absoluteLift,
            double absoluteLiftLower,
            double absoluteLiftUpper,
            double relativeLift,
            double relativeLiftLower,
            double relativeLiftUpper,
            double pValue,
            double statistic,
            boolean significant) {}

    /**
     * Sample-ratio-mismatch check of exposures against the configured weights.
     *
     * @param chiSquare the chi-square statistic
     * @param pValue its p-value
     * @param mismatch whether p &lt; 0.001
     */
    public record SampleRatio(double chiSquare, double pValue, boolean mismatch) {}
}
