package dev.trellis.ensemble.model;

/**
 * The load-time check of a {@link Forest} against the native library it was read from: margins and
 * TreeSHAP contributions on the forest's probe rows must agree within a tolerance, or the model
 * keeps the native path. Stateless.
 */
final class ForestCheck {
    /** Probe rows per check. */
    static final int ROWS = 64;
    /** Largest allowed difference of one contribution (log-odds) between Java and native TreeSHAP. */
    static final double CONTRIBUTION_TOLERANCE = 1e-5;

    private static final long SEED = 11;

    private ForestCheck() {}

    static float[] probe(Forest forest) {
        return forest.probeRows(ROWS, SEED);
    }

    /** Whether the Java margins of the probe rows are within {@code tolerance} of {@code expected}. */
    static boolean marginsAgree(Forest forest, float[] probe, double[] expected, double tolerance) {
        double[] actual = new double[ROWS];
        forest.margins(probe, ROWS, actual);
        return maxDifference(actual, expected) <= tolerance;
    }

    /** Whether the Java contributions (row-major, features + 1 wide) are within tolerance of native ones. */
    static boolean contributionsAgree(Forest forest, float[] probe, double[] expected) {
        double[] actual = new double[ROWS * (forest.features() + 1)];
        forest.contributions(probe, ROWS, actual);
        return maxDifference(actual, expected) <= CONTRIBUTION_TOLERANCE;
    }

    /** Largest absolute difference, infinite when lengths differ or a value is NaN. */
    static double maxDifference(double[] a, double[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            double difference = Math.abs(a[i] - b[i]);
            if (!(difference <= max)) {
                max = Double.isNaN(difference) ? Double.POSITIVE_INFINITY : difference;
            }
        }
        return max;
    }
}
