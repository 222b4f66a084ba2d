package dev.trellis.ensemble.model;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.TreeEncoder;
import dev.trellis.ensemble.stacking.StackedEnsemble;
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
 * The base models alone on the same 1,000 encoded rows as {@code ScoringBenchmark}'s batch: XGBoost
 * through the Java walker and through the native {@code inplace_predict}, LightGBM through the Java
 * walker, and the MLP's Java forward pass on the compact encoding. It decided that every XGBoost
 * batch takes the Java walker ({@link XgboostModel#margins}).
 */
@State(Scope.Benchmark)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class TreeWalkBenchmark {
    @Param("")
    public String bundle;

    private LoadedBundle loaded;
    private StackedEnsemble ensemble;
    private Matrix batch;
    private MlpEncoder.SparseRows mlpBatch;
    private double[] out;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir = bundle.isEmpty()
                ? TestBundles.install(Files.createTempDirectory("trellis-bench-"), "churn", 1, 42)
                : Paths.get(bundle);
        loaded = BundleLoader.load(dir);
        ensemble = (StackedEnsemble) loaded.ensemble();
        String target = ensemble.schema().target();
        Path csv = target.equals("converted") ? TestBundles.leadsCsv() : TestBundles.churnCsv();
        Dataset data = Dataset.load(csv, ensemble.schema());
        int[] rows = new int[1000];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (i * 5) % data.rows();
        }
        FeatureBatch features = data.subset(rows).features();
        batch = new TreeEncoder(ensemble.schema()).encode(features);
        mlpBatch = ensemble.mlpEncoder().encodeSparse(features);
        out = new double[batch.rows()];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loaded.close();
    }

    @Benchmark
    public double[] xgboostJava() {
        ensemble.xgboost().forest().margins(batch.values(), batch.rows(), out);
        return out;
    }

    @Benchmark
    public double[] xgboostNative() {
        return ensemble.xgboost().nativeMargins(batch);
    }

    @Benchmark
    public double[] lightgbmJava() {
        return ensemble.lightgbm().rawScores(batch);
    }

    @Benchmark
    public double[] mlpJava() {
        return ensemble.mlp().logits(mlpBatch);
    }
}
