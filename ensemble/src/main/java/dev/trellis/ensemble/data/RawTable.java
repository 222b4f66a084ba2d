package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.List;

/**
 * A CSV file as read: header, cells (null = empty = missing) and the 1-based file line of each
 * data row (for error messages; quoted cells may span lines).
 */
public record RawTable(Path file, List<String> header, List<String[]> rows, long[] lines, String sha256) {
    public RawTable {
        requireNonNull(file, "file is null");
        header = List.copyOf(requireNonNull(header, "header is null"));
        rows = List.copyOf(requireNonNull(rows, "rows is null"));
        requireNonNull(lines, "lines is null");
        requireNonNull(sha256, "sha256 is null");
    }

    public int columnIndex(String name) {
        return header.indexOf(name);
    }
}
