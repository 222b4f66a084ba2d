package dev.trellis.ensemble.bench;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * In-process scoring cost of a loaded bundle: one row per call (latency distribution) and 1,000-row
 * batches (throughput; rows/s = ops/s × 1000), each with and without explanations. {@code -p bundle=<versionDir>} benchmarks a real
 * bundle (e.g. one written by {@code trellis train}); without it, a small test bundle is trained.
 */
@State(Scope.Benchmark)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
public class ScoringBenchmark {
    @Param("")
    public String bundle;

    private LoadedBundle loaded;
    private FeatureBatch[] singleRows;
    private FeatureBatch batch;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir;
        if (bundle.isEmpty()) {
            dir = TestBundles.install(Files.createTempDirectory("trellis-bench-"), "churn", 1, 42);
        } else {
            dir = Paths.get(bundle);
        }
        loaded = BundleLoader.load(dir);
        // input rows come from the shipped dataset whose target the bundle was trained on
        String target = loaded.ensemble().schema().target();
        Path csv = target.equals("converted") ? TestBundles.leadsCsv() : TestBundles.churnCsv();
        Dataset data = Dataset.load(csv, loaded.ensemble().schema());
        int[] rows = new int[1000];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (i * 5) % data.rows();
        }
        batch = data.subset(rows).features();
        singleRows = new FeatureBatch[rows.length];
        for (int i = 0; i < rows.length; i++) {
            singleRows[i] = data.subset(new int[] {rows[i]}).features();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loaded.close();
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Predictions scoreOneRow() {
        FeatureBatch row = singleRows[next];
        next = next + 1 == singleRows.length ? 0 : next + 1;
        return loaded.ensemble().predict(row, false);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Predictions scoreOneRowExplained() {
        FeatureBatch row = singleRows[next];
        next = next + 1 == singleRows.length ? 0 : next + 1;
        return loaded.ensemble().predict(row, true);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public Predictions scoreBatchOf1000() {
        return loaded.ensemble().predict(batch, false);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public Predictions scoreBatchOf1000Explained() {
        return loaded.ensemble().predict(batch, true);
    }
}
