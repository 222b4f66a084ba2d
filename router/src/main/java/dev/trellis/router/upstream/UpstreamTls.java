package dev.trellis.router.upstream;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLException;

/** Applies the upstream hop's transport security to a channel builder. */
public final class UpstreamTls {
    private UpstreamTls() {}

    public static NettyChannelBuilder apply(NettyChannelBuilder builder, boolean tls, Optional<Path> ca) {
        if (!tls) {
            return builder.usePlaintext();
        }
        try {
            SslContextBuilder ssl = GrpcSslContexts.forClient();
            ca.ifPresent(file -> ssl.trustManager(file.toFile()));
            return builder.useTransportSecurity().sslContext(ssl.build());
        } catch (SSLException e) {
            throw new IllegalArgumentException("cannot set up upstream TLS: " + e.getMessage(), e);
        }
    }
}
