package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.bundle.BundleManifest;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.MetricsTable;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import dev.trellis.ensemble.training.Trainer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        description = "Score a labelled CSV with a bundle and print the metrics table.")
final class EvaluateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--bundle", description = "bundle version folder <repo>/<model>/<version>")
    Path bundle;

    @Option(
            names = "--repo",
            defaultValue = "./models",
            description = "model repository, with --model (default: ${DEFAULT-VALUE})")
    Path repo;

    @Option(names = "--model", description = "model name, with --repo")
    String model;

    @Option(names = "--version", description = "version, with --repo and --model (default: latest)")
    Integer version;

    @Option(
            names = "--data",
            required = true,
            description = "labelled CSV with the bundle's feature columns and target")
    Path data;

    @Option(names = "--top-k", description = "count positives among the k highest scores (default: 20% of rows)")
    Integer topK;

    @Override
    public Integer call() throws Exception {
        Path dir = bundle;
        if (dir == null) {
            if (model == null) {
                throw new IllegalArgumentException("give --bundle <versionDir> or --model (with --repo, --version)");
            }
            int v = version != null ? version : BundleWriter.nextVersion(repo.resolve(model)) - 1;
            if (v < 1) {
                throw new IllegalArgumentException("no versions of model '" + model + "' in " + repo);
            }
            dir = repo.resolve(model).resolve(Integer.toString(v));
        }
        BundleManifest manifest = BundleLoader.readManifest(dir);
        try (LoadedBundle loaded = BundleLoader.load(dir)) {
            StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
            Dataset dataset = Dataset.load(data, ensemble.schema());
            int k = topK != null ? topK : Trainer.topK(dataset.rows());
            if (k < 1) {
                throw new IllegalArgumentException("--top-k must be positive");
            }
            Map<String, Double> thresholds =
                    manifest.metricThresholds() == null ? Map.of() : manifest.metricThresholds();
            Map<String, MetricSet> metrics = Trainer.evaluate(ensemble, dataset, thresholds, k);
            spec.commandLine()
                    .getOut()
                    .println(MetricsTable.format(
                            loaded.model() + " v" + loaded.version() + " on " + data.getFileName(), metrics));
        }
        return 0;
    }
}
