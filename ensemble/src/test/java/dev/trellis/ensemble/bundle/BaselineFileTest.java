package dev.trellis.ensemble.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.common.monitoring.Baseline;
import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.common.monitoring.Profiles;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaselineFileTest {
    @TempDir
    Path repository;

    @Test
    void read_trainedBundle_profilesEveryFeatureAndTheOutOfFoldScores() {
        Path dir = TestBundles.install(repository, "churn", 1, 42);
        Baseline baseline = BaselineFile.read(dir).orElseThrow();
        BundleManifest manifest = BundleLoader.readManifest(dir);
        assertThat(baseline.rows()).isEqualTo(manifest.data().trainRows());
        assertThat(baseline.features())
                .extracting(FeatureProfile::name)
                .containsExactlyElementsOf(manifest.schema().features().stream()
                        .map(BundleManifest.FeatureJson::name)
                        .toList());

        FeatureProfile tenure = baseline.feature("tenure").orElseThrow();
        assertThat(tenure.categorical()).isFalse();
        assertThat(tenure.rows()).isEqualTo(baseline.rows());
        assertThat(Arrays.stream(tenure.binCounts()).sum()).isEqualTo(tenure.rows() - tenure.missing());
        assertThat(tenure.edges()).isSorted().hasSizeBetween(2, Profiles.BINS - 1);
        assertThat(tenure.values()).isSorted().hasSizeLessThanOrEqualTo(Profiles.SKETCH_POINTS);

        FeatureProfile contract = baseline.feature("contract").orElseThrow();
        assertThat(contract.categorical()).isTrue();
        assertThat(contract.categories()).containsOnlyKeys("Month-to-month", "One year", "Two year");
        assertThat(contract.categories().values().stream()
                                .mapToLong(Long::longValue)
                                .sum()
                        + contract.missing())
                .isEqualTo(contract.rows());

        // total_charges has blanks in the shipped file: the missing bucket is counted
        assertThat(baseline.feature("total_charges").orElseThrow().missing()).isPositive();

        FeatureProfile score = baseline.score();
        assertThat(score.name()).isEqualTo(FeatureProfile.SCORE);
        assertThat(score.rows()).isEqualTo(baseline.rows());
        assertThat(Arrays.stream(score.values()).allMatch(v -> v > 0 && v < 1)).isTrue();
    }

    @Test
    void read_bundleWithoutBaseline_loadsAndReportsNone() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 2, 42);
        Path json = dir.resolve(BundleManifest.FILE_NAME);
        ObjectNode manifest = (ObjectNode) Json.mapper().readTree(json.toFile());
        ((ObjectNode) manifest.get("files")).remove(BaselineFile.KEY);
        Json.mapper().writeValue(json.toFile(), manifest);
        Files.delete(dir.resolve(BaselineFile.FILE_NAME));

        assertThat(BaselineFile.read(dir)).isEmpty();
        try (LoadedBundle bundle = BundleLoader.load(dir)) {
            assertThat(bundle.version()).isEqualTo(2);
        }
    }

    @Test
    void read_changedBaseline_shaMismatch() throws Exception {
        Path dir = TestBundles.install(repository, "churn", 3, 42);
        Path file = dir.resolve(BaselineFile.FILE_NAME);
        Files.writeString(file, Files.readString(file).replaceFirst("\"rows\":", "\"rows\": "));
        assertThatThrownBy(() -> BaselineFile.read(dir))
                .isInstanceOf(InvalidBundleException.class)
                .hasMessageContaining("sha256 mismatch for baseline.json");
    }
}
