package dev.trellis.router;

import static dev.trellis.router.StatusAssertions.catchStatus;
import static dev.trellis.router.StatusAssertions.violations;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import com.google.rpc.BadRequest;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.HolderKind;
import dev.trellis.api.v1.KeepVersionRequest;
import dev.trellis.api.v1.KeepVersionResponse;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.ReleaseVersionRequest;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutActionRequest;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.Variant;
import dev.trellis.api.v1.VersionIssue;
import dev.trellis.common.control.ModelControl;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.proto.inference.RepositoryIndexResponse.ModelIndex;
import dev.trellis.router.upstream.CatalogSnapshot;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane end to end: a real router in front of real model-server replicas on loopback
 * ports, churn bundles trained by the project's trainer, and in every scenario a steady stream of
 * Score calls whose unit ids hit every experiment arm, every request counted. The replicas run the
 * default version policy (latest:2), which on its own would unload versions the definitions need.
 */
class ControlPlaneEndToEndTest {
    private static final String MODEL = "churn";
    private static final List<Map<String, Value>> ROWS = ChurnRows.load(200);

    @TempDir
    Path temp;

    private Cluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void newVersionTrained_whileFiftyFiftyExperimentRuns_armsKeepTheirVersionsAndItTakesNoTraffic() throws Exception {
        Path repo = twoReplicasWithExperiment();

        List<ScoreResponse> afterTraining;
        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(200);
            int trained = traffic.mark();
            TestBundles.install(repo, MODEL, 3, 33);
            await(
                    "version 3 READY on both replicas",
                    () -> state(0, "3").equals("READY") && state(1, "3").equals("READY"));
            traffic.awaitMore(600);
            afterTraining = traffic.answersSince(trained);
            assertThat(traffic.failures).isEmpty();
        }

        assertThat(afterTraining).hasSizeGreaterThan(600).allSatisfy(r -> {
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.EXPERIMENT);
            assertThat(r.getServed().getVersion())
                    .isEqualTo(r.getServed().getVariant().equals("control") ? "1" : "2");
        });
        assertThat(afterTraining).extracting(r -> r.getServed().getVersion()).contains("1", "2");
        for (int replica = 0; replica < 2; replica++) {
            assertThat(entry(replica, "1").getReason()).contains(ModelControl.HELD_REASON);
            assertThat(entry(replica, "2").getReason()).contains(ModelControl.HELD_REASON);
            assertThat(entry(replica, "3").getReason()).isEqualTo("version policy latest:2");
        }
        // the new version takes traffic once the default names it (the default was adopted at start: 2)
        assertThat(cluster.scoring().score(unitless()).getServed().getVersion()).isEqualTo("2");
        cluster.admin()
                .setDefaultVersion(SetDefaultVersionRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion("3")
                        .build());
        ScoreResponse named = cluster.scoring().score(unitless());
        assertThat(named.getServed().getVersion()).isEqualTo("3");
        assertThat(named.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
    }

    @Test
    void replicasWithDifferentVersionSets_versionTwoOnlyReachesTheReplicaThatHasIt() throws Exception {
        Path full = temp.resolve("full");
        TestBundles.install(full, MODEL, 1, 11);
        TestBundles.install(full, MODEL, 2, 22);
        Path partial = temp.resolve("partial");
        TestBundles.install(partial, MODEL, 1, 11);
        // one attempt per call: a version 2 request sent to the replica without it would fail, not be retried away
        cluster = cluster(List.of(full, partial), b -> b.upstreamMaxAttempts(1), a -> a);
        putExperiment("churn-ab", "1", "2");

        List<ScoreResponse> answers;
        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(1000);
            answers = traffic.answersSince(0);
            assertThat(traffic.failures).isEmpty();
        }

        assertThat(answers)
                .filteredOn(r -> r.getServed().getVersion().equals("2"))
                .hasSizeGreaterThan(100)
                .allSatisfy(r -> assertThat(r.getServed().getReplica()).isEqualTo(cluster.replicaName(0)));
        assertThat(answers)
                .filteredOn(r -> r.getServed().getVersion().equals("1"))
                .extracting(r -> r.getServed().getReplica())
                .contains(cluster.replicaName(0), cluster.replicaName(1));
        ModelVersionInfo two = version(listModel(MODEL), "2");
        assertThat(two.getDesired()).isTrue();
        assertThat(two.getReplicasList())
                .extracting(ReplicaStatus::getReplica, ReplicaStatus::getState, ReplicaStatus::getReady)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple(cluster.replicaName(0), "READY", true),
                        org.assertj.core.groups.Tuple.tuple(cluster.replicaName(1), "ABSENT", false));
    }

    @Test
    void defaultVersionsFilesRemoved_servesStaleThenFallsBackOnceNoReplicaCanLoadIt() throws Exception {
        int metricsPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            metricsPort = socket.getLocalPort();
        }
        Path repo = temp.resolve("repo");
        TestBundles.install(repo, MODEL, 1, 11);
        TestBundles.install(repo, MODEL, 2, 22);
        cluster = cluster(List.of(repo, repo), b -> b.metricsPort(metricsPort), a -> a);
        cluster.admin()
                .setDefaultVersion(SetDefaultVersionRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion("1")
                        .build());
        awaitHeld(0, "1");
        awaitHeld(1, "1");

        List<ScoreResponse> stale;
        List<ScoreResponse> oneReplicaLeft;
        List<ScoreResponse> fallenBack;
        String log;
        try (CapturedErr err = new CapturedErr();
                SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(200);
            deleteRecursively(repo.resolve(MODEL).resolve("1"));
            await(
                    "version 1 STALE on both replicas",
                    () -> state(0, "1").equals("STALE") && state(1, "1").equals("STALE"));
            assertThat(entry(0, "1").getReason()).contains("the version folder was removed from the repository");
            int removed = traffic.mark();
            traffic.awaitMore(300);
            stale = traffic.answersSince(removed);

            // restarted, a replica cannot load version 1 any more; the other one still serves it
            cluster.restart(0);
            await(
                    "version 1 on replica 1 only, version 2 on both",
                    () -> readyReplicas("1").equals(List.of(cluster.replicaName(1)))
                            && readyReplicas("2").size() == 2);
            int oneLeft = traffic.mark();
            traffic.awaitMore(300);
            oneReplicaLeft = traffic.answersSince(oneLeft);

            cluster.restart(1);
            await(
                    "version 1 READY nowhere, version 2 on both",
                    () -> readyReplicas("1").isEmpty() && readyReplicas("2").size() == 2);
            int gone = traffic.mark();
            traffic.awaitMore(300);
            fallenBack = traffic.answersSince(gone);
            assertThat(traffic.failures).isEmpty();
            log = err.text();
        }

        assertThat(stale).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("1");
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
        });
        assertThat(oneReplicaLeft)
                .filteredOn(r -> r.getServed().getVersion().equals("1"))
                .hasSizeGreaterThan(100)
                .allSatisfy(r -> assertThat(r.getServed().getReplica()).isEqualTo(cluster.replicaName(1)));
        assertThat(settled(fallenBack)).hasSizeGreaterThan(250).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("2");
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.FALLBACK);
        });
        assertThat(log.lines()
                        .filter(l -> l.contains("WARN")
                                && l.contains("model churn: version 1 (DEFAULT) is READY on no replica")
                                && l.contains("serving version 2 instead (FALLBACK)")))
                .hasSize(1);
        String metrics = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        assertThat(metrics.lines().filter(l -> l.startsWith("trellis_router_fallback_rows_total{")))
                .anySatisfy(l -> assertThat(l)
                        .contains("model=\"churn\"")
                        .contains("wanted_version=\"1\"")
                        .contains("version=\"2\""));
        ModelInfo model = listModel(MODEL);
        assertThat(model.getDefaultVersion()).isEqualTo("1");
        assertThat(model.getFallbackVersion()).isEqualTo("2");
        assertThat(version(model, "1").getDesired()).isTrue();
        assertThat(version(model, "1").getProblem()).contains("not in any replica's repository");
    }

    /**
     * Both replicas restarted one after the other, eight times, the next one as soon as the router
     * sees the last one back: the version's channel to both replicas went unused while one was away,
     * so its connection to that one had failed and was waiting out its backoff when the other left.
     */
    @Test
    void rollingRestarts_loseNoRequest() throws Exception {
        Path repo = temp.resolve("repo");
        TestBundles.install(repo, MODEL, 1, 11);
        cluster = cluster(List.of(repo, repo), b -> b, a -> a);
        await("version 1 on both replicas", () -> readyReplicas("1").size() == 2);

        List<ScoreResponse> lastRound;
        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(100);
            for (int restart = 0; restart < 8; restart++) {
                cluster.restart(restart % 2);
                await(
                        "version 1 on both replicas again",
                        () -> readyReplicas("1").size() == 2);
                // right away every other time: the race with the channel's reconnection
                traffic.awaitMore(restart % 2 == 0 ? 3 : 100);
            }
            int last = traffic.mark();
            traffic.awaitMore(200);
            lastRound = traffic.answersSince(last);
            assertThat(traffic.failures).isEmpty();
        }
        assertThat(lastRound)
                .extracting(r -> r.getServed().getReplica())
                .contains(cluster.replicaName(0), cluster.replicaName(1));
    }

    @Test
    void loadedVersionsFileCorrupted_keepsServingAndRepositoryIndexSaysStale() throws Exception {
        Path repo = twoReplicasWithExperiment();

        List<ScoreResponse> afterCorruption;
        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(200);
            Files.writeString(
                    repo.resolve(MODEL).resolve("2").resolve("lightgbm.txt"), "\ngarbage\n", StandardOpenOption.APPEND);
            await(
                    "version 2 STALE on both replicas",
                    () -> state(0, "2").equals("STALE") && state(1, "2").equals("STALE"));
            int corrupted = traffic.mark();
            traffic.awaitMore(500);
            afterCorruption = traffic.answersSince(corrupted);
            assertThat(traffic.failures).isEmpty();
        }

        assertThat(entry(0, "2").getReason())
                .contains("lightgbm.txt changed (sha256 differs from the loaded copy)")
                .contains(ModelControl.HELD_REASON);
        assertThat(afterCorruption).extracting(r -> r.getServed().getVersion()).contains("1", "2");
        assertThat(afterCorruption)
                .allSatisfy(r -> assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.EXPERIMENT));
        assertThat(version(listModel(MODEL), "2").getReplicasList()).allSatisfy(r -> {
            assertThat(r.getState()).isEqualTo("STALE");
            assertThat(r.getReady()).isTrue();
            assertThat(r.getReason()).contains("lightgbm.txt changed");
        });
    }

    @Test
    void rolloutCandidateOnItsOwnModelServer_promotedAndAbortedPathsServeEveryRequest() throws Exception {
        Path stable = temp.resolve("stable");
        Path canary = temp.resolve("canary");
        for (String model : List.of(MODEL, "churn-b")) {
            TestBundles.install(stable, model, 1, 11);
            TestBundles.install(canary, model, 2, 22);
        }
        // replicas 0 and 1 are the stable Deployment, replica 2 the canary's own, each its own --upstream
        cluster = cluster(
                List.of(stable, stable, canary),
                b -> b.rolloutTick(Duration.ofMillis(50)),
                a -> List.of(a.get(0) + "," + a.get(1), a.get(2)));
        for (String model : List.of(MODEL, "churn-b")) {
            cluster.admin()
                    .setDefaultVersion(SetDefaultVersionRequest.newBuilder()
                            .setModel(model)
                            .setVersion("1")
                            .build());
        }

        // promoted
        startRollout(MODEL, 30);
        List<ScoreResponse> during;
        List<ScoreResponse> promoted;
        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 3, this::request)) {
            traffic.awaitMore(400);
            during = traffic.answers(0, traffic.mark());
            cluster.admin()
                    .promoteRollout(
                            RolloutActionRequest.newBuilder().setModel(MODEL).build());
            await(
                    "promotion in effect",
                    () -> cluster.scoring().score(request(0)).getServed().getReason() == RoutingReason.DEFAULT);
            int done = traffic.mark();
            traffic.awaitMore(300);
            promoted = traffic.answersSince(done);
            assertThat(traffic.failures).isEmpty();
        }
        List<ScoreResponse> rolledOut = during;
        assertThat(rolledOut).extracting(r -> r.getServed().getVersion()).contains("1", "2");
        assertThat(rolledOut).allSatisfy(r -> {
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.ROLLOUT);
            assertThat(r.getServed().getReplica())
                    .isIn(
                            r.getServed().getVersion().equals("2")
                                    ? List.of(cluster.replicaName(2))
                                    : List.of(cluster.replicaName(0), cluster.replicaName(1)));
        });
        assertThat(settled(promoted)).hasSizeGreaterThan(250).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("2");
            assertThat(r.getServed().getReplica()).isEqualTo(cluster.replicaName(2));
        });

        // aborted: mid-rollout the candidate's only model-server goes away
        startRollout("churn-b", 30);
        List<ScoreResponse> outage;
        Rollout aborted;
        try (SteadyTraffic traffic = new SteadyTraffic(
                cluster, 3, n -> request(n).toBuilder().setModel("churn-b").build())) {
            traffic.awaitMore(300);
            int down = traffic.mark();
            // paused first, so that the rollout can be seen flagged before its guardrail ends it
            cluster.admin()
                    .pauseRollout(RolloutActionRequest.newBuilder()
                            .setModel("churn-b")
                            .setReason("watch")
                            .build());
            cluster.replicas.get(2).close();
            // a closing replica first drains (not SERVING), then goes away (unreachable)
            await(
                    "the rollout flagged with its replica unreachable",
                    () -> cluster
                            .anonymous()
                            .getRollout(GetRolloutRequest.newBuilder()
                                    .setModel("churn-b")
                                    .build())
                            .getVersionIssuesList()
                            .stream()
                            .anyMatch(i -> i.getReason().contains("unreachable")));
            VersionIssue candidate = cluster.anonymous()
                    .getRollout(
                            GetRolloutRequest.newBuilder().setModel("churn-b").build())
                    .getVersionIssues(0);
            assertThat(candidate.getVersion()).isEqualTo("2");
            assertThat(candidate.getReason()).contains("replica " + cluster.replicaName(2) + ": unreachable");
            cluster.admin()
                    .resumeRollout(RolloutActionRequest.newBuilder()
                            .setModel("churn-b")
                            .build());
            await("the rollout aborts itself", () -> rollout("churn-b").getState() == RolloutState.ABORTED);
            aborted = rollout("churn-b");
            traffic.awaitMore(300);
            outage = traffic.answersSince(down);
            assertThat(traffic.failures).isEmpty();
        }
        assertThat(aborted.getReason()).contains("error");
        assertThat(outage)
                .filteredOn(r -> r.getServed().getReason() == RoutingReason.FALLBACK)
                .isNotEmpty()
                .allSatisfy(r -> assertThat(r.getServed().getVersion()).isEqualTo("1"));
        List<ScoreResponse> tail = outage.subList(outage.size() - 200, outage.size());
        assertThat(tail).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("1");
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
        });
        // the promoted model's default lived only there too: it falls back to its previous default
        ScoreResponse previousDefault = cluster.scoring().score(unitless());
        assertThat(previousDefault.getServed().getVersion()).isEqualTo("1");
        assertThat(previousDefault.getServed().getReason()).isEqualTo(RoutingReason.FALLBACK);
    }

    /** Versions 1 and 2 on one repository, two replicas, a RUNNING 50/50 experiment that both hold; the repository. */
    private Path twoReplicasWithExperiment() throws Exception {
        Path repo = temp.resolve("repo");
        TestBundles.install(repo, MODEL, 1, 11);
        TestBundles.install(repo, MODEL, 2, 22);
        cluster = cluster(List.of(repo, repo), b -> b, a -> a);
        putExperiment("churn-ab", "1", "2");
        awaitHeld(0, "1", "2");
        awaitHeld(1, "1", "2");
        return repo;
    }

    /** Drops the first answers: calls routed before the change that were still in flight when it was seen. */
    private static List<ScoreResponse> settled(List<ScoreResponse> answers) {
        List<ScoreResponse> copy = List.copyOf(answers);
        return copy.subList(Math.min(copy.size(), 10), copy.size());
    }

    @Test
    void keepVersion_storedAcrossRouterRestarts_badVersionsGetPreciseStatusAndNothingStops() throws Exception {
        Path repo = temp.resolve("repo");
        TestBundles.install(repo, MODEL, 1, 11);
        TestBundles.install(repo, MODEL, 2, 22);
        TestBundles.install(repo, MODEL, 3, 33);
        corrupt(repo, "3"); // refused at load: sha256 mismatch
        // latest:1 loads only version 2 (3 fails); version 1 is on disk but not loaded
        cluster = new Cluster(
                List.of(repo, repo), VersionPolicy.parse("latest:1"), temp.resolve("trellis.db"), b -> b, a -> a);
        assertThat(state(0, "1")).isEqualTo("UNAVAILABLE");

        try (SteadyTraffic traffic = new SteadyTraffic(cluster, 2, this::request)) {
            traffic.awaitMore(100);
            KeepVersionResponse kept = cluster.admin().keepVersion(keep("1"));
            assertThat(kept.getReadyReplicasList())
                    .containsExactlyInAnyOrder(cluster.replicaName(0), cluster.replicaName(1));
            awaitHeld(0, "1");
            awaitHeld(1, "1");

            StatusRuntimeException missing = catchStatus(() -> cluster.admin().keepVersion(keep("9")));
            assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(missing.getStatus().getDescription())
                    .isEqualTo("model churn has no version 9 in any replica's repository (versions: 3, 2, 1)");
            StatusRuntimeException broken = catchStatus(() -> cluster.admin().keepVersion(keep("3")));
            assertThat(broken.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(broken.getStatus().getDescription())
                    .startsWith("cannot keep it: version 3 cannot be loaded on any replica: replica 127.0.0.1:")
                    .contains("FAILED: ")
                    .contains("sha256 mismatch for lightgbm.txt");
            StatusRuntimeException rollout = catchStatus(() -> cluster.admin()
                    .startRollout(StartRolloutRequest.newBuilder()
                            .setRollout(Rollout.newBuilder()
                                    .setModel(MODEL)
                                    .setStableVersion("2")
                                    .setCandidateVersion("3"))
                            .build()));
            assertThat(rollout.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(violations(rollout))
                    .extracting(BadRequest.FieldViolation::getField)
                    .containsExactly("rollout.candidate_version");
            StatusRuntimeException experiment = catchStatus(() -> putExperiment("churn-bad", "2", "3"));
            assertThat(experiment.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(violations(experiment)).singleElement().satisfies(v -> {
                assertThat(v.getField()).isEqualTo("experiment.variants[1].version");
                assertThat(v.getDescription()).contains("sha256 mismatch for lightgbm.txt");
            });
            traffic.awaitMore(200);
            assertThat(traffic.failures).isEmpty();
            assertThat(traffic.answersSince(0))
                    .allSatisfy(r -> assertThat(r.getServed().getVersion()).isEqualTo("2"));
        }
        assertThat(catchStatus(() -> cluster.anonymous()
                                .getExperiment(GetExperimentRequest.newBuilder()
                                        .setKey("churn-bad")
                                        .build()))
                        .getStatus()
                        .getCode())
                .as("the rejected experiment was not stored")
                .isEqualTo(Status.Code.NOT_FOUND);

        // the keep is stored: a new router holds version 1 as well
        cluster.restartRouter();
        await(
                "the kept version desired after the restart",
                () -> version(listModel(MODEL), "1").getHoldersList().stream()
                        .anyMatch(h -> h.getKind() == HolderKind.HOLDER_KEPT
                                && h.getName().equals("e2e-test")));
        assertThat(entry(0, "1").getReason()).contains(ModelControl.HELD_REASON);

        // released: nothing holds it, the replicas' latest:1 policy unloads it
        assertThat(cluster.admin().releaseVersion(release("1")).getReleased()).isTrue();
        assertThat(cluster.admin().releaseVersion(release("1")).getReleased()).isFalse();
        await(
                "version 1 unloaded",
                () -> state(0, "1").equals("UNAVAILABLE") && state(1, "1").equals("UNAVAILABLE"));

        // a definition's version that fails after the fact is flagged with the reason
        putExperiment("churn-ab", "1", "2");
        awaitHeld(0, "1");
        corrupt(repo, "1");
        await(
                "version 1 STALE",
                () -> state(0, "1").equals("STALE") && state(1, "1").equals("STALE"));
        cluster.restart(0);
        cluster.restart(1);
        await(
                "version 1 FAILED on both replicas",
                () -> state(0, "1").equals("FAILED") && state(1, "1").equals("FAILED"));
        await(
                "the experiment flagged",
                () -> !cluster.anonymous()
                        .getExperiment(GetExperimentRequest.newBuilder()
                                .setKey("churn-ab")
                                .build())
                        .getVersionIssuesList()
                        .isEmpty());
        VersionIssue issue = cluster.anonymous()
                .getExperiment(
                        GetExperimentRequest.newBuilder().setKey("churn-ab").build())
                .getVersionIssues(0);
        assertThat(issue.getVersion()).isEqualTo("1");
        assertThat(issue.getReason()).contains("FAILED: ").contains("sha256 mismatch for lightgbm.txt");
        assertThat(version(listModel(MODEL), "1").getProblem()).contains("sha256 mismatch for lightgbm.txt");
        long unit = firstUnitIn("control");
        ScoreResponse control = cluster.scoring().score(request(unit));
        assertThat(control.getServed().getReason()).isEqualTo(RoutingReason.FALLBACK);
        assertThat(control.getServed().getVersion()).isEqualTo("2");
        assertThat(control.getServed().getExperiment()).as("not served its arm").isEmpty();
        assertThat(cluster.anonymous()
                        .getResults(GetResultsRequest.newBuilder()
                                .setExperiment("churn-ab")
                                .build())
                        .getVariantsList())
                .as("no exposure logged for a fallback")
                .allSatisfy(v -> assertThat(v.getUnits()).isZero());
        ExplainAssignmentResponse explained = cluster.anonymous()
                .explainAssignment(ExplainAssignmentRequest.newBuilder()
                        .setModel(MODEL)
                        .setUnitId("unit-" + unit)
                        .build());
        assertThat(explained.getReason()).isEqualTo(RoutingReason.FALLBACK);
        assertThat(explained.getVersion()).isEqualTo("2");
        assertThat(explained.getSummary()).contains("FALLBACK to version 2");
    }

    private long firstUnitIn(String variant) {
        for (long n = 0; n < 1000; n++) {
            ExplainAssignmentResponse explained = cluster.anonymous()
                    .explainAssignment(ExplainAssignmentRequest.newBuilder()
                            .setModel(MODEL)
                            .setUnitId("unit-" + n)
                            .build());
            if (variant.equals(explained.getEvaluations(0).getVariant())) {
                return n;
            }
        }
        throw new AssertionError("no unit in " + variant);
    }

    private static KeepVersionRequest keep(String version) {
        return KeepVersionRequest.newBuilder()
                .setModel(MODEL)
                .setVersion(version)
                .build();
    }

    private static ReleaseVersionRequest release(String version) {
        return ReleaseVersionRequest.newBuilder()
                .setModel(MODEL)
                .setVersion(version)
                .build();
    }

    private static void corrupt(Path repo, String version) throws IOException {
        Files.writeString(
                repo.resolve(MODEL).resolve(version).resolve("lightgbm.txt"), "\ngarbage\n", StandardOpenOption.APPEND);
    }

    private Cluster cluster(
            List<Path> repositories,
            java.util.function.UnaryOperator<dev.trellis.router.config.RouterConfig.Builder> router,
            java.util.function.Function<List<String>, List<String>> upstreams)
            throws Exception {
        return new Cluster(
                repositories, VersionPolicy.parse("latest:2"), temp.resolve("trellis.db"), router, upstreams);
    }

    private ScoreRequest request(long n) {
        return ScoreRequest.newBuilder()
                .setModel(MODEL)
                .setUnitId("unit-" + (n % 1000))
                .putAllFeatures(ROWS.get((int) (n % ROWS.size())))
                .build();
    }

    /** No unit id: never in an experiment, so the default serves it. */
    private ScoreRequest unitless() {
        return ScoreRequest.newBuilder()
                .setModel(MODEL)
                .putAllFeatures(ROWS.get(0))
                .build();
    }

    private void putExperiment(String key, String control, String treatment) {
        cluster.admin()
                .putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(Experiment.newBuilder()
                                .setKey(key)
                                .setModel(MODEL)
                                .setStatus(ExperimentStatus.RUNNING)
                                .addVariants(Variant.newBuilder()
                                        .setKey("control")
                                        .setVersion(control)
                                        .setWeight(0.5))
                                .addVariants(Variant.newBuilder()
                                        .setKey("treatment")
                                        .setVersion(treatment)
                                        .setWeight(0.5))
                                .setMetric("converted"))
                        .build());
    }

    private void startRollout(String model, int minCandidateRequests) {
        cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(model)
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .addSteps(50)
                                .addSteps(100)
                                // only a promotion or a guardrail breach ends this step
                                .setStepInterval(Durations.fromMillis(600_000))
                                .setMinCandidateRequests(minCandidateRequests)
                                .setGuardrails(Guardrails.newBuilder()
                                        .setMaxErrorRateIncrease(0.01)
                                        .setMaxP99LatencyRatio(50)
                                        .setMaxScorePsi(2)))
                        .build());
    }

    private Rollout rollout(String model) {
        return cluster.anonymous()
                .getRollout(GetRolloutRequest.newBuilder().setModel(model).build())
                .getRollout();
    }

    private ModelInfo listModel(String model) {
        return cluster.anonymous().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                .filter(m -> m.getName().equals(model))
                .findFirst()
                .orElseThrow();
    }

    private static ModelVersionInfo version(ModelInfo model, String version) {
        return model.getVersionsList().stream()
                .filter(v -> v.getVersion().equals(version))
                .findFirst()
                .orElseThrow();
    }

    /** Where {@code version} takes traffic, from a poll that started now (not an earlier snapshot). */
    private List<String> readyReplicas(String version) {
        return cluster.router
                .catalog()
                .refreshIfOlderThan(System.nanoTime())
                .model(MODEL)
                .flatMap(m -> m.version(version))
                .map(CatalogSnapshot.Version::readyReplicas)
                .orElse(List.of());
    }

    private Optional<ModelIndex> find(int replica, String version) {
        return cluster.index(replica).stream()
                .filter(e -> e.getName().equals(MODEL) && e.getVersion().equals(version))
                .findFirst();
    }

    private ModelIndex entry(int replica, String version) {
        return find(replica, version).orElseThrow();
    }

    private String state(int replica, String version) {
        return find(replica, version).map(ModelIndex::getState).orElse("");
    }

    private void awaitHeld(int replica, String... versions) {
        await(
                "replica " + replica + " holds " + List.of(versions),
                () -> Stream.of(versions)
                        .allMatch(v -> find(replica, v)
                                .filter(e -> e.getState().equals("READY") && ModelControl.isHeld(e.getReason()))
                                .isPresent()));
    }

    private static void await(String what, BooleanSupplier condition) {
        Awaitility.await(what)
                .atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(50))
                .until(condition::getAsBoolean);
    }

    private static void deleteRecursively(Path path) throws IOException {
        try (Stream<Path> files = Files.walk(path)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
