package dev.trellis.ensemble.model;

import static java.util.Objects.requireNonNull;

import com.microsoft.ml.lightgbm.PredictionType;
import com.microsoft.ml.lightgbm.SWIGTYPE_p_double;
import com.microsoft.ml.lightgbm.SWIGTYPE_p_int;
import com.microsoft.ml.lightgbm.SWIGTYPE_p_long_long;
import com.microsoft.ml.lightgbm.SWIGTYPE_p_p_void;
import com.microsoft.ml.lightgbm.lightgbmlib;
import com.microsoft.ml.lightgbm.lightgbmlibConstants;
import dev.trellis.ensemble.data.Matrix;
import io.github.metarank.lightgbm4j.LGBMBooster;
import io.github.metarank.lightgbm4j.LGBMDataset;
import io.github.metarank.lightgbm4j.LGBMException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LightGBM booster, binary (raw scores are log-odds) or regression (raw scores are the predicted
 * values). Scoring and explanations walk the model's trees in Java ({@link Forest}, read from
 * lightgbm.txt), checked against LightGBM when the model loads: raw scores within
 * {@link #VERIFY_TOLERANCE}, contributions within {@link ForestCheck#CONTRIBUTION_TOLERANCE}. A
 * model that fails a check keeps LightGBM for that part: batches use {@code
 * LGBM_BoosterPredictForMat} (one native call, one thread); single rows use LightGBM's fast
 * single-row predictor, with one {@code FastConfig} per calling thread because a FastConfig must not
 * be shared between threads.
 * Thread-safe; {@link #close()} waits for calls in flight.
 */
public final class LightgbmModel implements AutoCloseable {
    public record Params(
            int rounds,
            int numLeaves,
            int maxDepth,
            double learningRate,
            int minDataInLeaf,
            double featureFraction,
            double baggingFraction,
            double lambdaL2,
            int threads,
            long seed) {}

    private static final String PREDICT_PARAMS = "num_threads=1";
    /**
     * Batches up to this many rows go row by row through the fast single-row predictor; larger ones
     * through one LGBM_BoosterPredictForMat call. Measured on the churn bundle (300 trees, 2-core VM):
     * one row costs ~5 µs on the fast path and ~11 µs as a one-row batch call; from a few rows up
     * both paths cost the same per row (~11 µs), so batches keep the single native call.
     */
    public static final int FAST_PATH_MAX_ROWS = 1;
    /** Largest allowed difference in raw score between the Java walker and LightGBM when verifying. */
    public static final double VERIFY_TOLERANCE = 1e-6;

    private static final Logger log = LoggerFactory.getLogger(LightgbmModel.class);

    static {
        LightgbmNative.ensureLoaded();
    }

    private final LGBMBooster booster;
    private final String modelText;
    private final int features;
    // a second native handle owned here, for the fast single-row path (lightgbm4j keeps its own private)
    private final SWIGTYPE_p_p_void fastHandle;
    private final Queue<FastState> fastStates = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<FastState> fastState = new ThreadLocal<>();
    private final NativeGuard guard = new NativeGuard("LightGBM");
    private final Forest forest; // null when the model cannot be walked in Java
    private final boolean javaExplanations;

    private static final class FastState {
        final SWIGTYPE_p_p_void config;
        final SWIGTYPE_p_long_long outLength = lightgbmlib.new_int64_tp();
        final SWIGTYPE_p_double out = lightgbmlib.new_doubleArray(1);
        final double[] row;

        FastState(SWIGTYPE_p_p_void config, int features) {
            this.config = config;
            this.row = new double[features];
        }
    }

    private LightgbmModel(LGBMBooster booster, String modelText, int features) {
        this.booster = requireNonNull(booster, "booster is null");
        this.modelText = requireNonNull(modelText, "modelText is null");
        this.features = features;
        this.forest = javaForest(booster, modelText, features);
        this.javaExplanations = forest != null
                && ForestCheck.explanationsAgree(
                        "LightGBM",
                        forest,
                        (probe, rows) -> booster.predictForMat(
                                probe, rows, features, true, PredictionType.C_API_PREDICT_CONTRIB, PREDICT_PARAMS));
        SWIGTYPE_p_p_void handle = lightgbmlib.voidpp_handle();
        SWIGTYPE_p_int iterations = lightgbmlib.new_intp();
        try {
            check(lightgbmlib.LGBM_BoosterLoadModelFromString(modelText, iterations, handle), "load model");
        } finally {
            lightgbmlib.delete_intp(iterations);
        }
        this.fastHandle = handle;
    }

    /** What the booster learns: a binary target (raw scores are log-odds) or a continuous one. */
    public enum Objective {
        BINARY("binary", "binary_logloss"),
        REGRESSION("regression", "l2");

        private final String name;
        private final String metric;

        Objective(String name, String metric) {
            this.name = name;
            this.metric = metric;
        }
    }

    /** A binary booster on 0/1 labels. */
    public static LightgbmModel train(Matrix x, float[] labels, int[] categoricalColumns, Params params) {
        return train(x, labels, categoricalColumns, params, Objective.BINARY);
    }

    /** A booster of up to {@code params.rounds()} rounds; raw scores are log-odds or predicted values. */
    public static LightgbmModel train(
            Matrix x, float[] targets, int[] categoricalColumns, Params params, Objective objective) {
        String datasetParams = datasetParams(categoricalColumns);
        try (LGBMDataset dataset =
                LGBMDataset.createFromMat(x.values(), x.rows(), x.cols(), true, datasetParams, null)) {
            dataset.setField("label", targets);
            try (LGBMBooster training = LGBMBooster.create(dataset, boosterParams(params, objective, datasetParams))) {
                for (int i = 0; i < params.rounds(); i++) {
                    if (training.updateOneIter()) {
                        break;
                    }
                }
                String text = training.saveModelToString(0, 0, LGBMBooster.FeatureImportanceType.SPLIT);
                return load(text, x.cols());
            }
        } catch (LGBMException e) {
            throw new ModelException("LightGBM training failed: " + e.getMessage(), e);
        }
    }

    /**
     * Trains on {@code x} for up to {@code params.rounds()} rounds, evaluating the validation rows
     * after each, and stops {@code patience} rounds after the best one. The booster is discarded.
     * The loss is the mean log loss (binary) or mean squared error (regression).
     */
    public static EarlyStopping validate(
            Matrix x,
            float[] targets,
            Matrix validation,
            float[] validationTargets,
            int[] categoricalColumns,
            Params params,
            Objective objective,
            int patience) {
        String datasetParams = datasetParams(categoricalColumns);
        try (LGBMDataset dataset =
                        LGBMDataset.createFromMat(x.values(), x.rows(), x.cols(), true, datasetParams, null);
                LGBMDataset val = LGBMDataset.createFromMat(
                        validation.values(), validation.rows(), validation.cols(), true, datasetParams, dataset)) {
            dataset.setField("label", targets);
            val.setField("label", validationTargets);
            try (LGBMBooster training = LGBMBooster.create(dataset, boosterParams(params, objective, datasetParams))) {
                training.addValidData(val);
                // a booster that can no longer split keeps its loss, so patience ends the curve
                return EarlyStopping.track(params.rounds(), patience, validation.rows(), round -> {
                    training.updateOneIter();
                    return training.getEval(1)[0];
                });
            }
        } catch (LGBMException e) {
            throw new ModelException("LightGBM training failed: " + e.getMessage(), e);
        }
    }

    private static String datasetParams(int[] categoricalColumns) {
        return "max_bin=255 verbose=-1"
                + (categoricalColumns.length == 0
                        ? ""
                        : " categorical_feature="
                                + Arrays.stream(categoricalColumns)
                                        .mapToObj(Integer::toString)
                                        .collect(Collectors.joining(",")));
    }

    private static String boosterParams(Params params, Objective objective, String datasetParams) {
        return String.format(
                Locale.ROOT,
                "objective=%s metric=%s deterministic=true force_row_wise=true seed=%d num_threads=%d learning_rate=%s"
                        + " num_leaves=%d max_depth=%d min_data_in_leaf=%d feature_fraction=%s bagging_fraction=%s"
                        + " bagging_freq=%d lambda_l2=%s verbose=-1 %s",
                objective.name,
                objective.metric,
                params.seed(),
                params.threads(),
                params.learningRate(),
                params.numLeaves(),
                params.maxDepth(),
                params.minDataInLeaf(),
                params.featureFraction(),
                params.baggingFraction(),
                params.baggingFraction() < 1 ? 1 : 0,
                params.lambdaL2(),
                datasetParams);
    }

    public static LightgbmModel load(String modelText, int features) {
        try {
            LGBMBooster booster = LGBMBooster.loadModelFromString(modelText);
            if (booster.getNumFeature() != features) {
                int actual = booster.getNumFeature();
                booster.close();
                throw new ModelException("LightGBM model has " + actual + " features, schema has " + features);
            }
            return new LightgbmModel(booster, modelText, features);
        } catch (LGBMException e) {
            throw new ModelException("cannot load LightGBM model: " + e.getMessage(), e);
        }
    }

    /** The Java walker for this model, or null if it cannot be built or disagrees with LightGBM. */
    private static Forest javaForest(LGBMBooster booster, String modelText, int features) {
        Forest forest;
        try {
            forest = LightgbmTrees.parse(modelText);
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("LightGBM model: no Java tree walker ({}); scoring goes native", e.getMessage());
            return null;
        }
        return ForestCheck.verifiedWalker(
                "LightGBM",
                forest,
                features,
                (probe, rows) -> booster.predictForMat(
                        probe, rows, features, true, PredictionType.C_API_PREDICT_RAW_SCORE, PREDICT_PARAMS),
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

    public String modelText() {
        return modelText;
    }

    /**
     * Log-odds per row: the verified Java walker; without one, one native call for the batch, or the
     * fast single-row path for one row.
     */
    public double[] rawScores(Matrix x) {
        checkWidth(x);
        if (forest != null) {
            guard.checkOpen();
            double[] out = new double[x.rows()];
            forest.margins(x.values(), x.rows(), out);
            return out;
        }
        return nativeRawScores(x);
    }

    /** Log-odds per row through LightGBM: the fast single-row path for one row, else one batch call. */
    public double[] nativeRawScores(Matrix x) {
        checkWidth(x);
        return guard.call("prediction", () -> {
            if (x.rows() <= FAST_PATH_MAX_ROWS) {
                double[] out = new double[x.rows()];
                for (int r = 0; r < out.length; r++) {
                    out[r] = predictOne(x.values(), r * x.cols());
                }
                return out;
            }
            return booster.predictForMat(
                    x.values(), x.rows(), x.cols(), true, PredictionType.C_API_PREDICT_RAW_SCORE, PREDICT_PARAMS);
        });
    }

    /** Log-odds per row through the native batch path only (used to verify the other paths). */
    public double[] rawScoresBatchPath(Matrix x) {
        checkWidth(x);
        return guard.call(
                "prediction",
                () -> booster.predictForMat(
                        x.values(), x.rows(), x.cols(), true, PredictionType.C_API_PREDICT_RAW_SCORE, PREDICT_PARAMS));
    }

    /**
     * TreeSHAP contributions in log-odds, row-major: per row one value per feature, then the bias.
     * Java TreeSHAP when it matched LightGBM at load, else LightGBM's.
     */
    public double[] contributions(Matrix x) {
        checkWidth(x);
        if (javaExplanations) {
            guard.checkOpen();
            return forest.contributions(x);
        }
        return nativeContributions(x);
    }

    /** LightGBM's own contributions, in the layout of {@link #contributions}. */
    public double[] nativeContributions(Matrix x) {
        checkWidth(x);
        return guard.call(
                "contributions",
                () -> booster.predictForMat(
                        x.values(), x.rows(), x.cols(), true, PredictionType.C_API_PREDICT_CONTRIB, PREDICT_PARAMS));
    }

    private double predictOne(float[] values, int offset) {
        FastState state = fastState.get();
        if (state == null) {
            SWIGTYPE_p_p_void config = lightgbmlib.voidpp_handle();
            check(
                    lightgbmlib.LGBM_BoosterPredictForMatSingleRowFastInit(
                            lightgbmlib.voidpp_value(fastHandle),
                            lightgbmlibConstants.C_API_PREDICT_RAW_SCORE,
                            0,
                            -1,
                            lightgbmlibConstants.C_API_DTYPE_FLOAT64,
                            features,
                            PREDICT_PARAMS,
                            config),
                    "init fast single-row prediction");
            state = new FastState(config, features);
            fastStates.add(state);
            fastState.set(state);
        }
        for (int i = 0; i < features; i++) {
            state.row[i] = values[offset + i];
        }
        check(
                lightgbmlib.LGBM_BoosterPredictForMatSingleRowFastCriticalSWIG(
                        state.row, lightgbmlib.voidpp_value(state.config), state.outLength, state.out),
                "fast single-row prediction");
        return lightgbmlib.doubleArray_getitem(state.out, 0);
    }

    private static void check(int result, String what) {
        if (result != 0) {
            throw new ModelException("LightGBM " + what + " failed: " + lightgbmlib.LGBM_GetLastError());
        }
    }

    private void checkWidth(Matrix x) {
        if (x.cols() != features) {
            throw new IllegalArgumentException("expected " + features + " columns, got " + x.cols());
        }
    }

    @Override
    public void close() {
        guard.close(() -> {
            FastState state;
            while ((state = fastStates.poll()) != null) {
                lightgbmlib.LGBM_FastConfigFree(lightgbmlib.voidpp_value(state.config));
                lightgbmlib.delete_voidpp(state.config);
                lightgbmlib.delete_int64_tp(state.outLength);
                lightgbmlib.delete_doubleArray(state.out);
            }
            lightgbmlib.LGBM_BoosterFree(lightgbmlib.voidpp_value(fastHandle));
            lightgbmlib.delete_voidpp(fastHandle);
            booster.close();
        });
    }
}
