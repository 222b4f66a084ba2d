package dev.trellis.ensemble.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.trellis.common.text.DurationText;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.bundle.Json;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.DatasetException;
import dev.trellis.ensemble.data.SchemaOverrides;
import dev.trellis.ensemble.training.Hyperparameters;
import dev.trellis.ensemble.training.TrainingOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The flags of a training recipe, shared by {@code train} and {@code evaluate --cv}. */
final class RecipeFlags {
    @Option(names = "--id", description = "id column to exclude (repeatable)")
    List<String> ids = new ArrayList<>();

    @Option(
            names = "--target-kind",
            defaultValue = "auto",
            description = "auto, binary or regression (default: ${DEFAULT-VALUE}: binary for 0/1 or true/false"
                    + " targets, regression for numbers with at least 10 distinct values)")
    String targetKind;

    @Option(names = "--categorical", description = "force a column categorical (repeatable)")
    List<String> categorical = new ArrayList<>();

    @Option(names = "--numeric", description = "force a column numeric; a non-number is then an error (repeatable)")
    List<String> numeric = new ArrayList<>();

    @Option(names = "--drop", description = "ignore a column (repeatable)")
    List<String> drop = new ArrayList<>();

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--threads",
            defaultValue = "2",
            description = "base-model fits at once, one native thread each (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--fast", description = "quick low-quality settings (few trees and epochs), for smoke tests")
    boolean fast;

    @Option(
            names = "--tune",
            description = "search each base model's settings inside the training folds (successive halving,"
                    + " early stopping) before stacking")
    boolean tune;

    @Option(
            names = "--tune-budget",
            description = "planned search work, e.g. 10m (default: 10m); the plan comes from the data's size,"
                    + " not the clock, so the same budget runs the same trials")
    String tuneBudget;

    @Option(
            names = "--params",
            description =
                    "JSON file of hyperparameters to start from (or a bundle.json, to reuse its" + " hyperparameters)")
    Path params;

    TrainingOptions options(int folds, double testFraction) throws IOException {
        Hyperparameters start =
                params != null ? readParams(params) : fast ? Hyperparameters.fast() : Hyperparameters.defaults();
        if (tuneBudget != null && !tune) {
            throw new IllegalArgumentException("--tune-budget needs --tune");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be positive");
        }
        Duration budget = TrainingOptions.DEFAULT_TUNE_BUDGET;
        if (tuneBudget != null) {
            budget = DurationText.parse(tuneBudget);
            if (budget.isZero()) {
                throw new IllegalArgumentException("--tune-budget must be positive, not " + tuneBudget);
            }
        }
        return TrainingOptions.defaults()
                .withFolds(folds)
                .withSeed(seed)
                .withTestFraction(testFraction)
                .withThreads(threads)
                .withParams(start)
                .withTuning(tune, budget);
    }

    Dataset load(Path data, String target) throws DatasetException {
        SchemaOverrides overrides =
                new SchemaOverrides(new HashSet<>(categorical), new HashSet<>(numeric), new HashSet<>(drop));
        return Dataset.load(data, target, ids, overrides, kind());
    }

    private Optional<TargetKind> kind() {
        return switch (targetKind) {
            case "auto" -> Optional.empty();
            case "binary" -> Optional.of(TargetKind.BINARY);
            case "regression" -> Optional.of(TargetKind.REGRESSION);
            default ->
                throw new IllegalArgumentException(
                        "--target-kind must be auto, binary or regression, not '" + targetKind + "'");
        };
    }

    /** A hyperparameters object, or a bundle.json's; unknown or missing fields are errors. */
    static Hyperparameters readParams(Path file) throws IOException {
        ObjectMapper strict = Json.mapper().copy().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        JsonNode node;
        try {
            node = strict.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("--params " + file + ": not JSON: " + e.getOriginalMessage());
        }
        if (node != null && node.has("hyperparameters")) {
            node = node.get("hyperparameters");
        }
        try {
            Hyperparameters params = strict.treeToValue(node, Hyperparameters.class);
            if (params == null) {
                throw new IllegalArgumentException("--params " + file + ": empty");
            }
            return params;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("--params " + file + ": "
                    + (cause.getMessage() == null
                            ? e.getOriginalMessage()
                            : cause == e ? e.getOriginalMessage() : cause.getMessage()));
        }
    }
}
