package dev.trellis.common.text;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one size grammar of every Trellis flag: a whole number of bytes, optionally with a binary unit
 * {@code B}, {@code KiB}, {@code MiB} or {@code GiB} ({@code 4194304}, {@code 512KiB}, {@code 16MiB}).
 * Sizes are message and buffer limits, so they must be positive and fit in an {@code int}.
 */
public final class DataSizeText {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB)?");
    private static final String HINT = "use bytes or e.g. 512KiB, 16MiB (from 1 byte up to 2GiB - 1)";

    private DataSizeText() {}

    /** Parses {@code text} to a byte count; throws {@link IllegalArgumentException} naming the text. */
    public static int parse(String text) {
        Matcher m = SIZE.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("invalid size '" + text + "': " + HINT);
        }
        long multiplier = switch (m.group(2) == null ? "B" : m.group(2)) {
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            case "GiB" -> 1L << 30;
            default -> 1L;
        };
        try {
            long bytes = Math.multiplyExact(Long.parseLong(m.group(1)), multiplier);
            if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("invalid size '" + text + "': " + HINT);
            }
            return (int) bytes;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("invalid size '" + text + "': " + HINT);
        }
    }

    /** Formats a byte count in the largest binary unit that keeps it exact. */
    public static String format(long bytes) {
        if (bytes > 0 && bytes % (1L << 30) == 0) {
            return bytes / (1L << 30) + "GiB";
        }
        if (bytes > 0 && bytes % (1L << 20) == 0) {
            return bytes / (1L << 20) + "MiB";
        }
        if (bytes > 0 && bytes % (1L << 10) == 0) {
            return bytes / (1L << 10) + "KiB";
        }
        return Long.toString(bytes);
    }
}
