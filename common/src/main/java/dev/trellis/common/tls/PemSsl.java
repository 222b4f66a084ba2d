package dev.trellis.common.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * A JDK {@link SSLContext} from the PEM files the gRPC ports take (a certificate chain, a PKCS#8
 * private key, a CA bundle), for listeners and clients that are not gRPC: the model-server's
 * HTTPS REST port, and HTTPS clients in tests. Thread-safe (no state).
 */
public final class PemSsl {
    private static final Pattern PRIVATE_KEY =
            Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    // PKCS#8 names its algorithm inside; the JDK's KeyFactory still needs it up front
    private static final List<String> KEY_ALGORITHMS = List.of("EC", "RSA", "Ed25519", "Ed448", "DSA");

    private PemSsl() {}

    /**
     * @param certChain PEM certificate chain presented to the peer, leaf first; with {@code privateKey}
     * @param privateKey its PEM PKCS#8 private key (unencrypted, as the gRPC ports take it)
     * @param trusted PEM CA bundle whose certificates verify the peer; empty = the JVM's trust store
     * @throws UncheckedIOException when a file cannot be read or parsed, naming the file
     */
    public static SSLContext context(Optional<Path> certChain, Optional<Path> privateKey, Optional<Path> trusted) {
        if (certChain.isPresent() != privateKey.isPresent()) {
            throw new IllegalArgumentException("a certificate chain needs its private key, and the other way round");
        }
        try {
            KeyManager[] keyManagers = null;
            if (certChain.isPresent()) {
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                char[] password = new char[0];
                keys.setKeyEntry(
                        "key",
                        privateKey(privateKey.get()),
                        password,
                        certificates(certChain.get()).toArray(Certificate[]::new));
                KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                factory.init(keys, password);
                keyManagers = factory.getKeyManagers();
            }
            TrustManager[] trustManagers = null;
            if (trusted.isPresent()) {
                KeyStore roots = KeyStore.getInstance("PKCS12");
                roots.load(null, null);
                List<Certificate> cas = certificates(trusted.get());
                for (int i = 0; i < cas.size(); i++) {
                    roots.setCertificateEntry("ca-" + i, cas.get(i));
                }
                TrustManagerFactory factory =
                        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                factory.init(roots);
                trustManagers = factory.getTrustManagers();
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers, trustManagers, null);
            return context;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new UncheckedIOException(new IOException("cannot set up TLS: " + e.getMessage(), e));
        }
    }

    /** Every certificate of a PEM file, in file order; at least one. */
    static List<Certificate> certificates(Path pem) throws IOException {
        try {
            List<Certificate> certificates = List.copyOf(CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(pem))));
            if (certificates.isEmpty()) {
                throw new IOException(pem + " holds no PEM certificate");
            }
            return certificates;
        } catch (CertificateException e) {
            throw new IOException(pem + " is not a PEM certificate file: " + e.getMessage(), e);
        }
    }

    /** The PKCS#8 private key of a PEM file ({@code BEGIN PRIVATE KEY}). */
    static PrivateKey privateKey(Path pem) throws IOException {
        String text = Files.readString(pem, StandardCharsets.US_ASCII);
        Matcher block = PRIVATE_KEY.matcher(text);
        if (!block.find()) {
            throw new IOException(
                    pem + " holds no unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert it with "
                            + "`openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8`");
        }
        PKCS8EncodedKeySpec spec;
        try {
            spec = new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(block.group(1)));
        } catch (IllegalArgumentException e) {
            throw new IOException(pem + ": the key is not valid base64", e);
        }
        for (String algorithm : KEY_ALGORITHMS) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // not this algorithm; try the next
            }
        }
        throw new IOException(pem + ": the key is none of " + KEY_ALGORITHMS);
    }
}
