package dev.trellis.modelserver.bench;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.TestRows;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Profiling aid for the load generator's figures (not a test, not JMH): the in-process cost of one
 * {@link Ensemble#predict} call by batch size, single-threaded, to tell transport and batching
 * overhead apart from model time.
 */
public final class PredictCost {
    private PredictCost() {}

    public static void main(String[] args) throws Exception {
        Path repository = Files.createTempDirectory("trellis-cost-");
        Path directory = TestBundles.install(repository, "churn", 1, 42);
        try (LoadedBundle bundle = BundleLoader.load(directory)) {
            Ensemble ensemble = bundle.ensemble();
            for (int rows : new int[] {1, 4, 16, 64}) {
                FeatureBatch batch = TestRows.random(ensemble.schema(), rows, rows);
                for (int i = 0; i < 500; i++) {
                    ensemble.predict(batch, false);
                }
                int iterations = 3000 / rows + 200;
                long start = System.nanoTime();
                for (int i = 0; i < iterations; i++) {
                    ensemble.predict(batch, false);
                }
                double micros = (System.nanoTime() - start) / 1e3 / iterations;
                System.out.printf(
                        Locale.ROOT, "predict %3d rows: %8.1f us/call %8.1f us/row%n", rows, micros, micros / rows);
            }
        }
    }
}
