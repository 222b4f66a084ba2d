-- Trellis experiment store on PostgreSQL (Flyway migration 3), the SQLite store's schema version 4:
-- the scored rows the router logs for drift, live performance and retraining.

CREATE TABLE payload_samples (
  id BIGSERIAL PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, unit_id TEXT NOT NULL,
  time_ms BIGINT NOT NULL, features TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, label TEXT NOT NULL,
  experiment TEXT, variant TEXT);
CREATE INDEX payload_samples_model ON payload_samples (model, time_ms);
