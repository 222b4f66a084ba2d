package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.MlpScaling;
import dev.trellis.ensemble.data.TreeEncoder;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.model.LightgbmModel;
import dev.trellis.ensemble.model.MlpModel;
import dev.trellis.ensemble.model.XgboostModel;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.MetaLearner;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Trains the stacked ensemble: stratified train/test split, stratified K-fold out-of-fold logits of
 * the three base models, logistic meta-learner on those logits, base models refit on all training
 * rows, metrics out-of-fold and on the test rows. Deterministic for a given seed.
 *
 * <p>Classification metrics (accuracy, precision, recall, F1) of each model use that model's
 * "hot + warm" cut: the 70th percentile of its own out-of-fold scores, i.e. the top 30% are called
 * positive. For the ensemble this is exactly the bundle's {@code warm} label threshold. Top-k hits use
 * k = round(20% of the rows evaluated), the CoIL 2000 task's 800 of 4,000.
 */
public final class Trainer {
    public static final double POSITIVE_FRACTION = 0.30;
    public static final double TOP_K_FRACTION = 0.20;

    private final TrainingOptions options;
    private final ProgressListener progress;
    private final long started = System.nanoTime();

    public Trainer(TrainingOptions options, ProgressListener progress) {
        this.options = requireNonNull(options, "options is null");
        this.progress = requireNonNull(progress, "progress is null");
    }

    public static int topK(int rows) {
        return (int) Math.round(TOP_K_FRACTION * rows);
    }

    public TrainingResult train(Dataset data) {
        Dataset all = requireNonNull(data, "data is null");
        int[][] split = stratifiedSplit(all.labels(), options.testFraction(), options.seed());
        Dataset train = all.subset(split[0]);
        Dataset test = split[1].length == 0 ? null : all.subset(split[1]);
        TreeEncoder treeEncoder = new TreeEncoder(all.schema());
        Matrix trainTrees = treeEncoder.encode(train.features());
        int n = train.rows();
        int[] labels = train.labels();
        int[] fold = stratifiedFolds(labels, options.folds(), options.seed() + 1);
        double[][] oof = new double[n][StackedEnsemble.BASE_MODELS.size()];

        // Every (fold, model) fit and the three final refits are independent tasks on `threads`
        // workers; each native library runs one thread per fit. On a shared, busy machine this
        // beats OpenMP inside one fit, whose barriers stall whenever a worker is descheduled.
        ExecutorService pool = Executors.newFixedThreadPool(options.threads(), runnable -> {
            Thread thread = new Thread(runnable, "trellis-train");
            thread.setDaemon(true);
            return thread;
        });
        List<Future<?>> tasks = new ArrayList<>();
        XgboostModel[] finalXgboost = new XgboostModel[1];
        LightgbmModel[] finalLightgbm = new LightgbmModel[1];
        MlpModel[] finalMlp = new MlpModel[1];
        MlpEncoder finalEncoder = new MlpEncoder(train.schema(), MlpScaling.fit(train.features()));
        float[] trainLabels = floatLabels(train.labels());
        try {
            String refit = "refit on all " + n + " training rows";
            tasks.add(pool.submit(() -> finalXgboost[0] = fitXgboost(trainTrees, trainLabels, refit)));
            tasks.add(pool.submit(() -> finalLightgbm[0] = fitLightgbm(trainTrees, trainLabels, treeEncoder, refit)));
            tasks.add(
                    pool.submit(() -> finalMlp[0] = fitMlp(finalEncoder.encode(train.features()), trainLabels, refit)));
            for (int k = 0; k < options.folds(); k++) {
                int[] fitRows = rowsWhere(fold, k, false);
                int[] holdRows = rowsWhere(fold, k, true);
                String step = "fold " + (k + 1) + "/" + options.folds();
                Dataset fitData = train.subset(fitRows);
                Dataset holdData = train.subset(holdRows);
                Matrix fitTrees = trainTrees.selectRows(fitRows);
                Matrix holdTrees = trainTrees.selectRows(holdRows);
                float[] fitLabels = floatLabels(fitData.labels());
                tasks.add(pool.submit(() -> {
                    try (XgboostModel model = fitXgboost(fitTrees, fitLabels, step)) {
                        store(oof, holdRows, 0, model.margins(holdTrees));
                    }
                }));
                tasks.add(pool.submit(() -> {
                    try (LightgbmModel model = fitLightgbm(fitTrees, fitLabels, treeEncoder, step)) {
                        store(oof, holdRows, 1, model.rawScores(holdTrees));
                    }
                }));
                tasks.add(pool.submit(() -> {
                    MlpEncoder encoder = new MlpEncoder(fitData.schema(), MlpScaling.fit(fitData.features()));
                    MlpModel model = fitMlp(encoder.encode(fitData.features()), fitLabels, step);
                    store(oof, holdRows, 2, model.logits(encoder.encode(holdData.features())));
                }));
            }
            for (Future<?> task : tasks) {
                task.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeAll(finalXgboost[0], finalLightgbm[0]);
            throw new IllegalStateException("training interrupted", e);
        } catch (ExecutionException e) {
            tasks.forEach(task -> task.cancel(true));
            awaitQuietly(pool);
            closeAll(finalXgboost[0], finalLightgbm[0]);
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }

        progress.step("meta-learner: logistic regression on out-of-fold logits" + elapsed());
        MetaLearner meta = MetaLearner.fit(oof, labels, options.metaL2());
        double[] oofEnsemble = new double[n];
        for (int i = 0; i < n; i++) {
            oofEnsemble[i] = MetaLearner.sigmoid(meta.logit(oof[i]));
        }
        LabelThresholds thresholds = LabelThresholds.fromScores(oofEnsemble);
        StackedEnsemble ensemble = new StackedEnsemble(
                all.schema(), finalEncoder, finalXgboost[0], finalLightgbm[0], finalMlp[0], meta, thresholds);

        progress.step("evaluating" + elapsed());
        Map<String, double[]> oofScores = scoresByModel(oof, oofEnsemble);
        Map<String, Double> metricThresholds = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : oofScores.entrySet()) {
            metricThresholds.put(entry.getKey(), Metrics.quantile(entry.getValue(), 1 - POSITIVE_FRACTION));
        }
        metricThresholds.put(TrainingResult.ENSEMBLE, thresholds.warm());
        Map<String, Map<String, MetricSet>> metrics = new LinkedHashMap<>();
        metrics.put(TrainingResult.OUT_OF_FOLD, evaluate(oofScores, labels, metricThresholds, topK(labels.length)));
        if (test != null) {
            metrics.put(TrainingResult.TEST, evaluate(ensemble, test, metricThresholds));
        }
        progress.step("done" + elapsed());
        return new TrainingResult(
                ensemble,
                metrics,
                metricThresholds,
                all.source().getFileName().toString(),
                all.sha256(),
                all.rows(),
                all.positives(),
                train.rows(),
                test == null ? 0 : test.rows(),
                options,
                BaselineProfiler.profile(train.features(), oofEnsemble));
    }

    private static void store(double[][] oof, int[] rows, int model, double[] logits) {
        // distinct (row, model) cells per task; Future.get() publishes the writes to the caller
        for (int i = 0; i < rows.length; i++) {
            oof[rows[i]][model] = logits[i];
        }
    }

    private static float[] floatLabels(int[] labels) {
        float[] out = new float[labels.length];
        for (int i = 0; i < labels.length; i++) {
            out[i] = labels[i];
        }
        return out;
    }

    private static void closeAll(AutoCloseable... models) {
        for (AutoCloseable model : models) {
            if (model != null) {
                try {
                    model.close();
                } catch (Exception e) {
                    // already failing; keep the first error
                }
            }
        }
    }

    private static void awaitQuietly(ExecutorService pool) {
        pool.shutdownNow();
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private XgboostModel fitXgboost(Matrix x, float[] labels, String step) {
        long start = System.nanoTime();
        announce(step, "xgboost");
        XgboostModel model = XgboostModel.train(
                x,
                labels,
                new XgboostModel.Params(
                        options.xgbRounds(),
                        options.xgbMaxDepth(),
                        options.xgbEta(),
                        options.xgbSubsample(),
                        options.xgbColsample(),
                        options.xgbMinChildWeight(),
                        1.0,
                        1,
                        options.seed()));
        report(step, "xgboost", start);
        return model;
    }

    private LightgbmModel fitLightgbm(Matrix x, float[] labels, TreeEncoder treeEncoder, String step) {
        long start = System.nanoTime();
        announce(step, "lightgbm");
        LightgbmModel model = LightgbmModel.train(
                x,
                labels,
                treeEncoder.categoricalColumns(),
                new LightgbmModel.Params(
                        options.lgbRounds(),
                        options.lgbNumLeaves(),
                        -1,
                        options.lgbLearningRate(),
                        options.lgbMinDataInLeaf(),
                        options.lgbFeatureFraction(),
                        options.lgbBaggingFraction(),
                        1.0,
                        1,
                        options.seed()));
        report(step, "lightgbm", start);
        return model;
    }

    private MlpModel fitMlp(Matrix x, float[] labels, String step) {
        long start = System.nanoTime();
        announce(step, "mlp");
        MlpModel model = MlpModel.train(
                x,
                labels,
                new MlpModel.Params(
                        options.mlpEpochs(),
                        options.mlpBatchSize(),
                        options.mlpLearningRate(),
                        options.mlpL2(),
                        options.seed()));
        report(step, "mlp", start);
        return model;
    }

    private void announce(String step, String model) {
        synchronized (progress) {
            progress.step(step + ": fitting " + model + elapsed());
        }
    }

    private void report(String step, String model, long start) {
        synchronized (progress) {
            progress.step(String.format(
                    java.util.Locale.ROOT,
                    "%s: fitted %s in %.1fs%s",
                    step,
                    model,
                    (System.nanoTime() - start) / 1e9,
                    elapsed()));
        }
    }

    /** Per-model and ensemble metrics of {@code ensemble} on {@code data}. */
    public static Map<String, MetricSet> evaluate(
            StackedEnsemble ensemble, Dataset data, Map<String, Double> metricThresholds) {
        return evaluate(ensemble, data, metricThresholds, topK(data.rows()));
    }

    /** Per-model and ensemble metrics of {@code ensemble} on {@code data}, with top-{@code k} hits. */
    public static Map<String, MetricSet> evaluate(
            StackedEnsemble ensemble, Dataset data, Map<String, Double> metricThresholds, int k) {
        double[][] logits = ensemble.baseLogits(data.features());
        double[] scores = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            scores[i] = MetaLearner.sigmoid(ensemble.metaLearner().logit(logits[i]));
        }
        return evaluate(scoresByModel(logits, scores), data.labels(), metricThresholds, k);
    }

    private static Map<String, MetricSet> evaluate(
            Map<String, double[]> scores, int[] labels, Map<String, Double> thresholds, int k) {
        Map<String, MetricSet> result = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : scores.entrySet()) {
            result.put(
                    entry.getKey(),
                    Metrics.compute(entry.getValue(), labels, thresholds.getOrDefault(entry.getKey(), 0.5), k));
        }
        return result;
    }

    private static Map<String, double[]> scoresByModel(double[][] logits, double[] ensemble) {
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (int m = 0; m < StackedEnsemble.BASE_MODELS.size(); m++) {
            double[] p = new double[logits.length];
            for (int i = 0; i < logits.length; i++) {
                p[i] = MetaLearner.sigmoid(logits[i][m]);
            }
            scores.put(StackedEnsemble.BASE_MODELS.get(m), p);
        }
        scores.put(TrainingResult.ENSEMBLE, ensemble);
        return scores;
    }

    private String elapsed() {
        return String.format(java.util.Locale.ROOT, " (%.1fs)", (System.nanoTime() - started) / 1e9);
    }

    /** [train indices, test indices], each sorted; positives and negatives split separately. */
    public static int[][] stratifiedSplit(int[] labels, double testFraction, long seed) {
        Random random = new Random(seed);
        List<Integer> train = new ArrayList<>();
        List<Integer> test = new ArrayList<>();
        for (int cls = 0; cls <= 1; cls++) {
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == cls) {
                    members.add(i);
                }
            }
            java.util.Collections.shuffle(members, random);
            int testCount = (int) Math.round(testFraction * members.size());
            test.addAll(members.subList(0, testCount));
            train.addAll(members.subList(testCount, members.size()));
        }
        int[] trainArray = train.stream().mapToInt(Integer::intValue).sorted().toArray();
        int[] testArray = test.stream().mapToInt(Integer::intValue).sorted().toArray();
        return new int[][] {trainArray, testArray};
    }

    /** Fold number per row; each class dealt round-robin over the folds after a seeded shuffle. */
    public static int[] stratifiedFolds(int[] labels, int folds, long seed) {
        Random random = new Random(seed);
        int[] fold = new int[labels.length];
        for (int cls = 0; cls <= 1; cls++) {
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == cls) {
                    members.add(i);
                }
            }
            java.util.Collections.shuffle(members, random);
            for (int j = 0; j < members.size(); j++) {
                fold[members.get(j)] = j % folds;
            }
        }
        return fold;
    }

    private static int[] rowsWhere(int[] fold, int k, boolean inFold) {
        return Arrays.stream(java.util.stream.IntStream.range(0, fold.length).toArray())
                .filter(i -> (fold[i] == k) == inFold)
                .toArray();
    }
}
