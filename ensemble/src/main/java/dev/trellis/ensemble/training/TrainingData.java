package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.TreeEncoder;

/**
 * A dataset encoded once for fitting: the tree models' matrix of every row (the tree encoding
 * depends on the schema only) and the targets as the native libraries take them. Fits select rows
 * of it. Immutable; shared by concurrent fits.
 */
final class TrainingData {
    private final Dataset data;
    private final TreeEncoder treeEncoder;
    private final Matrix trees;
    private final float[] targets;

    TrainingData(Dataset data) {
        this.data = requireNonNull(data, "data is null");
        this.treeEncoder = new TreeEncoder(data.schema());
        this.trees = treeEncoder.encode(data.features());
        this.targets = new float[data.rows()];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = (float) data.targets()[i];
        }
    }

    Dataset dataset() {
        return data;
    }

    TargetKind kind() {
        return data.kind();
    }

    int rows() {
        return data.rows();
    }

    TreeEncoder treeEncoder() {
        return treeEncoder;
    }

    Matrix trees(int[] rows) {
        return trees.selectRows(rows);
    }

    float[] targets(int[] rows) {
        float[] out = new float[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = targets[rows[i]];
        }
        return out;
    }

    double[] values(int[] rows) {
        double[] out = new double[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = data.targets()[rows[i]];
        }
        return out;
    }

    int[] labels(int[] rows) {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = (int) data.targets()[rows[i]];
        }
        return out;
    }

    Dataset subset(int[] rows) {
        return data.subset(rows);
    }
}
