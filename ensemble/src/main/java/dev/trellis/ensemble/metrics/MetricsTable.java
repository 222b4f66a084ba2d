package dev.trellis.ensemble.metrics;

import java.util.Locale;
import java.util.Map;

/** Renders metrics of several models as a fixed-width text table, one model per row. */
public final class MetricsTable {
    private MetricsTable() {}

    public static String format(String title, Map<String, MetricSet> byModel) {
        StringBuilder out = new StringBuilder();
        MetricSet any = byModel.values().iterator().next();
        out.append(String.format(
                Locale.ROOT,
                "%s (%d rows, %d positives; acc/prec/rec/F1 at each model's threshold; top-%d hits)%n",
                title,
                any.rows(),
                any.positives(),
                any.topK()));
        out.append(String.format(
                Locale.ROOT,
                "%-9s %7s %7s %7s %8s %9s %7s %7s %7s %7s %6s%n",
                "model",
                "AUC",
                "PR-AUC",
                "Brier",
                "logloss",
                "threshold",
                "acc",
                "prec",
                "rec",
                "F1",
                "top-k"));
        for (Map.Entry<String, MetricSet> entry : byModel.entrySet()) {
            MetricSet m = entry.getValue();
            out.append(String.format(
                    Locale.ROOT,
                    "%-9s %7.4f %7.4f %7.4f %8.4f %9.4f %7.4f %7.4f %7.4f %7.4f %6d%n",
                    entry.getKey(),
                    m.aucRoc(),
                    m.prAuc(),
                    m.brier(),
                    m.logLoss(),
                    m.threshold(),
                    m.accuracy(),
                    m.precision(),
                    m.recall(),
                    m.f1(),
                    m.topKHits()));
        }
        return out.toString();
    }

    /** The regression form: RMSE, MAE and R² per model, with the predict-the-mean baseline. */
    public static String formatRegression(String title, Map<String, RegressionMetricSet> byModel) {
        StringBuilder out = new StringBuilder();
        RegressionMetricSet any = byModel.values().iterator().next();
        out.append(String.format(
                Locale.ROOT,
                "%s (%d rows; baseline = predict the training mean: RMSE %.4f, MAE %.4f)%n",
                title,
                any.rows(),
                any.baselineRmse(),
                any.baselineMae()));
        out.append(String.format(Locale.ROOT, "%-9s %10s %10s %8s %9s%n", "model", "RMSE", "MAE", "R2", "coverage"));
        for (Map.Entry<String, RegressionMetricSet> entry : byModel.entrySet()) {
            RegressionMetricSet m = entry.getValue();
            out.append(String.format(
                    Locale.ROOT,
                    "%-9s %10.4f %10.4f %8.4f %9s%n",
                    entry.getKey(),
                    m.rmse(),
                    m.mae(),
                    m.r2(),
                    Double.isNaN(m.coverage()) ? "-" : String.format(Locale.ROOT, "%.4f", m.coverage())));
        }
        return out.toString();
    }
}
