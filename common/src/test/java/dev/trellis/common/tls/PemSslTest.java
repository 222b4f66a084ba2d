package dev.trellis.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.common.testing.TestPki;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SSL contexts from the PEM files the gRPC ports take, and what a bad file gets. */
class PemSslTest {
    @TempDir
    Path temp;

    @Test
    void context_readsTheCertificateChainKeyAndCa() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki.Pem server = pki.server("server");

        assertThat(PemSsl.certificates(server.certificate())).hasSize(1);
        assertThat(PemSsl.privateKey(server.privateKey()).getAlgorithm()).isEqualTo("EC");
        assertThat(PemSsl.context(
                                Optional.of(server.certificate()),
                                Optional.of(server.privateKey()),
                                Optional.of(pki.caCertificate()))
                        .getProtocol())
                .isEqualTo("TLS");
    }

    @Test
    void context_badFiles_nameTheFileAndWhatIsWrong() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki.Pem server = pki.server("server");
        Path pkcs1 = Files.writeString(
                temp.resolve("pkcs1.key"), "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        Path garbage = Files.writeString(temp.resolve("garbage.pem"), "not a certificate");

        assertThatThrownBy(
                        () -> PemSsl.context(Optional.of(server.certificate()), Optional.of(pkcs1), Optional.empty()))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("pkcs1.key")
                .hasMessageContaining("PKCS#8")
                .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
        assertThatThrownBy(
                        () -> PemSsl.context(Optional.of(garbage), Optional.of(server.privateKey()), Optional.empty()))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("garbage.pem");
        assertThatThrownBy(() -> ServerTls.https(server.certificate(), server.privateKey(), Optional.of(garbage)))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("cannot read the TLS certificate, key or client CA")
                .hasMessageContaining("garbage.pem");
        assertThatThrownBy(() -> PemSsl.context(Optional.of(server.certificate()), Optional.empty(), Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
