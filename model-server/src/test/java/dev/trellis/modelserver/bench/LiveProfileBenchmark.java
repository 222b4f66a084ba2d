package dev.trellis.modelserver.bench;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.monitoring.DriftWindow;
import dev.trellis.modelserver.monitoring.LiveProfiles;
import dev.trellis.modelserver.monitoring.ProfileWindow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the live drift profile costs single-row scoring: the same row scored in process without
 * and with the profile's {@link ProfileWindow#record} (what a batcher worker adds after answering),
 * and the record call alone. Runs with the model-server's test classpath (see the README).
 */
@State(Scope.Benchmark)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
public class LiveProfileBenchmark {
    private LoadedBundle loaded;
    private FeatureBatch[] singleRows;
    private double[][] scores;
    private ProfileWindow window;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path repository = Files.createTempDirectory("trellis-bench-");
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        loaded = BundleLoader.load(dir);
        Dataset data = Dataset.load(TestBundles.churnCsv(), loaded.ensemble().schema());
        singleRows = new FeatureBatch[1000];
        scores = new double[singleRows.length][];
        for (int i = 0; i < singleRows.length; i++) {
            singleRows[i] = data.subset(new int[] {(i * 5) % data.rows()}).features();
            scores[i] = loaded.ensemble().predict(singleRows[i], false).score();
        }
        window = new LiveProfiles(repository, DriftWindow.DEFAULT, System::currentTimeMillis)
                .open("churn", 1, loaded.ensemble().schema());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loaded.close();
    }

    private int nextRow() {
        int row = next;
        next = (next + 1) % singleRows.length;
        return row;
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Predictions scoreOneRow() {
        return loaded.ensemble().predict(singleRows[nextRow()], false);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Predictions scoreOneRowProfiled() {
        FeatureBatch row = singleRows[nextRow()];
        Predictions predictions = loaded.ensemble().predict(row, false);
        window.record(row, predictions.score());
        return predictions;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public ProfileWindow recordOneRow() {
        int row = nextRow();
        window.record(singleRows[row], scores[row]);
        return window;
    }
}
