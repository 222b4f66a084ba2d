package dev.trellis.cli;

import dev.trellis.common.text.DurationText;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Issue 14's soak mode (see {@link Soak}): {@code ./trellis bench soak --duration 30m}. Prints a line
 * per slice as it goes and the Markdown tables at the end; exits non-zero when a request failed or a
 * retraining cycle did.
 */
@Command(
        name = "soak",
        mixinStandardHelpOptions = true,
        description = "Soak: steady mixed traffic while versions are retrained")
public final class SoakBenchmark implements Callable<Integer> {
    @Option(names = "--duration", defaultValue = "30m", description = "measured time (default: ${DEFAULT-VALUE})")
    String duration;

    @Option(names = "--slice", defaultValue = "5m", description = "sampling interval (default: ${DEFAULT-VALUE})")
    String slice;

    @Option(
            names = "--train-every",
            defaultValue = "5m",
            description = "a new version is trained and made the default this often (default: ${DEFAULT-VALUE})")
    String trainEvery;

    @Option(names = "--rate", defaultValue = "1000", description = "requests per second (default: ${DEFAULT-VALUE})")
    double rate;

    @Option(
            names = "--warmup",
            defaultValue = "3m",
            description = "unmeasured traffic first, while the servers' JIT warms up (default: ${DEFAULT-VALUE})")
    String warmup;

    @Mixin
    ClusterOptions clusterOptions = new ClusterOptions();

    private SoakBenchmark() {}

    public static void main(String[] args) {
        System.exit(new CommandLine(new SoakBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path root = clusterOptions.root();
        Path work = clusterOptions.workDir("trellis-soak-");
        Soak.Options options = new Soak.Options(
                DurationText.parse(duration),
                DurationText.parse(slice),
                DurationText.parse(trainEvery),
                rate,
                DurationText.parse(warmup),
                clusterOptions.fastTraining,
                root.resolve("trellis"),
                root.resolve("datasets").resolve("leads_coil2000_train.csv"),
                work);
        System.out.printf(
                "soak: %s at %.0f req/s, slices of %s, a new version every %s; %d cores, Java %s; logs in %s%n",
                duration,
                rate,
                slice,
                trainEvery,
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"),
                work);
        Soak.Report report = new Soak(options, System.out).run();
        System.out.println();
        System.out.print(Soak.markdown(report));
        boolean failed = report.slices().stream().anyMatch(s -> s.traffic().failed() > 0)
                || report.retrains().stream().anyMatch(r -> r.failure() != null);
        return failed ? 1 : 0;
    }
}
