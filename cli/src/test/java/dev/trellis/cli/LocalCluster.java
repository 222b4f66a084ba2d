package dev.trellis.cli;

import static java.util.Objects.requireNonNull;
import static org.awaitility.Awaitility.await;

import dev.trellis.client.ModelDescription;
import dev.trellis.client.TrellisClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The deployment the end-to-end benchmarks run against, started through the {@code trellis}
 * launcher (so with its heap sizes, collector and flags): versions of the lead model trained by the
 * launcher's trainer into a repository, two model-servers on it with an admin token, and a router in
 * front of them with an admin token of its own and the replicas' as its upstream token, all on
 * loopback ports the system picks. A JVM stopped with Ctrl-C or SIGTERM stops its servers too.
 * Not thread-safe except {@link #train} and {@link #nextVersion}, which a retraining thread calls.
 */
final class LocalCluster implements AutoCloseable {
    static final String MODEL = "leads";
    private static final Pattern MODEL_SERVER_PORT = Pattern.compile("server started on [^ ]+:(\\d+) ");
    private static final Pattern ROUTER_PORT = Pattern.compile("router listening on [^ ]+:(\\d+) ");

    private final Path launcher;
    private final Path data;
    private final Path dir;
    private final boolean fastTraining;
    private final Path adminToken;
    private final Path replicaToken;
    private final List<SoakProcess> servers = new CopyOnWriteArrayList<>();
    private final Thread stopServers;
    private int routerPort;

    /**
     * @param launcher the {@code trellis} script
     * @param data the lead CSV
     * @param dir working folder (repository, store, tokens, logs)
     * @param fastTraining the trainer's {@code --fast} (tests)
     */
    LocalCluster(Path launcher, Path data, Path dir, boolean fastTraining) throws IOException {
        this.launcher = requireNonNull(launcher, "launcher is null");
        this.data = requireNonNull(data, "data is null");
        this.dir = requireNonNull(dir, "dir is null");
        this.fastTraining = fastTraining;
        Files.createDirectories(dir.resolve("models"));
        this.adminToken = token(dir.resolve("admin-token"));
        this.replicaToken = token(dir.resolve("model-server-admin-token"));
        // close() is idempotent
        this.stopServers = new Thread(() -> servers.forEach(SoakProcess::close), "cluster-stop-servers");
        Runtime.getRuntime().addShutdownHook(stopServers);
    }

    /** Starts two model-servers on the repository and the router in front of them; returns once all listen. */
    void start() {
        List<String> upstreams = new ArrayList<>();
        for (int i = 1; i <= 2; i++) {
            servers.add(SoakProcess.start(
                    "model-server-" + i,
                    launcher,
                    server(
                            "model-server",
                            "--repo",
                            repository().toString(),
                            "--admin-token-file",
                            replicaToken.toString()),
                    Map.of(),
                    dir,
                    MODEL_SERVER_PORT));
        }
        for (SoakProcess replica : servers) {
            upstreams.add("127.0.0.1:" + replica.awaitPort(Duration.ofMinutes(3)));
        }
        SoakProcess router = SoakProcess.start(
                "router",
                launcher,
                server(
                        "router",
                        "--upstream",
                        String.join(",", upstreams),
                        "--store",
                        dir.resolve("trellis.db").toString(),
                        "--admin-token-file",
                        adminToken.toString(),
                        "--upstream-token-file",
                        replicaToken.toString(),
                        // the console too, so the launcher's runtime classpath is checked for it
                        "--http-port",
                        "0"),
                Map.of(),
                dir,
                ROUTER_PORT);
        servers.add(0, router);
        routerPort = router.awaitPort(Duration.ofMinutes(2));
    }

    /** The router first, then the model-servers. */
    List<SoakProcess> servers() {
        return List.copyOf(servers);
    }

    int routerPort() {
        return routerPort;
    }

    Path adminToken() {
        return adminToken;
    }

    Path repository() {
        return dir.resolve("models");
    }

    /** A plaintext client of the router with the admin token. */
    TrellisClient adminClient() throws IOException {
        return TrellisClient.builder()
                .target("127.0.0.1:" + routerPort)
                .plaintext()
                .bearerToken(Files.readString(adminToken).trim())
                .defaultDeadline(Duration.ofSeconds(10))
                .build();
    }

    /** The next version number of the lead model in the repository. */
    int nextVersion() {
        try (Stream<Path> versions = Files.list(repository().resolve(MODEL))) {
            return versions.map(p -> p.getFileName().toString())
                            .filter(name -> name.matches("\\d+"))
                            .mapToInt(Integer::parseInt)
                            .max()
                            .orElse(0)
                    + 1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Trains {@code version} of the lead model with {@code ./trellis train} in the idle scheduling
     * class ({@link SoakProcess#startInBackground}): it stands for a training job on another machine
     * (at normal priority it took both cores of a 2-core box for 40 s and the traffic backed up).
     */
    void train(int version, int seed) throws InterruptedException {
        List<String> args = new ArrayList<>(List.of(
                "train",
                "--data",
                data.toString(),
                "--target",
                "converted",
                "--id",
                "lead_id",
                "--model",
                MODEL,
                "--repo",
                repository().toString(),
                "--seed",
                Integer.toString(seed)));
        if (fastTraining) {
            args.add("--fast");
        }
        try (SoakProcess trainer = SoakProcess.startInBackground("trainer-" + version, launcher, args, dir)) {
            int exit = trainer.awaitExit(Duration.ofMinutes(10));
            if (exit != 0) {
                throw new IllegalStateException(
                        "training version " + version + " exited with " + exit + ": " + trainer.tail());
            }
        }
        if (!Files.isRegularFile(
                repository().resolve(MODEL).resolve(Integer.toString(version)).resolve("bundle.json"))) {
            throw new IllegalStateException("training did not write version " + version);
        }
    }

    /** Waits (up to 3 minutes) until both replicas report {@code version} READY through the router. */
    static void awaitReady(TrellisClient client, String version) {
        await("version " + version + " READY on both replicas")
                .atMost(Duration.ofMinutes(3))
                .pollInterval(Duration.ofMillis(500))
                .ignoreExceptions()
                .until(() -> client.model(MODEL)
                                .version(version)
                                .map(ModelDescription.Version::readyReplicas)
                                .orElse(0L)
                        == 2);
    }

    /** Throws when a server died, with the end of its log. */
    void checkAlive() {
        for (SoakProcess server : servers) {
            if (!server.alive()) {
                throw new IllegalStateException(server.name() + " died: " + server.tail());
            }
        }
    }

    @Override
    public void close() {
        for (SoakProcess server : servers) {
            server.close();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(stopServers);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs
        }
    }

    /** A server command on loopback, on ports the system picks (each logs the port it got). */
    private static List<String> server(String command, String... flags) {
        List<String> args =
                new ArrayList<>(List.of(command, "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0"));
        args.addAll(List.of(flags));
        return args;
    }

    private static Path token(Path file) throws IOException {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        Files.writeString(file, HexFormat.of().formatHex(bytes), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }
}
