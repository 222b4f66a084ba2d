package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.metrics.Metrics;
import java.util.List;
import java.util.Locale;

/**
 * Chooses the meta-learner on out-of-fold base outputs so that the ensemble never loses to its
 * parts there. The stacked fit (non-negative weights) is kept when its out-of-fold AUC is at least
 * the best base model's and its log loss at most the best base model's (for a continuous target:
 * its RMSE at most the best base model's); otherwise the ensemble falls back to the single base
 * model with the best AUC (lowest RMSE), recalibrated by a one-input logistic (linear) fit, which
 * keeps that model's ranking and cannot raise its log loss (squared error). Both are decided on the
 * same out-of-fold rows that the training report prints, so the report holds by construction.
 */
public final class MetaSelection {
    /** A stacked combination of the base models. */
    public static final String STACKED = "stacked";
    /** One base model alone, recalibrated. */
    public static final String SINGLE = "single";

    private MetaSelection() {}

    /**
     * Which meta-learner was chosen and why.
     *
     * @param kind {@link #STACKED} or {@link #SINGLE}
     * @param base the base model kept alone, or "" when stacked
     * @param reason one line for the training report
     */
    public record Choice(String kind, String base, String reason) {
        public Choice {
            requireNonNull(kind, "kind is null");
            requireNonNull(base, "base is null");
            requireNonNull(reason, "reason is null");
        }
    }

    /** The chosen meta-learner and the ensemble's out-of-fold scores under it. */
    public record Selection(MetaModel meta, Choice choice, double[] scores) {}

    /**
     * @param logits out-of-fold base logits, one column per base model in {@code names} order
     * @param nonNegative constrain the stacked weights to be non-negative (otherwise plain IRLS)
     * @param fallback allow falling back to the single best base model
     */
    public static Selection binary(
            double[][] logits, int[] labels, List<String> names, double l2, boolean nonNegative, boolean fallback) {
        int k = names.size();
        MetaLearner stacked =
                nonNegative ? MetaLearner.fitNonNegative(logits, labels, l2) : MetaLearner.fit(logits, labels, l2);
        double[] stackedScores = scores(stacked, logits);
        double stackedAuc = Metrics.aucRoc(stackedScores, labels);
        double stackedLoss = logLoss(stackedScores, labels);
        int bestAucModel = 0;
        int bestLossModel = 0;
        double[] auc = new double[k];
        double[] loss = new double[k];
        for (int m = 0; m < k; m++) {
            double[] p = new double[logits.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = MetaLearner.sigmoid(logits[i][m]);
            }
            auc[m] = Metrics.aucRoc(p, labels);
            loss[m] = logLoss(p, labels);
            if (auc[m] > auc[bestAucModel] || (auc[m] == auc[bestAucModel] && loss[m] < loss[bestAucModel])) {
                bestAucModel = m;
            }
            if (loss[m] < loss[bestLossModel]) {
                bestLossModel = m;
            }
        }
        String against = String.format(
                Locale.ROOT,
                "out-of-fold AUC %.4f vs best base %.4f (%s), log loss %.4f vs best base %.4f (%s)",
                stackedAuc,
                auc[bestAucModel],
                names.get(bestAucModel),
                stackedLoss,
                loss[bestLossModel],
                names.get(bestLossModel));
        boolean stackedHolds = stackedAuc >= auc[bestAucModel] && stackedLoss <= loss[bestLossModel];
        if (stackedHolds || !fallback) {
            return new Selection(
                    stacked,
                    new Choice(STACKED, "", (stackedHolds ? "stacked: " : "stacked (no fallback): ") + against),
                    stackedScores);
        }
        MetaLearner single;
        try {
            single = MetaLearner.fitColumns(logits, labels, 0, bestAucModel);
        } catch (ArithmeticException e) {
            single = null;
        }
        if (single == null || !(single.weights()[bestAucModel] > 0)) {
            // separable or inverted: keep the base model's own probabilities
            double[] weights = new double[k];
            weights[bestAucModel] = 1;
            single = new MetaLearner(0, weights, new double[k + 1][k + 1]);
        }
        double[] singleScores = scores(single, logits);
        double singleLoss = logLoss(singleScores, labels);
        // both keep the best AUC when the stacked fit does; then the lower log loss wins
        if (stackedAuc >= auc[bestAucModel] && stackedLoss <= singleLoss) {
            return new Selection(
                    stacked, new Choice(STACKED, "", "stacked (best available): " + against), stackedScores);
        }
        String reason = String.format(
                Locale.ROOT,
                "fell back to %s alone (recalibrated, log loss %.4f): stacked %s",
                names.get(bestAucModel),
                singleLoss,
                against);
        return new Selection(single, new Choice(SINGLE, names.get(bestAucModel), reason), singleScores);
    }

    /**
     * @param predictions out-of-fold base predictions, one column per base model in {@code names} order
     * @param fallback allow falling back to the single best base model
     */
    public static Selection regression(double[][] predictions, double[] targets, List<String> names, boolean fallback) {
        int k = names.size();
        LinearMetaLearner stacked = LinearMetaLearner.fitNonNegative(predictions, targets);
        double stackedRmse = rmse(stacked, predictions, targets);
        int best = 0;
        double[] rmse = new double[k];
        for (int m = 0; m < k; m++) {
            double sse = 0;
            for (int i = 0; i < targets.length; i++) {
                sse += (predictions[i][m] - targets[i]) * (predictions[i][m] - targets[i]);
            }
            rmse[m] = Math.sqrt(sse / targets.length);
            if (rmse[m] < rmse[best]) {
                best = m;
            }
        }
        String against = String.format(
                Locale.ROOT, "out-of-fold RMSE %.4f vs best base %.4f (%s)", stackedRmse, rmse[best], names.get(best));
        MetaModel chosen;
        Choice choice;
        if (stackedRmse <= rmse[best] || !fallback) {
            chosen = stacked.withResiduals(predictions, targets);
            choice = new Choice(STACKED, "", "stacked: " + against);
        } else {
            LinearMetaLearner single = LinearMetaLearner.fitColumns(predictions, targets, best);
            chosen = single.withResiduals(predictions, targets);
            choice = new Choice(
                    SINGLE,
                    names.get(best),
                    String.format(
                            Locale.ROOT,
                            "fell back to %s alone (recalibrated, RMSE %.4f): stacked %s",
                            names.get(best),
                            rmse(single, predictions, targets),
                            against));
        }
        return new Selection(chosen, choice, scores(chosen, predictions));
    }

    private static double[] scores(MetaModel meta, double[][] z) {
        double[] scores = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            scores[i] = meta.score(meta.link(z[i]));
        }
        return scores;
    }

    private static double logLoss(double[] p, int[] labels) {
        return Metrics.compute(p, labels, 0.5, 1).logLoss();
    }

    private static double rmse(MetaModel meta, double[][] predictions, double[] targets) {
        return Math.sqrt(LinearMetaLearner.sse(meta, predictions, targets) / targets.length);
    }
}
