package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak mode end to end, short: real router and model-server processes started through the
 * launcher, 20 requests/s, 2 slices of 10 s, a version retrained every 8 s: every column of every
 * slice is reported for every JVM, the heaps are the launcher's explicit sizes, and the retrained
 * version is trained and made the default.
 */
class SoakTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES) // two trainings, three JVM starts and a retraining cycle
    void run_twoShortSlices_reportEveryColumnForEveryJvm(@TempDir Path dir) throws Exception {
        Soak.Options options = new Soak.Options(
                Duration.ofSeconds(20),
                Duration.ofSeconds(10),
                Duration.ofSeconds(8),
                20,
                Duration.ofSeconds(5),
                true,
                ROOT.resolve("trellis"),
                ROOT.resolve("datasets").resolve("leads_coil2000_train.csv"),
                dir);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // the slice lines also go to the test's output, which says where a failing run stalled
        OutputStream tee = new OutputStream() {
            @Override
            public void write(int b) {
                out.write(b);
                System.out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                out.write(b, off, len);
                System.out.write(b, off, len);
            }
        };

        Soak.Report report = new Soak(options, new PrintStream(tee, true, StandardCharsets.UTF_8)).run();

        assertThat(report.slices()).hasSize(2);
        for (Soak.Slice slice : report.slices()) {
            // every kind of the mix was sent and accounted for (answered with a latency, or failed by
            // status code); whether all succeed on a shared machine is the benchmark's figure
            for (SoakLoad.Kind kind : SoakLoad.Kind.values()) {
                long answered = slice.traffic().latencyMicros().get(kind).getTotalCount();
                long failed = slice.traffic().failures().get(kind).values().stream()
                        .mapToLong(Long::longValue)
                        .sum();
                assertThat(answered + failed)
                        .as(kind.label + " in slice " + slice.number())
                        .isPositive();
            }
            assertThat(slice.jvms())
                    .extracting(SoakProbe.Sample::jvm)
                    .containsExactly("router", "model-server-1", "model-server-2");
            for (SoakProbe.Sample jvm : slice.jvms()) {
                assertThat(List.of(jvm.rssKib(), jvm.heapAfterGcKib(), jvm.nativeCommittedKib(), jvm.fds()))
                        .as(jvm.toString())
                        .allMatch(v -> v > 0);
                assertThat(jvm.heapAfterGcKib()).as(jvm.toString()).isLessThanOrEqualTo(jvm.heapSizeKib());
                // the launcher's explicit heaps (-Xms = -Xmx): 1536m for the router, 1g for a model-server
                assertThat(jvm.heapSizeKib())
                        .as(jvm.toString())
                        .isEqualTo(jvm.jvm().equals("router") ? 1536 * 1024 : 1024 * 1024);
            }
        }
        assertThat(report.retrains()).isNotEmpty().allMatch(r -> r.failure() == null);
        assertThat(dir.resolve("models/leads/3/bundle.json"))
                .satisfies(p -> assertThat(Files.isRegularFile(p)).isTrue());
        String markdown = Soak.markdown(report);
        assertThat(markdown)
                .contains("| 2 | model-server-2 |", "| 2 | router |", "explain p50 / p99 ms", "version 3 trained");
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("slice 1 ", "slice 2 ", "retrain: version 3");
    }
}
