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
 * An XGBoost booster: binary:logistic (margins are log-odds) or reg:squarederror (margins are the
 * predicted values). Scoring uses in-place prediction on a row-major float matrix (one native call
 * per batch) in margin space, so logits are exact. The booster runs one native
 * thread per call; XGBoost's predictors are thread-safe. Thread-safe.
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

    /** Batches up to this many rows are scored by the Java tree walker, larger ones natively. */
    public static final int JAVA_PATH_MAX_ROWS = 32;
    /** Largest allowed difference in margin between the Java walker and XGBoost when verifying. */
    public static final double VERIFY_TOLERANCE = 1e-4;

    private final Booster booster;
    private final int features;
    private final XgboostTrees trees; // null when the model cannot be walked in Java
    private final String javaPathProblem; // why trees is null, or null
    // predictions hold the read lock so that close() never frees the booster under a native call
    private final NativeGuard guard = new NativeGuard("XGBoost");

    private XgboostModel(Booster booster, int features) {
        this.booster = requireNonNull(booster, "booster is null");
        this.features = features;
        JavaPath path = javaTrees(booster, features);
        this.trees = path.trees();
        this.javaPathProblem = path.problem();
        if (trees == null) {
            // once per model: every small batch of this model now pays the native call's fixed cost
            log.warn(
                    "XGBoost Java tree walker disabled for this model ({}); batches of up to {} rows use native"
                            + " prediction",
                    javaPathProblem,
                    JAVA_PATH_MAX_ROWS);
        }
    }

    /** The verified Java walker ({@code trees}), or why there is none ({@code problem}). */
    private record JavaPath(XgboostTrees trees, String problem) {
        static JavaPath disabled(String problem) {
            return new JavaPath(null, problem);
        }
    }

    /** The Java walker for this booster, unless it cannot be built or disagrees with XGBoost. */
    private static JavaPath javaTrees(Booster booster, int features) {
        XgboostTrees trees;
        try {
            java.io.ByteArrayOutputStream json = new java.io.ByteArrayOutputStream();
            booster.saveModel(json, "json");
            trees = XgboostTrees.parse(json.toByteArray());
        } catch (XGBoostError | java.io.IOException | RuntimeException e) {
            return JavaPath.disabled("cannot read the trees: " + e.getMessage());
        }
        if (trees.features() != features) {
            return JavaPath.disabled("the trees use " + trees.features() + " features, the model " + features);
        }
        // probe rows: each feature random around the model's own split points, a fifth missing
        int rows = 64;
        float[] probe = new float[rows * features];
        java.util.Random random = new java.util.Random(11);
        for (int i = 0; i < probe.length; i++) {
            probe[i] = random.nextInt(5) == 0 ? Float.NaN : (float) (random.nextGaussian() * 50);
        }
        try {
            float[][] expected = booster.inplace_predict(
                    probe, rows, features, Float.NaN, ALL_TREES, Booster.PredictionType.kMargin, null);
            for (int r = 0; r < rows; r++) {
                double difference = Math.abs(trees.margin(probe, r, features) - expected[r][0]);
                if (!(difference <= VERIFY_TOLERANCE)) {
                    return JavaPath.disabled("it differs from XGBoost by " + difference + " on probe row " + r);
                }
            }
        } catch (XGBoostError e) {
            return JavaPath.disabled("cannot verify it against XGBoost: " + e.getMessage());
        }
        return new JavaPath(trees, null);
    }

    /** Whether small batches use the verified Java tree walker. */
    public boolean hasJavaPath() {
        return trees != null;
    }

    /** Why the Java tree walker is disabled for this model; empty when it is used. */
    public java.util.Optional<String> javaPathProblem() {
        return java.util.Optional.ofNullable(javaPathProblem);
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
        if (trees != null && x.rows() <= JAVA_PATH_MAX_ROWS) {
            guard.checkOpen();
            double[] margins = new double[x.rows()];
            for (int r = 0; r < margins.length; r++) {
                margins[r] = trees.margin(x.values(), r, x.cols());
            }
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

    /** TreeSHAP contributions in log-odds: per row, one value per feature then the bias. */
    public float[][] contributions(Matrix x) {
        checkWidth(x);
        return guard.call("contributions", () -> {
            DMatrix matrix = new DMatrix(x.values(), x.rows(), x.cols(), Float.NaN);
            try {
                return booster.predictContrib(matrix, 0);
            } finally {
                matrix.dispose();
            }
        });
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
