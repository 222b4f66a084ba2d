package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The event tables on JDBC, the same for both stores: the {@link EventWriter.Sink} that writes a
 * batch of exposures, outcomes and payload samples ({@link PayloadTables}), the per-variant statistics query, and retention. Thread-safe.
 *
 * <p>Exposures: one row per (experiment, unit), the earliest wins ({@code ON CONFLICT ... WHERE}),
 * so repeats, retries and other routers store nothing twice. Outcomes with an outcome id are
 * stored once per id (a unique index and {@code ON CONFLICT DO NOTHING}).
 */
final class EventTables implements EventWriter.Sink {
    private static final String EXPOSURE_UPSERT = """
            INSERT INTO exposures (experiment, unit_id, variant, version, first_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (experiment, unit_id) DO UPDATE SET variant = excluded.variant, version = excluded.version,
              first_ms = excluded.first_ms
            WHERE excluded.first_ms < exposures.first_ms""";
    private static final String OUTCOME_INSERT = """
            INSERT INTO outcomes (unit_id, metric, value, experiment, time_ms, outcome_id) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING""";
    // Outcomes are summed per unit once (a hash or index-driven aggregate), then joined to the
    // exposures: linear in the table sizes, where a correlated subquery per exposed unit was not.
    private static final String VARIANT_STATS = """
            SELECT e.variant, COUNT(*), SUM(CASE WHEN COALESCE(o.v, 0) > 0 THEN 1 ELSE 0 END),
                   SUM(COALESCE(o.v, 0)), SUM(COALESCE(o.v, 0) * COALESCE(o.v, 0))
            FROM exposures e
            LEFT JOIN (SELECT unit_id, SUM(value) AS v FROM outcomes
                       WHERE metric = ? AND (experiment IS NULL OR experiment = ?)
                       GROUP BY unit_id) o ON o.unit_id = e.unit_id
            WHERE e.experiment = ?
            GROUP BY e.variant""";
    private static final String RUNNING = "SELECT key FROM experiments WHERE status = 'RUNNING'";

    private final Transactor writes;
    private final Transactor reads;

    EventTables(Transactor writes, Transactor reads) {
        this.writes = requireNonNull(writes, "writes is null");
        this.reads = requireNonNull(reads, "reads is null");
    }

    @Override
    public void write(List<Object> batch) throws SQLException {
        // earliest exposure per (experiment, unit) within the batch: one row per key and statement
        Map<String, Exposure> exposures = new LinkedHashMap<>();
        for (Object item : batch) {
            if (item instanceof Exposure x) {
                exposures.merge(
                        x.experiment() + '\u0000' + x.unitId(),
                        x,
                        (a, b) -> b.time().isBefore(a.time()) ? b : a);
            } else if (!(item instanceof Outcome) && !(item instanceof PayloadSample)) {
                throw new IllegalArgumentException("not an event record: " + item.getClass());
            }
        }
        try {
            writes.run("write exposures and outcomes", c -> {
                insertExposures(c, exposures.values());
                insertOutcomes(c, batch);
                PayloadTables.insert(c, batch);
                return null;
            });
        } catch (dev.trellis.experiments.ExperimentsException e) {
            // the writer decides about retries on the SQL failure itself
            if (e.getCause() instanceof SQLException s) {
                throw s;
            }
            throw e;
        }
    }

    private static void insertExposures(Connection c, Iterable<Exposure> exposures) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(EXPOSURE_UPSERT)) {
            boolean any = false;
            for (Exposure x : exposures) {
                ps.setString(1, x.experiment());
                ps.setString(2, x.unitId());
                ps.setString(3, x.variant());
                ps.setString(4, x.version());
                ps.setLong(5, x.time().toEpochMilli());
                ps.addBatch();
                any = true;
            }
            if (any) {
                ps.executeBatch();
            }
        }
    }

    private static void insertOutcomes(Connection c, List<Object> batch) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(OUTCOME_INSERT)) {
            boolean any = false;
            for (Object item : batch) {
                if (item instanceof Outcome o) {
                    ps.setString(1, o.unitId());
                    ps.setString(2, o.metric());
                    ps.setDouble(3, o.value());
                    setNullable(ps, 4, o.experiment());
                    ps.setLong(5, o.time().toEpochMilli());
                    setNullable(ps, 6, o.outcomeId());
                    ps.addBatch();
                    any = true;
                }
            }
            if (any) {
                ps.executeBatch();
            }
        }
    }

    private static void setNullable(PreparedStatement ps, int index, String value) throws SQLException {
        if (value == null) {
            ps.setNull(index, Types.VARCHAR);
        } else {
            ps.setString(index, value);
        }
    }

    Map<String, VariantStats> variantStats(String experiment, String metric) {
        return reads.run("read results", c -> {
            Map<String, VariantStats> result = new LinkedHashMap<>();
            try (PreparedStatement ps = c.prepareStatement(VARIANT_STATS)) {
                ps.setString(1, metric);
                ps.setString(2, experiment);
                ps.setString(3, experiment);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String variant = rs.getString(1);
                        result.put(
                                variant,
                                new VariantStats(
                                        variant, rs.getLong(2), rs.getLong(3), rs.getDouble(4), rs.getDouble(5)));
                    }
                }
            }
            return result;
        });
    }

    /**
     * Deletes exposures and outcomes recorded before {@code cutoffMillis}, except those of RUNNING
     * experiments: exposures of a running experiment, outcomes attributed to one, and outcomes
     * without an experiment of units exposed in one; and every payload sample logged before it.
     */
    RetentionResult deleteBefore(long cutoffMillis) {
        return writes.run("apply retention", c -> {
            long exposures;
            try (PreparedStatement ps = c.prepareStatement(
                    "DELETE FROM exposures WHERE first_ms < ? AND experiment NOT IN (" + RUNNING + ")")) {
                ps.setLong(1, cutoffMillis);
                exposures = ps.executeUpdate();
            }
            long outcomes;
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM outcomes WHERE time_ms < ?"
                    + " AND NOT (experiment IS NOT NULL AND experiment IN (" + RUNNING + "))"
                    + " AND NOT (experiment IS NULL AND unit_id IN"
                    + " (SELECT x.unit_id FROM exposures x WHERE x.experiment IN (" + RUNNING + ")))")) {
                ps.setLong(1, cutoffMillis);
                outcomes = ps.executeUpdate();
            }
            long payloads;
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM payload_samples WHERE time_ms < ?")) {
                ps.setLong(1, cutoffMillis);
                payloads = ps.executeUpdate();
            }
            return new RetentionResult(exposures, outcomes, payloads);
        });
    }

    /** What one retention pass deleted. */
    record RetentionResult(long exposures, long outcomes, long payloads) {}
}
