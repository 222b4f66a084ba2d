package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

/**
 * A model and the outcome metric that is its label, whose live-performance gauges the router keeps
 * fresh ({@code --performance-metric churn=churned}).
 */
public record TrackedMetric(String model, String metric) {
    public TrackedMetric {
        requireNonNull(model, "model is null");
        requireNonNull(metric, "metric is null");
        if (model.isBlank() || metric.isBlank()) {
            throw new IllegalArgumentException("--performance-metric needs MODEL=METRIC, e.g. churn=churned");
        }
    }

    /** Parses {@code model=metric}. */
    public static TrackedMetric parse(String text) {
        int equals = text.indexOf('=');
        if (equals < 0) {
            throw new IllegalArgumentException(
                    "--performance-metric '" + text + "': expected MODEL=METRIC, e.g. churn=churned");
        }
        return new TrackedMetric(
                text.substring(0, equals).trim(), text.substring(equals + 1).trim());
    }

    @Override
    public String toString() {
        return model + "=" + metric;
    }
}
