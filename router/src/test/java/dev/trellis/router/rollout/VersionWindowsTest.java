package dev.trellis.router.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.experiments.rollout.VersionWindow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class VersionWindowsTest {
    @Test
    void snapshot_countsRequestsErrorsScoresAndP99() {
        VersionWindows windows = new VersionWindows();
        for (int i = 0; i < 99; i++) {
            windows.recordSuccess("m", "2", TimeUnit.MILLISECONDS.toNanos(1), new double[] {0.05, 0.95});
        }
        windows.recordFailure("m", "2", 2, TimeUnit.MILLISECONDS.toNanos(100));

        VersionWindow window = windows.snapshot("m", "2");

        assertThat(window.requests()).isEqualTo(200);
        assertThat(window.errors()).isEqualTo(2);
        assertThat(window.scoreHistogram()).containsExactly(99, 0, 0, 0, 0, 0, 0, 0, 0, 99);
        assertThat(window.p99Millis()).isBetween(0.9, 1.1);
        assertThat(windows.snapshot("m", "1")).isEqualTo(VersionWindow.empty());
    }

    @Test
    void reset_startsNewWindowsForTheModelOnly() {
        VersionWindows windows = new VersionWindows();
        windows.recordSuccess("a", "1", 1000, new double[] {1.0});
        windows.recordSuccess("b", "1", 1000, new double[] {0.0});

        windows.reset("a");

        assertThat(windows.snapshot("a", "1").requests()).isZero();
        assertThat(windows.snapshot("b", "1").requests()).isEqualTo(1);
        assertThat(windows.snapshot("b", "1").scoreHistogram()[0]).isEqualTo(1);
    }
}
