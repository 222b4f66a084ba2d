package dev.trellis.ensemble.training;

/**
 * Everything that shapes a training run. Same data, same options (seed included) → same bundle
 * metrics. {@code threads} is how many base-model fits run at once during training (each fit uses
 * one native thread: XGBoost nthread=1, LightGBM num_threads=1, ND4J one thread); scoring always uses
 * one native thread per call.
 */
public record TrainingOptions(
        int folds,
        long seed,
        double testFraction,
        int threads,
        int xgbRounds,
        int xgbMaxDepth,
        double xgbEta,
        double xgbSubsample,
        double xgbColsample,
        double xgbMinChildWeight,
        int lgbRounds,
        int lgbNumLeaves,
        double lgbLearningRate,
        int lgbMinDataInLeaf,
        double lgbFeatureFraction,
        double lgbBaggingFraction,
        int mlpEpochs,
        int mlpBatchSize,
        double mlpLearningRate,
        double mlpL2,
        double metaL2) {
    public TrainingOptions {
        if (folds < 2) {
            throw new IllegalArgumentException("folds must be at least 2");
        }
        if (!(testFraction >= 0 && testFraction < 1)) {
            throw new IllegalArgumentException("test fraction must be in [0, 1)");
        }
        if (threads < 1 || xgbRounds < 1 || lgbRounds < 1 || mlpEpochs < 1 || mlpBatchSize < 1) {
            throw new IllegalArgumentException("threads, rounds, epochs and batch size must be positive");
        }
        if (metaL2 < 0 || mlpL2 < 0) {
            throw new IllegalArgumentException("L2 penalties must not be negative");
        }
    }

    /** Settings of {@code trellis train} without flags. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(
                5, 42, 0.2, 2, 300, 3, 0.03, 0.8, 0.6, 5.0, 300, 7, 0.03, 40, 0.6, 0.8, 20, 128, 1e-3, 1e-2, 1.0);
    }

    /** Small and quick, for tests: few folds, trees and epochs. */
    public static TrainingOptions fast() {
        return new TrainingOptions(
                2, 42, 0.2, 2, 40, 3, 0.1, 0.8, 0.8, 1.0, 40, 7, 0.1, 20, 0.8, 0.8, 5, 128, 3e-3, 1e-3, 1.0);
    }

    public TrainingOptions withSeed(long seed) {
        return new TrainingOptions(
                folds,
                seed,
                testFraction,
                threads,
                xgbRounds,
                xgbMaxDepth,
                xgbEta,
                xgbSubsample,
                xgbColsample,
                xgbMinChildWeight,
                lgbRounds,
                lgbNumLeaves,
                lgbLearningRate,
                lgbMinDataInLeaf,
                lgbFeatureFraction,
                lgbBaggingFraction,
                mlpEpochs,
                mlpBatchSize,
                mlpLearningRate,
                mlpL2,
                metaL2);
    }

    public TrainingOptions withFolds(int folds) {
        return new TrainingOptions(
                folds,
                seed,
                testFraction,
                threads,
                xgbRounds,
                xgbMaxDepth,
                xgbEta,
                xgbSubsample,
                xgbColsample,
                xgbMinChildWeight,
                lgbRounds,
                lgbNumLeaves,
                lgbLearningRate,
                lgbMinDataInLeaf,
                lgbFeatureFraction,
                lgbBaggingFraction,
                mlpEpochs,
                mlpBatchSize,
                mlpLearningRate,
                mlpL2,
                metaL2);
    }

    public TrainingOptions withTestFraction(double testFraction) {
        return new TrainingOptions(
                folds,
                seed,
                testFraction,
                threads,
                xgbRounds,
                xgbMaxDepth,
                xgbEta,
                xgbSubsample,
                xgbColsample,
                xgbMinChildWeight,
                lgbRounds,
                lgbNumLeaves,
                lgbLearningRate,
                lgbMinDataInLeaf,
                lgbFeatureFraction,
                lgbBaggingFraction,
                mlpEpochs,
                mlpBatchSize,
                mlpLearningRate,
                mlpL2,
                metaL2);
    }

    public TrainingOptions withThreads(int threads) {
        return new TrainingOptions(
                folds,
                seed,
                testFraction,
                threads,
                xgbRounds,
                xgbMaxDepth,
                xgbEta,
                xgbSubsample,
                xgbColsample,
                xgbMinChildWeight,
                lgbRounds,
                lgbNumLeaves,
                lgbLearningRate,
                lgbMinDataInLeaf,
                lgbFeatureFraction,
                lgbBaggingFraction,
                mlpEpochs,
                mlpBatchSize,
                mlpLearningRate,
                mlpL2,
                metaL2);
    }
}
