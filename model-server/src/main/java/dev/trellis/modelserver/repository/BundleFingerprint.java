package dev.trellis.modelserver.repository;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The sha256 of every file of a version folder as it was when the version loaded, to notice later
 * that the files a loaded version came from changed or disappeared (the version is then STALE).
 * Bundle-format agnostic: bundle.json and every model file count alike.
 *
 * <p>{@link #check} re-hashes a file whose size, modification time or file key changed, and every
 * file when asked for a full check (the repository asks once a minute), so an in-place rewrite that
 * keeps all three is still caught, later. Immutable; {@link #check} is thread-safe.
 */
final class BundleFingerprint {
    private final Path directory;
    private final Map<String, FileStamp> files;

    private BundleFingerprint(Path directory, Map<String, FileStamp> files) {
        this.directory = requireNonNull(directory, "directory is null");
        this.files = Map.copyOf(files);
    }

    /** Hashes every regular file directly in {@code directory}. */
    static BundleFingerprint read(Path directory) throws IOException {
        Map<String, FileStamp> files = new TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory, Files::isRegularFile)) {
            for (Path file : entries) {
                files.put(file.getFileName().toString(), FileStamp.of(file));
            }
        }
        return new BundleFingerprint(directory, files);
    }

    /**
     * What changed since the fingerprint was taken, e.g. "lightgbm.txt changed (sha256 differs)";
     * empty when every file still matches. New files are ignored: they are not part of what loaded.
     *
     * @param fullCheck re-hash every file even when its metadata is unchanged
     */
    Optional<String> check(boolean fullCheck) {
        if (!Files.isDirectory(directory)) {
            return Optional.of("the version folder was removed from the repository");
        }
        List<String> changes = new ArrayList<>();
        for (Map.Entry<String, FileStamp> entry : files.entrySet()) {
            Path file = directory.resolve(entry.getKey());
            try {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                FileStamp recorded = entry.getValue();
                if (fullCheck || !recorded.sameMetadata(attributes)) {
                    if (!recorded.sha256().equals(sha256(file))) {
                        changes.add(entry.getKey() + " changed (sha256 differs from the loaded copy)");
                    }
                }
            } catch (NoSuchFileException e) {
                changes.add(entry.getKey() + " was removed");
            } catch (IOException e) {
                changes.add(entry.getKey() + " cannot be read (" + e.getMessage() + ")");
            }
        }
        return changes.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", changes));
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private record FileStamp(long size, long modifiedMillis, Object fileKey, String sha256) {
        static FileStamp of(Path file) throws IOException {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return new FileStamp(
                    attributes.size(),
                    attributes.lastModifiedTime().toMillis(),
                    attributes.fileKey(),
                    BundleFingerprint.sha256(file));
        }

        boolean sameMetadata(BasicFileAttributes attributes) {
            return attributes.size() == size
                    && attributes.lastModifiedTime().toMillis() == modifiedMillis
                    && java.util.Objects.equals(attributes.fileKey(), fileKey);
        }
    }
}
