package dev.trellis.router.upstream;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * Applies the upstream hop's transport security to a channel builder: plaintext, TLS trusting a CA
 * bundle (or the JVM's trust store), and optionally a client certificate for model-servers that
 * require mutual TLS.
 */
public final class UpstreamTls {
    private UpstreamTls() {}

    public static NettyChannelBuilder apply(
            NettyChannelBuilder builder,
            boolean tls,
            Optional<Path> ca,
            Optional<Path> clientCert,
            Optional<Path> clientKey) {
        if (!tls) {
            return builder.usePlaintext();
        }
        try {
            SslContextBuilder ssl = GrpcSslContexts.forClient();
            ca.ifPresent(file -> ssl.trustManager(file.toFile()));
            if (clientCert.isPresent()) {
                ssl.keyManager(
                        clientCert.get().toFile(), clientKey.orElseThrow().toFile());
            }
            return builder.useTransportSecurity().sslContext(ssl.build());
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot set up upstream TLS: " + e.getMessage(), e);
        }
    }
}
