package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import dev.trellis.experiments.rollout.PublishedWindow;
import dev.trellis.experiments.rollout.VersionWindow;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The rollout windows every router publishes (one row per router, model and version, holding
 * that router's counts for the step it names), the same for both stores. Thread-safe.
 */
final class WindowTables {
    private final Transactor tx;
    private final Clock clock;

    WindowTables(Transactor tx, Clock clock) {
        this.tx = requireNonNull(tx, "tx is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    void publish(List<PublishedWindow> windows) {
        if (windows.isEmpty()) {
            return;
        }
        long now = clock.millis();
        tx.run("publish rollout windows", c -> {
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO rollout_windows (source, model, version, step, requests, errors, latency, score_bins, updated_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source, model, version) DO UPDATE SET step = excluded.step,
                      requests = excluded.requests, errors = excluded.errors, latency = excluded.latency,
                      score_bins = excluded.score_bins, updated_ms = excluded.updated_ms""")) {
                for (PublishedWindow w : windows) {
                    ps.setString(1, w.source());
                    ps.setString(2, w.model());
                    ps.setString(3, w.version());
                    ps.setString(4, w.step());
                    ps.setLong(5, w.requests());
                    ps.setLong(6, w.errors());
                    ps.setBytes(7, w.latency());
                    ps.setString(
                            8,
                            Arrays.stream(w.scoreBins())
                                    .mapToObj(Long::toString)
                                    .collect(Collectors.joining(",")));
                    ps.setLong(9, now);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return null;
        });
    }

    List<PublishedWindow> windows(String model, String step) {
        return tx.run("read rollout windows", c -> {
            List<PublishedWindow> result = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT source, version, requests, errors, latency, score_bins FROM rollout_windows"
                            + " WHERE model = ? AND step = ? ORDER BY version, source")) {
                ps.setString(1, model);
                ps.setString(2, step);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long[] bins = new long[VersionWindow.BINS];
                        String[] parts = rs.getString(6).split(",");
                        for (int i = 0; i < bins.length && i < parts.length; i++) {
                            bins[i] = Long.parseLong(parts[i]);
                        }
                        byte[] latency = rs.getBytes(5);
                        result.add(new PublishedWindow(
                                rs.getString(1),
                                model,
                                rs.getString(2),
                                step,
                                rs.getLong(3),
                                rs.getLong(4),
                                latency == null ? new byte[0] : latency,
                                bins));
                    }
                }
            }
            return result;
        });
    }

    /** Drops windows nobody updated since the cutoff (routers long gone, steps long over). */
    void deleteBefore(long cutoffMillis) {
        tx.run("delete old rollout windows", c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM rollout_windows WHERE updated_ms < ?")) {
                ps.setLong(1, cutoffMillis);
                ps.executeUpdate();
            }
            return null;
        });
    }
}
