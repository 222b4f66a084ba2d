package dev.trellis.ha;

import static org.awaitility.Awaitility.await;

import dev.trellis.router.RouterMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A router in a JVM of its own ({@code java dev.trellis.router.RouterMain}, the real command), for
 * faults only a process can have: {@code kill -9} and SIGTERM. Its stderr is collected (the port
 * it listens on, who runs the rollouts). Destroyed forcibly on close.
 */
final class RouterProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("trellis router listening on .*:(\\d+)$");

    final String name;
    private final Process process;
    private final ConcurrentLinkedQueue<String> log = new ConcurrentLinkedQueue<>();
    private final Thread reader;
    private volatile int port;

    private RouterProcess(String name, Process process) {
        this.name = name;
        this.process = process;
        this.reader = new Thread(this::read, "router-" + name + "-stderr");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code trellis router} with these flags and environment, and waits until it listens. */
    static RouterProcess start(String name, List<String> flags, Map<String, String> env, Path logDir) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-cp",
                routerClasspath(),
                RouterMain.class.getName()));
        command.addAll(flags);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        try {
            RouterProcess router = new RouterProcess(name, pb.start());
            await("router " + name + " listening")
                    .atMost(Duration.ofSeconds(120))
                    .until(() -> {
                        if (!router.process.isAlive()) {
                            throw new IllegalStateException("router " + name + " exited: " + router.output());
                        }
                        return router.port > 0;
                    });
            return router;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The router's own runtime classpath, as {@code ./trellis router} runs it: its classes and
     * {@code router/target/lib}, which Maven's reactor builds (package phase) before these tests.
     */
    private static String routerClasspath() {
        Path target =
                Path.of(System.getProperty("user.dir")).resolveSibling("router").resolve("target");
        Path lib = target.resolve("lib");
        if (!java.nio.file.Files.isDirectory(lib)) {
            throw new IllegalStateException(lib + " is missing: build the router first (mvn -pl router -am package)");
        }
        return target.resolve("classes") + java.io.File.pathSeparator + lib + "/*";
    }

    private void read() {
        try (BufferedReader in =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                log.add(line);
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
        } catch (IOException e) {
            // the process is gone
        }
    }

    long pid() {
        return process.pid();
    }

    int port() {
        return port;
    }

    String address() {
        return "127.0.0.1:" + port;
    }

    boolean logged(String text) {
        return log.stream().anyMatch(l -> l.contains(text));
    }

    String output() {
        return String.join("\n", log);
    }

    boolean alive() {
        return process.isAlive();
    }

    /** {@code kill -9}: no shutdown hook, no flush, no goodbye. */
    void kill9() {
        process.destroyForcibly();
        waitFor();
    }

    /**
     * SIGTERM: the router's shutdown hook runs (NOT_SERVING, delay, drain). Does not wait. Sent
     * through the ProcessHandle: Process.destroy() would also close our end of the process's
     * output, and what the router logs while it shuts down would be lost.
     */
    void term() {
        process.toHandle().destroy();
    }

    /** Waits for the exit, and until everything the process printed is read. */
    void waitFor() {
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("router " + name + " did not exit");
            }
            reader.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    int exitCode() {
        return process.exitValue();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            waitFor();
        }
    }
}
