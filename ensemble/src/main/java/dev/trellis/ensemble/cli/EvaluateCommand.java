package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.bundle.BundleManifest;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.MetricsTable;
import dev.trellis.ensemble.training.CrossValidation;
import dev.trellis.ensemble.training.Trainer;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "evaluate",
        description = {
            "Score a labelled CSV with a bundle and print the metrics table, or, with --cv R×K, cross-validate"
                    + " the training recipe on a training file: repeated stratified K-fold, mean ± standard"
                    + " deviation over the R·K outer folds.",
            "With --cv the training flags (--target, --id, --tune, --params, ...) describe the recipe."
        })
final class EvaluateCommand implements Callable<Integer> {
    private static final Pattern CV = Pattern.compile("([0-9]{1,3})\\s*[x×X*]\\s*([0-9]{1,3})");

    @Spec
    CommandSpec spec;

    @Mixin
    RecipeFlags recipe;

    @Option(names = "--bundle", description = "bundle version folder <repo>/<model>/<version>")
    Path bundle;

    @Option(
            names = "--repo",
            defaultValue = "./models",
            description = "model repository, with --model (default: ${DEFAULT-VALUE})")
    Path repo;

    @Option(names = "--model", description = "model name, with --repo")
    String model;

    // not mixinStandardHelpOptions: its -V/--version would take the place of the version option
    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--version", description = "version, with --repo and --model (default: latest)")
    Integer version;

    @Option(
            names = "--data",
            required = true,
            description = "labelled CSV with the bundle's feature columns and target (with --cv: the training file)")
    Path data;

    @Option(names = "--top-k", description = "count positives among the k highest scores (default: 20%% of rows)")
    Integer topK;

    @Option(names = "--cv", description = "cross-validate the recipe instead: R repetitions of K folds, e.g. 5x5")
    String cv;

    @Option(names = "--target", description = "with --cv: the target column")
    String target;

    @Option(names = "--fold-metrics", description = "with --cv: also write every outer fold's metrics to this CSV")
    Path foldMetrics;

    @Override
    public Integer call() throws Exception {
        if (cv != null) {
            return crossValidate();
        }
        Path dir = bundle;
        if (dir == null) {
            if (model == null) {
                throw new IllegalArgumentException(
                        "give --bundle <versionDir> or --model (with --repo, --version), or --cv R×K with --target");
            }
            int v = version != null ? version : BundleWriter.nextVersion(repo.resolve(model)) - 1;
            if (v < 1) {
                throw new IllegalArgumentException("no versions of model '" + model + "' in " + repo);
            }
            dir = repo.resolve(model).resolve(Integer.toString(v));
        }
        BundleManifest manifest = BundleLoader.readManifest(dir);
        try (LoadedBundle loaded = BundleLoader.load(dir)) {
            TargetKind kind = loaded.ensemble().targetKind();
            Dataset dataset = Dataset.load(data, loaded.ensemble().schema(), kind);
            String title = loaded.model() + " v" + loaded.version() + " on " + data.getFileName();
            PrintWriter out = spec.commandLine().getOut();
            if (kind == TargetKind.REGRESSION) {
                double baseline =
                        manifest.target().mean() != null ? manifest.target().mean() : Double.NaN;
                out.println(MetricsTable.formatRegression(
                        title, Trainer.evaluateRegression(loaded.ensemble(), dataset, baseline)));
                return 0;
            }
            int k = topK != null ? topK : Trainer.topK(dataset.rows());
            if (k < 1) {
                throw new IllegalArgumentException("--top-k must be positive");
            }
            Map<String, Double> thresholds =
                    manifest.metricThresholds() == null ? Map.of() : manifest.metricThresholds();
            Map<String, MetricSet> metrics = Trainer.evaluate(loaded.ensemble(), dataset, thresholds, k);
            out.println(MetricsTable.format(title, metrics));
        }
        return 0;
    }

    private int crossValidate() throws Exception {
        Matcher matcher = CV.matcher(cv.strip());
        if (!matcher.matches()) {
            throw new IllegalArgumentException("--cv must be R×K (repetitions × folds), e.g. 5x5, not '" + cv + "'");
        }
        if (target == null) {
            throw new IllegalArgumentException("--cv needs --target (and the training flags of the recipe)");
        }
        if (bundle != null || model != null || topK != null) {
            throw new IllegalArgumentException(
                    "--cv evaluates a recipe, not a bundle: drop --bundle, --model, --top-k");
        }
        int repeats = Integer.parseInt(matcher.group(1));
        int folds = Integer.parseInt(matcher.group(2));
        PrintWriter err = spec.commandLine().getErr();
        err.println("reading " + data);
        Dataset dataset = recipe.load(data, target);
        CrossValidation.Result result = new CrossValidation(
                        recipe.options(Math.max(folds - 1, 2), 0), message -> TrainCommand.progress(err, message))
                .run(dataset, repeats, folds);
        PrintWriter out = spec.commandLine().getOut();
        out.print(CvTable.format(data.getFileName().toString(), dataset, result));
        out.flush();
        if (foldMetrics != null) {
            Files.writeString(foldMetrics, CvTable.csv(result), StandardCharsets.UTF_8);
        }
        return 0;
    }
}
