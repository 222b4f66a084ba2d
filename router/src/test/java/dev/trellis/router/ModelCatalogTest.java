package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import dev.trellis.router.upstream.UpstreamConfig;
import dev.trellis.router.upstream.UpstreamTargets;
import io.grpc.Context;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The catalog's on-demand refresh against a real replica stand-in whose polls can be held at a gate. */
class ModelCatalogTest {
    @Test
    void refreshIfOlderThan_concurrentCallers_shareOnePoll() throws Exception {
        try (FakeReplica replica = new FakeReplica();
                ModelCatalog catalog = new ModelCatalog(config(replica.address()))) {
            CountDownLatch gate = new CountDownLatch(1);
            replica.indexGate = gate;
            List<Thread> callers = new ArrayList<>();
            List<CompletableFuture<CatalogSnapshot>> results = new ArrayList<>();
            // every caller wants a poll that started after this instant (refreshOnDemand's "at most
            // half a second old" with a fixed instant: on a loaded machine a caller thread may start
            // more than half a second after the first poll began, and rightly wait for the next one)
            long wanted = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                CompletableFuture<CatalogSnapshot> result = new CompletableFuture<>();
                results.add(result);
                Thread t = new Thread(() -> result.complete(catalog.refreshIfOlderThan(wanted)));
                callers.add(t);
                t.start();
            }
            // one poll reached the replica and is held there; every caller waits for it
            await("one poll at the gate and eight waiting callers")
                    .atMost(Duration.ofSeconds(30))
                    .until(() -> replica.indexCalls.get() == 1
                            && callers.stream().allMatch(t -> t.getState() == Thread.State.TIMED_WAITING));

            gate.countDown();
            for (CompletableFuture<CatalogSnapshot> result : results) {
                assertThat(result.get(30, TimeUnit.SECONDS).model("m")).isPresent();
            }
            assertThat(replica.indexCalls.get()).isEqualTo(1);
            // that poll started after the instant: a later caller with the same need does not poll
            assertThat(catalog.refreshIfOlderThan(wanted).model("m")).isPresent();
            assertThat(replica.indexCalls.get()).isEqualTo(1);
            // a newer need polls once, and then is met without polling
            long later = System.nanoTime();
            assertThat(catalog.refreshIfOlderThan(later).model("m")).isPresent();
            assertThat(catalog.refreshIfOlderThan(later).model("m")).isPresent();
            assertThat(replica.indexCalls.get()).isEqualTo(2);
        }
    }

    @Test
    void refreshOnDemand_waiterWithShortDeadline_returnsWithoutThePoll() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (FakeReplica replica = new FakeReplica();
                ModelCatalog catalog = new ModelCatalog(config(replica.address()))) {
            CountDownLatch gate = new CountDownLatch(1);
            replica.indexGate = gate;
            CompletableFuture<CatalogSnapshot> patient = CompletableFuture.supplyAsync(catalog::refreshOnDemand);
            await().atMost(Duration.ofSeconds(30)).until(() -> replica.indexCalls.get() == 1);

            CatalogSnapshot hurried = Context.current()
                    .withDeadlineAfter(200, TimeUnit.MILLISECONDS, timer)
                    .call(catalog::refreshOnDemand);

            assertThat(hurried.models()).as("the snapshot from before the poll").isEmpty();
            assertThat(patient).isNotDone();
            gate.countDown();
            assertThat(patient.get(30, TimeUnit.SECONDS).model("m")).isPresent();
            assertThat(replica.indexCalls.get()).isEqualTo(1);
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void refreshOnDemandAsync_doesNotBlock_andEndsOnTheCallersDeadline() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (FakeReplica replica = new FakeReplica();
                ModelCatalog catalog = new ModelCatalog(config(replica.address()))) {
            CountDownLatch gate = new CountDownLatch(1);
            replica.indexGate = gate;
            // returns at once with the poll pending at the gate
            CompletableFuture<CatalogSnapshot> patient = catalog.refreshOnDemandAsync();
            await().atMost(Duration.ofSeconds(30)).until(() -> replica.indexCalls.get() == 1);
            assertThat(patient).isNotDone();

            CompletableFuture<CatalogSnapshot> hurried = Context.current()
                    .withDeadlineAfter(200, TimeUnit.MILLISECONDS, timer)
                    .call(catalog::refreshOnDemandAsync);
            assertThat(hurried.get(30, TimeUnit.SECONDS).models())
                    .as("the snapshot from before the poll, once three quarters of 200 ms are spent")
                    .isEmpty();
            assertThat(patient)
                    .as("the shared poll is not ended by the hurried caller's deadline")
                    .isNotDone();

            gate.countDown();
            assertThat(patient.get(30, TimeUnit.SECONDS).model("m")).isPresent();
            assertThat(catalog.refreshOnDemandAsync())
                    .as("a recent snapshot: no poll")
                    .isDone();
            assertThat(replica.indexCalls.get()).isEqualTo(1);
        } finally {
            timer.shutdownNow();
        }
    }

    /**
     * A replica that restarts on its port is seen by the first poll after it is back, although its
     * channel's last connection attempts were refused (and the channel waits out a backoff).
     */
    @Test
    void replicaBackOnItsPort_isReachableAtTheFirstPollAfter() throws Exception {
        FakeReplica first = new FakeReplica();
        int port = first.port();
        String name = first.address();
        try (ModelCatalog catalog = new ModelCatalog(config(name))) {
            assertThat(reachable(catalog.refreshIfOlderThan(System.nanoTime()), name))
                    .isTrue();
            first.close();
            // twice: the channel's connection attempts are refused and it backs off
            assertThat(reachable(catalog.refreshIfOlderThan(System.nanoTime()), name))
                    .isFalse();
            CatalogSnapshot down = catalog.refreshIfOlderThan(System.nanoTime());
            assertThat(reachable(down, name)).isFalse();
            assertThat(down.model("m").flatMap(m -> m.version("1")).map(v -> v.readyReplicas()))
                    .as("an unreachable replica's versions stay in view, not ready")
                    .contains(List.of());
            try (FakeReplica again = new FakeReplica(port, null, null)) {
                CatalogSnapshot back = catalog.refreshIfOlderThan(System.nanoTime());
                assertThat(reachable(back, name)).isTrue();
                assertThat(back.model("m").flatMap(m -> m.version("1")).map(v -> v.readyReplicas()))
                        .contains(List.of(name));
            }
        } finally {
            first.close();
        }
    }

    private static boolean reachable(CatalogSnapshot snapshot, String replica) {
        return snapshot.replica(replica).map(CatalogSnapshot.Replica::reachable).orElse(false);
    }

    private static UpstreamConfig config(String address) {
        return new UpstreamConfig(
                UpstreamTargets.parse(List.of(address)),
                false,
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                Duration.ofSeconds(2),
                4 * 1024 * 1024,
                3,
                "inference.GRPCInferenceService",
                Duration.ofSeconds(5),
                Optional.empty());
    }
}
