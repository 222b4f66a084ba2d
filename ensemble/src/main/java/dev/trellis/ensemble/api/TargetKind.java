package dev.trellis.ensemble.api;

/** What kind of target a model predicts, which decides what its outputs mean. */
public enum TargetKind {
    /**
     * A 0/1 target. The score is a calibrated probability, the interval a 95% Wald interval of it,
     * labels are hot / warm / lukewarm / cold, contributions are in log-odds.
     */
    BINARY,
    /**
     * A continuous target. The score is the predicted value in the target's units, the interval a
     * 95% conformal prediction interval, labels are tiers A / B / C / D by quantile of the
     * predictions, contributions are in the target's units.
     */
    REGRESSION;

    /** Lower-case name, as in bundle.json ("binary", "regression"). */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The kind named {@code name} (either case). */
    public static TargetKind fromWireName(String name) {
        return valueOf(name.toUpperCase(java.util.Locale.ROOT));
    }
}
