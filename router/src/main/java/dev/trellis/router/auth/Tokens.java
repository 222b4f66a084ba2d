package dev.trellis.router.auth;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/**
 * A configured bearer token, compared in constant time. Both sides are hashed first so that
 * neither the content nor the length of the token leaks through timing. Thread-safe.
 */
public final class Tokens {
    private final Optional<byte[]> digest;

    public Tokens(Optional<String> token) {
        requireNonNull(token, "token is null");
        this.digest = token.filter(t -> !t.isBlank()).map(Tokens::sha256);
    }

    public boolean configured() {
        return digest.isPresent();
    }

    public boolean matches(String presented) {
        if (digest.isEmpty() || presented == null) {
            return false;
        }
        return MessageDigest.isEqual(digest.get(), sha256(presented));
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from the JVM", e);
        }
    }
}
