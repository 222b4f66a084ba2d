package dev.trellis.ensemble.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleLoaderTest {
    @TempDir
    Path repository;

    @Test
    void load_installedTestBundle() {
        Path dir = TestBundles.install(repository, "churn-a", 3, 42);
        try (LoadedBundle bundle = BundleLoader.load(dir)) {
            assertThat(bundle.model()).isEqualTo("churn-a");
            assertThat(bundle.version()).isEqualTo(3);
            assertThat(bundle.directory()).isEqualTo(dir);
            assertThat(bundle.testMetrics()).containsKeys("auc_roc", "brier", "pr_auc", "log_loss");
            assertThat(bundle.testMetrics().get("auc_roc")).isGreaterThan(0.75);
            FeatureBatch batch = TestBundles.churn().subset(new int[] {0, 1, 2}).features();
            Predictions p = bundle.ensemble().predict(batch, true);
            assertThat(p.rows()).isEqualTo(3);
            bundle.close();
        }
    }

    @Test
    void close_twiceIsSafeAndScoringAfterCloseFails() {
        Path dir = TestBundles.install(repository, "churn", 2, 42);
        LoadedBundle bundle = BundleLoader.load(dir);
        FeatureBatch batch = TestBundles.churn()
                .subset(new int[] {
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                    27, 28, 29, 30, 31, 32, 33
                })
                .features();
        bundle.close();
        bundle.close();
        assertThatThrownBy(() -> bundle.ensemble().predict(batch, false)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void load_flippedByteInXgboost_shaMismatch() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        Path file = dir.resolve("xgboost.ubj");
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x01;
        Files.write(file, bytes);
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOfSatisfying(
                        InvalidBundleException.class,
                        e -> assertThat(e.directory()).isEqualTo(dir))
                .hasMessageContaining("sha256 mismatch for xgboost.ubj");
    }

    @Test
    void load_missingFile() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        Files.delete(dir.resolve("lightgbm.txt"));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("missing file lightgbm.txt");
        Files.delete(dir.resolve("bundle.json"));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("missing file bundle.json");
    }

    @Test
    void load_badJson() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        Files.writeString(dir.resolve("bundle.json"), "{ \"format_version\": 1, ");
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("unparseable bundle.json");
    }

    @Test
    void load_unknownFormatVersion() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        edit(dir, json -> json.put("format_version", 99));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("unknown format version 99");
    }

    @Test
    void load_modelOrVersionNotMatchingFolder() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        edit(dir, json -> json.put("version", 2));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("names version 2");
        edit(dir, json -> json.put("version", 1).put("model", "leads"));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("names model 'leads'");
    }

    @Test
    void load_invalidSchema() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        edit(dir, json -> ((ObjectNode) json.get("schema")).putArray("features"));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("schema invalid");
    }

    @Test
    void load_regressionBundle_formatTwoWithItsKindAndRange() throws Exception {
        Path dir = TestBundles.installRegression(repository, "charges", 1, 42);
        assertThat(BundleLoader.readManifest(dir).formatVersion()).isEqualTo(BundleManifest.FORMAT_VERSION_2);
        try (LoadedBundle bundle = BundleLoader.load(dir)) {
            assertThat(bundle.ensemble().targetKind()).isEqualTo(TargetKind.REGRESSION);
            assertThat(bundle.ensemble().targetRange().min()).isBetween(18.0, 25.0);
            assertThat(bundle.ensemble().targetRange().max()).isBetween(110.0, 119.0);
            assertThat(bundle.testMetrics()).containsKeys("rmse", "mae", "r2");
            FeatureBatch batch =
                    TestBundles.churnRegression().subset(new int[] {0, 1, 2}).features();
            Predictions p = bundle.ensemble().predict(batch, false);
            assertThat(java.util.Arrays.stream(p.score()).boxed().toList()).allMatch(v -> v >= 10 && v <= 130);
        }
        // a reader of format 1 only would misread it; this build refuses a version-1 claim for it
        edit(dir, json -> json.put("format_version", 1));
        assertThatThrownBy(() -> BundleLoader.load(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("format version 1 holds only binary targets with all three base models");
    }

    @Test
    void load_bundleOfAnEarlierRelease_stillServedAsBinary() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        // what bundle.json looked like before target kinds, base-model lists and meta-learner kinds
        edit(dir, json -> {
            json.remove(List.of("target", "base_models", "hyperparameters", "tuning", "warnings"));
            ((ObjectNode) json.get("meta_learner")).remove(List.of("kind", "half_width", "choice"));
            ((ObjectNode) json.get("mlp")).remove(List.of("ordinal_levels", "target_mean", "target_std"));
            json.putObject("training_options").put("folds", 2).put("xgb_rounds", 40);
        });
        try (LoadedBundle bundle = BundleLoader.load(dir)) {
            assertThat(bundle.ensemble().targetKind()).isEqualTo(TargetKind.BINARY);
            assertThat(bundle.ensemble().baseModels()).containsExactly("xgboost", "lightgbm", "mlp");
        }
    }

    @Test
    void write_nextVersionAndNoTempLeftovers() throws Exception {
        TestBundles.install(repository, "churn", 1, 42);
        TestBundles.install(repository, "churn", 7, 42);
        assertThat(BundleWriter.nextVersion(repository.resolve("churn"))).isEqualTo(8);
        try (var entries = Files.list(repository.resolve("churn"))) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("1", "7");
        }
    }

    private static void edit(Path dir, java.util.function.Consumer<ObjectNode> change) throws Exception {
        Path file = dir.resolve("bundle.json");
        ObjectNode json = (ObjectNode) Json.mapper().readTree(file.toFile());
        change.accept(json);
        Json.mapper().writeValue(file.toFile(), json);
    }
}
