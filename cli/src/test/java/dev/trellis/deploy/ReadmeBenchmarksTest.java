package dev.trellis.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every benchmark the README cites as {@code ./trellis bench NAME} is one the launcher runs: the
 * load generator's own flags, {@code jmh}, or a name of its {@code benchmark_of} table whose class
 * is in its module's test sources.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ReadmeBenchmarksTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @Test
    void readme_everyCitedBenchmarkIsOneTheLauncherRuns() throws IOException {
        String launcher = Files.readString(ROOT.resolve("trellis"));
        Matcher table = Pattern.compile("(?ms)^benchmark_of\\(\\) \\{(.*?)^}$").matcher(launcher);
        assertThat(table.find()).as("benchmark_of in the launcher").isTrue();
        Map<String, String[]> benchmarks = Pattern.compile(
                        "^\\s+([a-z-]+)\\) echo \"([a-z-]+) ([\\w.]+)\" ;;", Pattern.MULTILINE)
                .matcher(table.group(1))
                .results()
                .collect(Collectors.toMap(r -> r.group(1), r -> new String[] {r.group(2), r.group(3)}));
        assertThat(benchmarks).containsKeys("router", "overload", "soak", "batch-score");

        Set<String> cited = new TreeSet<>();
        Pattern.compile("\\./trellis bench ([a-z-]+)")
                .matcher(Files.readString(ROOT.resolve("README.md")))
                .results()
                .forEach(r -> cited.add(r.group(1)));
        assertThat(cited).contains("jmh", "soak", "batch-score");
        for (String name : cited) {
            if (name.equals("jmh") || name.startsWith("-")) {
                continue; // JMH's own runner; flags of the load generator (bench --model ...)
            }
            assertThat(benchmarks)
                    .as("./trellis bench " + name + " in the launcher")
                    .containsKey(name);
            String[] moduleAndClass = benchmarks.get(name);
            Path source = ROOT.resolve(moduleAndClass[0])
                    .resolve("src/test/java")
                    .resolve(moduleAndClass[1].replace('.', '/') + ".java");
            assertThat(source).as("./trellis bench " + name).isRegularFile();
        }
    }
}
