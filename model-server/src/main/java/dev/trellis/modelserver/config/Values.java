package dev.trellis.modelserver.config;

import java.time.Duration;
import java.util.Locale;

/** Parses the human forms of durations ({@code 5s}, {@code 1ms}, {@code 250us}, {@code PT5S}) and sizes ({@code 16MiB}). */
public final class Values {
    private Values() {}

    public static Duration parseDuration(String text) {
        String value = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (value.startsWith("pt") || value.startsWith("p")) {
                return Duration.parse(text.trim());
            }
            if (value.equals("0")) {
                return Duration.ZERO;
            }
            int split = 0;
            while (split < value.length() && (Character.isDigit(value.charAt(split)) || value.charAt(split) == '.')) {
                split++;
            }
            double amount = Double.parseDouble(value.substring(0, split));
            String unit = value.substring(split).trim();
            long nanos = switch (unit) {
                case "ns" -> Math.round(amount);
                case "us", "µs" -> Math.round(amount * 1e3);
                case "ms" -> Math.round(amount * 1e6);
                case "s" -> Math.round(amount * 1e9);
                case "m" -> Math.round(amount * 60e9);
                case "h" -> Math.round(amount * 3600e9);
                default -> throw new IllegalArgumentException("unit");
            };
            return Duration.ofNanos(nanos);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("invalid duration '" + text + "': use e.g. 250us, 1ms, 5s, 2m or PT5S");
        }
    }

    public static int parseSize(String text) {
        String value = text.trim();
        long multiplier = 1;
        String number = value;
        for (String[] unit : new String[][] {{"KiB", "1024"}, {"MiB", "1048576"}, {"GiB", "1073741824"}, {"B", "1"}}) {
            if (value.endsWith(unit[0])) {
                multiplier = Long.parseLong(unit[1]);
                number = value.substring(0, value.length() - unit[0].length()).trim();
                break;
            }
        }
        try {
            long bytes = Long.parseLong(number) * multiplier;
            if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("range");
            }
            return (int) bytes;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(
                    "invalid size '" + text + "': use bytes or e.g. 512KiB, 16MiB (at most 2GiB - 1)");
        }
    }
}
