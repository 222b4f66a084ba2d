package dev.trellis.ensemble.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Quality of one model's scores on one set of rows. Classification metrics (accuracy, precision,
 * recall, F1) are at {@code threshold}: a row is predicted positive when its score is at or above it.
 */
public record MetricSet(
        int rows,
        int positives,
        double aucRoc,
        double prAuc,
        double brier,
        double logLoss,
        double threshold,
        double accuracy,
        double precision,
        double recall,
        double f1,
        int topK,
        int topKHits) {
    public Map<String, Double> toMap() {
        Map<String, Double> map = new LinkedHashMap<>();
        map.put("rows", (double) rows);
        map.put("positives", (double) positives);
        map.put("auc_roc", aucRoc);
        map.put("pr_auc", prAuc);
        map.put("brier", brier);
        map.put("log_loss", logLoss);
        map.put("threshold", threshold);
        map.put("accuracy", accuracy);
        map.put("precision", precision);
        map.put("recall", recall);
        map.put("f1", f1);
        map.put("top_k", (double) topK);
        map.put("top_k_hits", (double) topKHits);
        return map;
    }

    public static MetricSet fromMap(Map<String, Double> map) {
        return new MetricSet(
                map.get("rows").intValue(),
                map.get("positives").intValue(),
                map.get("auc_roc"),
                map.get("pr_auc"),
                map.get("brier"),
                map.get("log_loss"),
                map.get("threshold"),
                map.get("accuracy"),
                map.get("precision"),
                map.get("recall"),
                map.get("f1"),
                map.get("top_k").intValue(),
                map.get("top_k_hits").intValue());
    }
}
