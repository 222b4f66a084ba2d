package dev.trellis.router;

import com.google.protobuf.Value;
import dev.trellis.ensemble.testing.TestBundles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Feature rows of the shipped churn dataset as the public API takes them (quoted = string, else number). */
public final class ChurnRows {
    private static final Set<String> NOT_FEATURES = Set.of("customer_id", "churned");

    private ChurnRows() {}

    public static List<Map<String, Value>> load(int limit) {
        try {
            List<String> lines = Files.readAllLines(TestBundles.churnCsv());
            List<String> header =
                    split(lines.get(0)).stream().map(ChurnRows::unquote).toList();
            List<Map<String, Value>> rows = new ArrayList<>();
            for (String line : lines.subList(1, Math.min(lines.size(), limit + 1))) {
                List<String> cells = split(line);
                Map<String, Value> row = new LinkedHashMap<>();
                for (int i = 0; i < header.size(); i++) {
                    if (NOT_FEATURES.contains(header.get(i))) {
                        continue;
                    }
                    String cell = cells.get(i);
                    if (cell.isEmpty()) {
                        row.put(
                                header.get(i),
                                Value.newBuilder().setNullValueValue(0).build());
                    } else if (cell.startsWith("\"")) {
                        row.put(
                                header.get(i),
                                Value.newBuilder().setStringValue(unquote(cell)).build());
                    } else {
                        row.put(
                                header.get(i),
                                Value.newBuilder()
                                        .setNumberValue(Double.parseDouble(cell))
                                        .build());
                    }
                }
                rows.add(row);
            }
            return List.copyOf(rows);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String unquote(String cell) {
        return cell.startsWith("\"") && cell.endsWith("\"")
                ? cell.substring(1, cell.length() - 1).replace("\"\"", "\"")
                : cell;
    }

    private static List<String> split(String line) {
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                quoted = !quoted;
                cell.append(c);
            } else if (c == ',' && !quoted) {
                cells.add(cell.toString());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        cells.add(cell.toString());
        return cells;
    }
}
