package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

/** A dense row-major float matrix, the form native libraries take. */
public record Matrix(float[] values, int rows, int cols) {
    public Matrix {
        requireNonNull(values, "values is null");
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(
                    "matrix is " + rows + "x" + cols + " but has " + values.length + " values");
        }
    }

    public Matrix selectRows(int[] indices) {
        float[] selected = new float[indices.length * cols];
        for (int i = 0; i < indices.length; i++) {
            System.arraycopy(values, indices[i] * cols, selected, i * cols, cols);
        }
        return new Matrix(selected, indices.length, cols);
    }
}
