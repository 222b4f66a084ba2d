-- Trellis experiment store on PostgreSQL (Flyway migration 1). The same tables as the SQLite
-- store's schema version 2; the SQL that reads and writes them is shared by both stores.

CREATE TABLE experiments (
  key TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL,
  revision BIGINT NOT NULL, definition_json TEXT NOT NULL);
CREATE INDEX experiments_model ON experiments (model, key);

CREATE TABLE experiment_revisions (
  key TEXT NOT NULL, revision BIGINT NOT NULL, time_ms BIGINT NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, definition_json TEXT NOT NULL,
  PRIMARY KEY (key, revision));

CREATE TABLE rollouts (
  model TEXT PRIMARY KEY, state TEXT NOT NULL, revision BIGINT NOT NULL, definition_json TEXT NOT NULL);

CREATE TABLE rollout_revisions (
  model TEXT NOT NULL, revision BIGINT NOT NULL, time_ms BIGINT NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, definition_json TEXT NOT NULL,
  PRIMARY KEY (model, revision));

CREATE TABLE default_versions (
  model TEXT PRIMARY KEY, version TEXT NOT NULL, updated_ms BIGINT NOT NULL, updated_by TEXT NOT NULL);

-- the first exposure of each unit to an experiment, whichever router served it
CREATE TABLE exposures (
  experiment TEXT NOT NULL, unit_id TEXT NOT NULL, variant TEXT NOT NULL, version TEXT NOT NULL,
  first_ms BIGINT NOT NULL, PRIMARY KEY (experiment, unit_id));

CREATE TABLE outcomes (
  id BIGSERIAL PRIMARY KEY, unit_id TEXT NOT NULL, metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL,
  experiment TEXT, time_ms BIGINT NOT NULL, outcome_id TEXT);
CREATE UNIQUE INDEX outcomes_id ON outcomes (outcome_id);
CREATE INDEX outcomes_metric ON outcomes (metric, unit_id);

-- bumped by every definition change; routers poll it when a notification was missed
CREATE TABLE store_state (id INTEGER PRIMARY KEY CHECK (id = 1), change_version BIGINT NOT NULL);
INSERT INTO store_state (id, change_version) VALUES (1, 0);

-- each router's counts per model and version for the rollout step it names
CREATE TABLE rollout_windows (
  source TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, step TEXT NOT NULL,
  requests BIGINT NOT NULL, errors BIGINT NOT NULL, latency BYTEA NOT NULL, score_bins TEXT NOT NULL,
  updated_ms BIGINT NOT NULL, PRIMARY KEY (source, model, version));
