package dev.trellis.ensemble.cli;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.training.CrossValidation;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Renders a cross-validation as a table of mean ± standard deviation per model and metric. */
final class CvTable {
    private static final List<String[]> BINARY = List.of(
            new String[] {"auc_roc", "AUC"},
            new String[] {"pr_auc", "PR-AUC"},
            new String[] {"brier", "Brier"},
            new String[] {"log_loss", "log loss"},
            new String[] {"top_k_hits", "top-20% hits"},
            new String[] {"top_k_recall", "top-20% recall"});
    private static final List<String[]> REGRESSION = List.of(
            new String[] {"rmse", "RMSE"},
            new String[] {"mae", "MAE"},
            new String[] {"r2", "R2"},
            new String[] {"baseline_rmse", "baseline RMSE"},
            new String[] {"interval_coverage", "95% coverage"});

    private CvTable() {}

    static String format(String file, Dataset data, CrossValidation.Result result) {
        StringBuilder out = new StringBuilder();
        int outer = result.repeats() * result.folds();
        out.append(String.format(
                Locale.ROOT,
                "%s: %d×%d cross-validation, mean ± sd over %d outer folds of about %d rows%s%n",
                file,
                result.repeats(),
                result.folds(),
                outer,
                Math.round((double) data.rows() / result.folds()),
                data.kind() == TargetKind.BINARY
                        ? String.format(
                                Locale.ROOT, " (%d positives)", Math.round((double) data.positives() / result.folds()))
                        : ""));
        List<String[]> metrics = data.kind() == TargetKind.BINARY ? BINARY : REGRESSION;
        out.append(String.format(Locale.ROOT, "%-9s", "model"));
        for (String[] metric : metrics) {
            out.append(String.format(Locale.ROOT, " %17s", metric[1]));
        }
        out.append(System.lineSeparator());
        Map<String, Map<String, double[]>> values = new TreeMap<>();
        for (String[] metric : metrics) {
            values.put(metric[0], result.values(metric[0]));
        }
        for (String model : result.models()) {
            out.append(String.format(Locale.ROOT, "%-9s", model));
            for (String[] metric : metrics) {
                double[] v = values.get(metric[0]).get(model);
                if (v.length == 0) {
                    out.append(String.format(Locale.ROOT, " %17s", "-"));
                    continue;
                }
                boolean count = metric[0].equals("top_k_hits");
                out.append(String.format(Locale.ROOT, count ? " %8.1f ± %6.1f" : " %8.4f ± %6.4f", mean(v), sd(v)));
            }
            out.append(System.lineSeparator());
        }
        long stacked =
                result.choices().stream().filter(c -> c.equals("stacked")).count();
        out.append(String.format(
                Locale.ROOT,
                "meta-learner: stacked in %d of %d outer folds%s%n",
                stacked,
                result.choices().size(),
                stacked == result.choices().size()
                        ? ""
                        : "; otherwise "
                                + String.join(
                                        ", ",
                                        result.choices().stream()
                                                .filter(c -> !c.equals("stacked"))
                                                .distinct()
                                                .toList())));
        out.append(String.format(
                Locale.ROOT, "took %.1fs (%.1fs per outer fold)%n", result.seconds(), result.seconds() / outer));
        return out.toString();
    }

    /** repeat,fold,model,metric,value per line. */
    static String csv(CrossValidation.Result result) {
        StringBuilder out = new StringBuilder("repeat,fold,model,metric,value\n");
        for (CrossValidation.FoldMetrics m : result.metrics()) {
            new TreeMap<>(m.metrics())
                    .forEach((metric, value) -> out.append(String.format(
                            Locale.ROOT, "%d,%d,%s,%s,%s%n", m.repeat(), m.fold(), m.model(), metric, value)));
        }
        return out.toString();
    }

    static double mean(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return sum / v.length;
    }

    /** Sample standard deviation (n − 1); 0 for a single value. */
    static double sd(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double sum = 0;
        for (double x : v) {
            sum += (x - m) * (x - m);
        }
        return Math.sqrt(sum / (v.length - 1));
    }
}
