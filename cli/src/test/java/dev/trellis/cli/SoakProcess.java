package dev.trellis.cli;

import static java.util.Objects.requireNonNull;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JVM the soak benchmark starts through the {@code trellis} launcher ({@code ./trellis router},
 * {@code ./trellis model-server}, {@code ./trellis train}), so that it runs with the launcher's own
 * heap, collector and flags. The launcher {@code exec}s java, so the process is the JVM. Its output
 * goes to a log file; the first number the {@code port} pattern matches there is its port. Thread-safe;
 * {@link #close()} (SIGTERM, then SIGKILL after 30 s) is idempotent.
 */
final class SoakProcess implements AutoCloseable {
    private final String name;
    private final Process process;
    private final Path log;
    private final Path gcLog;
    private final Thread reader;
    private volatile int port;

    private SoakProcess(String name, Process process, Path log, Path gcLog, Pattern portLine) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.gcLog = gcLog;
        this.reader = new Thread(() -> read(portLine), "soak-" + name + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code launcher args...} with native memory tracking and a GC log (through
     * {@code TRELLIS_JAVA_OPTS}) and {@code TRELLIS_NO_BUILD=1} (the caller has built everything).
     *
     * @param portLine a pattern whose group 1 is the port the process listens on, or null
     */
    static SoakProcess start(
            String name, Path launcher, List<String> args, Map<String, String> env, Path dir, Pattern portLine) {
        return start(name, List.of(), launcher, args, env, dir, portLine);
    }

    /**
     * Like {@link #start}, in Linux's idle scheduling class ({@code chrt --idle 0}, which execs the
     * launcher, so the process is still the JVM; its threads inherit the class): for work that stands
     * for another machine's, such as training, which must not take the servers' CPU when they need
     * it. Nice 19 was not low enough: it is the nice value of the model-servers' bulk and explain
     * lanes, which then shared the cores evenly with the trainer and shed requests while it ran.
     */
    static SoakProcess startInBackground(String name, Path launcher, List<String> args, Path dir) {
        return start(name, List.of("chrt", "--idle", "0"), launcher, args, Map.of(), dir, null);
    }

    private static SoakProcess start(
            String name,
            List<String> prefix,
            Path launcher,
            List<String> args,
            Map<String, String> env,
            Path dir,
            Pattern portLine) {
        requireNonNull(name, "name is null");
        Path log = dir.resolve(name + ".log");
        Path gcLog = dir.resolve(name + "-gc.log");
        List<String> command = new ArrayList<>(prefix);
        command.add(launcher.toString());
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        builder.environment().put("TRELLIS_NO_BUILD", "1");
        String opts = "-XX:NativeMemoryTracking=summary -Xlog:gc:file=" + gcLog;
        builder.environment().merge("TRELLIS_JAVA_OPTS", opts, (old, added) -> old + " " + added);
        try {
            return new SoakProcess(name, builder.start(), log, gcLog, portLine);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    private void read(Pattern portLine) {
        try (BufferedReader in =
                        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                out.write(line);
                out.newLine();
                out.flush();
                if (port == 0 && portLine != null) {
                    Matcher m = portLine.matcher(line);
                    if (m.find()) {
                        port = Integer.parseInt(m.group(1));
                    }
                }
            }
        } catch (IOException e) {
            // the process is gone
        }
    }

    /** Waits until the process logged its port; fails when it exits first or {@code timeout} passes. */
    int awaitPort(Duration timeout) {
        await(name + " listening")
                .atMost(timeout)
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    if (port == 0 && !process.isAlive()) {
                        throw new IllegalStateException(name + " exited with " + process.exitValue() + ": " + tail());
                    }
                    return port > 0;
                });
        return port;
    }

    /** Waits for the process to exit; returns its exit code, or fails after {@code timeout}. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException(name + " still running after " + timeout + ": " + tail());
        }
        reader.join(5_000);
        return process.exitValue();
    }

    String name() {
        return name;
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    Path gcLog() {
        return gcLog;
    }

    /** The last lines of the process's output, for error messages. */
    String tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
