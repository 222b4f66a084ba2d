package dev.trellis.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.cli.TrellisCli;
import dev.trellis.common.testing.TestPki;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * TrellisClient and the CLI against a real router that requires client certificates
 * ({@code --tls-client-ca}), with certificates generated in the test.
 */
class MutualTlsClientTest {
    @TempDir
    Path temp;

    private TestPki pki;
    private RouterServer router;

    @BeforeEach
    void start() {
        pki = TestPki.create(temp, "trellis");
        TestPki.Pem server = pki.server("router");
        router = RouterServer.start(RouterConfig.builder()
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .upstreams(List.of("127.0.0.1:1")) // no replica: ListModels answers with an empty list
                .store(temp.resolve("trellis.db"))
                .tlsCert(server.certificate())
                .tlsKey(server.privateKey())
                .tlsClientCa(pki.caCertificate())
                .catalogRefresh(Duration.ofSeconds(30))
                .build());
    }

    @AfterEach
    void stop() {
        router.close();
    }

    private TrellisClient.Builder client() {
        return TrellisClient.builder()
                .target("localhost:" + router.port())
                .tls(pki.caCertificate())
                .defaultDeadline(Duration.ofSeconds(10));
    }

    @Test
    void client_withACertificateOfTheRoutersCa_isAccepted() {
        TestPki.Pem cert = pki.client("scorer");
        try (TrellisClient client = client().clientCertificate(cert.certificate(), cert.privateKey())
                .build()) {
            assertThat(client.listModels()).isEmpty();
        }
    }

    @Test
    void client_withoutACertificateOrWithAnotherCas_isRefused() {
        TestPki.Pem foreign = TestPki.create(temp, "other").client("intruder");
        for (TrellisClient.Builder builder :
                List.of(client(), client().clientCertificate(foreign.certificate(), foreign.privateKey()))) {
            try (TrellisClient client = builder.build()) {
                TrellisException refused = catchThrowableOfType(TrellisException.class, client::listModels);
                assertThat(refused.code()).isEqualTo(Status.Code.UNAVAILABLE);
            }
        }
    }

    @Test
    void cli_certAndKeyFlags_presentTheCertificate() {
        TestPki.Pem cert = pki.client("operator");
        String target = "localhost:" + router.port();

        assertThat(cli(
                        "--target",
                        target,
                        "--ca",
                        pki.caCertificate().toString(),
                        "--cert",
                        cert.certificate().toString(),
                        "--key",
                        cert.privateKey().toString(),
                        "models"))
                .isZero();
        assertThat(cli("--target", target, "--ca", pki.caCertificate().toString(), "models"))
                .isEqualTo(1);
        assertThat(cli("--target", target, "--cert", cert.certificate().toString(), "models"))
                .isEqualTo(2);
    }

    private static int cli(String... args) {
        CommandLine cli = TrellisCli.newCommandLine();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(new StringWriter()));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        System.err.println("trellis " + String.join(" ", args) + " -> " + code + ": " + err);
        return code;
    }
}
