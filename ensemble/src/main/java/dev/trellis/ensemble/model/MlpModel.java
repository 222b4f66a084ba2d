package dev.trellis.ensemble.model;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.MlpEncoder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The MLP base model: dense 64 → 32 → 16 (ReLU) → 1, Adam, with a sigmoid output and cross-entropy
 * loss for a binary target, or an identity output and squared error for a continuous one (whose
 * targets the caller standardizes). Trained with DL4J; scored by a plain-Java forward pass over
 * weights extracted from the network (about 8k multiply-adds per row, far below ND4J's per-op
 * overhead), checked against DL4J's own output when built. Scoring is thread-safe and
 * allocation-light; the DL4J network is kept only for saving.
 */
public final class MlpModel {
    public static final int[] HIDDEN = {64, 32, 16};
    /** Largest allowed difference between the Java forward pass and DL4J, in probability. */
    public static final double VERIFY_TOLERANCE = 1e-5;

    /**
     * @param dropout share of each hidden layer's inputs dropped in training (0 = none); scoring
     *     needs no correction because DL4J scales the kept activations while training
     */
    public record Params(int epochs, int batchSize, double learningRate, double l2, double dropout, long seed) {
        public Params {
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("dropout must be in [0, 1)");
            }
        }

        public Params(int epochs, int batchSize, double learningRate, double l2, long seed) {
            this(epochs, batchSize, learningRate, l2, 0, seed);
        }
    }

    /** What the network learns: a binary target (sigmoid output) or a standardized continuous one. */
    public enum Objective {
        LOGISTIC,
        SQUARED_ERROR
    }

    private final MultiLayerNetwork network;
    private final int inputs;
    // per layer and input, the weights leaving that input: one array per input row, because C2
    // vectorizes `b[o] += v * row[o]` but not the same loop over a flat matrix at an offset
    private final double[][][] weights;
    private final double[][] biases;
    private final int[] sizes;
    private final int widest;
    private final int widestHidden; // the widest layer after the inputs
    /** Rows per block in {@link #logits(MlpEncoder.SparseRows)} (the code spells out four). */
    private static final int BLOCK = 4;

    private final boolean linearOutput;

    private MlpModel(MultiLayerNetwork network, int inputs) {
        this.network = requireNonNull(network, "network is null");
        this.inputs = inputs;
        int layers = network.getnLayers();
        this.weights = new double[layers][][];
        this.biases = new double[layers][];
        this.sizes = new int[layers + 1];
        sizes[0] = inputs;
        for (int l = 0; l < layers; l++) {
            INDArray w = network.getLayer(l).getParam("W");
            INDArray b = network.getLayer(l).getParam("b");
            int in = (int) w.size(0);
            int out = (int) w.size(1);
            if (in != sizes[l]) {
                throw new ModelException("MLP layer " + l + " takes " + in + " inputs, expected " + sizes[l]);
            }
            sizes[l + 1] = out;
            double[][] rows = new double[in][out];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    rows[i][o] = w.getDouble(i, o);
                }
            }
            double[] bias = new double[out];
            for (int o = 0; o < out; o++) {
                bias[o] = b.getDouble(o);
            }
            weights[l] = rows;
            biases[l] = bias;
        }
        if (sizes[layers] != 1) {
            throw new ModelException("MLP must have one output, has " + sizes[layers]);
        }
        int max = 0;
        for (int size : sizes) {
            max = Math.max(max, size);
        }
        this.widest = max;
        int hidden = 0;
        for (int l = 1; l < sizes.length; l++) {
            hidden = Math.max(hidden, sizes[l]);
        }
        this.widestHidden = hidden;
        this.linearOutput = network.getLayer(layers - 1).conf().getLayer()
                        instanceof org.deeplearning4j.nn.conf.layers.BaseLayer output
                && output.getActivationFn() instanceof org.nd4j.linalg.activations.impl.ActivationIdentity;
    }

    /** A classifier on 0/1 labels. */
    public static MlpModel train(Matrix x, float[] labels, Params params) {
        return train(x, labels, params, Objective.LOGISTIC);
    }

    /** A network trained for {@code params.epochs()} epochs. */
    public static MlpModel train(Matrix x, float[] targets, Params params, Objective objective) {
        MultiLayerNetwork network = network(x.cols(), params, objective);
        Random random = new Random(params.seed());
        int[] order = order(x.rows());
        for (int epoch = 0; epoch < params.epochs(); epoch++) {
            epoch(network, x, targets, params.batchSize(), order, random);
        }
        MlpModel model = new MlpModel(network, x.cols());
        model.verify();
        return model;
    }

    /**
     * Trains for up to {@code params.epochs()} epochs, evaluating the validation rows after each,
     * and stops {@code patience} epochs after the best one. The network is discarded. The loss is
     * the mean log loss (binary) or mean squared error in the units of the given targets.
     */
    public static EarlyStopping validate(
            Matrix x,
            float[] targets,
            Matrix validation,
            float[] validationTargets,
            Params params,
            Objective objective,
            int patience) {
        MultiLayerNetwork network = network(x.cols(), params, objective);
        Random random = new Random(params.seed());
        int[] order = order(x.rows());
        INDArray inputs = Nd4j.create(validation.values(), new long[] {validation.rows(), validation.cols()}, 'c');
        return EarlyStopping.<RuntimeException>track(params.epochs(), patience, validation.rows(), epoch -> {
            epoch(network, x, targets, params.batchSize(), order, random);
            INDArray output = network.output(inputs, false);
            double loss = 0;
            for (int r = 0; r < validation.rows(); r++) {
                double y = validationTargets[r];
                double p = output.getDouble(r, 0);
                if (objective == Objective.LOGISTIC) {
                    double clipped = Math.min(1 - 1e-15, Math.max(1e-15, p));
                    loss -= y == 1 ? Math.log(clipped) : Math.log(1 - clipped);
                } else {
                    loss += (p - y) * (p - y);
                }
            }
            return loss / validation.rows();
        });
    }

    private static MultiLayerNetwork network(int inputs, Params params, Objective objective) {
        // the matrices are tiny (batch x 64): OpenMP fan-out costs more than it saves, and spinning
        // worker threads hurt everything else on a shared machine
        Nd4j.getEnvironment().setMaxThreads(1);
        Nd4j.factory().blas().setMaxThreads(1);
        boolean logistic = objective == Objective.LOGISTIC;
        NeuralNetConfiguration.ListBuilder layers = new NeuralNetConfiguration.Builder()
                .seed(params.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(params.learningRate()))
                .weightInit(WeightInit.XAVIER)
                .l2(params.l2())
                .list();
        int in = inputs;
        for (int width : HIDDEN) {
            DenseLayer.Builder dense =
                    new DenseLayer.Builder().nIn(in).nOut(width).activation(Activation.RELU);
            if (params.dropout() > 0) {
                // DL4J takes the probability of keeping an input
                dense.dropOut(1 - params.dropout());
            }
            layers.layer(dense.build());
            in = width;
        }
        MultiLayerConfiguration configuration = layers.layer(new OutputLayer.Builder(
                                logistic ? LossFunctions.LossFunction.XENT : LossFunctions.LossFunction.MSE)
                        .nIn(in)
                        .nOut(1)
                        .activation(logistic ? Activation.SIGMOID : Activation.IDENTITY)
                        .build())
                .build();
        MultiLayerNetwork network = new MultiLayerNetwork(configuration);
        network.init();
        return network;
    }

    private static int[] order(int rows) {
        int[] order = new int[rows];
        for (int i = 0; i < rows; i++) {
            order[i] = i;
        }
        return order;
    }

    /** One pass over the rows in a fresh seeded order, in minibatches. */
    private static void epoch(
            MultiLayerNetwork network, Matrix x, float[] targets, int batchSize, int[] order, Random random) {
        int rows = x.rows();
        int cols = x.cols();
        for (int i = rows - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        for (int start = 0; start < rows; start += batchSize) {
            int n = Math.min(batchSize, rows - start);
            float[] features = new float[n * cols];
            float[] batchTargets = new float[n];
            for (int k = 0; k < n; k++) {
                int row = order[start + k];
                System.arraycopy(x.values(), row * cols, features, k * cols, cols);
                batchTargets[k] = targets[row];
            }
            network.fit(new DataSet(
                    Nd4j.create(features, new long[] {n, cols}, 'c'),
                    Nd4j.create(batchTargets, new long[] {n, 1}, 'c')));
        }
    }

    public static MlpModel load(byte[] zip, int inputs) {
        MultiLayerNetwork network;
        try {
            network = ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(zip), false);
        } catch (IOException | RuntimeException e) {
            throw new ModelException("cannot read MLP model: " + e.getMessage(), e);
        }
        MlpModel model = new MlpModel(network, inputs);
        model.verify();
        return model;
    }

    public void save(Path file) {
        try {
            ModelSerializer.writeModel(network, file.toFile(), false);
        } catch (IOException e) {
            throw new ModelException("cannot save MLP model: " + e.getMessage(), e);
        }
    }

    public int inputs() {
        return inputs;
    }

    /**
     * The last layer's output before its activation, per row, computed in Java: log-odds for a
     * classifier, the (standardized) predicted value for a regressor.
     */
    public double[] logits(Matrix x) {
        if (x.cols() != inputs) {
            throw new IllegalArgumentException("expected " + inputs + " columns, got " + x.cols());
        }
        double[] out = new double[x.rows()];
        double[] a = new double[widest];
        double[] b = new double[widest];
        float[] values = x.values();
        for (int r = 0; r < x.rows(); r++) {
            int base = r * inputs;
            for (int i = 0; i < inputs; i++) {
                a[i] = values[base + i];
            }
            out[r] = forward(0, a, b);
        }
        return out;
    }

    /**
     * The same logits from the compact encoding ({@link MlpEncoder#encodeSparse}), with the same
     * arithmetic in the same order per row, so the same values (up to the sign of a zero). Rows go
     * four at a time through each layer: one pass over a weight row serves four rows, and each
     * vectorized inner loop does four rows' work, which at these widths (64, 32, 16) is what the
     * loop overhead needs. The first layer reads one input per feature instead of the one-hot
     * columns.
     */
    public double[] logits(MlpEncoder.SparseRows x) {
        int rows = x.rows();
        double[] out = new double[rows];
        // the compact path never holds the inputs themselves: buffers as wide as the hidden layers,
        // and the block buffers only when there is a block (a single row allocates 2 small arrays)
        int start = 0;
        double[][] a = rows >= BLOCK ? new double[BLOCK][widestHidden] : null;
        double[][] b = rows >= BLOCK ? new double[BLOCK][widestHidden] : null;
        for (; start + BLOCK <= rows; start += BLOCK) {
            firstLayer(x, start, a);
            for (int l = 1; l < weights.length; l++) {
                layer(l, a, b);
                double[][] swap = a;
                a = b;
                b = swap;
            }
            for (int r = 0; r < BLOCK; r++) {
                out[start + r] = a[r][0];
            }
        }
        double[] one = new double[widestHidden];
        double[] other = new double[widestHidden];
        for (; start < rows; start++) {
            int hidden = sizes[1];
            System.arraycopy(biases[0], 0, one, 0, hidden);
            for (int f = 0; f < x.slots(); f++) {
                int k = start * x.slots() + f;
                accumulate(one, x.index()[k], x.value()[k], hidden);
            }
            if (weights.length > 1) {
                relu(one, 0, hidden);
            }
            out[start] = forward(1, one, other);
        }
        return out;
    }

    /** The first layer's activations of rows start..start+3 into {@code a}, from the compact inputs. */
    private void firstLayer(MlpEncoder.SparseRows x, int start, double[][] a) {
        int features = x.slots(); // pairs per row
        int[] index = x.index();
        float[] value = x.value();
        int hidden = sizes[1];
        double[][] w = weights[0];
        double[] a0 = a[0];
        double[] a1 = a[1];
        double[] a2 = a[2];
        double[] a3 = a[3];
        for (double[] row : a) {
            System.arraycopy(biases[0], 0, row, 0, hidden);
        }
        for (int f = 0; f < features; f++) {
            int k = start * features + f;
            int i = index[k];
            if (i >= 0 && i == index[k + features] && i == index[k + 2 * features] && i == index[k + 3 * features]) {
                // a numeric feature (or one category for all four rows): one weight row for the block
                double v0 = value[k];
                double v1 = value[k + features];
                double v2 = value[k + 2 * features];
                double v3 = value[k + 3 * features];
                double[] row = w[i];
                for (int o = 0; o < hidden; o++) {
                    double weight = row[o];
                    a0[o] += v0 * weight;
                    a1[o] += v1 * weight;
                    a2[o] += v2 * weight;
                    a3[o] += v3 * weight;
                }
            } else {
                for (int r = 0; r < BLOCK; r++) {
                    accumulate(a[r], index[k + r * features], value[k + r * features], hidden);
                }
            }
        }
        if (weights.length > 1) {
            for (double[] row : a) {
                relu(row, 0, hidden);
            }
        }
    }

    private void accumulate(double[] activations, int input, float value, int hidden) {
        double ai = value;
        if (input >= 0 && ai != 0) {
            double[] row = weights[0][input];
            for (int o = 0; o < hidden; o++) {
                activations[o] += ai * row[o];
            }
        }
    }

    private static void relu(double[] values, int from, int to) {
        // Math.max vectorizes where a branch per value does not; it differs from the branch only
        // for -0.0 (which becomes +0.0), and an inactive unit's zero adds nothing either way
        for (int o = from; o < to; o++) {
            values[o] = Math.max(values[o], 0.0);
        }
    }

    /** Layer {@code l} (1 and up) for a block of four rows: activations {@code a} in, {@code b} out. */
    private void layer(int l, double[][] a, double[][] b) {
        int in = sizes[l];
        int outs = sizes[l + 1];
        double[][] w = weights[l];
        double[] a0 = a[0];
        double[] a1 = a[1];
        double[] a2 = a[2];
        double[] a3 = a[3];
        double[] b0 = b[0];
        double[] b1 = b[1];
        double[] b2 = b[2];
        double[] b3 = b[3];
        for (double[] row : b) {
            System.arraycopy(biases[l], 0, row, 0, outs);
        }
        for (int i = 0; i < in; i++) {
            double v0 = a0[i];
            double v1 = a1[i];
            double v2 = a2[i];
            double v3 = a3[i];
            if (v0 == 0 && v1 == 0 && v2 == 0 && v3 == 0) {
                continue; // inactive ReLU in all four rows
            }
            double[] row = w[i];
            for (int o = 0; o < outs; o++) {
                double weight = row[o];
                b0[o] += v0 * weight;
                b1[o] += v1 * weight;
                b2[o] += v2 * weight;
                b3[o] += v3 * weight;
            }
        }
        if (l < weights.length - 1) {
            for (double[] row : b) {
                relu(row, 0, outs);
            }
        }
    }

    /** Runs layers {@code first}.. on the activations in {@code a}; returns the output. */
    private double forward(int first, double[] a, double[] b) {
        for (int l = first; l < weights.length; l++) {
            int in = sizes[l];
            int outs = sizes[l + 1];
            double[][] w = weights[l];
            System.arraycopy(biases[l], 0, b, 0, outs);
            // input-major accumulation: skips zero inputs (one-hot columns, inactive ReLUs) and
            // lets the JIT vectorize the inner loop
            for (int i = 0; i < in; i++) {
                double ai = a[i];
                if (ai != 0) {
                    double[] row = w[i];
                    for (int o = 0; o < outs; o++) {
                        b[o] += ai * row[o];
                    }
                }
            }
            if (l < weights.length - 1) {
                relu(b, 0, outs);
            }
            double[] swap = a;
            a = b;
            b = swap;
        }
        return a[0];
    }

    /** Checks the Java forward pass against DL4J on fixed probe rows; throws when they differ. */
    private void verify() {
        int rows = 16;
        float[] probe = new float[rows * inputs];
        Random random = new Random(7);
        for (int i = inputs; i < probe.length; i++) {
            probe[i] = (float) random.nextGaussian();
        }
        double[] java = logits(new Matrix(probe, rows, inputs));
        INDArray dl4j = network.output(Nd4j.create(probe, new long[] {rows, inputs}, 'c'), false);
        for (int r = 0; r < rows; r++) {
            double expected = dl4j.getDouble(r, 0);
            double actual = linearOutput ? java[r] : 1 / (1 + Math.exp(-java[r]));
            if (!(Math.abs(expected - actual) <= VERIFY_TOLERANCE)) {
                throw new ModelException(
                        "MLP forward pass differs from DL4J on probe row " + r + ": " + actual + " vs " + expected);
            }
        }
    }
}
