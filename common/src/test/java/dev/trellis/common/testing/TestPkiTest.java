package dev.trellis.common.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.common.tls.ServerTls;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ServerTls with a client CA over a real Netty port, with certificates from TestPki. */
class TestPkiTest {
    @TempDir
    Path temp;

    @Test
    void mutualTls_acceptsItsCasClientsOnly() throws Exception {
        TestPki pki = TestPki.create(temp, "trusted");
        TestPki other = TestPki.create(temp, "other");
        TestPki.Pem server = pki.server("server");
        HealthStatusManager health = new HealthStatusManager();
        health.setStatus("", ServingStatus.SERVING);
        Server grpc = NettyServerBuilder.forAddress(
                        new InetSocketAddress("127.0.0.1", 0),
                        ServerTls.credentials(
                                server.certificate(), server.privateKey(), Optional.of(pki.caCertificate())))
                .addService(health.getHealthService())
                .build()
                .start();
        try {
            TestPki.Pem good = pki.client("alice");
            TestPki.Pem foreign = other.client("mallory");
            assertThat(check(grpc.getPort(), pki.channelCredentials(good))).isEqualTo(Status.Code.OK);
            assertThat(check(grpc.getPort(), pki.channelCredentials(null))).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(check(grpc.getPort(), pki.channelCredentials(foreign))).isEqualTo(Status.Code.UNAVAILABLE);
        } finally {
            grpc.shutdownNow();
        }
    }

    private static Status.Code check(int port, ChannelCredentials credentials) {
        ManagedChannel channel =
                Grpc.newChannelBuilderForAddress("localhost", port, credentials).build();
        try {
            HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        } finally {
            channel.shutdownNow();
        }
    }
}
