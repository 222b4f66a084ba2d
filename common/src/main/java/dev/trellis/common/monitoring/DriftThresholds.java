package dev.trellis.common.monitoring;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * When a feature counts as drifted (see {@link DriftCalculator}). Text form, as the
 * {@code --drift-thresholds} flag of the router and the model-server takes it: comma-separated
 * {@code key=value} pairs overriding the defaults, e.g. {@code psi=0.2,min-rows=500}.
 *
 * @param psi PSI at or above this drifts (0.25, the customary "significant shift")
 * @param psiWarn PSI at or above this warns (0.1, the customary "moderate shift")
 * @param pValue a KS or chi-square p-value below this drifts when the effect is large enough too
 * @param ksStatistic numeric: the KS statistic that must come with a small p-value
 * @param missingRateChange an absolute change of the missing rate at or above this drifts
 * @param minRows fewer live rows than this: insufficient data, no verdict
 */
public record DriftThresholds(
        double psi, double psiWarn, double pValue, double ksStatistic, double missingRateChange, long minRows) {
    public static final DriftThresholds DEFAULTS = new DriftThresholds(0.25, 0.1, 0.001, 0.1, 0.1, 200);

    public DriftThresholds {
        if (!(psi > 0) || !(psiWarn > 0) || psiWarn > psi) {
            throw new IllegalArgumentException("psi and psi-warn must be positive, with psi-warn <= psi");
        }
        if (!(pValue > 0 && pValue < 1)) {
            throw new IllegalArgumentException("p must be in (0, 1)");
        }
        if (!(ksStatistic > 0 && ksStatistic <= 1)) {
            throw new IllegalArgumentException("ks must be in (0, 1]");
        }
        if (!(missingRateChange > 0 && missingRateChange <= 1)) {
            throw new IllegalArgumentException("missing must be in (0, 1]");
        }
        if (minRows < 1) {
            throw new IllegalArgumentException("min-rows must be at least 1");
        }
    }

    /**
     * Parses {@code key=value,...} over the defaults; keys psi, psi-warn, p, ks, missing, min-rows.
     *
     * @throws IllegalArgumentException naming the bad key or value
     */
    public static DriftThresholds parse(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        if (text != null && !text.isBlank()) {
            for (String part : text.split(",")) {
                String[] kv = part.split("=", 2);
                if (kv.length != 2 || kv[0].isBlank()) {
                    throw new IllegalArgumentException("expected key=value, got '" + part.trim() + "'");
                }
                values.put(kv[0].trim().toLowerCase(Locale.ROOT), kv[1].trim());
            }
        }
        DriftThresholds d = DEFAULTS;
        double psi = number(values.remove("psi"), d.psi, "psi");
        double psiWarn = number(values.remove("psi-warn"), d.psiWarn, "psi-warn");
        double p = number(values.remove("p"), d.pValue, "p");
        double ks = number(values.remove("ks"), d.ksStatistic, "ks");
        double missing = number(values.remove("missing"), d.missingRateChange, "missing");
        double minRows = number(values.remove("min-rows"), d.minRows, "min-rows");
        if (!values.isEmpty()) {
            throw new IllegalArgumentException(
                    "unknown drift threshold " + values.keySet() + " (known: psi, psi-warn, p, ks, missing, min-rows)");
        }
        if (minRows != Math.rint(minRows)) {
            throw new IllegalArgumentException("min-rows must be a whole number");
        }
        return new DriftThresholds(psi, psiWarn, p, ks, missing, (long) minRows);
    }

    private static double number(String text, double fallback, String key) {
        if (text == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": '" + text + "' is not a number", e);
        }
    }

    /** The text form that {@link #parse} reads back. */
    public String format() {
        return String.format(
                Locale.ROOT,
                "psi=%s,psi-warn=%s,p=%s,ks=%s,missing=%s,min-rows=%d",
                psi,
                psiWarn,
                pValue,
                ksStatistic,
                missingRateChange,
                minRows);
    }
}
