package dev.trellis.ensemble.stacking;

/** Small dense solves for the meta-learner (a handful of unknowns); Gaussian elimination with partial pivoting. */
final class LinearAlgebra {
    private LinearAlgebra() {}

    static double[] solve(double[][] a, double[] b) {
        int n = b.length;
        double[][] m = new double[n][n + 1];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n] = b[i];
        }
        eliminate(m, n, 1);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = m[i][n];
        }
        return x;
    }

    static double[][] inverse(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        eliminate(m, n, n);
        double[][] inverse = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(m[i], n, inverse[i], 0, n);
        }
        return inverse;
    }

    private static void eliminate(double[][] m, int n, int extra) {
        int width = n + extra;
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) {
                    pivot = r;
                }
            }
            if (Math.abs(m[pivot][col]) < 1e-300) {
                throw new ArithmeticException("singular matrix");
            }
            double[] swap = m[col];
            m[col] = m[pivot];
            m[pivot] = swap;
            double scale = m[col][col];
            for (int c = col; c < width; c++) {
                m[col][c] /= scale;
            }
            for (int r = 0; r < n; r++) {
                if (r != col && m[r][col] != 0) {
                    double factor = m[r][col];
                    for (int c = col; c < width; c++) {
                        m[r][c] -= factor * m[col][c];
                    }
                }
            }
        }
    }
}
