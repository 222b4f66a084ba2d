package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricsTable;
import dev.trellis.ensemble.training.Trainer;
import dev.trellis.ensemble.training.TrainingOptions;
import dev.trellis.ensemble.training.TrainingResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = "Train a stacked ensemble (XGBoost, LightGBM, MLP + meta-learner) from a CSV file and write the"
                + " next bundle version. A 0/1 target trains classifiers and a logistic meta-learner, a continuous"
                + " one regressors and a linear meta-learner.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RecipeFlags recipe;

    @Option(names = "--data", required = true, description = "training CSV (header row, empty cell = missing)")
    Path data;

    @Option(names = "--target", required = true, description = "target column: 0/1 (or true/false), or a number")
    String target;

    @Option(names = "--model", required = true, description = "model name (folder under the repository)")
    String model;

    @Option(names = "--repo", defaultValue = "./models", description = "model repository (default: ${DEFAULT-VALUE})")
    Path repo;

    @Option(names = "--folds", defaultValue = "5", description = "cross-validation folds (default: ${DEFAULT-VALUE})")
    int folds;

    @Option(
            names = "--test-fraction",
            defaultValue = "0.2",
            description = "held-out stratified test share; 0 trains on every row, with out-of-fold metrics"
                    + " (default: ${DEFAULT-VALUE})")
    double testFraction;

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime();
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        if (!BundleWriter.MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException(
                    "--model '" + model + "' must match " + BundleWriter.MODEL_NAME.pattern());
        }
        TrainingOptions options = recipe.options(folds, testFraction);
        err.println("reading " + data);
        Dataset dataset = recipe.load(data, target);
        if (dataset.kind() == TargetKind.BINARY) {
            err.printf(
                    Locale.ROOT,
                    "%d rows, %d positives, %d features (binary target)%n",
                    dataset.rows(),
                    dataset.positives(),
                    dataset.schema().size());
        } else {
            err.printf(
                    Locale.ROOT,
                    "%d rows, %d features (continuous target)%n",
                    dataset.rows(),
                    dataset.schema().size());
        }
        try (TrainingResult result = new Trainer(options, message -> progress(err, message)).train(dataset)) {
            Path version = BundleWriter.write(repo, model, result);
            print(out, result);
            out.printf(Locale.ROOT, "wrote %s in %.1fs%n", version, (System.nanoTime() - started) / 1e9);
        }
        return 0;
    }

    /** Progress lines are indented; a warning stands on its own line, as one "warning:" line. */
    static void progress(PrintWriter err, String message) {
        err.println(message.startsWith("warning: ") ? message : "  " + message);
    }

    static void print(PrintWriter out, TrainingResult result) {
        if (result.kind() == TargetKind.BINARY) {
            out.println(MetricsTable.format("out-of-fold", result.metrics().get(TrainingResult.OUT_OF_FOLD)));
            if (result.metrics().containsKey(TrainingResult.TEST)) {
                out.println(MetricsTable.format("test", result.metrics().get(TrainingResult.TEST)));
            }
        } else {
            out.println(MetricsTable.formatRegression(
                    "out-of-fold", result.regressionMetrics().get(TrainingResult.OUT_OF_FOLD)));
            if (result.regressionMetrics().containsKey(TrainingResult.TEST)) {
                out.println(MetricsTable.formatRegression(
                        "test", result.regressionMetrics().get(TrainingResult.TEST)));
            }
        }
        out.println("meta-learner: " + result.metaChoice().reason());
        result.mlpSkipped().ifPresent(out::println);
        result.tuning().ifPresent(tuning -> {
            out.printf(
                    Locale.ROOT,
                    "tuning took %.1fs (budget %.0fs of planned work)%n",
                    tuning.seconds(),
                    tuning.budgetSeconds());
            for (TrainingResult.ModelTuning m : tuning.models()) {
                out.printf(
                        Locale.ROOT,
                        "  %-9s %2d configurations, %3d fits: held-out loss %.5f (start %.5f), %d %s%n",
                        m.model(),
                        m.trials(),
                        m.fits(),
                        m.bestLoss(),
                        m.startLoss(),
                        m.iterations(),
                        m.model().equals("mlp") ? "epochs" : "rounds");
            }
        });
    }
}
