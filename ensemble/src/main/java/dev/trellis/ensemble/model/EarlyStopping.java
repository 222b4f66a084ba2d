package dev.trellis.ensemble.model;

/**
 * What a base model's validation curve said: the number of boosting rounds (or MLP epochs) with the
 * lowest validation loss, and that loss (mean log loss for a binary target, mean squared error in
 * the target's units for a continuous one, over the validation rows).
 */
public record EarlyStopping(int bestIterations, double bestLoss, int validationRows) {
    public EarlyStopping {
        if (bestIterations < 1) {
            throw new IllegalArgumentException("bestIterations must be positive");
        }
        if (validationRows < 1) {
            throw new IllegalArgumentException("validationRows must be positive");
        }
    }
}
