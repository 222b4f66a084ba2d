package dev.trellis.ensemble.model;

/**
 * What a base model's validation curve said: the number of boosting rounds (or MLP epochs) with the
 * lowest validation loss, and that loss (mean log loss for a binary target, mean squared error in
 * the target's units for a continuous one, over the validation rows).
 */
public record EarlyStopping(int bestIterations, double bestLoss, int validationRows) {
    /** One more boosting round (or epoch), numbered from 0, and the validation loss after it. */
    @FunctionalInterface
    public interface Round<E extends Exception> {
        double next(int round) throws E;
    }

    /**
     * Runs up to {@code maxRounds} rounds and stops {@code patience} rounds after the lowest
     * validation loss so far.
     */
    public static <E extends Exception> EarlyStopping track(
            int maxRounds, int patience, int validationRows, Round<E> round) throws E {
        int best = 0;
        double bestLoss = Double.POSITIVE_INFINITY;
        for (int r = 0; r < maxRounds && r - best < patience; r++) {
            double loss = round.next(r);
            if (loss < bestLoss) {
                bestLoss = loss;
                best = r;
            }
        }
        return new EarlyStopping(best + 1, bestLoss, validationRows);
    }

    public EarlyStopping {
        if (bestIterations < 1) {
            throw new IllegalArgumentException("bestIterations must be positive");
        }
        if (validationRows < 1) {
            throw new IllegalArgumentException("validationRows must be positive");
        }
    }
}
