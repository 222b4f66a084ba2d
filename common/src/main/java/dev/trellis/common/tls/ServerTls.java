package dev.trellis.common.tls;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;

/** TLS of a server port, the same for the router and the model-server. */
public final class ServerTls {
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
}
