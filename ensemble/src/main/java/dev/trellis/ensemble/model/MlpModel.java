package dev.trellis.ensemble.model;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.data.Matrix;
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
 * The MLP base model: dense 64 → 32 → 16 (ReLU) → 1 (sigmoid), cross-entropy loss, Adam. Trained
 * with DL4J; scored by a plain-Java forward pass over weights extracted from the network (about 8k
 * multiply-adds per row, far below ND4J's per-op overhead), checked against DL4J's own output when
 * built. Scoring is thread-safe and allocation-light; the DL4J network is kept only for saving.
 */
public final class MlpModel {
    public static final int[] HIDDEN = {64, 32, 16};
    /** Largest allowed difference between the Java forward pass and DL4J, in probability. */
    public static final double VERIFY_TOLERANCE = 1e-5;

    public record Params(int epochs, int batchSize, double learningRate, double l2, long seed) {}

    private final MultiLayerNetwork network;
    private final int inputs;
    private final double[][] weights; // per layer, [in][out] flattened (row i = weights leaving input i)
    private final double[][] biases;
    private final int[] sizes;

    private MlpModel(MultiLayerNetwork network, int inputs) {
        this.network = requireNonNull(network, "network is null");
        this.inputs = inputs;
        int layers = network.getnLayers();
        this.weights = new double[layers][];
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
            double[] flat = new double[in * out];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    flat[i * out + o] = w.getDouble(i, o);
                }
            }
            double[] bias = new double[out];
            for (int o = 0; o < out; o++) {
                bias[o] = b.getDouble(o);
            }
            weights[l] = flat;
            biases[l] = bias;
        }
        if (sizes[layers] != 1) {
            throw new ModelException("MLP must have one output, has " + sizes[layers]);
        }
    }

    public static MlpModel train(Matrix x, float[] labels, Params params) {
        // the matrices are tiny (batch x 64): OpenMP fan-out costs more than it saves, and spinning
        // worker threads hurt everything else on a shared machine
        Nd4j.getEnvironment().setMaxThreads(1);
        Nd4j.factory().blas().setMaxThreads(1);
        MultiLayerConfiguration configuration = new NeuralNetConfiguration.Builder()
                .seed(params.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(params.learningRate()))
                .weightInit(WeightInit.XAVIER)
                .l2(params.l2())
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(x.cols())
                        .nOut(HIDDEN[0])
                        .activation(Activation.RELU)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nIn(HIDDEN[0])
                        .nOut(HIDDEN[1])
                        .activation(Activation.RELU)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nIn(HIDDEN[1])
                        .nOut(HIDDEN[2])
                        .activation(Activation.RELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.XENT)
                        .nIn(HIDDEN[2])
                        .nOut(1)
                        .activation(Activation.SIGMOID)
                        .build())
                .build();
        MultiLayerNetwork network = new MultiLayerNetwork(configuration);
        network.init();
        int rows = x.rows();
        int cols = x.cols();
        int[] order = new int[rows];
        for (int i = 0; i < rows; i++) {
            order[i] = i;
        }
        Random random = new Random(params.seed());
        for (int epoch = 0; epoch < params.epochs(); epoch++) {
            for (int i = rows - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int swap = order[i];
                order[i] = order[j];
                order[j] = swap;
            }
            for (int start = 0; start < rows; start += params.batchSize()) {
                int n = Math.min(params.batchSize(), rows - start);
                float[] features = new float[n * cols];
                float[] targets = new float[n];
                for (int k = 0; k < n; k++) {
                    int row = order[start + k];
                    System.arraycopy(x.values(), row * cols, features, k * cols, cols);
                    targets[k] = labels[row];
                }
                network.fit(new DataSet(
                        Nd4j.create(features, new long[] {n, cols}, 'c'),
                        Nd4j.create(targets, new long[] {n, 1}, 'c')));
            }
        }
        MlpModel model = new MlpModel(network, cols);
        model.verify();
        return model;
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

    /** Pre-sigmoid output (log-odds) per row, computed in Java. */
    public double[] logits(Matrix x) {
        if (x.cols() != inputs) {
            throw new IllegalArgumentException("expected " + inputs + " columns, got " + x.cols());
        }
        double[] out = new double[x.rows()];
        int widest = 0;
        for (int size : sizes) {
            widest = Math.max(widest, size);
        }
        double[] a = new double[widest];
        double[] b = new double[widest];
        float[] values = x.values();
        for (int r = 0; r < x.rows(); r++) {
            int base = r * inputs;
            for (int i = 0; i < inputs; i++) {
                a[i] = values[base + i];
            }
            for (int l = 0; l < weights.length; l++) {
                int in = sizes[l];
                int outs = sizes[l + 1];
                double[] w = weights[l];
                System.arraycopy(biases[l], 0, b, 0, outs);
                // input-major accumulation: skips zero inputs (one-hot columns, inactive ReLUs) and
                // lets the JIT vectorize the inner loop
                for (int i = 0; i < in; i++) {
                    double ai = a[i];
                    if (ai != 0) {
                        int offset = i * outs;
                        for (int o = 0; o < outs; o++) {
                            b[o] += ai * w[offset + o];
                        }
                    }
                }
                if (l < weights.length - 1) {
                    for (int o = 0; o < outs; o++) {
                        if (b[o] < 0) {
                            b[o] = 0;
                        }
                    }
                }
                double[] swap = a;
                a = b;
                b = swap;
            }
            out[r] = a[0];
        }
        return out;
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
            double actual = 1 / (1 + Math.exp(-java[r]));
            if (!(Math.abs(expected - actual) <= VERIFY_TOLERANCE)) {
                throw new ModelException(
                        "MLP forward pass differs from DL4J on probe row " + r + ": " + actual + " vs " + expected);
            }
        }
    }
}
