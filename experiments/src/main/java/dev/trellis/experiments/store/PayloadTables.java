package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

/**
 * The payload-sample table on JDBC, the same for both stores: the batched insert (called by
 * {@link EventTables} inside the event writer's transaction) and the paged read joined with the
 * outcomes. Thread-safe.
 */
final class PayloadTables {
    private static final String INSERT = """
            INSERT INTO payload_samples (model, version, unit_id, time_ms, features, score, label, experiment, variant)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    // outcomes summed per unit once, then joined (as in the experiment statistics)
    private static final String SELECT = """
            SELECT p.id, p.model, p.version, p.unit_id, p.time_ms, p.features, p.score, p.label, p.experiment,
                   p.variant, o.v
            FROM payload_samples p
            %s JOIN (SELECT unit_id, SUM(value) AS v FROM outcomes WHERE metric = ? GROUP BY unit_id) o
              ON o.unit_id = p.unit_id
            WHERE p.model = ? AND p.time_ms >= ? AND p.time_ms < ? AND (? = '' OR p.version = ?) AND p.id > ?
            ORDER BY p.id
            LIMIT ?""";

    private final Transactor reads;

    PayloadTables(Transactor reads) {
        this.reads = requireNonNull(reads, "reads is null");
    }

    static void insert(Connection c, List<Object> batch) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(INSERT)) {
            boolean any = false;
            for (Object item : batch) {
                if (item instanceof PayloadSample p) {
                    ps.setString(1, p.model());
                    ps.setString(2, p.version());
                    ps.setString(3, p.unitId());
                    ps.setLong(4, p.time().toEpochMilli());
                    ps.setString(5, p.featuresJson());
                    ps.setDouble(6, p.score());
                    ps.setString(7, p.label());
                    setNullable(ps, 8, p.experiment());
                    setNullable(ps, 9, p.variant());
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

    /** Up to {@code limit} samples with an id above {@code afterId}, in id order. */
    List<StoredPayload> read(PayloadQuery query, long afterId, int limit) {
        return reads.run("read payload samples", c -> {
            List<StoredPayload> out = new ArrayList<>();
            try (PreparedStatement ps =
                    c.prepareStatement(String.format(SELECT, query.withOutcomeOnly() ? "" : "LEFT"))) {
                ps.setString(1, query.metric());
                ps.setString(2, query.model());
                ps.setLong(3, query.since().toEpochMilli());
                ps.setLong(4, query.until().toEpochMilli());
                ps.setString(5, query.version());
                ps.setString(6, query.version());
                ps.setLong(7, afterId);
                ps.setInt(8, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        double outcome = rs.getDouble(11);
                        boolean hasOutcome = !rs.wasNull();
                        out.add(new StoredPayload(
                                rs.getLong(1),
                                new PayloadSample(
                                        rs.getString(2),
                                        rs.getString(3),
                                        rs.getString(4),
                                        Instant.ofEpochMilli(rs.getLong(5)),
                                        rs.getString(6),
                                        rs.getDouble(7),
                                        rs.getString(8),
                                        rs.getString(9),
                                        rs.getString(10)),
                                hasOutcome ? OptionalDouble.of(outcome) : OptionalDouble.empty()));
                    }
                }
            }
            return out;
        });
    }
}
