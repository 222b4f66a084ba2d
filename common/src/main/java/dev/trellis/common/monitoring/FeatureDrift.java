package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One feature's (or the score's) drift. KS fields are 0 / 1 for categorical features and chi-square
 * fields 0 / 1 for numeric ones (statistic / p-value of "no evidence").
 */
public record FeatureDrift(
        String feature,
        boolean categorical,
        Severity severity,
        double psi,
        double ksStatistic,
        double ksPValue,
        double chiSquare,
        double chiSquarePValue,
        double baselineMissingRate,
        double liveMissingRate,
        List<String> reasons) {
    public FeatureDrift {
        requireNonNull(feature, "feature is null");
        requireNonNull(severity, "severity is null");
        reasons = List.copyOf(requireNonNull(reasons, "reasons is null"));
    }

    /** Ordered from least to most severe. */
    public enum Severity {
        OK,
        WARN,
        DRIFTED
    }
}
