package dev.trellis.common.tls;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/** TLS of a server port, the same for the router and the model-server, for gRPC and for HTTPS. */
public final class ServerTls {
    /** The protocol versions of the gRPC ports (Netty's defaults there), stated for HTTPS. */
    static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    /**
     * The cipher suites gRPC allows on its ports (grpc-java's {@code GrpcSslContexts}, that is
     * Netty's {@code Http2SecurityUtil.CIPHERS}: forward-secret AEAD only), so that HTTPS is no
     * weaker than gRPC on the same certificate.
     */
    static final List<String> CIPHER_SUITES = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private ServerTls() {}

    /**
     * Server credentials from a PEM certificate chain and PKCS#8 key. With a client CA, every client
     * must present a certificate that CA signed (mutual TLS); without, clients need none.
     *
     * @throws UncheckedIOException when a file cannot be read or parsed
     */
    public static ServerCredentials credentials(Path certChain, Path privateKey, Optional<Path> clientCa) {
        try {
            TlsServerCredentials.Builder tls =
                    TlsServerCredentials.newBuilder().keyManager(certChain.toFile(), privateKey.toFile());
            if (clientCa.isPresent()) {
                tls.trustManager(clientCa.get().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return tls.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new UncheckedIOException(
                    "cannot read the TLS certificate, key or client CA (" + certChain + ", " + privateKey
                            + clientCa.map(ca -> ", " + ca).orElse("") + "): " + e.getMessage(),
                    e instanceof IOException io ? io : new IOException(e));
        }
    }

    /**
     * {@link #https} for a port whose TLS is optional, as the servers' flags are: HTTPS when a
     * certificate is configured (its key then too, which the configs check), else empty = plain HTTP.
     */
    public static Optional<HttpsConfigurator> httpsIfConfigured(
            Optional<Path> certChain, Optional<Path> privateKey, Optional<Path> clientCa) {
        return certChain.map(cert -> https(cert, privateKey.orElseThrow(), clientCa));
    }

    /**
     * The same policy as {@link #credentials} for a JDK {@code HttpsServer}: the same certificate
     * and key, TLS 1.3 and 1.2 with gRPC's cipher suites, and with a client CA, a client
     * certificate that CA signed is required (a client without one fails the handshake).
     *
     * @throws UncheckedIOException when a file cannot be read or parsed
     */
    public static HttpsConfigurator https(Path certChain, Path privateKey, Optional<Path> clientCa) {
        SSLContext context;
        try {
            context = PemSsl.context(Optional.of(certChain), Optional.of(privateKey), clientCa);
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException(
                    "cannot read the TLS certificate, key or client CA (" + certChain + ", " + privateKey
                            + clientCa.map(ca -> ", " + ca).orElse("") + "): "
                            + e.getCause().getMessage(),
                    e.getCause());
        }
        boolean requireClientCertificate = clientCa.isPresent();
        String[] protocols = supported(context.getSupportedSSLParameters().getProtocols(), PROTOCOLS);
        String[] cipherSuites = supported(context.getSupportedSSLParameters().getCipherSuites(), CIPHER_SUITES);
        return new HttpsConfigurator(context) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters ssl = getSSLContext().getDefaultSSLParameters();
                ssl.setProtocols(protocols);
                ssl.setCipherSuites(cipherSuites);
                ssl.setNeedClientAuth(requireClientCertificate);
                params.setSSLParameters(ssl);
            }
        };
    }

    private static String[] supported(String[] available, List<String> wanted) {
        List<String> offered = Arrays.asList(available);
        String[] both = wanted.stream().filter(offered::contains).toArray(String[]::new);
        if (both.length == 0) {
            throw new IllegalStateException("the JVM supports none of " + wanted);
        }
        return both;
    }
}
