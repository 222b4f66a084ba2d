package dev.trellis.modelserver.bench;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.monitoring.DriftWindow;
import dev.trellis.modelserver.monitoring.LiveProfiles;
import dev.trellis.modelserver.monitoring.ProfileWindow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * The live profile's cost on single-row scoring, measured interleaved: in one JVM (same JIT state,
 * same flags), blocks of single-row {@code predict} calls without (A) and with (B) the profile's
 * {@link ProfileWindow#record} alternate A B, B A, A B, ... so that the load of a shared machine
 * falls on both sides alike. Every call is timed: a call that the scheduler preempted is one slow
 * sample, not a slow block, so the per-call median of each side is robust on a busy machine (the
 * two {@code nanoTime} reads per call are the same on both sides). Prints each round's medians,
 * the medians and p90 over all rounds, the median of the per-round overhead, and the load average
 * before and after. Usage: {@code ./trellis bench live-profile [rounds] [calls per block]}
 * (defaults 40 and 2000).
 */
public final class LiveProfileOverhead {
    private static double sink;

    private LiveProfileOverhead() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        Path repository = Files.createTempDirectory("trellis-bench-");
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        try (LoadedBundle loaded = BundleLoader.load(dir)) {
            Dataset data =
                    Dataset.load(TestBundles.churnCsv(), loaded.ensemble().schema());
            FeatureBatch[] rows = new FeatureBatch[1000];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = data.subset(new int[] {(i * 5) % data.rows()}).features();
            }
            ProfileWindow window = new LiveProfiles(repository, DriftWindow.DEFAULT, System::currentTimeMillis)
                    .open("churn", 1, loaded.ensemble().schema());
            String loadBefore = load();
            long[] scratch = new long[calls];
            for (int warm = 0; warm < 10; warm++) {
                block(loaded, rows, calls, null, scratch, 0);
                block(loaded, rows, calls, window, scratch, 0);
            }
            long[] plain = new long[rounds * calls];
            long[] profiled = new long[rounds * calls];
            double[] overhead = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    block(loaded, rows, calls, null, plain, r * calls);
                    block(loaded, rows, calls, window, profiled, r * calls);
                } else {
                    block(loaded, rows, calls, window, profiled, r * calls);
                    block(loaded, rows, calls, null, plain, r * calls);
                }
                double a = quantile(Arrays.copyOfRange(plain, r * calls, (r + 1) * calls), 0.5);
                double b = quantile(Arrays.copyOfRange(profiled, r * calls, (r + 1) * calls), 0.5);
                overhead[r] = b / a - 1;
                System.out.printf(
                        Locale.ROOT,
                        "round %2d: median predict %.3f us, predict + record %.3f us (%+.1f%%)%n",
                        r + 1,
                        a / 1000,
                        b / 1000,
                        overhead[r] * 100);
            }
            System.out.printf(
                    Locale.ROOT,
                    "%d rounds of %d calls each side; load average before %s, after %s%n"
                            + "per call, all rounds: predict median %.3f us, p90 %.3f us; "
                            + "predict + record median %.3f us, p90 %.3f us%n"
                            + "overhead of the medians: %+.2f%%; per-round overhead median %+.2f%%, "
                            + "quartiles %+.2f%% .. %+.2f%%%n",
                    rounds,
                    calls,
                    loadBefore,
                    load(),
                    quantile(plain, 0.5) / 1000,
                    quantile(plain, 0.9) / 1000,
                    quantile(profiled, 0.5) / 1000,
                    quantile(profiled, 0.9) / 1000,
                    (quantile(profiled, 0.5) / quantile(plain, 0.5) - 1) * 100,
                    Metrics.quantile(overhead, 0.5) * 100,
                    Metrics.quantile(overhead, 0.25) * 100,
                    Metrics.quantile(overhead, 0.75) * 100);
            System.out.println(sink == 42 ? "" : "");
        }
    }

    /** Times each call of one block into {@code nanos} from {@code offset}. */
    private static void block(
            LoadedBundle loaded, FeatureBatch[] rows, int calls, ProfileWindow window, long[] nanos, int offset) {
        double sum = 0;
        for (int i = 0; i < calls; i++) {
            FeatureBatch row = rows[i % rows.length];
            long start = System.nanoTime();
            Predictions p = loaded.ensemble().predict(row, false);
            if (window != null) {
                window.record(row, p.score());
            }
            nanos[offset + i] = System.nanoTime() - start;
            sum += p.score()[0];
        }
        sink += sum;
    }

    private static double quantile(long[] values, double q) {
        double[] asDoubles = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            asDoubles[i] = values[i];
        }
        return Metrics.quantile(asDoubles, q);
    }

    private static String load() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (Exception e) {
            return "unknown";
        }
    }
}
