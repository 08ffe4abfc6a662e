-- catalog.db of the previous version (main at c9841d4, schema version 2): a server's data
-- directory after the elastic_auth_log dataset was ingested, flushed and compacted, as
-- 'sqlite3 catalog.db .dump' printed it. Every table group was created at open then.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE segments (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  partition INTEGER NOT NULL,
  min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,
  min_ingest_ts INTEGER NOT NULL, max_ingest_ts INTEGER NOT NULL,
  min_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  raw_bytes INTEGER NOT NULL,
  tier TEXT NOT NULL,
  path TEXT NOT NULL,
  state TEXT NOT NULL,
  created INTEGER NOT NULL,
  store TEXT NOT NULL DEFAULT 'local'
);
INSERT INTO segments VALUES(1,'default',13,1774616816000000000,1776694469000000000,1796549840295160978,1796549840336058386,1,7121,7121,57301,790516,'hot','segments/hot/default/13/1.seg','active',1796549840820702460,'local');
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES('schema_version',2);
INSERT INTO meta VALUES('max_id',1);
CREATE TABLE idempotency_keys (
  tenant TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash INTEGER NOT NULL,
  answer BLOB NOT NULL,
  first_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  tenants TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL,
  revoked_ns INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at_ns INTEGER NOT NULL,
  who TEXT NOT NULL,
  token_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  action TEXT NOT NULL,
  query TEXT NOT NULL,
  from_ns INTEGER NOT NULL,
  to_ns INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  address TEXT NOT NULL,
  status INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_log VALUES(1,1796549840881192530,'','','default','POST /api/v1/admin/flush','/api/v1/admin/flush',0,0,-1,'127.0.0.1',200,'','bbb5a750e44775e8f09f0888ffea1bff61d6fb4b91217865a03a569183adfeff');
INSERT INTO audit_log VALUES(2,1796549840939764885,'','','default','POST /api/v1/admin/compact','/api/v1/admin/compact',0,0,-1,'127.0.0.1',200,'bbb5a750e44775e8f09f0888ffea1bff61d6fb4b91217865a03a569183adfeff','d17876feb4e660077287dcac47c665f3a799345661e970cbf67738b4c6ac04f8');
CREATE TABLE audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE tenant_quotas (
  tenant TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  updated_ns INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE tenant_scan_usage (
  tenant TEXT NOT NULL,
  minute INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (tenant, minute)
);
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  started_ns INTEGER NOT NULL,
  heartbeat_ns INTEGER NOT NULL
);
CREATE TABLE node_confirmed (
  id TEXT PRIMARY KEY,
  through INTEGER NOT NULL
);
INSERT INTO node_confirmed VALUES('vm-6dde3d7026bb61b1',0);
CREATE TABLE node_gone (
  id TEXT PRIMARY KEY,
  gone_ns INTEGER NOT NULL
);
INSERT INTO node_gone VALUES('vm-6dde3d7026bb61b1',1796549841972965853);
CREATE TABLE node_fences (
  id TEXT PRIMARY KEY,
  incarnation INTEGER NOT NULL,
  fenced_ns INTEGER NOT NULL
);
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_ns INTEGER NOT NULL,
  epoch INTEGER NOT NULL
);
CREATE TABLE wal_objects (
  name TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  owner TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  batches INTEGER NOT NULL,
  min_ingest_ts INTEGER NOT NULL,
  max_ingest_ts INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  state TEXT NOT NULL,
  claims INTEGER NOT NULL
);
CREATE TABLE wal_takeovers (
  node TEXT PRIMARY KEY,
  generation INTEGER NOT NULL
);
CREATE TABLE idempotency_claims (
  tenant TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash INTEGER NOT NULL,
  node TEXT NOT NULL,
  node_started_ns INTEGER NOT NULL,
  state TEXT NOT NULL,
  answer TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
);
CREATE TABLE holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  from_ns INTEGER NOT NULL, to_ns INTEGER NOT NULL,
  query TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL, created_ns INTEGER NOT NULL,
  released_ns INTEGER NOT NULL DEFAULT 0,
  released_by TEXT NOT NULL DEFAULT '',
  release_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE retention_policies (
  tenant TEXT PRIMARY KEY,
  retention_ns INTEGER NOT NULL, warm_after_ns INTEGER NOT NULL,
  cold_after_ns INTEGER NOT NULL, max_bytes INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL, updated_by TEXT NOT NULL
);
CREATE TABLE compliance_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL, service TEXT NOT NULL,
  retention_ns INTEGER NOT NULL,
  reason TEXT NOT NULL, created_ns INTEGER NOT NULL, created_by TEXT NOT NULL
);
CREATE TABLE retired_segments (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL, partition INTEGER NOT NULL,
  min_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL,
  store TEXT NOT NULL, path TEXT NOT NULL,
  retired_ns INTEGER NOT NULL
);
CREATE TABLE retention_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ns INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT NOT NULL,
  hold_id INTEGER NOT NULL, segment_id INTEGER NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE segment_changes (
  change_id INTEGER PRIMARY KEY AUTOINCREMENT,
  segment_id INTEGER NOT NULL,
  removed INTEGER NOT NULL,
  at_ns INTEGER NOT NULL
);
INSERT INTO segment_changes VALUES(1,1,0,1796549840819000000);
CREATE TABLE segment_origins (
  segment_id INTEGER PRIMARY KEY,
  node TEXT NOT NULL,
  registered INTEGER NOT NULL
);
CREATE TABLE swept_objects (
  store TEXT NOT NULL,
  path TEXT NOT NULL,
  swept_ns INTEGER NOT NULL,
  PRIMARY KEY (store, path)
);
CREATE TABLE wal_damage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file TEXT NOT NULL,
  offset INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  acknowledged_loss INTEGER NOT NULL,
  range_known INTEGER NOT NULL,
  min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,
  min_ingest_ts INTEGER NOT NULL, max_ingest_ts INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  acked INTEGER NOT NULL,
  UNIQUE (file, offset, kind, bytes)
);
CREATE TABLE alert_states (
  tenant TEXT NOT NULL,
  rule TEXT NOT NULL,
  grp TEXT NOT NULL,
  state TEXT NOT NULL,
  active_since INTEGER NOT NULL,
  state_since INTEGER NOT NULL,
  last_notified INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (tenant, rule, grp)
);
CREATE TABLE alert_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  rule TEXT NOT NULL,
  grp TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  at INTEGER NOT NULL,
  value REAL NOT NULL
);
CREATE TABLE alert_rules (
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('segment_changes',1);
CREATE INDEX segments_by_tenant ON segments (tenant, partition, max_ingest_ts);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_ns);
CREATE INDEX audit_log_by_time ON audit_log (at_ns);
CREATE INDEX wal_objects_by_owner ON wal_objects (owner, first_seq);
CREATE INDEX idempotency_claims_by_age ON idempotency_claims (created_ns);
CREATE INDEX idempotency_claims_by_node ON idempotency_claims (node, state);
CREATE INDEX retention_events_by_action ON retention_events (action, id);
CREATE TRIGGER segment_added AFTER INSERT ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (NEW.id, 0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
END;
CREATE TRIGGER segment_rewritten AFTER UPDATE ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (NEW.id, 0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
END;
CREATE TRIGGER segment_removed AFTER DELETE ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (OLD.id, 1, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
  DELETE FROM segment_origins WHERE segment_id = OLD.id;
END;
CREATE INDEX alert_transitions_tenant ON alert_transitions (tenant, at);
COMMIT;
