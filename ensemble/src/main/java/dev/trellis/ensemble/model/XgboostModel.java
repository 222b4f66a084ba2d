package dev.trellis.ensemble.model;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.data.Matrix;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import ml.dmlc.xgboost4j.java.Booster;
import ml.dmlc.xgboost4j.java.DMatrix;
import ml.dmlc.xgboost4j.java.XGBoost;
import ml.dmlc.xgboost4j.java.XGBoostError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An XGBoost binary:logistic booster. Scoring walks the trees in Java ({@link Forest}); without a
 * verified walker, in-place prediction on a row-major float matrix (one native call per batch) in
 * margin space, so logits are exact. Explanations are TreeSHAP computed in Java over the same trees. Both Java
 * paths are checked against XGBoost when the model loads (margins within {@link #VERIFY_TOLERANCE},
 * contributions within {@link ForestCheck#CONTRIBUTION_TOLERANCE}) and fall back to the native call
 * when they differ. The booster runs one native thread per call; XGBoost's predictors are
 * thread-safe. Thread-safe.
 */
public final class XgboostModel implements AutoCloseable {
    public record Params(
            int rounds,
            int maxDepth,
            double eta,
            double subsample,
            double colsampleByTree,
            double minChildWeight,
            double lambda,
            int threads,
            long seed) {}

    private static final Logger log = LoggerFactory.getLogger(XgboostModel.class);
    private static final int[] ALL_TREES = {0, 0};

    /** Largest allowed difference in margin between the Java walker and XGBoost when verifying. */
    public static final double VERIFY_TOLERANCE = 1e-4;

    private final Booster booster;
    private final int features;
    private final Forest forest; // null when the model cannot be walked in Java
    private final boolean javaExplanations;
    // predictions hold the read lock so that close() never frees the booster under a native call
    private final NativeGuard guard = new NativeGuard("XGBoost");

    private XgboostModel(Booster booster, int features) {
        this.booster = requireNonNull(booster, "booster is null");
        this.features = features;
        this.forest = javaForest(booster, features);
        this.javaExplanations = forest != null
                && ForestCheck.explanationsAgree(
                        "XGBoost",
                        forest,
                        (probe, rows) -> nativeContributions(booster, probe, rows, forest.features()));
    }

    /** The Java walker for this booster, or null if it cannot be built or disagrees with XGBoost. */
    private static Forest javaForest(Booster booster, int features) {
        Forest forest;
        try {
            java.io.ByteArrayOutputStream json = new java.io.ByteArrayOutputStream();
            booster.saveModel(json, "json");
            forest = XgboostTrees.parse(json.toByteArray());
        } catch (XGBoostError | java.io.IOException | RuntimeException e) {
            log.warn("XGBoost model: no Java tree walker ({}); every batch goes native", e.getMessage());
            return null;
        }
        return ForestCheck.verifiedWalker(
                "XGBoost",
                forest,
                features,
                (probe, rows) -> {
                    float[][] out = booster.inplace_predict(
                            probe, rows, features, Float.NaN, ALL_TREES, Booster.PredictionType.kMargin, null);
                    double[] margins = new double[rows];
                    for (int r = 0; r < rows; r++) {
                        margins[r] = out[r][0];
                    }
                    return margins;
                },
                VERIFY_TOLERANCE);
    }

    /** Whether scoring uses the verified Java tree walker. */
    public boolean hasJavaPath() {
        return forest != null;
    }

    /** The verified Java trees, or null (for this package's tests). */
    Forest forest() {
        return forest;
    }

    /** Whether explanations use the verified Java TreeSHAP. */
    public boolean hasJavaExplanations() {
        return javaExplanations;
    }

    /** What the booster learns: a binary target (log-odds margins) or a continuous one (values). */
    public enum Objective {
        LOGISTIC("binary:logistic", "logloss"),
        SQUARED_ERROR("reg:squarederror", "rmse");

        private final String name;
        private final String metric;

        Objective(String name, String metric) {
            this.name = name;
            this.metric = metric;
        }
    }

    /** A binary:logistic booster on 0/1 labels. */
    public static XgboostModel train(Matrix x, float[] labels, Params params) {
        return train(x, labels, params, Objective.LOGISTIC);
    }

    /** A booster of {@code params.rounds()} rounds; margins are log-odds or predicted values. */
    public static XgboostModel train(Matrix x, float[] targets, Params params, Objective objective) {
        try {
            DMatrix train = new DMatrix(x.values(), x.rows(), x.cols(), Float.NaN);
            try {
                train.setLabel(targets);
                Booster booster =
                        XGBoost.train(train, config(params, objective), params.rounds(), new HashMap<>(), null, null);
                booster.setParam("nthread", 1);
                return new XgboostModel(booster, x.cols());
            } finally {
                train.dispose();
            }
        } catch (XGBoostError e) {
            throw new ModelException("XGBoost training failed: " + e.getMessage(), e);
        }
    }

    /**
     * Trains on {@code x} for up to {@code params.rounds()} rounds, evaluating the validation rows
     * after each, and stops {@code patience} rounds after the best one. The booster is discarded:
     * only the curve's minimum matters (for tuning and for choosing the number of rounds).
     */
    public static EarlyStopping validate(
            Matrix x,
            float[] targets,
            Matrix validation,
            float[] validationTargets,
            Params params,
            Objective objective,
            int patience) {
        DMatrix train = null;
        DMatrix val = null;
        Booster booster = null;
        try {
            train = new DMatrix(x.values(), x.rows(), x.cols(), Float.NaN);
            train.setLabel(targets);
            val = new DMatrix(validation.values(), validation.rows(), validation.cols(), Float.NaN);
            val.setLabel(validationTargets);
            Map<String, DMatrix> watches = new HashMap<>();
            watches.put("val", val);
            booster = XGBoost.train(train, config(params, objective), 0, watches, null, null);
            DMatrix[] evalSets = {val};
            String[] evalNames = {"val"};
            float[] metric = new float[1];
            Booster growing = booster;
            DMatrix fit = train;
            return EarlyStopping.track(params.rounds(), patience, validation.rows(), round -> {
                growing.update(fit, round);
                growing.evalSet(evalSets, evalNames, round, metric);
                return objective == Objective.SQUARED_ERROR ? (double) metric[0] * metric[0] : metric[0];
            });
        } catch (XGBoostError e) {
            throw new ModelException("XGBoost training failed: " + e.getMessage(), e);
        } finally {
            if (booster != null) {
                booster.dispose();
            }
            if (val != null) {
                val.dispose();
            }
            if (train != null) {
                train.dispose();
            }
        }
    }

    private static Map<String, Object> config(Params params, Objective objective) {
        Map<String, Object> config = new HashMap<>();
        config.put("objective", objective.name);
        config.put("eval_metric", objective.metric);
        config.put("tree_method", "hist");
        config.put("max_depth", params.maxDepth());
        config.put("eta", params.eta());
        config.put("subsample", params.subsample());
        config.put("colsample_bytree", params.colsampleByTree());
        config.put("min_child_weight", params.minChildWeight());
        config.put("lambda", params.lambda());
        config.put("nthread", params.threads());
        config.put("seed", params.seed());
        config.put("verbosity", 0);
        return config;
    }

    public static XgboostModel load(byte[] model, int features) {
        try {
            Booster booster = XGBoost.loadModel(new ByteArrayInputStream(model));
            booster.setParam("nthread", 1);
            long actual = booster.getNumFeature();
            if (actual != features) {
                booster.dispose();
                throw new ModelException("XGBoost model has " + actual + " features, schema has " + features);
            }
            return new XgboostModel(booster, features);
        } catch (XGBoostError | java.io.IOException e) {
            throw new ModelException("cannot load XGBoost model: " + e.getMessage(), e);
        }
    }

    /** Writes the model in UBJSON (the path must end in .ubj), loadable by Python xgboost too. */
    public void save(Path file) {
        guard.call("save", () -> {
            booster.saveModel(file.toString());
            return null;
        });
    }

    /** Log-odds per row (the predicted value for a reg:squarederror booster). */
    public double[] margins(Matrix x) {
        checkWidth(x);
        // every batch size: on the lead bundle, in 1,000-row batches, the walker measured faster than
        // inplace_predict in every interleaved round (README, Benchmarks; TreeWalkBenchmark)
        if (forest != null) {
            guard.checkOpen();
            double[] margins = new double[x.rows()];
            forest.margins(x.values(), x.rows(), margins);
            return margins;
        }
        return nativeMargins(x);
    }

    /** Log-odds per row through XGBoost's in-place prediction (one native call). */
    public double[] nativeMargins(Matrix x) {
        checkWidth(x);
        float[][] out = guard.call(
                "prediction",
                () -> booster.inplace_predict(
                        x.values(), x.rows(), x.cols(), Float.NaN, ALL_TREES, Booster.PredictionType.kMargin, null));
        double[] margins = new double[x.rows()];
        for (int r = 0; r < margins.length; r++) {
            margins[r] = out[r][0];
        }
        return margins;
    }

    /**
     * TreeSHAP contributions in log-odds, row-major: per row one value per feature, then the bias.
     * Java TreeSHAP when it matched predictContrib at load, else XGBoost's.
     */
    public double[] contributions(Matrix x) {
        checkWidth(x);
        if (javaExplanations) {
            guard.checkOpen();
            return forest.contributions(x);
        }
        return nativeContributions(x);
    }

    /** XGBoost's own predictContrib, in the layout of {@link #contributions}. */
    public double[] nativeContributions(Matrix x) {
        checkWidth(x);
        return guard.call("contributions", () -> nativeContributions(booster, x.values(), x.rows(), x.cols()));
    }

    private static double[] nativeContributions(Booster booster, float[] values, int rows, int cols)
            throws XGBoostError {
        DMatrix matrix = new DMatrix(values, rows, cols, Float.NaN);
        try {
            float[][] contributions = booster.predictContrib(matrix, 0);
            double[] out = new double[rows * (cols + 1)];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c <= cols; c++) {
                    out[r * (cols + 1) + c] = contributions[r][c];
                }
            }
            return out;
        } finally {
            matrix.dispose();
        }
    }

    private void checkWidth(Matrix x) {
        if (x.cols() != features) {
            throw new IllegalArgumentException("expected " + features + " columns, got " + x.cols());
        }
    }

    @Override
    public void close() {
        guard.close(booster::dispose);
    }
}
