package dev.trellis.ensemble.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load-time check of a {@link Forest} against the native library it was read from: margins and
 * TreeSHAP contributions on the forest's probe rows must agree within a tolerance, or the model
 * keeps the native path. Stateless.
 */
final class ForestCheck {
    /** The native library's answer for the probe rows: margins, or contributions (features + 1 a row). */
    @FunctionalInterface
    interface NativeRows {
        double[] compute(float[] probe, int rows) throws Exception;
    }

    private static final Logger log = LoggerFactory.getLogger(ForestCheck.class);

    /** Probe rows per check. */
    static final int ROWS = 64;
    /** Largest allowed difference of one contribution (log-odds) between Java and native TreeSHAP. */
    static final double CONTRIBUTION_TOLERANCE = 1e-5;

    private static final long SEED = 11;

    private ForestCheck() {}

    static float[] probe(Forest forest) {
        return forest.probeRows(ROWS, SEED);
    }

    /**
     * {@code forest} when its margins match the library's within {@code tolerance} on the probe rows,
     * else null (with one log line naming {@code library}).
     */
    static Forest verifiedWalker(String library, Forest forest, int features, NativeRows margins, double tolerance) {
        if (forest.features() != features) {
            log.warn(
                    "{} model: the trees read {} features, the schema has {}; scoring goes native",
                    library,
                    forest.features(),
                    features);
            return null;
        }
        float[] probe = probe(forest);
        try {
            if (marginsAgree(forest, probe, margins.compute(probe, ROWS), tolerance)) {
                return forest;
            }
        } catch (Exception e) {
            log.warn("{} model: cannot check the Java tree walker ({}); scoring goes native", library, e.getMessage());
            return null;
        }
        log.warn("{} model: the Java tree walker differs by more than {}; scoring goes native", library, tolerance);
        return null;
    }

    /** Whether the forest's TreeSHAP matches the library's contributions on the probe rows. */
    static boolean explanationsAgree(String library, Forest forest, NativeRows contributions) {
        if (!forest.explains()) {
            log.warn("{} model: trees too large for Java TreeSHAP; explanations go native", library);
            return false;
        }
        float[] probe = probe(forest);
        try {
            if (contributionsAgree(forest, probe, contributions.compute(probe, ROWS))) {
                return true;
            }
        } catch (Exception e) {
            log.warn("{} model: cannot check Java TreeSHAP ({}); explanations go native", library, e.getMessage());
            return false;
        }
        log.warn(
                "{} model: Java TreeSHAP differs from the library's by more than {}; explanations go native",
                library,
                CONTRIBUTION_TOLERANCE);
        return false;
    }

    /** Whether the Java margins of the probe rows are within {@code tolerance} of {@code expected}. */
    private static boolean marginsAgree(Forest forest, float[] probe, double[] expected, double tolerance) {
        double[] actual = new double[ROWS];
        forest.margins(probe, ROWS, actual);
        return maxDifference(actual, expected) <= tolerance;
    }

    /** Whether the Java contributions (row-major, features + 1 wide) are within tolerance of native ones. */
    private static boolean contributionsAgree(Forest forest, float[] probe, double[] expected) {
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
