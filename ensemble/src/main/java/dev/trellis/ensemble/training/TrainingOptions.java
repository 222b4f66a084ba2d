package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Everything that shapes a training run. Same data, same options (seed included) → same bundle
 * metrics, tuned or not. {@code threads} is how many base-model fits run at once (each fit uses one
 * native thread: XGBoost nthread=1, LightGBM num_threads=1, ND4J one thread), so results never
 * depend on it; scoring always uses one native thread per call.
 *
 * @param folds stratified folds for the out-of-fold predictions (and for tuning)
 * @param testFraction stratified share held out for the test metrics; 0 trains on every row
 * @param params the base models' and the meta-learner's settings (the starting point of tuning)
 * @param tune search the base models' settings inside the training folds before stacking
 * @param tuneBudget how much search work to plan; the plan comes from a fixed cost model of the
 *     data's size, never from the clock, so the same budget always runs the same trials
 */
public record TrainingOptions(
        int folds,
        long seed,
        double testFraction,
        int threads,
        Hyperparameters params,
        boolean tune,
        Duration tuneBudget) {
    public static final Duration DEFAULT_TUNE_BUDGET = Duration.ofMinutes(10);

    public TrainingOptions {
        if (folds < 2) {
            throw new IllegalArgumentException("folds must be at least 2");
        }
        if (!(testFraction >= 0 && testFraction < 1)) {
            throw new IllegalArgumentException("test fraction must be in [0, 1)");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be positive");
        }
        requireNonNull(params, "params is null");
        requireNonNull(tuneBudget, "tuneBudget is null");
        if (tuneBudget.isNegative() || tuneBudget.isZero()) {
            throw new IllegalArgumentException("tune budget must be positive");
        }
    }

    /** Settings of {@code trellis train} without flags. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(5, 42, 0.2, 2, Hyperparameters.defaults(), false, DEFAULT_TUNE_BUDGET);
    }

    /** Small and quick, for tests: few folds, trees and epochs. */
    public static TrainingOptions fast() {
        return new TrainingOptions(2, 42, 0.2, 2, Hyperparameters.fast(), false, DEFAULT_TUNE_BUDGET);
    }

    public TrainingOptions withSeed(long seed) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }

    public TrainingOptions withFolds(int folds) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }

    public TrainingOptions withTestFraction(double testFraction) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }

    public TrainingOptions withThreads(int threads) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }

    public TrainingOptions withParams(Hyperparameters params) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }

    public TrainingOptions withTuning(boolean tune, Duration tuneBudget) {
        return new TrainingOptions(folds, seed, testFraction, threads, params, tune, tuneBudget);
    }
}
