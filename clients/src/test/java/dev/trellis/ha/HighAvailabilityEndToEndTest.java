package dev.trellis.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvent;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.Variant;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.experiments.testing.PostgresServer;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several routers, one truth: three router processes (the real {@code trellis router} command)
 * on one real PostgreSQL server in front of two real model-servers. Definitions put through one
 * router are served by the others; a rollout advances once per step and survives a {@code kill -9}
 * of its leader; a client keeps scoring with zero failures while one router is killed and
 * another stopped with SIGTERM; and a {@code kill -9} during outcome and experiment traffic loses
 * no acknowledged outcome and duplicates none. The tests share the servers and run in order.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HighAvailabilityEndToEndTest {
    private static final String MODEL = "churn";
    private static final String CANARY = "churn-canary";
    private static final String TOKEN = "ha-admin-token";

    @TempDir
    static Path temp;

    private final PostgresServer postgres = PostgresServer.shared();
    private final List<ModelServer> replicas = new ArrayList<>();
    private final List<RouterProcess> routers = new ArrayList<>();
    private final Map<RouterProcess, ManagedChannel> channels = new HashMap<>();
    private String store;
    private Path tokenFile;
    private int started;

    @BeforeAll
    void start() throws Exception {
        Path repository = temp.resolve("repository");
        TestBundles.install(repository, MODEL, 1, 11);
        TestBundles.install(repository, MODEL, 2, 22);
        TestBundles.install(repository, CANARY, 1, 11);
        TestBundles.install(repository, CANARY, 2, 22);
        for (int i = 0; i < 2; i++) {
            replicas.add(ModelServer.start(ModelServerConfig.builder(repository)
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .defaultVersionPolicy(VersionPolicy.parse("all"))
                    .pollInterval(Duration.ofMillis(500))
                    .build()));
        }
        for (ModelServer replica : replicas) {
            replica.awaitReady(Duration.ofSeconds(120));
        }
        store = postgres.createDatabase();
        tokenFile = Files.writeString(temp.resolve("admin-token"), TOKEN);
        for (int i = 0; i < 3; i++) {
            startRouter();
        }
    }

    @AfterAll
    void stop() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        routers.forEach(RouterProcess::close);
        replicas.forEach(ModelServer::close);
    }

    private RouterProcess startRouter() {
        String upstreams = String.join(
                ",", replicas.stream().map(r -> "127.0.0.1:" + r.port()).toList());
        RouterProcess router = RouterProcess.start(
                "r" + (++started),
                List.of(
                        "--host", "127.0.0.1",
                        "--port", "0",
                        "--metrics-port", "0",
                        "--upstream", upstreams,
                        "--store", store,
                        "--admin-token-file", tokenFile.toString(),
                        "--rollout-tick", "100ms",
                        "--catalog-refresh", "500ms",
                        "--shutdown-delay", "1s",
                        "--shutdown-grace", "5s"),
                Map.of("TRELLIS_STORE_PASSWORD", postgres.password()),
                temp);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
        channels.put(router, channel);
        await("router " + router.name + " serves scoring")
                .atMost(Duration.ofSeconds(120))
                .ignoreExceptions()
                .until(() -> HealthGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(5, TimeUnit.SECONDS)
                                .check(HealthCheckRequest.newBuilder()
                                        .setService(ScoringGrpc.SERVICE_NAME)
                                        .build())
                                .getStatus()
                        == HealthCheckResponse.ServingStatus.SERVING);
        routers.add(router);
        return router;
    }

    private List<RouterProcess> alive() {
        return routers.stream().filter(RouterProcess::alive).toList();
    }

    private ExperimentsGrpc.ExperimentsBlockingStub admin(RouterProcess router) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
        headers.put(Metadata.Key.of("x-trellis-actor", Metadata.ASCII_STRING_MARSHALLER), "ha-test-" + router.name);
        return ExperimentsGrpc.newBlockingStub(channels.get(router))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** A churn row; the features left out are missing, which every model scores. */
    private static ScoreRequest row(String model, String unit, int i) {
        return ScoreRequest.newBuilder()
                .setModel(model)
                .setUnitId(unit)
                .putFeatures("tenure", Value.newBuilder().setNumberValue(i % 72).build())
                .putFeatures(
                        "contract",
                        Value.newBuilder()
                                .setStringValue(i % 3 == 0 ? "Month-to-month" : "Two year")
                                .build())
                .build();
    }

    /** A client over every live router, as an application would configure it. */
    private dev.trellis.client.TrellisClient client(List<RouterProcess> over) {
        return dev.trellis.client.TrellisClient.builder()
                .target(String.join(
                        ",", over.stream().map(RouterProcess::address).toList()))
                .plaintext()
                .bearerToken(TOKEN)
                .defaultDeadline(Duration.ofSeconds(10))
                .build();
    }

    private static Experiment experiment(String description) {
        return Experiment.newBuilder()
                .setKey("ha-exp")
                .setModel(MODEL)
                .setDescription(description)
                .setStatus(ExperimentStatus.RUNNING)
                .setMetric("converted")
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5))
                .build();
    }

    @Test
    @Order(1)
    void definitions_putThroughOneRouterServedByTheOthersWithinOneSecondStaleRevisionAborted() {
        RouterProcess a = routers.get(0);
        RouterProcess b = routers.get(1);
        RouterProcess c = routers.get(2);

        for (RouterProcess other : List.of(b, c)) { // warm: the first call of a fresh JVM is slow
            assertThat(explain(other).getExperiment()).isEmpty();
        }
        Experiment created = admin(a).putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(experiment("v1"))
                        .build())
                .getExperiment();
        long stored = System.nanoTime();
        for (RouterProcess other : List.of(b, c)) {
            // served means routed: the other router's routing snapshot has the experiment
            await("router " + other.name + " routes by the new experiment")
                    .atMost(Duration.ofSeconds(1))
                    .pollInterval(Duration.ofMillis(10))
                    .until(() -> explain(other).getExperiment().equals("ha-exp"));
        }
        System.out.printf(
                "definition served by both other routers %.0f ms after the put returned%n",
                (System.nanoTime() - stored) / 1e6);

        admin(a).putExperiment(PutExperimentRequest.newBuilder()
                .setExperiment(experiment("v2"))
                .setExpectedRevision(created.getRevision())
                .build());
        StatusRuntimeException stale = org.assertj.core.api.Assertions.catchThrowableOfType(
                StatusRuntimeException.class,
                () -> admin(c).putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(experiment("from c"))
                        .setExpectedRevision(created.getRevision())
                        .build()));

        assertThat(stale.getStatus().getCode()).isEqualTo(Status.Code.ABORTED);
        assertThat(stale.getStatus().getDescription()).contains("revision 2");
        Experiment current = admin(b).getExperiment(
                        GetExperimentRequest.newBuilder().setKey("ha-exp").build())
                .getExperiment();
        assertThat(current.getRevision()).isEqualTo(2);
        assertThat(current.getDescription()).isEqualTo("v2");
    }

    @Test
    @Order(2)
    void rollout_advancesOncePerStepAcrossRoutersAndItsLeaderKill9IsTakenOver() throws Exception {
        RouterProcess b = routers.get(1);
        admin(b).startRollout(StartRolloutRequest.newBuilder()
                .setRollout(Rollout.newBuilder()
                        .setModel(CANARY)
                        .setStableVersion("1")
                        .setCandidateVersion("2")
                        .addSteps(20)
                        .addSteps(60)
                        .addSteps(100)
                        .setStepInterval(Durations.fromMillis(1500))
                        .setMinCandidateRequests(30)
                        .setGuardrails(Guardrails.newBuilder()
                                .setMaxErrorRateIncrease(1.0)
                                .setMaxP99LatencyRatio(1000)
                                .setMaxScorePsi(1000)))
                .build());
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong served = new AtomicLong();
        ExecutorService traffic = Executors.newFixedThreadPool(2);
        try (dev.trellis.client.TrellisClient client = client(routers)) {
            List<Future<?>> loops = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int thread = t;
                loops.add(traffic.submit(() -> {
                    for (int i = 0; running.get(); i++) {
                        try {
                            client.score(row(CANARY, "canary-" + thread + "-" + i, i));
                            served.incrementAndGet();
                        } catch (RuntimeException e) {
                            // a router being killed; the rollout only needs traffic
                        }
                    }
                }));
            }
            await("the rollout reaches its second step")
                    .atMost(Duration.ofSeconds(90))
                    .until(() -> rollout(b).getCurrentStep() >= 1);
            RouterProcess leader = alive().stream()
                    .filter(r -> r.logged("this router now runs the rollouts"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no router says it runs the rollouts"));
            leader.kill9();

            RouterProcess survivor = alive().get(0);
            await("another router takes over and finishes the rollout")
                    .atMost(Duration.ofSeconds(90))
                    .until(() -> rollout(survivor).getState() == RolloutState.PROMOTED);
            running.set(false);
            for (Future<?> loop : loops) {
                loop.get(60, TimeUnit.SECONDS);
            }
            Rollout done = rollout(survivor);
            List<Double> advanced = done.getHistoryList().stream()
                    .filter(e -> e.getType().equals("ADVANCED") || e.getType().equals("PROMOTED"))
                    .map(RolloutEvent::getWeight)
                    .toList();

            assertThat(advanced).containsExactly(60.0, 100.0); // each step exactly once
            assertThat(alive().stream().filter(r -> r.logged("this router now runs the rollouts")))
                    .isNotEmpty();
            assertThat(served.get()).isPositive();
        } finally {
            running.set(false);
            traffic.shutdownNow();
        }
    }

    private dev.trellis.api.v1.ExplainAssignmentResponse explain(RouterProcess router) {
        return admin(router)
                .explainAssignment(ExplainAssignmentRequest.newBuilder()
                        .setModel(MODEL)
                        .setUnitId("unit-1")
                        .build());
    }

    private Rollout rollout(RouterProcess router) {
        return admin(router)
                .getRollout(GetRolloutRequest.newBuilder().setModel(CANARY).build())
                .getRollout();
    }

    @Test
    @Order(3)
    void score_oneRouterKill9AnotherSigtermZeroFailedRequests() throws Exception {
        while (alive().size() < 3) {
            startRouter();
        }
        List<RouterProcess> three = alive();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong ok = new AtomicLong();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        ExecutorService traffic = Executors.newFixedThreadPool(4);
        try (dev.trellis.client.TrellisClient client = client(three)) {
            List<Future<?>> loops = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                loops.add(traffic.submit(() -> {
                    for (int i = 0; running.get(); i++) {
                        try {
                            client.score(row(MODEL, "steady-" + thread + "-" + i, i));
                            ok.incrementAndGet();
                        } catch (RuntimeException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            await("traffic flows").atMost(Duration.ofSeconds(60)).until(() -> ok.get() > 200);
            three.get(0).kill9();
            long afterKill = ok.get();
            await("traffic flows after the kill")
                    .atMost(Duration.ofSeconds(60))
                    .until(() -> ok.get() > afterKill + 200);
            three.get(1).term();
            three.get(1).waitFor();
            long afterTerm = ok.get();
            await("traffic flows on the last router")
                    .atMost(Duration.ofSeconds(60))
                    .until(() -> ok.get() > afterTerm + 200);
            running.set(false);
            for (Future<?> loop : loops) {
                loop.get(60, TimeUnit.SECONDS);
            }
            System.out.printf("scored %d requests while one router was killed and one stopped%n", ok.get());
            assertThat(failures).isEmpty();
            assertThat(three.get(1).output()).contains("shutting down: NOT_SERVING");
        } finally {
            running.set(false);
            traffic.shutdownNow();
        }
    }

    @Test
    @Order(4)
    void kill9DuringOutcomeAndExperimentTraffic_noAcknowledgedOutcomeLostNoneDuplicated() throws Exception {
        while (alive().size() < 3) {
            startRouter();
        }
        List<RouterProcess> three = alive();
        RouterProcess victim = three.get(0);
        Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        Map<String, Long> exposedAt = new ConcurrentHashMap<>(); // unit -> when its response arrived
        AtomicBoolean running = new AtomicBoolean(true);
        ExecutorService traffic = Executors.newFixedThreadPool(3);
        long killedAt;
        try (dev.trellis.client.TrellisClient all = client(three);
                dev.trellis.client.TrellisClient pinned = client(List.of(victim))) {
            List<Future<?>> loops = new ArrayList<>();
            loops.add(traffic.submit(
                    () -> { // unary outcomes, retried with the same id until acknowledged
                        for (int i = 0; running.get(); i++) {
                            String id = "unary-" + i;
                            RecordOutcomeRequest request = RecordOutcomeRequest.newBuilder()
                                    .setUnitId("steady-0-" + i)
                                    .setMetric("converted")
                                    .setValue(1)
                                    .setOutcomeId(id)
                                    .build();
                            for (int attempt = 0; attempt < 20; attempt++) {
                                try {
                                    // every other outcome goes to the victim first; retries go anywhere
                                    if ((attempt == 0 && i % 2 == 0 ? pinned : all).recordOutcome(request)) {
                                        acknowledged.add(id);
                                    }
                                    break;
                                } catch (RuntimeException e) {
                                    // the victim died under this call: retry the same id elsewhere
                                }
                            }
                        }
                    }));
            loops.add(traffic.submit(
                    () -> { // streams of 100, resent whole until acknowledged
                        for (int batch = 0; running.get(); batch++) {
                            List<RecordOutcomeRequest> outcomes = new ArrayList<>();
                            for (int j = 0; j < 100; j++) {
                                outcomes.add(RecordOutcomeRequest.newBuilder()
                                        .setUnitId("steady-1-" + j)
                                        .setMetric("converted")
                                        .setValue(1)
                                        .setOutcomeId("stream-" + batch + "-" + j)
                                        .build());
                            }
                            for (int attempt = 0; attempt < 20; attempt++) {
                                try {
                                    long accepted = (attempt == 0 ? pinned : all).recordOutcomes(outcomes.iterator());
                                    if (accepted == outcomes.size()) {
                                        outcomes.forEach(o -> acknowledged.add(o.getOutcomeId()));
                                        break;
                                    }
                                } catch (RuntimeException e) {
                                    // cut by the kill: resend the whole stream, its ids make that safe
                                }
                            }
                        }
                    }));
            loops.add(traffic.submit(
                    () -> { // experiment traffic on the victim: exposures
                        for (int i = 0; running.get(); i++) {
                            String unit = "exposed-" + i;
                            try {
                                ScoreResponse r = ScoringGrpc.newBlockingStub(channels.get(victim))
                                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                                        .score(row(MODEL, unit, i));
                                if (r.getServed().getExperiment().equals("ha-exp")) {
                                    exposedAt.put(unit, System.nanoTime());
                                }
                            } catch (StatusRuntimeException e) {
                                if (!victim.alive()) {
                                    return;
                                }
                            }
                        }
                    }));
            await("outcome and experiment traffic flows")
                    .atMost(Duration.ofSeconds(60))
                    .until(() -> acknowledged.size() > 300 && exposedAt.size() > 100);
            killedAt = System.nanoTime();
            victim.kill9();
            int before = acknowledged.size();
            await("outcomes flow after the kill")
                    .atMost(Duration.ofSeconds(60))
                    .until(() -> acknowledged.size() > before + 300);
            running.set(false);
            for (Future<?> loop : loops) {
                loop.get(120, TimeUnit.SECONDS);
            }
        } finally {
            running.set(false);
            traffic.shutdownNow();
        }

        Set<String> storedOutcomes = new HashSet<>();
        long outcomeRows;
        Set<String> storedExposures = new HashSet<>();
        try (Connection c = connect()) {
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT outcome_id FROM outcomes WHERE outcome_id IS NOT NULL")) {
                while (rs.next()) {
                    storedOutcomes.add(rs.getString(1));
                }
            }
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM outcomes WHERE outcome_id IS NOT NULL")) {
                rs.next();
                outcomeRows = rs.getLong(1);
            }
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery(
                            "SELECT unit_id FROM exposures WHERE experiment = 'ha-exp' AND unit_id LIKE 'exposed-%'")) {
                while (rs.next()) {
                    storedExposures.add(rs.getString(1));
                }
            }
        }
        List<Long> lostAgeMillis = exposedAt.entrySet().stream()
                .filter(e -> !storedExposures.contains(e.getKey()))
                .map(e -> TimeUnit.NANOSECONDS.toMillis(killedAt - e.getValue()))
                .toList();
        System.out.printf(
                "acknowledged outcomes %d, stored %d; exposures answered by the killed router %d, lost %d (answered %s ms before the kill)%n",
                acknowledged.size(), storedOutcomes.size(), exposedAt.size(), lostAgeMillis.size(), lostAgeMillis);

        assertThat(storedOutcomes).containsAll(acknowledged); // 0 acknowledged outcomes lost
        assertThat(outcomeRows).isEqualTo(storedOutcomes.size()); // 0 duplicated after the retries
        // exposures are written off the request path: only those answered just before the crash may be lost
        assertThat(lostAgeMillis).allSatisfy(age -> assertThat(age).isLessThan(1_000));
    }

    private Connection connect() throws java.sql.SQLException {
        dev.trellis.experiments.store.PostgresLocation location =
                dev.trellis.experiments.store.PostgresLocation.parse(store);
        Properties props = new Properties();
        props.setProperty("user", location.user());
        props.setProperty("password", postgres.password());
        return DriverManager.getConnection(location.jdbcUrl(), props);
    }
}
