package dev.trellis.modelserver;

import dev.trellis.common.sched.BulkThreads;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.Predictions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A hand-written ensemble with a known formula: logit = bias + 0.1·tenure + 0.01·monthly_charges
 * + 0.5·[plan = premium], missing values contributing 0. Records batch sizes; can be held at a gate
 * to keep requests in flight. Thread-safe.
 */
public final class FakeEnsemble implements Ensemble {
    public static final FeatureSchema SCHEMA = new FeatureSchema(
            List.of(
                    Feature.numeric("tenure"),
                    Feature.numeric("monthly_charges"),
                    Feature.categorical("plan", List.of("basic", "premium"))),
            "churned",
            List.of("customer_id"));
    public static final List<String> BASE_MODELS = List.of("xgboost", "lightgbm", "mlp");

    private final double bias;
    private final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
    private final List<Boolean> explained = new CopyOnWriteArrayList<>();
    private final List<Integer> nices = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile CountDownLatch gate = new CountDownLatch(0);

    public FakeEnsemble(double bias) {
        this.bias = bias;
    }

    @Override
    public FeatureSchema schema() {
        return SCHEMA;
    }

    @Override
    public List<String> baseModels() {
        return BASE_MODELS;
    }

    public static double logit(double bias, double tenure, double charges, String plan) {
        return bias + 0.1 * zeroIfMissing(tenure) + 0.01 * zeroIfMissing(charges) + ("premium".equals(plan) ? 0.5 : 0);
    }

    public static double sigmoid(double logit) {
        return 1 / (1 + Math.exp(-logit));
    }

    @Override
    public Predictions predict(FeatureBatch batch, boolean explain) {
        try {
            if (!gate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never opened");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (closed.get()) {
            throw new IllegalStateException("closed");
        }
        nices.add(BulkThreads.currentNice());
        int rows = batch.rows();
        batchSizes.add(rows);
        explained.add(explain);
        double[] score = new double[rows];
        String[] label = new String[rows];
        double[] lower = new double[rows];
        double[] upper = new double[rows];
        double[] agreement = new double[rows];
        double[][] base = new double[rows][];
        double[][] contributions = new double[rows][];
        double[] baseValue = new double[rows];
        double[] mlp = new double[rows];
        double[] logits = new double[rows];
        for (int row = 0; row < rows; row++) {
            double tenure = batch.numeric(0)[row];
            double charges = batch.numeric(1)[row];
            String plan = batch.categorical(2)[row];
            double logit = logit(bias, tenure, charges, plan);
            logits[row] = logit;
            score[row] = sigmoid(logit);
            label[row] = score[row] >= 0.5 ? "hot" : "cold";
            lower[row] = sigmoid(logit - 0.2);
            upper[row] = sigmoid(logit + 0.2);
            agreement[row] = 0.9;
            base[row] = new double[] {score[row], score[row], score[row]};
            contributions[row] = new double[] {
                0.1 * zeroIfMissing(tenure), 0.01 * zeroIfMissing(charges), "premium".equals(plan) ? 0.5 : 0
            };
            baseValue[row] = bias;
        }
        Optional<Predictions.Explanations> explanations = explain
                ? Optional.of(new Predictions.Explanations(contributions, baseValue, mlp, logits))
                : Optional.empty();
        return new Predictions(score, label, lower, upper, agreement, BASE_MODELS, base, explanations);
    }

    /** Holds every predict call until {@link #open}. */
    public void hold() {
        gate = new CountDownLatch(1);
    }

    public void open() {
        gate.countDown();
    }

    public List<Integer> batchSizes() {
        return List.copyOf(batchSizes);
    }

    /** The nice value of the thread of each predict call, in call order (warm-up included). */
    public List<Integer> nices() {
        return List.copyOf(nices);
    }

    public List<Boolean> explained() {
        return List.copyOf(explained);
    }

    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public void close() {
        closed.set(true);
    }

    private static double zeroIfMissing(double value) {
        return Double.isNaN(value) ? 0 : value;
    }
}
