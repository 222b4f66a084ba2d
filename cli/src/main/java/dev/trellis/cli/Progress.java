package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import java.io.PrintStream;

/**
 * A progress line on stderr ({@code \r}-updated, at most 5 times a second), shown only when stderr
 * is a terminal or when forced. Not thread-safe.
 */
final class Progress {
    private static final int WIDTH = 30;

    private final PrintStream err;
    private final boolean enabled;
    private final String what;
    private final long started = System.nanoTime();
    private long lastPrint;

    Progress(PrintStream err, boolean forced, String what) {
        this.err = err;
        this.enabled = forced || System.console() != null;
        this.what = what;
    }

    /** Updates the line; {@code fraction} below 0 when unknown. */
    void update(long count, double fraction) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastPrint < 200_000_000L) {
            return;
        }
        lastPrint = now;
        double seconds = (now - started) / 1e9;
        double rate = seconds > 0 ? count / seconds : 0;
        String bar = "";
        if (fraction >= 0) {
            int filled = (int) Math.min(WIDTH, Math.round(fraction * WIDTH));
            bar = "[" + "#".repeat(filled) + " ".repeat(WIDTH - filled) + fmt("] %3.0f%% ", fraction * 100);
        }
        err.print(fmt("\r%s%,d %s  %,.0f %s/s   ", bar, count, what, rate, what));
        err.flush();
    }

    /** Clears the line before the summary. */
    void finish() {
        if (enabled && lastPrint != 0) {
            err.print("\r" + " ".repeat(WIDTH + 60) + "\r");
            err.flush();
        }
    }

    double elapsedSeconds() {
        return (System.nanoTime() - started) / 1e9;
    }
}
