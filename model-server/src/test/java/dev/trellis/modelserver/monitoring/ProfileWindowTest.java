package dev.trellis.modelserver.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProfileWindowTest {
    private static final FeatureSchema SCHEMA = new FeatureSchema(
            List.of(Feature.numeric("x"), Feature.categorical("c", List.of("a", "b"))), "y", List.of());

    @TempDir
    Path repository;

    private final AtomicLong now = new AtomicLong(1_000_000);

    private static FeatureBatch rows(int from, int count) {
        FeatureBatch batch = new FeatureBatch(SCHEMA, count);
        for (int i = 0; i < count; i++) {
            int v = from + i;
            batch.setNumeric(i, 0, v % 10 == 0 ? Double.NaN : v);
            batch.setCategorical(i, 1, v % 2 == 0 ? "a" : null);
        }
        return batch;
    }

    private static double[] scores(int from, int count) {
        double[] s = new double[count];
        for (int i = 0; i < count; i++) {
            s[i] = (from + i) / 1000.0;
        }
        return s;
    }

    private ProfileWindow window(String spec) {
        // a folder without a bundle: the window opens with no baseline
        return new LiveProfiles(repository, DriftWindow.parse(spec), now::get).open("m", 1, SCHEMA);
    }

    @Test
    void record_keepsTheLastRowsAcrossWrapAroundInOrder() {
        ProfileWindow window = window("5");
        window.record(rows(0, 3), scores(0, 3));
        window.record(rows(3, 1), scores(3, 1)); // the single-row path
        window.record(rows(4, 3), scores(4, 3)); // wraps
        ProfileWindow.Snapshot snapshot = window.snapshot();
        assertThat(snapshot.rows()).isEqualTo(5);
        assertThat(snapshot.score().values()).containsExactly(0.002, 0.003, 0.004, 0.005, 0.006);
        FeatureProfile x = snapshot.features().get(0);
        assertThat(x.values()).containsExactly(2, 3, 4, 5, 6);
        FeatureProfile c = snapshot.features().get(1);
        assertThat(c.categories()).isEqualTo(Map.of("a", 3L));
        assertThat(c.missing()).isEqualTo(2);
        assertThat(window.baseline()).isEmpty();
    }

    @Test
    void record_severalFeaturesOfEachKindInterleaved_eachKeepsItsOwnValues() {
        FeatureSchema schema = new FeatureSchema(
                List.of(
                        Feature.numeric("x"),
                        Feature.categorical("c", List.of("a", "b")),
                        Feature.numeric("y"),
                        Feature.categorical("d", List.of("p", "q"))),
                "t",
                List.of());
        ProfileWindow window = new LiveProfiles(repository, DriftWindow.parse("3"), now::get).open("m", 1, schema);
        for (int from = 0; from < 5; from += 2) {
            int count = Math.min(2, 5 - from);
            FeatureBatch batch = new FeatureBatch(schema, count);
            for (int i = 0; i < count; i++) {
                int v = from + i;
                batch.setNumeric(i, 0, v);
                batch.setCategorical(i, 1, v % 2 == 0 ? "a" : "b");
                batch.setNumeric(i, 2, 100 + v);
                batch.setCategorical(i, 3, v < 3 ? "p" : "q");
            }
            window.record(batch, scores(from, count));
        }
        // rows 2, 3, 4 remain (a window of 3, wrapped)
        ProfileWindow.Snapshot snapshot = window.snapshot();
        assertThat(snapshot.features().get(0).values()).containsExactly(2, 3, 4);
        assertThat(snapshot.features().get(1).categories()).isEqualTo(Map.of("a", 2L, "b", 1L));
        assertThat(snapshot.features().get(2).values()).containsExactly(102, 103, 104);
        assertThat(snapshot.features().get(3).categories()).isEqualTo(Map.of("p", 1L, "q", 2L));
        assertThat(snapshot.score().values()).containsExactly(0.002, 0.003, 0.004);
    }

    @Test
    void record_batchLargerThanTheWindowKeepsItsLastRows() {
        ProfileWindow window = window("4");
        window.record(rows(0, 10), scores(0, 10));
        assertThat(window.snapshot().score().values()).containsExactly(0.006, 0.007, 0.008, 0.009);
        assertThat(window.snapshot().features().get(0).missing()).isZero();
    }

    @Test
    void record_batchOfSeveralLockChunksWrapsAroundInOrder() {
        int chunk = ProfileWindow.RECORD_CHUNK_ROWS;
        ProfileWindow window = window(Integer.toString(2 * chunk + 5));
        window.record(rows(0, 7), scores(0, 7));
        // more rows than one hold of the lock copies, ending in the middle of a chunk, across the wrap
        int count = 2 * chunk + 3;
        window.record(rows(7, count), scores(7, count));
        double[] expected = new double[2 * chunk + 5];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = (7 + count - expected.length + i) / 1000.0;
        }
        ProfileWindow.Snapshot snapshot = window.snapshot();
        assertThat(snapshot.rows()).isEqualTo(expected.length);
        assertThat(snapshot.score().values()).containsExactly(expected);
    }

    @Test
    void snapshot_durationWindowDropsOldRows() {
        ProfileWindow window = window("10m");
        window.record(rows(0, 2), scores(0, 2));
        now.addAndGet(Duration.ofMinutes(6).toMillis());
        window.record(rows(2, 2), scores(2, 2));
        assertThat(window.snapshot().rows()).isEqualTo(4);
        now.addAndGet(Duration.ofMinutes(5).toMillis());
        assertThat(window.snapshot().score().values()).containsExactly(0.002, 0.003);
        // the missing value of row 0 left with it
        assertThat(window.snapshot().features().get(0).missing()).isZero();
    }

    @Test
    void close_onlyTheWindowThatIsStillOpen() {
        LiveProfiles profiles = new LiveProfiles(repository, DriftWindow.DEFAULT, now::get);
        ProfileWindow first = profiles.open("m", 1, SCHEMA);
        ProfileWindow second = profiles.open("m", 1, SCHEMA); // a reload replaced it
        profiles.close(first);
        assertThat(profiles.window("m", 1)).containsSame(second);
        profiles.close(second);
        assertThat(profiles.window("m", 1)).isEmpty();
    }

    @Test
    void parse_rowsOrDurationAndPreciseErrors() {
        assertThat(DriftWindow.parse("2000")).isEqualTo(new DriftWindow(2000, Optional.empty()));
        assertThat(DriftWindow.parse("30m"))
                .isEqualTo(new DriftWindow(DriftWindow.MAX_ROWS, Optional.of(Duration.ofMinutes(30))));
        assertThat(DriftWindow.DEFAULT.rows()).isEqualTo(2000);
        assertThatThrownBy(() -> DriftWindow.parse("lots")).hasMessageContaining("--drift-window");
        assertThatThrownBy(() -> DriftWindow.parse("0")).hasMessageContaining("[1, 100000]");
    }
}
