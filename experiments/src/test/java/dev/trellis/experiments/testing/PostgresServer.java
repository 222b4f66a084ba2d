package dev.trellis.experiments.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL server for tests, started from the installed binaries (Debian's
 * {@code postgresql} package: {@code /usr/lib/postgresql/<version>/bin}, or {@code initdb} on the
 * PATH): a new cluster in a temporary directory, listening on a free loopback port only, with
 * password authentication (scram-sha-256). PostgreSQL refuses to run as root, so under root (CI)
 * it runs as the {@code postgres} system user the package creates.
 *
 * <p>Stopping is immediate (like a crash: committed data survives in the WAL), so a test JVM
 * exits at once. When it cannot start, {@link #shared()} throws with the reason and what to install, so the
 * tests that need it fail, never skip. The server stops when the test JVM exits, also when it is
 * killed: it runs under a small shell that stops it as soon as the JVM's end of its stdin closes.
 */
public final class PostgresServer implements AutoCloseable {
    public static final String USER = "trellis";
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static PostgresServer shared;

    private final Path dir;
    private final Path data;
    private final Path passwordFile;
    private final String password;
    private final Path bin;
    private final boolean asPostgresUser;
    private final boolean durable;
    private int port;
    private Process process;

    private PostgresServer(Path dir, Path bin, boolean asPostgresUser, boolean durable) {
        this.durable = durable;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.passwordFile = dir.resolve("password");
        this.password = UUID.randomUUID().toString();
        this.bin = bin;
        this.asPostgresUser = asPostgresUser;
    }

    /** The server shared by every test of this JVM, started on first use. */
    public static synchronized PostgresServer shared() {
        if (shared == null) {
            shared = start();
            PostgresServer server = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "postgres-test-server-stop"));
        }
        return shared;
    }

    /** A server of its own (for tests that stop and restart it); close it when done. */
    public static PostgresServer start() {
        return start(false);
    }

    /**
     * @param durable fsync every commit, as a production server does (benchmarks); tests run with
     *     fsync off, which loses nothing when PostgreSQL itself crashes or is stopped, only when the
     *     machine does
     */
    public static PostgresServer start(boolean durable) {
        Path bin = findBinaries();
        boolean root = "root".equals(System.getProperty("user.name"));
        try {
            Path dir = Files.createTempDirectory(Path.of(System.getProperty("trellis.pg.tmp", "/tmp")), "trellis-pg-");
            PostgresServer server = new PostgresServer(dir, bin, root, durable);
            server.init();
            server.startProcess();
            return server;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the PostgreSQL test server: " + e.getMessage(), e);
        }
    }

    private static Path findBinaries() {
        List<Path> candidates = new ArrayList<>();
        String override = System.getenv("TRELLIS_PG_BIN");
        if (override != null && !override.isBlank()) {
            candidates.add(Path.of(override));
        }
        Path debian = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(debian)) {
            try (Stream<Path> versions = Files.list(debian)) {
                versions.map(v -> v.resolve("bin"))
                        .sorted(Comparator.comparing((Path p) -> versionOf(p)).reversed())
                        .forEach(candidates::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        for (String entry : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!entry.isEmpty()) {
                candidates.add(Path.of(entry));
            }
        }
        return candidates.stream()
                .filter(p -> Files.isExecutable(p.resolve("initdb")) && Files.isExecutable(p.resolve("postgres")))
                .findFirst()
                .orElseThrow(() -> new IllegalStateException(
                        "PostgreSQL is not installed: the store tests need a real server (initdb and postgres)."
                                + " On Debian/Ubuntu: apt-get install -y postgresql (.ci/run does it); elsewhere set"
                                + " TRELLIS_PG_BIN to the folder holding initdb and postgres"));
    }

    private static int versionOf(Path bin) {
        try {
            return Integer.parseInt(bin.getParent().getFileName().toString().replaceAll("\\D.*", ""));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private void init() throws IOException {
        Files.writeString(passwordFile, password, StandardCharsets.UTF_8);
        if (asPostgresUser) {
            UserPrincipal postgres;
            try {
                postgres =
                        FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            } catch (IOException e) {
                throw new IllegalStateException("running as root needs the 'postgres' system user of Debian's"
                        + " postgresql package to start the test server (PostgreSQL refuses to run as root)");
            }
            Files.setOwner(dir, postgres);
            Files.setOwner(passwordFile, postgres);
        }
        run(List.of(
                bin.resolve("initdb").toString(),
                "-D",
                data.toString(),
                "-U",
                USER,
                "--pwfile=" + passwordFile,
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync"));
    }

    private void run(List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(asUser(command))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("initdb.log").toFile());
        Process p = pb.start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("initdb failed: " + Files.readString(dir.resolve("initdb.log")));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running initdb", e);
        }
    }

    private List<String> asUser(List<String> command) {
        if (!asPostgresUser) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    private void startProcess() throws IOException {
        IllegalStateException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = probe.getLocalPort();
            }
            try {
                launch();
                return;
            } catch (IllegalStateException e) {
                last = e; // most likely the port was taken in between: try another one
            }
        }
        throw last;
    }

    private void launch() throws IOException {
        // the shell stops PostgreSQL (immediate shutdown: like a crash, committed data survives in the
        // WAL) when its stdin closes: at close(), or when this JVM dies
        // (an asynchronous list reads /dev/null unless told otherwise: hence fd 3)
        String script =
                "exec 3<&0; \"$0\" \"$@\" </dev/null & pid=$!; (read -r _ <&3; kill -QUIT $pid 2>/dev/null) & wait $pid";
        List<String> command = new ArrayList<>(List.of(
                "sh",
                "-c",
                script,
                bin.resolve("postgres").toString(),
                "-D",
                data.toString(),
                "-p",
                Integer.toString(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=" + dir,
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "fsync=" + (durable ? "on" : "off")));
        Path log = dir.resolve("postgres.log");
        process = new ProcessBuilder(asUser(command))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        try {
            await("PostgreSQL test server on port " + port)
                    .atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        if (!process.isAlive()) {
                            throw new IllegalStateException("PostgreSQL exited: " + tail(log));
                        }
                        return canConnect();
                    });
        } catch (RuntimeException e) {
            process.destroyForcibly();
            throw new IllegalStateException(
                    "PostgreSQL test server did not start: " + e.getMessage() + "\n" + tail(log), e);
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private boolean canConnect() {
        try (Connection c = connect("postgres")) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    private Connection connect(String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", USER);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, props);
    }

    /** Creates a new empty database and returns its {@code --store} URL (no password in it). */
    public String createDatabase() {
        String name = "trellis_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        try (Connection c = connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
        }
        return url(name);
    }

    /** The {@code --store} URL of a database on this server. */
    public String url(String database) {
        return "postgresql://" + USER + "@127.0.0.1:" + port + "/" + database;
    }

    public int port() {
        return port;
    }

    public String password() {
        return password;
    }

    /** A file holding the password (for --store-password-file). */
    public Path passwordFile() {
        return passwordFile;
    }

    /** Stops the server (fast shutdown: sessions are ended), keeping its data. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        try {
            OutputStream stdin = process.getOutputStream();
            stdin.close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (IOException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        await("PostgreSQL test server stopped").atMost(Duration.ofSeconds(30)).until(() -> !canConnect());
        process = null;
    }

    /** Starts a stopped server again on the same port and data. */
    public synchronized void restart() {
        stop();
        try {
            launch();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops the server and deletes its files. Safe to call twice. */
    @Override
    public synchronized void close() {
        stop();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a leftover temp folder is harmless
        }
    }
}
