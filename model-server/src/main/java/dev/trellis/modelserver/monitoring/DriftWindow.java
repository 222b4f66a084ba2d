package dev.trellis.modelserver.monitoring;

import dev.trellis.common.text.DurationText;
import java.time.Duration;
import java.util.Optional;

/**
 * How much of a version's recent traffic its live profile holds: the last {@code rows} scored rows,
 * or with {@code maxAge} the rows scored within it (still at most {@code rows}).
 *
 * @param rows most rows held
 * @param maxAge rows older than this leave the window; empty for a pure row-count window
 */
public record DriftWindow(int rows, Optional<Duration> maxAge) {
    public static final String DEFAULT_TEXT = "2000";
    public static final int MAX_ROWS = 100_000;
    public static final String MAX_ROWS_TEXT = "100000";
    public static final DriftWindow DEFAULT = parse(DEFAULT_TEXT);

    public DriftWindow {
        if (rows < 1 || rows > MAX_ROWS) {
            throw new IllegalArgumentException("drift window rows must be in [1, " + MAX_ROWS + "]: " + rows);
        }
        if (maxAge.isPresent() && (maxAge.get().isNegative() || maxAge.get().isZero())) {
            throw new IllegalArgumentException("drift window duration must be positive");
        }
    }

    /** {@code 2000} (rows) or a duration such as {@code 15m} (rows of the last 15 minutes). */
    public static DriftWindow parse(String text) {
        String t = text == null ? "" : text.trim();
        if (t.matches("[0-9]{1,9}")) {
            return new DriftWindow(Integer.parseInt(t), Optional.empty());
        }
        try {
            return new DriftWindow(MAX_ROWS, Optional.of(DurationText.parse(t)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "--drift-window: expected a row count (2000) or a duration (15m), got '" + t + "'", e);
        }
    }
}
