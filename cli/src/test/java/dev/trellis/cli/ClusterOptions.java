package dev.trellis.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every benchmark on a {@link LocalCluster} takes (a picocli mixin). */
final class ClusterOptions {
    @Option(names = "--fast-training", description = "train with --fast (quick, low-quality models)")
    boolean fastTraining;

    @Option(names = "--dir", description = "working folder (default: a new temporary folder)")
    Path dir;

    /** The checkout: the launcher passes it (bench_main), else the working directory. */
    Path root() {
        return Path.of(System.getProperty("trellis.root", System.getProperty("user.dir")));
    }

    /** {@code --dir}, created, or a new temporary folder named with {@code prefix}. */
    Path workDir(String prefix) throws IOException {
        return dir != null ? Files.createDirectories(dir) : Files.createTempDirectory(prefix);
    }
}
