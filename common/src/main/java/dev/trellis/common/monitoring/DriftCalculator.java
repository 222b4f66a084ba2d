package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.DriftReport.Verdict;
import dev.trellis.common.monitoring.FeatureDrift.Severity;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest;

/**
 * Compares live windows with a training baseline. Per feature and for the score:
 *
 * <ul>
 *   <li>PSI, {@code Σ (live - base) · ln(live / base)} over the baseline's decile bins (numeric) or
 *       the categories of either side (categorical), proportions floored at 10⁻⁴;
 *   <li>numeric: the two-sample Kolmogorov–Smirnov statistic and p-value of the baseline's quantile
 *       sketch against the window's values (commons-math3 {@link KolmogorovSmirnovTest});
 *   <li>categorical: the chi-square test of the two count vectors (commons-math3 {@link ChiSquareTest});
 *   <li>the missing rate of each side.
 * </ul>
 *
 * A feature DRIFTED when PSI ≥ psi, or (numeric) KS p &lt; p and D ≥ ks, or (categorical)
 * chi-square p &lt; p and PSI ≥ psi-warn, or its missing rate moved by ≥ missing; it WARNs when PSI
 * ≥ psi-warn. Requiring an effect size next to the p-value keeps large windows from flagging
 * differences too small to matter. The verdict is DRIFT when anything drifted. Stateless.
 */
public final class DriftCalculator {
    private static final double FLOOR = 1e-4;

    private final DriftThresholds thresholds;

    public DriftCalculator(DriftThresholds thresholds) {
        this.thresholds = requireNonNull(thresholds, "thresholds is null");
    }

    public DriftThresholds thresholds() {
        return thresholds;
    }

    /**
     * @param baseline the version's baseline, empty when its bundle has none
     * @param live the live windows per feature (features missing here are skipped)
     * @param liveScore the live window of scores
     */
    public DriftReport compare(Optional<Baseline> baseline, List<FeatureProfile> live, FeatureProfile liveScore) {
        requireNonNull(baseline, "baseline is null");
        requireNonNull(live, "live is null");
        requireNonNull(liveScore, "liveScore is null");
        long rows = liveScore.rows();
        if (baseline.isEmpty()) {
            return new DriftReport(
                    Verdict.NO_BASELINE,
                    "no baseline: the bundle was trained before baselines existed; retrain to monitor drift",
                    rows,
                    0,
                    List.of());
        }
        Baseline base = baseline.get();
        if (rows < thresholds.minRows()) {
            return new DriftReport(
                    Verdict.INSUFFICIENT_DATA,
                    "insufficient data: " + rows + " live rows, at least " + thresholds.minRows() + " needed",
                    rows,
                    base.rows(),
                    List.of());
        }
        List<FeatureDrift> features = new ArrayList<>();
        for (FeatureProfile window : live) {
            base.feature(window.name()).ifPresent(b -> features.add(compare(b, window)));
        }
        features.add(compare(base.score(), liveScore));
        features.sort(Comparator.comparing(FeatureDrift::severity)
                .reversed()
                .thenComparing(FeatureDrift::psi, Comparator.reverseOrder()));
        List<FeatureDrift> drifted =
                features.stream().filter(f -> f.severity() == Severity.DRIFTED).toList();
        String summary = drifted.isEmpty()
                ? "no drift over " + rows + " live rows"
                : drifted.stream()
                        .map(f -> f.feature() + ": " + String.join("; ", f.reasons()))
                        .collect(Collectors.joining(" | "));
        return new DriftReport(
                drifted.isEmpty() ? Verdict.NO_DRIFT : Verdict.DRIFT, summary, rows, base.rows(), features);
    }

    /** One feature's drift; both profiles must be of the same kind. */
    public FeatureDrift compare(FeatureProfile baseline, FeatureProfile window) {
        if (baseline.categorical() != window.categorical()) {
            throw new IllegalArgumentException(baseline.name() + ": baseline and window differ in kind");
        }
        List<String> reasons = new ArrayList<>();
        boolean drifted = false;
        double psi;
        double ks = 0;
        double ksP = 1;
        double chi = 0;
        double chiP = 1;
        if (window.categorical()) {
            Set<String> categories = new LinkedHashSet<>(baseline.categories().keySet());
            categories.addAll(window.categories().keySet());
            long[] b = new long[categories.size()];
            long[] l = new long[categories.size()];
            int i = 0;
            for (String c : categories) {
                b[i] = baseline.categories().getOrDefault(c, 0L);
                l[i] = window.categories().getOrDefault(c, 0L);
                i++;
            }
            psi = psi(b, l);
            if (b.length >= 2 && sum(b) > 0 && sum(l) > 0) {
                ChiSquareTest test = new ChiSquareTest();
                chi = test.chiSquareDataSetsComparison(b, l);
                chiP = test.chiSquareTestDataSetsComparison(b, l);
                if (chiP < thresholds.pValue() && psi >= thresholds.psiWarn()) {
                    drifted = true;
                    reasons.add(
                            String.format(Locale.ROOT, "chi-square %.1f, p %.2g < %s", chi, chiP, thresholds.pValue()));
                }
            }
        } else {
            double[] edges = baseline.edges();
            long[] b = baseline.binCounts().length == 0 ? new long[edges.length + 1] : baseline.binCounts();
            long[] l = new long[edges.length + 1];
            for (double v : window.values()) {
                l[Profiles.bin(edges, v)]++;
            }
            psi = psi(b, l);
            if (baseline.values().length > 0 && window.values().length > 0) {
                KolmogorovSmirnovTest test = new KolmogorovSmirnovTest();
                ks = test.kolmogorovSmirnovStatistic(baseline.values(), window.values());
                ksP = test.kolmogorovSmirnovTest(baseline.values(), window.values());
                if (ksP < thresholds.pValue() && ks >= thresholds.ksStatistic()) {
                    drifted = true;
                    reasons.add(String.format(Locale.ROOT, "KS %.3f >= %s, p %.2g", ks, thresholds.ksStatistic(), ksP));
                }
            }
        }
        if (psi >= thresholds.psi()) {
            drifted = true;
            reasons.add(0, String.format(Locale.ROOT, "PSI %.3f >= %s", psi, thresholds.psi()));
        }
        double missingChange = Math.abs(window.missingRate() - baseline.missingRate());
        if (missingChange >= thresholds.missingRateChange()) {
            drifted = true;
            reasons.add(String.format(
                    Locale.ROOT, "missing rate %.3f -> %.3f", baseline.missingRate(), window.missingRate()));
        }
        Severity severity = drifted ? Severity.DRIFTED : psi >= thresholds.psiWarn() ? Severity.WARN : Severity.OK;
        if (severity == Severity.WARN) {
            reasons.add(String.format(Locale.ROOT, "PSI %.3f >= %s (warn)", psi, thresholds.psiWarn()));
        }
        return new FeatureDrift(
                window.name(),
                window.categorical(),
                severity,
                psi,
                ks,
                ksP,
                chi,
                chiP,
                baseline.missingRate(),
                window.missingRate(),
                reasons);
    }

    /** PSI of two count vectors over the same bins; 0 when either side is empty. */
    static double psi(long[] baseline, long[] live) {
        double bTotal = sum(baseline);
        double lTotal = sum(live);
        if (bTotal == 0 || lTotal == 0) {
            return 0;
        }
        double psi = 0;
        for (int i = 0; i < baseline.length; i++) {
            double b = Math.max(baseline[i] / bTotal, FLOOR);
            double l = Math.max(live[i] / lTotal, FLOOR);
            psi += (l - b) * Math.log(l / b);
        }
        return psi;
    }

    private static long sum(long[] counts) {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        return total;
    }
}
