package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.api.v1.ExportPayloadsRequest;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PayloadRow;
import dev.trellis.experiments.store.Outcome;
import dev.trellis.experiments.store.PayloadSample;
import dev.trellis.experiments.store.SqliteExperimentStore;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * ExportPayloads honours the client's flow control: a real router on a real SQLite store holding
 * 20,000 payload samples with outcomes (20 store pages), a stand-in replica serving the model, and
 * clients that request rows one by one. The router reads ahead a bounded number of pages (its
 * {@code trellis_payload_export_pages_read_total}) instead of buffering the whole export, and a
 * cancelled export reads no further.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PayloadExportFlowControlTest {
    private static final int SAMPLES = 20_000;
    /** PayloadReads.PAGE: rows per store read. */
    private static final int PAGE = 1000;

    @TempDir
    static Path temp;

    private FakeReplica replica;
    private RouterServer router;
    private ManagedChannel channel;

    @BeforeAll
    void start() throws Exception {
        Path db = temp.resolve("trellis.db");
        try (SqliteExperimentStore store = SqliteExperimentStore.open(db, Clock.systemUTC())) {
            Instant time = Instant.now().minusSeconds(60);
            for (int i = 0; i < SAMPLES; i++) {
                String unit = String.format("u%05d", i);
                store.recordPayloadSample(new PayloadSample(
                        "m", "1", unit, time, "{\"x\":" + i + ",\"c\":\"a\"}", 0.5, "warm", null, null));
                store.recordOutcome(new Outcome(unit, "converted", i % 2, null, time));
            }
            store.flush();
        }
        replica = new FakeReplica();
        router = RouterServer.start(RouterConfig.builder()
                .shutdownDelay(Duration.ZERO)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .upstreams(List.of(replica.address()))
                .store(db)
                .adminToken(Cluster.ADMIN_TOKEN)
                .catalogRefresh(Duration.ofMillis(200))
                .build());
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
        // a client-side HTTP/2 window of 64 KiB without auto-tuning: what a slow consumer leaves in flight
        channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .flowControlWindow(64 * 1024)
                .build();
    }

    @AfterAll
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (router != null) {
            router.close();
        }
        if (replica != null) {
            replica.close();
        }
    }

    private long pagesRead() throws Exception {
        String metrics = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + router.metricsPort() + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        return metrics.lines()
                .filter(l -> l.startsWith("trellis_payload_export_pages_read_total"))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .findFirst()
                .orElse(0);
    }

    /** An export whose client asks for rows itself (none until {@link #request}). */
    private final class SlowExport implements ClientResponseObserver<ExportPayloadsRequest, PayloadRow> {
        final AtomicInteger received = new AtomicInteger();
        final CompletableFuture<Status> done = new CompletableFuture<>();
        final int cancelAfter;
        volatile ClientCallStreamObserver<ExportPayloadsRequest> call;

        SlowExport(int cancelAfter) {
            this.cancelAfter = cancelAfter;
            Metadata headers = new Metadata();
            headers.put(AuthInterceptor.AUTHORIZATION, "Bearer " + Cluster.ADMIN_TOKEN);
            MonitoringGrpc.newStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                    .withDeadlineAfter(120, TimeUnit.SECONDS)
                    .exportPayloads(
                            ExportPayloadsRequest.newBuilder()
                                    .setModel("m")
                                    .setMetric("converted")
                                    .build(),
                            this);
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<ExportPayloadsRequest> requestStream) {
            call = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
        }

        void request(int rows) {
            call.request(rows);
        }

        @Override
        public void onNext(PayloadRow row) {
            if (received.incrementAndGet() == cancelAfter) {
                call.cancel("the client has enough rows", null);
            }
        }

        @Override
        public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            done.complete(Status.OK);
        }
    }

    /** Waits until the router has stopped reading pages (unchanged for a second), and returns the count. */
    private long settledPagesRead() {
        AtomicReference<Long> last = new AtomicReference<>(-1L);
        await("the router stops reading")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    long now = pagesRead();
                    return last.getAndSet(now) == now;
                });
        await("pages read unchanged for a second")
                .during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(30))
                .until(() -> pagesRead() == last.get());
        return last.get();
    }

    @Test
    void exportPayloads_slowClient_boundedReadAheadThenEveryRowInOrder() throws Exception {
        long before = settledPagesRead();
        SlowExport slow = new SlowExport(-1);
        await("the first row").atMost(Duration.ofSeconds(30)).until(() -> slow.received.get() == 1);
        long readAhead = settledPagesRead() - before;
        // one page being sent, about one more that fills gRPC's buffers and the 64 KiB window; not 20
        assertThat(readAhead).isBetween(1L, 4L);
        assertThat(slow.received.get()).isEqualTo(1);

        slow.request(Integer.MAX_VALUE);
        assertThat(slow.done.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
        assertThat(slow.received.get()).isEqualTo(SAMPLES);
        // 20 full pages and the empty one that ends the export
        assertThat(settledPagesRead() - before).isEqualTo(SAMPLES / PAGE + 1);
    }

    @Test
    void exportPayloads_cancelled_readsNoFurther() throws Exception {
        long before = settledPagesRead();
        SlowExport cancelling = new SlowExport(1500);
        cancelling.request(Integer.MAX_VALUE);
        assertThat(cancelling.done.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.CANCELLED);
        long read = settledPagesRead() - before;
        // the 1,500 rows received, what was in flight, nothing after the cancellation
        assertThat(read).isBetween(2L, 5L);
        // (rows already delivered to the client's executor may still arrive after its cancel)
        assertThat(cancelling.received.get()).isBetween(1500, 4 * PAGE);
    }
}
