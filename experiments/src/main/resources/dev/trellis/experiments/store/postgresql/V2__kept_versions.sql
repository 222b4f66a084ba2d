-- versions kept loaded by operators (trellis models keep): part of the control plane's desired state
CREATE TABLE kept_versions (
  model TEXT NOT NULL, version TEXT NOT NULL, updated_ms BIGINT NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (model, version));
