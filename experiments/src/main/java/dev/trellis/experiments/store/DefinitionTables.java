package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.definition.Definitions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Revisioned definitions on JDBC, the same for both stores: current rows, their history, default
 * versions and the change counter other routers poll. Every write is one transaction that locks
 * the definition ({@link Dialect#lock}), checks the revision ({@link Revisions#check}), writes the
 * row and its history entry, and bumps the change counter. A new definition-like table adds one
 * current table and one history table and reuses {@link #insertRevision} and {@link #history}.
 * Thread-safe.
 */
final class DefinitionTables {
    private final Transactor tx;
    private final Dialect dialect;
    private final Clock clock;

    DefinitionTables(Transactor tx, Dialect dialect, Clock clock) {
        this.tx = requireNonNull(tx, "tx is null");
        this.dialect = requireNonNull(dialect, "dialect is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    List<Experiment> listExperiments() {
        return list(
                "list experiments",
                "SELECT definition_json FROM experiments ORDER BY model, key",
                DefinitionTables::parseExperiment);
    }

    Optional<Experiment> getExperiment(String key) {
        return tx.run("get experiment", c -> currentExperiment(c, key));
    }

    List<Revision> experimentHistory(String key) {
        return history("experiment_revisions", "key", key);
    }

    Experiment putExperiment(Experiment experiment, long expectedRevision, String actor, String action) {
        String key = experiment.getKey();
        return tx.run("put experiment", c -> {
            dialect.lock(c, "experiment:" + key);
            Optional<Experiment> current = currentExperiment(c, key);
            Revisions.check("experiment '" + key + "'", current.map(Experiment::getRevision), expectedRevision);
            long now = clock.millis();
            Experiment stored = experiment.toBuilder()
                    .setRevision(expectedRevision + 1)
                    .setCreated(current.map(Experiment::getCreated).orElse(Timestamps.fromMillis(now)))
                    .setUpdated(Timestamps.fromMillis(now))
                    .setUpdatedBy(actor)
                    .build();
            String json = Definitions.toJson(stored);
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO experiments (key, model, status, revision, definition_json) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (key) DO UPDATE SET model = excluded.model, status = excluded.status,
                      revision = excluded.revision, definition_json = excluded.definition_json""")) {
                ps.setString(1, key);
                ps.setString(2, stored.getModel());
                ps.setString(3, stored.getStatus().name());
                ps.setLong(4, stored.getRevision());
                ps.setString(5, json);
                ps.executeUpdate();
            }
            insertRevision(c, "experiment_revisions", "key", key, stored.getRevision(), now, actor, action, json);
            changed(c);
            return stored;
        });
    }

    void deleteExperiment(String key, long expectedRevision) {
        tx.run("delete experiment", c -> {
            dialect.lock(c, "experiment:" + key);
            Optional<Experiment> current = currentExperiment(c, key);
            if (current.isEmpty()) {
                throw new ExperimentsException(ErrorCode.NOT_FOUND, "experiment '" + key + "' does not exist");
            }
            Revisions.check("experiment '" + key + "'", current.map(Experiment::getRevision), expectedRevision);
            for (String table : List.of("experiments", "experiment_revisions")) {
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE key = ?")) {
                    ps.setString(1, key);
                    ps.executeUpdate();
                }
            }
            changed(c);
            return null;
        });
    }

    Optional<Rollout> getRollout(String model) {
        return tx.run("get rollout", c -> currentRollout(c, model));
    }

    List<Rollout> listRollouts() {
        return list(
                "list rollouts", "SELECT definition_json FROM rollouts ORDER BY model", DefinitionTables::parseRollout);
    }

    List<Revision> rolloutHistory(String model) {
        return history("rollout_revisions", "model", model);
    }

    Rollout putRollout(
            Rollout rollout, long expectedRevision, String actor, String action, Optional<String> newDefaultVersion) {
        String model = rollout.getModel();
        return tx.run("put rollout", c -> {
            dialect.lock(c, "rollout:" + model);
            Optional<Rollout> current = currentRollout(c, model);
            Revisions.check("rollout of model '" + model + "'", current.map(Rollout::getRevision), expectedRevision);
            long now = clock.millis();
            Rollout stored =
                    rollout.toBuilder().setRevision(expectedRevision + 1).build();
            String json = Definitions.toJson(stored);
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO rollouts (model, state, revision, definition_json) VALUES (?, ?, ?, ?)
                    ON CONFLICT (model) DO UPDATE SET state = excluded.state, revision = excluded.revision,
                      definition_json = excluded.definition_json""")) {
                ps.setString(1, model);
                ps.setString(2, stored.getState().name());
                ps.setLong(3, stored.getRevision());
                ps.setString(4, json);
                ps.executeUpdate();
            }
            insertRevision(c, "rollout_revisions", "model", model, stored.getRevision(), now, actor, action, json);
            if (newDefaultVersion.isPresent()) {
                upsertDefault(c, model, newDefaultVersion.get(), now, actor);
            }
            changed(c);
            return stored;
        });
    }

    Optional<String> getDefaultVersion(String model) {
        return tx.run("get default version", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT version FROM default_versions WHERE model = ?")) {
                ps.setString(1, model);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
                }
            }
        });
    }

    Map<String, String> defaultVersions() {
        return tx.run("list default versions", c -> {
            Map<String, String> result = new LinkedHashMap<>();
            try (PreparedStatement ps =
                            c.prepareStatement("SELECT model, version FROM default_versions ORDER BY model");
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.put(rs.getString(1), rs.getString(2));
                }
            }
            return result;
        });
    }

    void setDefaultVersion(String model, String version, String actor) {
        tx.run("set default version", c -> {
            upsertDefault(c, model, version, clock.millis(), actor);
            changed(c);
            return null;
        });
    }

    List<KeptVersion> keptVersions() {
        return tx.run("list kept versions", c -> {
            List<KeptVersion> kept = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(
                            "SELECT model, version, updated_by, updated_ms FROM kept_versions ORDER BY model, version");
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    kept.add(new KeptVersion(
                            rs.getString(1), rs.getString(2), rs.getString(3), Instant.ofEpochMilli(rs.getLong(4))));
                }
            }
            return kept;
        });
    }

    void keepVersion(String model, String version, String actor) {
        tx.run("keep version", c -> {
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO kept_versions (model, version, updated_ms, updated_by) VALUES (?, ?, ?, ?)
                    ON CONFLICT (model, version) DO UPDATE SET updated_ms = excluded.updated_ms,
                      updated_by = excluded.updated_by""")) {
                ps.setString(1, model);
                ps.setString(2, version);
                ps.setLong(3, clock.millis());
                ps.setString(4, actor);
                ps.executeUpdate();
            }
            changed(c);
            return null;
        });
    }

    boolean releaseVersion(String model, String version) {
        return tx.run("release version", c -> {
            boolean released;
            try (PreparedStatement ps =
                    c.prepareStatement("DELETE FROM kept_versions WHERE model = ? AND version = ?")) {
                ps.setString(1, model);
                ps.setString(2, version);
                released = ps.executeUpdate() > 0;
            }
            if (released) {
                changed(c);
            }
            return released;
        });
    }

    /** Increases with every committed definition change, by any router sharing the store. */
    long changeVersion() {
        return tx.run("read the change counter", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT change_version FROM store_state WHERE id = 1");
                    ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0L;
            }
        });
    }

    private void changed(Connection c) throws SQLException {
        try (PreparedStatement ps =
                c.prepareStatement("UPDATE store_state SET change_version = change_version + 1 WHERE id = 1")) {
            ps.executeUpdate();
        }
        dialect.changed(c);
    }

    private static void upsertDefault(Connection c, String model, String version, long now, String actor)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                INSERT INTO default_versions (model, version, updated_ms, updated_by) VALUES (?, ?, ?, ?)
                ON CONFLICT (model) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms,
                  updated_by = excluded.updated_by""")) {
            ps.setString(1, model);
            ps.setString(2, version);
            ps.setLong(3, now);
            ps.setString(4, actor);
            ps.executeUpdate();
        }
    }

    private static Optional<Experiment> currentExperiment(Connection c, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT definition_json FROM experiments WHERE key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(parseExperiment(rs.getString(1))) : Optional.empty();
            }
        }
    }

    private static Optional<Rollout> currentRollout(Connection c, String model) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT definition_json FROM rollouts WHERE model = ?")) {
            ps.setString(1, model);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(parseRollout(rs.getString(1))) : Optional.empty();
            }
        }
    }

    static void insertRevision(
            Connection c,
            String table,
            String idColumn,
            String id,
            long revision,
            long now,
            String actor,
            String action,
            String json)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (" + idColumn
                + ", revision, time_ms, actor, action, definition_json) VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setLong(2, revision);
            ps.setLong(3, now);
            ps.setString(4, actor);
            ps.setString(5, action);
            ps.setString(6, json);
            ps.executeUpdate();
        }
    }

    List<Revision> history(String table, String idColumn, String id) {
        return tx.run("read history", c -> {
            List<Revision> result = new ArrayList<>();
            try (PreparedStatement ps =
                    c.prepareStatement("SELECT revision, time_ms, actor, action, definition_json FROM " + table
                            + " WHERE " + idColumn + " = ? ORDER BY revision")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        result.add(Revision.newBuilder()
                                .setRevision(rs.getLong(1))
                                .setTime(Timestamps.fromMillis(rs.getLong(2)))
                                .setActor(rs.getString(3))
                                .setAction(rs.getString(4))
                                .setDefinitionJson(rs.getString(5))
                                .build());
                    }
                }
            }
            return result;
        });
    }

    /** Parses one stored definition. */
    private interface Parser<T> {
        T parse(String json) throws SQLException;
    }

    private <T> List<T> list(String what, String sql, Parser<T> parser) {
        return tx.run(what, c -> {
            List<T> result = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql);
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(parser.parse(rs.getString(1)));
                }
            }
            return result;
        });
    }

    private static Experiment parseExperiment(String json) throws SQLException {
        return parse(json, Experiment.newBuilder(), "experiment").build();
    }

    private static Rollout parseRollout(String json) throws SQLException {
        return parse(json, Rollout.newBuilder(), "rollout").build();
    }

    private static <B extends Message.Builder> B parse(String json, B builder, String what) throws SQLException {
        try {
            // Stored rows were written by this or an older build: tolerate fields a newer build added.
            JsonFormat.parser().ignoringUnknownFields().merge(json, builder);
            return builder;
        } catch (InvalidProtocolBufferException e) {
            throw new SQLException("corrupt " + what + " row: " + e.getMessage(), e);
        }
    }
}
