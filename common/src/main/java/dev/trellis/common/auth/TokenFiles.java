package dev.trellis.common.auth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads bearer tokens from files (a Kubernetes Secret mount, a Docker secret), the way every flag takes them. */
public final class TokenFiles {
    private TokenFiles() {}

    /**
     * The file's content without surrounding whitespace.
     *
     * @throws IllegalArgumentException when the file is empty
     * @throws UncheckedIOException when it cannot be read
     */
    public static String read(Path file) {
        try {
            String token = Files.readString(file, StandardCharsets.UTF_8).trim();
            if (token.isEmpty()) {
                throw new IllegalArgumentException("token file " + file + " is empty");
            }
            return token;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read token file " + file + ": " + e.getMessage(), e);
        }
    }
}
