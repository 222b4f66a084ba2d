package dev.trellis.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What the soak benchmark measures of one running JVM (Linux): resident memory and open file
 * descriptors from {@code /proc/<pid>}, the JVM's own memory outside the heap from native memory
 * tracking ({@code jcmd <pid> VM.native_memory summary}), and the live heap: the heap after a full
 * collection it asks for ({@code jcmd <pid> GC.run}, one pause per sample), read from the JVM's GC
 * log ({@code -Xlog:gc}). After a young collection the parallel collector's heap still holds the old
 * generation's garbage (models of unloaded versions, for one) until its next full collection, which
 * would read as growth. Not thread-safe: one probe per JVM, used by one thread.
 */
final class SoakProbe {
    /** One sample; sizes in KiB; the heap size is the JVM's maximum heap (-Xmx). */
    record Sample(String jvm, long rssKib, long heapAfterGcKib, long heapSizeKib, long nativeCommittedKib, long fds) {}

    // "... Pause Young (Normal) (G1 Evacuation Pause) 120M->30M(512M) 3.456ms"
    private static final Pattern GC = Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");
    private static final Pattern MAX_HEAP = Pattern.compile("-XX:MaxHeapSize=(\\d+)");
    private static final Pattern NMT_TOTAL = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern NMT_HEAP = Pattern.compile("Java Heap \\(reserved=(\\d+)KB, committed=(\\d+)KB");

    private final SoakProcess process;
    private long maxHeapKib;

    SoakProbe(SoakProcess process) {
        this.process = process;
    }

    Sample sample() throws InterruptedException {
        long pid = process.pid();
        long before = lastCollection()[0];
        jcmd(pid, "GC.run");
        long[] gc = lastCollection();
        if (gc[0] <= before) {
            throw new IllegalStateException("no collection logged by pid " + pid + " after GC.run");
        }
        if (maxHeapKib == 0) {
            Matcher m = MAX_HEAP.matcher(jcmd(pid, "VM.flags"));
            if (!m.find()) {
                throw new IllegalStateException("no MaxHeapSize in the flags of pid " + pid);
            }
            maxHeapKib = Long.parseLong(m.group(1)) / 1024;
        }
        return new Sample(process.name(), rssKib(pid), gc[1], maxHeapKib, nativeCommittedKib(pid), fds(pid));
    }

    /** {number of collections logged, heap after the last in KiB, heap capacity after it in KiB}. */
    private long[] lastCollection() {
        List<String> lines;
        try {
            lines = Files.exists(process.gcLog())
                    ? Files.readAllLines(process.gcLog(), StandardCharsets.UTF_8)
                    : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long count = 0;
        long after = 0;
        long size = 0;
        for (String line : lines) {
            Matcher m = GC.matcher(line);
            if (m.find()) {
                count++;
                after = kib(m.group(3), m.group(4));
                size = kib(m.group(5), m.group(6));
            }
        }
        return new long[] {count, after, size};
    }

    private static long kib(String number, String unit) {
        long n = Long.parseLong(number);
        return switch (unit) {
            case "K" -> n;
            case "M" -> n * 1024;
            default -> n * 1024 * 1024;
        };
    }

    static long rssKib(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            throw new IllegalStateException("no VmRSS for pid " + pid);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long fds(long pid) {
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * What the JVM itself committed outside the Java heap (NMT's total less its Java Heap: the heap
     * is committed whole at start with -Xms = -Xmx, and the heap after GC says how much of it is
     * used). Native libraries' own allocations (XGBoost, LightGBM, ND4J) are not tracked by NMT;
     * RSS includes them.
     */
    private static long nativeCommittedKib(long pid) throws InterruptedException {
        String out = jcmd(pid, "VM.native_memory", "summary");
        Matcher total = NMT_TOTAL.matcher(out);
        Matcher heap = NMT_HEAP.matcher(out);
        if (!total.find() || !heap.find()) {
            throw new IllegalStateException("no native memory summary from pid " + pid + ": " + out);
        }
        return Long.parseLong(total.group(2)) - Long.parseLong(heap.group(2));
    }

    /** Runs {@code jcmd pid command...} and returns its output. */
    static String jcmd(long pid, String... command) throws InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        ProcessBuilder builder = new ProcessBuilder(Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd");
        builder.command().add(Long.toString(pid));
        builder.command().addAll(List.of(command));
        builder.redirectErrorStream(true);
        try {
            Process process = builder.start();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IllegalStateException(String.format(
                        Locale.ROOT, "%s failed: %s", builder.command(), new String(out, StandardCharsets.UTF_8)));
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
