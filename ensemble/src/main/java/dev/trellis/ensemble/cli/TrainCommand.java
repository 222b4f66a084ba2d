package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.SchemaOverrides;
import dev.trellis.ensemble.metrics.MetricsTable;
import dev.trellis.ensemble.training.Trainer;
import dev.trellis.ensemble.training.TrainingOptions;
import dev.trellis.ensemble.training.TrainingResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description =
                "Train a stacked ensemble (XGBoost, LightGBM, MLP + logistic meta-learner) from a CSV file and write the next bundle version.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--data", required = true, description = "training CSV (header row, empty cell = missing)")
    Path data;

    @Option(names = "--target", required = true, description = "binary target column (0/1 or true/false)")
    String target;

    @Option(names = "--id", description = "id column to exclude (repeatable)")
    List<String> ids = new ArrayList<>();

    @Option(names = "--model", required = true, description = "model name (folder under the repository)")
    String model;

    @Option(names = "--repo", defaultValue = "./models", description = "model repository (default: ${DEFAULT-VALUE})")
    Path repo;

    @Option(names = "--folds", defaultValue = "5", description = "cross-validation folds (default: ${DEFAULT-VALUE})")
    int folds;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--test-fraction",
            defaultValue = "0.2",
            description = "held-out stratified test share (default: ${DEFAULT-VALUE})")
    double testFraction;

    @Option(
            names = "--threads",
            defaultValue = "2",
            description = "native training threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--categorical", description = "force a column categorical (repeatable)")
    List<String> categorical = new ArrayList<>();

    @Option(names = "--numeric", description = "force a column numeric; a non-number is then an error (repeatable)")
    List<String> numeric = new ArrayList<>();

    @Option(names = "--drop", description = "ignore a column (repeatable)")
    List<String> drop = new ArrayList<>();

    @Option(names = "--fast", description = "quick low-quality settings (few trees and epochs), for smoke tests")
    boolean fast;

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime();
        var err = spec.commandLine().getErr();
        var out = spec.commandLine().getOut();
        if (!BundleWriter.MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException(
                    "--model '" + model + "' must match " + BundleWriter.MODEL_NAME.pattern());
        }
        TrainingOptions options = (fast ? TrainingOptions.fast() : TrainingOptions.defaults())
                .withFolds(folds)
                .withSeed(seed)
                .withTestFraction(testFraction)
                .withThreads(threads);
        SchemaOverrides overrides =
                new SchemaOverrides(new HashSet<>(categorical), new HashSet<>(numeric), new HashSet<>(drop));
        err.println("reading " + data);
        Dataset dataset = Dataset.load(data, target, ids, overrides);
        err.printf(
                Locale.ROOT,
                "%d rows, %d positives, %d features%n",
                dataset.rows(),
                dataset.positives(),
                dataset.schema().size());
        try (TrainingResult result = new Trainer(options, message -> err.println("  " + message)).train(dataset)) {
            Path version = BundleWriter.write(repo, model, result);
            out.println(MetricsTable.format("out-of-fold", result.metrics().get(TrainingResult.OUT_OF_FOLD)));
            if (result.metrics().containsKey(TrainingResult.TEST)) {
                out.println(MetricsTable.format("test", result.metrics().get(TrainingResult.TEST)));
            }
            out.printf(Locale.ROOT, "wrote %s in %.1fs%n", version, (System.nanoTime() - started) / 1e9);
        }
        return 0;
    }
}
