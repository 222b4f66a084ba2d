package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A dataset a user supplied cannot be used. The message names the file and, where they apply, the
 * line (1-based line of the CSV file, the header being line 1) and the column, so that it can be
 * printed as is.
 */
public final class DatasetException extends Exception {
    private final ErrorCode code;
    private final Path file;
    private final long line;
    private final String column;

    public DatasetException(ErrorCode code, Path file, long line, String column, String detail) {
        super(format(file, line, column, detail));
        this.code = requireNonNull(code, "code is null");
        this.file = requireNonNull(file, "file is null");
        this.line = line;
        this.column = column;
    }

    public static DatasetException of(ErrorCode code, Path file, String detail) {
        return new DatasetException(code, file, -1, null, detail);
    }

    private static String format(Path file, long line, String column, String detail) {
        StringBuilder message = new StringBuilder().append(file);
        if (line > 0) {
            message.append(": line ").append(line);
        }
        if (column != null) {
            message.append(line > 0 ? ", column '" : ": column '")
                    .append(column)
                    .append('\'');
        }
        return message.append(": ").append(detail).toString();
    }

    public ErrorCode code() {
        return code;
    }

    public Path file() {
        return file;
    }

    /** 1-based line in the file (header = line 1), if the problem is on one line. */
    public OptionalLong line() {
        return line > 0 ? OptionalLong.of(line) : OptionalLong.empty();
    }

    public Optional<String> column() {
        return Optional.ofNullable(column);
    }
}
