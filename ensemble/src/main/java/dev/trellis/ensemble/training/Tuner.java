package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.model.EarlyStopping;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Hyperparameter search for each base model by successive halving over seeded random
 * configurations, inside the training rows only. Every configuration is fit on all folds but one and
 * early-stopped on the held-out fold, which gives both its best number of rounds (epochs) and its
 * loss there (log loss, or squared error). Rung 1 evaluates every configuration on two folds; the
 * best third, and always the starting settings (the first configuration), go on to the remaining
 * folds; the lowest pooled loss over all folds wins, so a search never picks something it measured
 * as worse than the starting settings. The winner's rounds are the median best rounds over the folds, scaled by
 * K/(K − 1) for the larger refit.
 *
 * <p>How many configurations: {@code budget} split evenly over the base models, divided by a fixed
 * cost model of one fit ({@link #estimatedFitSeconds}, from this machine's measurements) times the
 * fits a configuration needs. The plan never reads the clock, so the same data, seed and flags run
 * the same trials and choose the same settings; the time it takes is reported.
 */
final class Tuner {
    static final int MIN_TRIALS = 4;
    static final int MAX_TRIALS = 40;
    static final int TREE_MAX_ROUNDS = 3000;
    static final int TREE_PATIENCE = 50;
    static final int MLP_MAX_EPOCHS = 80;
    static final int MLP_PATIENCE = 6;

    private final TrainingData data;
    private final int[] rows;
    private final int[] fold;
    private final int folds;
    private final long seed;
    private final ExecutorService pool;
    private final ProgressListener progress;

    /**
     * @param rows training rows of {@code data} to tune on
     * @param fold fold number of each of {@code rows} (parallel to it)
     */
    Tuner(
            TrainingData data,
            int[] rows,
            int[] fold,
            int folds,
            long seed,
            ExecutorService pool,
            ProgressListener progress) {
        this.data = requireNonNull(data, "data is null");
        this.rows = rows.clone();
        this.fold = fold.clone();
        this.folds = folds;
        this.seed = seed;
        this.pool = requireNonNull(pool, "pool is null");
        this.progress = requireNonNull(progress, "progress is null");
    }

    /** One configuration's result. */
    record Trial(Hyperparameters params, double loss, int rows, int[] bestIterations) {}

    /**
     * What tuning found for one base model.
     *
     * @param trials configurations tried
     * @param fits early-stopped fits made
     * @param startLoss pooled held-out loss of the starting settings over all folds
     * @param bestLoss pooled held-out loss of the winner over all folds
     * @param iterations the winner's chosen rounds (epochs)
     * @param chosen the settings with this model's part replaced by the winner's, rounds included
     */
    record ModelReport(
            String model,
            int trials,
            int fits,
            double startLoss,
            double bestLoss,
            int iterations,
            Hyperparameters chosen) {}

    /** The tuned settings and a report per base model. */
    record Result(Hyperparameters params, List<ModelReport> reports, double seconds) {}

    Result tune(Hyperparameters start, List<String> models, Duration budget, int threads) {
        long began = System.nanoTime();
        Hyperparameters params = start;
        List<ModelReport> reports = new ArrayList<>();
        double share = budget.toMillis() / 1000.0 / models.size();
        for (int m = 0; m < models.size(); m++) {
            String model = models.get(m);
            int trials = trials(model, share, threads);
            List<Hyperparameters> configs = configs(model, params, trials, new Random(seed * 31 + m));
            ModelReport report = search(model, configs);
            reports.add(report);
            params = apply(params, model, report.chosen());
            progress.step(String.format(
                    Locale.ROOT,
                    "tuned %s: %d configurations, held-out loss %.5f (start %.5f)",
                    model,
                    report.trials(),
                    report.bestLoss(),
                    report.startLoss()));
        }
        return new Result(params, reports, (System.nanoTime() - began) / 1e9);
    }

    /** Configurations the budget pays for, from the cost model; between 4 and 40. */
    int trials(String model, double seconds, int threads) {
        double perTrial = estimatedFitSeconds(model) * fitsPerTrial();
        int trials = (int) Math.floor(seconds * threads / perTrial);
        return Math.max(MIN_TRIALS, Math.min(MAX_TRIALS, trials));
    }

    private double fitsPerTrial() {
        return folds <= 2 ? folds : 2 + (folds - 2) / 3.0;
    }

    /**
     * Seconds of one early-stopped fit on this data, from measurements on the 2-core build machine:
     * XGBoost about 6 ns and LightGBM about 12 ns per row, feature and round (about 600 rounds with
     * patience), the MLP about 60 µs per row and epoch (about 30 epochs).
     */
    double estimatedFitSeconds(String model) {
        double fitRows = (double) rows.length * (folds - 1) / folds;
        int features = data.dataset().schema().size();
        if (model.equals(BaseFit.XGBOOST)) {
            return 6e-9 * fitRows * features * 600;
        }
        if (model.equals(BaseFit.LIGHTGBM)) {
            return 12e-9 * fitRows * features * 600;
        }
        return 60e-6 * fitRows * 30;
    }

    private ModelReport search(String model, List<Hyperparameters> configs) {
        int n = configs.size();
        int[][] best = new int[n][folds];
        double[][] loss = new double[n][folds];
        int[][] validationRows = new int[n][folds];
        int firstRung = Math.min(folds, folds <= 2 ? folds : 2);
        List<Integer> alive = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            alive.add(c);
        }
        int fits = evaluate(model, configs, alive, 0, firstRung, best, loss, validationRows);
        if (firstRung < folds) {
            List<Integer> ranked = new ArrayList<>(alive);
            ranked.sort(Comparator.comparingDouble((Integer c) -> pooled(loss[c], validationRows[c], firstRung))
                    .thenComparingInt(c -> c));
            // the best third go on; the starting settings always do, so that the winner beats them on
            // every fold, not just on the first two
            List<Integer> next = new ArrayList<>(ranked.subList(0, Math.max(1, (int) Math.ceil(n / 3.0))));
            if (!next.contains(0)) {
                next.add(0);
            }
            alive = next;
            fits += evaluate(model, configs, alive, firstRung, folds, best, loss, validationRows);
        }
        int winner = alive.stream()
                .min(Comparator.comparingDouble((Integer c) -> pooled(loss[c], validationRows[c], folds))
                        .thenComparingInt(c -> c))
                .orElseThrow();
        int[] iterations = best[winner].clone();
        Arrays.sort(iterations);
        int median = iterations[folds / 2];
        int rounds = Math.max(1, (int) Math.round(median * folds / (folds - 1.0)));
        return new ModelReport(
                model,
                n,
                fits,
                pooled(loss[0], validationRows[0], folds),
                pooled(loss[winner], validationRows[winner], folds),
                rounds,
                withIterations(configs.get(winner), model, rounds));
    }

    /** Fits every alive configuration on folds [from, to), in parallel; returns the number of fits. */
    private int evaluate(
            String model,
            List<Hyperparameters> configs,
            List<Integer> alive,
            int from,
            int to,
            int[][] best,
            double[][] loss,
            int[][] validationRows) {
        List<Future<EarlyStopping>> tasks = new ArrayList<>();
        List<int[]> cells = new ArrayList<>();
        for (int c : alive) {
            for (int k = from; k < to; k++) {
                int[] fitRows = select(fold, k, false);
                int[] heldOut = select(fold, k, true);
                Hyperparameters config = configs.get(c);
                tasks.add(pool.submit(() -> BaseFit.validate(
                        model,
                        data,
                        fitRows,
                        heldOut,
                        config,
                        seed,
                        model.equals(BaseFit.MLP) ? MLP_PATIENCE : TREE_PATIENCE)));
                cells.add(new int[] {c, k});
            }
        }
        for (int i = 0; i < tasks.size(); i++) {
            EarlyStopping stopping = Parallel.get(tasks.get(i));
            int c = cells.get(i)[0];
            int k = cells.get(i)[1];
            best[c][k] = stopping.bestIterations();
            loss[c][k] = stopping.bestLoss();
            validationRows[c][k] = stopping.validationRows();
        }
        return tasks.size();
    }

    private static double pooled(double[] loss, int[] rows, int folds) {
        double sum = 0;
        double count = 0;
        for (int k = 0; k < folds; k++) {
            sum += loss[k] * rows[k];
            count += rows[k];
        }
        return sum / count;
    }

    /** Rows of the training set (data row numbers) in ({@code inFold}) or out of fold {@code k}. */
    private int[] select(int[] fold, int k, boolean inFold) {
        return Arrays.stream(Folds.where(fold, k, inFold)).map(i -> rows[i]).toArray();
    }

    /** The starting settings first, then seeded random draws from the model's search space. */
    private List<Hyperparameters> configs(String model, Hyperparameters start, int trials, Random random) {
        List<Hyperparameters> configs = new ArrayList<>();
        configs.add(withCap(start, model));
        boolean ordinal = !MlpEncoder.ordinalLevels(data.dataset().features()).isEmpty();
        while (configs.size() < trials) {
            configs.add(withCap(sample(model, start, random, ordinal), model));
        }
        return configs;
    }

    private static Hyperparameters sample(String model, Hyperparameters start, Random random, boolean ordinal) {
        if (model.equals(BaseFit.XGBOOST)) {
            return start.withXgboost(new Hyperparameters.Xgboost(
                    TREE_MAX_ROUNDS,
                    2 + random.nextInt(5),
                    logUniform(random, 0.01, 0.1),
                    uniform(random, 0.6, 1.0),
                    uniform(random, 0.3, 1.0),
                    logUniform(random, 0.5, 30),
                    logUniform(random, 0.3, 30)));
        }
        if (model.equals(BaseFit.LIGHTGBM)) {
            int[] leaves = {4, 7, 15, 31};
            return start.withLightgbm(new Hyperparameters.Lightgbm(
                    TREE_MAX_ROUNDS,
                    leaves[random.nextInt(leaves.length)],
                    logUniform(random, 0.01, 0.1),
                    (int) Math.round(logUniform(random, 10, 150)),
                    uniform(random, 0.3, 1.0),
                    uniform(random, 0.6, 1.0),
                    logUniform(random, 0.1, 30)));
        }
        int[] batches = {64, 128, 256};
        double[] dropouts = {0, 0.1, 0.2, 0.3};
        return start.withMlp(new Hyperparameters.Mlp(
                MLP_MAX_EPOCHS,
                batches[random.nextInt(batches.length)],
                logUniform(random, 2e-4, 3e-3),
                logUniform(random, 1e-4, 0.3),
                dropouts[random.nextInt(dropouts.length)],
                ordinal && random.nextBoolean() ? Hyperparameters.ORDINAL_ONE_HOT : Hyperparameters.STANDARDIZE));
    }

    /** The configuration with the round (epoch) cap of the search, so early stopping decides. */
    private static Hyperparameters withCap(Hyperparameters params, String model) {
        if (model.equals(BaseFit.XGBOOST)) {
            return params.withXgboost(params.xgboost().withRounds(TREE_MAX_ROUNDS));
        }
        if (model.equals(BaseFit.LIGHTGBM)) {
            return params.withLightgbm(params.lightgbm().withRounds(TREE_MAX_ROUNDS));
        }
        return params.withMlp(params.mlp().withEpochs(MLP_MAX_EPOCHS));
    }

    private static Hyperparameters withIterations(Hyperparameters params, String model, int iterations) {
        if (model.equals(BaseFit.XGBOOST)) {
            return params.withXgboost(params.xgboost().withRounds(iterations));
        }
        if (model.equals(BaseFit.LIGHTGBM)) {
            return params.withLightgbm(params.lightgbm().withRounds(iterations));
        }
        return params.withMlp(params.mlp().withEpochs(iterations));
    }

    /** {@code params} with {@code model}'s part taken from {@code chosen}. */
    private static Hyperparameters apply(Hyperparameters params, String model, Hyperparameters chosen) {
        if (model.equals(BaseFit.XGBOOST)) {
            return params.withXgboost(chosen.xgboost());
        }
        if (model.equals(BaseFit.LIGHTGBM)) {
            return params.withLightgbm(chosen.lightgbm());
        }
        return params.withMlp(chosen.mlp());
    }

    private static double uniform(Random random, double low, double high) {
        return low + (high - low) * random.nextDouble();
    }

    private static double logUniform(Random random, double low, double high) {
        return Math.exp(uniform(random, Math.log(low), Math.log(high)));
    }
}
