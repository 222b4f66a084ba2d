package dev.trellis.ensemble.data;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/** Reads RFC 4180 CSV files with a header row; an empty cell is missing. */
public final class CsvReader {
    private CsvReader() {}

    public static RawTable read(Path file) throws DatasetException {
        if (!Files.isRegularFile(file)) {
            throw DatasetException.of(ErrorCode.FILE_NOT_READABLE, file, "no such file");
        }
        MessageDigest digest = sha256();
        List<String> header;
        List<String[]> rows = new ArrayList<>();
        List<Long> lines = new ArrayList<>();
        try (Reader reader = new InputStreamReader(
                        new DigestInputStream(Files.newInputStream(file), digest), StandardCharsets.UTF_8);
                CSVParser parser = CSVFormat.RFC4180
                        .builder()
                        .setIgnoreEmptyLines(true)
                        .build()
                        .parse(reader)) {
            var iterator = parser.iterator();
            if (!iterator.hasNext()) {
                throw DatasetException.of(ErrorCode.EMPTY_FILE, file, "empty file: no header row");
            }
            CSVRecord headerRecord = iterator.next();
            header = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < headerRecord.size(); i++) {
                String name = headerRecord.get(i).strip();
                if (name.isEmpty()) {
                    throw new DatasetException(
                            ErrorCode.MALFORMED_CSV, file, 1, null, "header column " + (i + 1) + " has no name");
                }
                if (!seen.add(name)) {
                    throw new DatasetException(ErrorCode.DUPLICATE_COLUMN, file, 1, name, "duplicate column name");
                }
                header.add(name);
            }
            long line = 2;
            while (true) {
                CSVRecord record;
                try {
                    if (!iterator.hasNext()) {
                        break;
                    }
                    record = iterator.next();
                } catch (UncheckedIOException | IllegalStateException e) {
                    throw new DatasetException(
                            ErrorCode.MALFORMED_CSV, file, line, null, "malformed CSV: " + rootMessage(e));
                }
                // commons-csv reports the line where a record ends; quoted cells may span lines
                long recordLine = line;
                line = parser.getCurrentLineNumber() + 1;
                if (record.size() != header.size()) {
                    throw new DatasetException(
                            ErrorCode.MALFORMED_CSV,
                            file,
                            recordLine,
                            null,
                            "expected " + header.size() + " cells, found " + record.size());
                }
                String[] cells = new String[header.size()];
                for (int i = 0; i < cells.length; i++) {
                    String value = record.get(i).strip();
                    cells[i] = value.isEmpty() ? null : value;
                }
                rows.add(cells);
                lines.add(recordLine);
            }
            if (rows.isEmpty()) {
                throw DatasetException.of(ErrorCode.EMPTY_FILE, file, "empty file: no data rows");
            }
        } catch (NoSuchFileException e) {
            throw DatasetException.of(ErrorCode.FILE_NOT_READABLE, file, "no such file");
        } catch (IOException | UncheckedIOException e) {
            throw DatasetException.of(ErrorCode.FILE_NOT_READABLE, file, "cannot read: " + rootMessage(e));
        }
        long[] lineArray = lines.stream().mapToLong(Long::longValue).toArray();
        return new RawTable(file, header, rows, lineArray, HexFormat.of().formatHex(digest.digest()));
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
