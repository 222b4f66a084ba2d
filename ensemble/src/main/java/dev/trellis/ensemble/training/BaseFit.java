package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.MlpScaling;
import dev.trellis.ensemble.data.TargetScaling;
import dev.trellis.ensemble.model.EarlyStopping;
import dev.trellis.ensemble.model.LightgbmModel;
import dev.trellis.ensemble.model.MlpModel;
import dev.trellis.ensemble.model.XgboostModel;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import java.util.Map;

/**
 * Fits one base model on some rows of a {@link TrainingData}, with one native thread, for either
 * kind of target: XGBoost binary:logistic or reg:squarederror, LightGBM binary or regression, the MLP
 * with a sigmoid or (on the standardized target) an identity output. Outputs are in link space:
 * log-odds for a binary target, predicted values for a continuous one. Same rows, settings and seed
 * → same model. Stateless.
 */
final class BaseFit {
    static final String XGBOOST = StackedEnsemble.BASE_MODELS.get(0);
    static final String LIGHTGBM = StackedEnsemble.BASE_MODELS.get(1);
    static final String MLP = StackedEnsemble.BASE_MODELS.get(2);

    private BaseFit() {}

    /** A fitted base model; for the MLP, with the input encoding and target scaling it was fit with. */
    static final class Fitted implements AutoCloseable {
        final String name;
        final XgboostModel xgboost;
        final LightgbmModel lightgbm;
        final MlpModel mlp;
        final MlpEncoder encoder;
        final TargetScaling targetScaling;

        private Fitted(
                String name,
                XgboostModel xgboost,
                LightgbmModel lightgbm,
                MlpModel mlp,
                MlpEncoder encoder,
                TargetScaling targetScaling) {
            this.name = requireNonNull(name, "name is null");
            this.xgboost = xgboost;
            this.lightgbm = lightgbm;
            this.mlp = mlp;
            this.encoder = encoder;
            this.targetScaling = targetScaling;
        }

        /** Link-space outputs for rows of {@code data}. */
        double[] predict(TrainingData data, int[] rows) {
            if (xgboost != null) {
                return xgboost.margins(data.trees(rows));
            }
            if (lightgbm != null) {
                return lightgbm.rawScores(data.trees(rows));
            }
            double[] out = mlp.logits(encoder.encode(data.subset(rows).features()));
            for (int i = 0; i < out.length; i++) {
                out[i] = targetScaling.restore(out[i]);
            }
            return out;
        }

        @Override
        public void close() {
            if (xgboost != null) {
                xgboost.close();
            }
            if (lightgbm != null) {
                lightgbm.close();
            }
        }
    }

    static Fitted fit(String name, TrainingData data, int[] rows, Hyperparameters params, long seed) {
        boolean binary = data.kind() == TargetKind.BINARY;
        if (name.equals(XGBOOST)) {
            return new Fitted(
                    name,
                    XgboostModel.train(
                            data.trees(rows),
                            data.targets(rows),
                            xgboost(params.xgboost(), seed),
                            xgboostObjective(binary)),
                    null,
                    null,
                    null,
                    TargetScaling.IDENTITY);
        }
        if (name.equals(LIGHTGBM)) {
            return new Fitted(
                    name,
                    null,
                    LightgbmModel.train(
                            data.trees(rows),
                            data.targets(rows),
                            data.treeEncoder().categoricalColumns(),
                            lightgbm(params.lightgbm(), seed),
                            lightgbmObjective(binary)),
                    null,
                    null,
                    TargetScaling.IDENTITY);
        }
        Dataset fitData = data.subset(rows);
        MlpEncoder encoder = encoder(fitData, params.mlp());
        TargetScaling scaling = binary ? TargetScaling.IDENTITY : TargetScaling.fit(fitData.targets());
        MlpModel mlp = MlpModel.train(
                encoder.encode(fitData.features()),
                mlpTargets(fitData.targets(), scaling),
                mlp(params.mlp(), seed),
                mlpObjective(binary));
        return new Fitted(name, null, null, mlp, encoder, scaling);
    }

    /**
     * Fits on {@code fitRows} while watching the loss on {@code validationRows}, and reports the best
     * number of rounds (epochs) and its loss: mean log loss, or mean squared error in the target's
     * units. The caps on rounds and epochs are the settings' own {@code rounds} / {@code epochs}.
     */
    static EarlyStopping validate(
            String name,
            TrainingData data,
            int[] fitRows,
            int[] validationRows,
            Hyperparameters params,
            long seed,
            int patience) {
        boolean binary = data.kind() == TargetKind.BINARY;
        if (name.equals(XGBOOST)) {
            return XgboostModel.validate(
                    data.trees(fitRows),
                    data.targets(fitRows),
                    data.trees(validationRows),
                    data.targets(validationRows),
                    xgboost(params.xgboost(), seed),
                    xgboostObjective(binary),
                    patience);
        }
        if (name.equals(LIGHTGBM)) {
            return LightgbmModel.validate(
                    data.trees(fitRows),
                    data.targets(fitRows),
                    data.trees(validationRows),
                    data.targets(validationRows),
                    data.treeEncoder().categoricalColumns(),
                    lightgbm(params.lightgbm(), seed),
                    lightgbmObjective(binary),
                    patience);
        }
        Dataset fitData = data.subset(fitRows);
        Dataset validation = data.subset(validationRows);
        MlpEncoder encoder = encoder(fitData, params.mlp());
        TargetScaling scaling = binary ? TargetScaling.IDENTITY : TargetScaling.fit(fitData.targets());
        EarlyStopping stopping = MlpModel.validate(
                encoder.encode(fitData.features()),
                mlpTargets(fitData.targets(), scaling),
                encoder.encode(validation.features()),
                mlpTargets(validation.targets(), scaling),
                mlp(params.mlp(), seed),
                mlpObjective(binary),
                patience);
        // the network saw standardized targets: report the squared error in the target's units
        double scale = scaling.std() * scaling.std();
        return new EarlyStopping(stopping.bestIterations(), stopping.bestLoss() * scale, stopping.validationRows());
    }

    static MlpEncoder encoder(Dataset fitData, Hyperparameters.Mlp settings) {
        Map<String, double[]> levels = settings.inputs().equals(Hyperparameters.ORDINAL_ONE_HOT)
                ? MlpEncoder.ordinalLevels(fitData.features())
                : Map.of();
        return new MlpEncoder(fitData.schema(), MlpScaling.fit(fitData.features()), levels);
    }

    private static float[] mlpTargets(double[] targets, TargetScaling scaling) {
        float[] out = new float[targets.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) scaling.standardize(targets[i]);
        }
        return out;
    }

    private static XgboostModel.Params xgboost(Hyperparameters.Xgboost s, long seed) {
        return new XgboostModel.Params(
                s.rounds(),
                s.maxDepth(),
                s.eta(),
                s.subsample(),
                s.colsample(),
                s.minChildWeight(),
                s.lambda(),
                1,
                seed);
    }

    private static LightgbmModel.Params lightgbm(Hyperparameters.Lightgbm s, long seed) {
        return new LightgbmModel.Params(
                s.rounds(),
                s.numLeaves(),
                -1,
                s.learningRate(),
                s.minDataInLeaf(),
                s.featureFraction(),
                s.baggingFraction(),
                s.lambdaL2(),
                1,
                seed);
    }

    private static MlpModel.Params mlp(Hyperparameters.Mlp s, long seed) {
        return new MlpModel.Params(s.epochs(), s.batchSize(), s.learningRate(), s.l2(), s.dropout(), seed);
    }

    private static XgboostModel.Objective xgboostObjective(boolean binary) {
        return binary ? XgboostModel.Objective.LOGISTIC : XgboostModel.Objective.SQUARED_ERROR;
    }

    private static LightgbmModel.Objective lightgbmObjective(boolean binary) {
        return binary ? LightgbmModel.Objective.BINARY : LightgbmModel.Objective.REGRESSION;
    }

    private static MlpModel.Objective mlpObjective(boolean binary) {
        return binary ? MlpModel.Objective.LOGISTIC : MlpModel.Objective.SQUARED_ERROR;
    }
}
