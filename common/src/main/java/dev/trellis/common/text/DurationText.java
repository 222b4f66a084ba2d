package dev.trellis.common.text;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one duration grammar of every Trellis flag, config file and CLI option.
 *
 * <ul>
 *   <li>{@code 0}: zero;
 *   <li>a non-negative decimal number and a unit, {@code ns}, {@code us} (or {@code µs}), {@code ms}, {@code s},
 *       {@code m}, {@code h} or {@code d}: {@code 250us}, {@code 1.5s}, {@code 5m};
 *   <li>ISO-8601, as {@link Duration#parse} reads it: {@code PT2S}, {@code P1D}.
 * </ul>
 *
 * <p>A bare number other than 0 is refused: "30" could mean seconds or milliseconds. Whether zero is allowed
 * is the flag's decision, not the grammar's.
 */
public final class DurationText {
    private static final Pattern SIMPLE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ns|us|µs|ms|s|m|h|d)");
    private static final String HINT = "use e.g. 250ms, 2s, 1.5m, 1h or PT2S";

    private DurationText() {}

    /** Parses {@code text}; throws {@link IllegalArgumentException} naming the text and the grammar. */
    public static Duration parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("missing duration: " + HINT);
        }
        String value = text.trim().toLowerCase(Locale.ROOT);
        if (value.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = SIMPLE.matcher(value);
        if (m.matches()) {
            BigDecimal nanosPerUnit = switch (m.group(2)) {
                case "ns" -> BigDecimal.ONE;
                case "us", "µs" -> BigDecimal.valueOf(1_000L);
                case "ms" -> BigDecimal.valueOf(1_000_000L);
                case "s" -> BigDecimal.valueOf(1_000_000_000L);
                case "m" -> BigDecimal.valueOf(60_000_000_000L);
                case "h" -> BigDecimal.valueOf(3_600_000_000_000L);
                default -> BigDecimal.valueOf(86_400_000_000_000L);
            };
            BigDecimal nanos = new BigDecimal(m.group(1)).multiply(nanosPerUnit);
            if (nanos.stripTrailingZeros().scale() > 0) {
                throw new IllegalArgumentException("invalid duration '" + text + "': finer than a nanosecond");
            }
            try {
                return Duration.ofNanos(nanos.longValueExact());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("invalid duration '" + text + "': too long");
            }
        }
        if (value.startsWith("p")) {
            try {
                Duration d = Duration.parse(value.toUpperCase(Locale.ROOT));
                if (d.isNegative()) {
                    throw new IllegalArgumentException("invalid duration '" + text + "': negative");
                }
                return d;
            } catch (DateTimeParseException e) {
                // fall through to the common message
            }
        }
        throw new IllegalArgumentException("invalid duration '" + text + "': " + HINT);
    }

    /** Formats {@code duration} in the largest unit that keeps it exact, so that {@code parse(format(d)) == d}. */
    public static String format(Duration duration) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("negative duration: " + duration);
        }
        if (duration.isZero()) {
            return "0";
        }
        long nanos;
        try {
            nanos = duration.toNanos();
        } catch (ArithmeticException e) {
            return duration.toString();
        }
        long[] sizes = {86_400_000_000_000L, 3_600_000_000_000L, 60_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L};
        String[] units = {"d", "h", "m", "s", "ms", "us"};
        for (int i = 0; i < sizes.length; i++) {
            if (nanos % sizes[i] == 0) {
                return nanos / sizes[i] + units[i];
            }
        }
        return nanos + "ns";
    }
}
