package dev.trellis.common.testing;

import dev.trellis.common.tls.PemSsl;
import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate authority for TLS tests, generated in the test with BouncyCastle (no
 * openssl binary, nothing checked in): a CA, server certificates for localhost / 127.0.0.1 and
 * client certificates, written as PEM files (certificates) and PKCS#8 PEM files (keys), the
 * formats the servers' flags take. Two instances are two unrelated CAs. Not thread-safe.
 */
public final class TestPki {
    private static final AtomicLong SERIALS = new AtomicLong(System.nanoTime());

    private final Path directory;
    private final String name;
    private final KeyPair caKeys;
    private final X509Certificate caCertificate;
    private final Path caFile;

    /** A certificate and its private key, as PEM files. */
    public record Pem(Path certificate, Path privateKey) {}

    private TestPki(Path directory, String name) {
        this.directory = directory;
        this.name = name;
        this.caKeys = keyPair();
        X500Name subject = new X500Name("CN=" + name + " test CA");
        this.caCertificate = sign(subject, caKeys, subject, caKeys, true, null, null);
        this.caFile = write(directory.resolve(name + "-ca.pem"), "CERTIFICATE", encoded(caCertificate));
    }

    /** A new CA whose files go to {@code directory}, named after {@code name}. */
    public static TestPki create(Path directory, String name) {
        return new TestPki(directory, name);
    }

    /** The CA certificate (PEM): what a peer trusts, or a server's {@code --tls-client-ca}. */
    public Path caCertificate() {
        return caFile;
    }

    /** A server certificate for {@code localhost} and {@code 127.0.0.1}. */
    public Pem server(String leaf) {
        return issue(leaf, KeyPurposeId.id_kp_serverAuth);
    }

    /**
     * Channel credentials that trust this CA and present {@code client} (none when null): what a
     * caller of a server with a certificate from {@link #server} uses.
     */
    public ChannelCredentials channelCredentials(Pem client) {
        try {
            TlsChannelCredentials.Builder tls =
                    TlsChannelCredentials.newBuilder().trustManager(caFile.toFile());
            if (client != null) {
                tls.keyManager(
                        client.certificate().toFile(), client.privateKey().toFile());
            }
            return tls.build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The same as {@link #channelCredentials} for HTTPS clients ({@code java.net.http.HttpClient}):
     * trusts this CA and presents {@code client} (none when null).
     */
    public SSLContext sslContext(Pem client) {
        return PemSsl.context(
                Optional.ofNullable(client).map(Pem::certificate),
                Optional.ofNullable(client).map(Pem::privateKey),
                Optional.of(caFile));
    }

    /** A client certificate (for mutual TLS). */
    public Pem client(String leaf) {
        return issue(leaf, KeyPurposeId.id_kp_clientAuth);
    }

    private Pem issue(String leaf, KeyPurposeId purpose) {
        KeyPair keys = keyPair();
        X509Certificate certificate = sign(
                new X500Name("CN=" + leaf),
                keys,
                new X500Name("CN=" + name + " test CA"),
                caKeys,
                false,
                purpose,
                new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.dNSName, "localhost"),
                    new GeneralName(GeneralName.iPAddress, "127.0.0.1")
                }));
        String base = name + "-" + leaf;
        return new Pem(
                write(directory.resolve(base + ".pem"), "CERTIFICATE", encoded(certificate)),
                write(
                        directory.resolve(base + ".key"),
                        "PRIVATE KEY",
                        keys.getPrivate().getEncoded()));
    }

    private static X509Certificate sign(
            X500Name subject,
            KeyPair subjectKeys,
            X500Name issuer,
            KeyPair issuerKeys,
            boolean ca,
            KeyPurposeId purpose,
            GeneralNames alternativeNames) {
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    issuer,
                    BigInteger.valueOf(SERIALS.incrementAndGet()),
                    Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(Duration.ofDays(2))),
                    subject,
                    subjectKeys.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            builder.addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
            if (purpose != null) {
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
            }
            if (alternativeNames != null) {
                builder.addExtension(Extension.subjectAlternativeName, false, alternativeNames);
            }
            return new JcaX509CertificateConverter()
                    .getCertificate(builder.build(
                            new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot sign a test certificate", e);
        }
    }

    private static KeyPair keyPair() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is missing from the JVM", e);
        }
    }

    private static byte[] encoded(X509Certificate certificate) {
        try {
            return certificate.getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path write(Path file, String type, byte[] der) {
        String pem = "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der)
                + "\n-----END " + type + "-----\n";
        try {
            Files.createDirectories(file.getParent());
            return Files.writeString(file, pem, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
