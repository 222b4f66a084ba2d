package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS on both hops: client → router (--tls-cert/--tls-key) and router → replica (--upstream-tls --upstream-ca). */
class TlsTest {
    @TempDir
    Path temp;

    @Test
    void score_tlsOnBothHops_works() throws Exception {
        // a self-signed certificate for localhost / 127.0.0.1, valid until 2126, checked in like
        // grpc-java's testing certificates so the test needs no openssl
        Path cert = copyResource("tls/cert.pem");
        Path key = copyResource("tls/key.pem");

        try (FakeReplica replica = new FakeReplica(cert.toFile(), key.toFile())) {
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .upstreams(List.of(replica.address()))
                    .store(temp.resolve("trellis.db"))
                    .tlsCert(cert)
                    .tlsKey(key)
                    .upstreamTls(true)
                    .upstreamCa(cert)
                    .catalogRefresh(Duration.ofMillis(200))
                    .build());
            ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", router.port())
                    .sslContext(GrpcSslContexts.forClient()
                            .trustManager(cert.toFile())
                            .build())
                    .build();
            try {
                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
                ScoreResponse response = ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .score(ScoreRequest.newBuilder()
                                .setModel("m")
                                .putFeatures(
                                        "x",
                                        Value.newBuilder().setNumberValue(1).build())
                                .build());
                assertThat(response.getScore()).isEqualTo(0.5);
                assertThat(response.getServed().getReplica()).isEqualTo(replica.address());
            } finally {
                channel.shutdownNow();
                router.close();
            }
        }
    }

    private Path copyResource(String name) throws java.io.IOException {
        Path target = temp.resolve(Path.of(name).getFileName());
        try (java.io.InputStream in = TlsTest.class.getClassLoader().getResourceAsStream(name)) {
            java.nio.file.Files.copy(
                    java.util.Objects.requireNonNull(in, name + " is not on the test classpath"), target);
        }
        return target;
    }
}
