package dev.trellis.common.auth;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * A configured bearer token, compared in constant time. Only its SHA-256 digest is kept, and both
 * sides are hashed first, so that neither the content nor the length of the token leaks through
 * timing, a heap dump of the digest or {@link #toString}. Immutable.
 */
public final class BearerToken {
    private final byte[] digest;

    private BearerToken(byte[] digest) {
        this.digest = digest;
    }

    /** @throws IllegalArgumentException for a blank token */
    public static BearerToken of(String token) {
        requireNonNull(token, "token is null");
        if (token.isBlank()) {
            throw new IllegalArgumentException("a bearer token must not be blank");
        }
        return new BearerToken(sha256(token.strip()));
    }

    public boolean matches(String presented) {
        return presented != null && MessageDigest.isEqual(digest, sha256(presented));
    }

    /**
     * The token of an {@code authorization: Bearer <token>} header value (scheme case-insensitive),
     * or null when the header is absent or is not a bearer credential.
     */
    public static String fromHeader(String authorization) {
        if (authorization == null) {
            return null;
        }
        String value = authorization.trim();
        if (value.length() > 7 && value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String token = value.substring(7).trim();
            return token.isEmpty() ? null : token;
        }
        return null;
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from the JVM", e);
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof BearerToken token && MessageDigest.isEqual(digest, token.digest);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest);
    }

    @Override
    public String toString() {
        return "BearerToken[redacted]";
    }
}
