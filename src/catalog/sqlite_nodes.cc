// The SQLite catalog's nodes and leases (catalog.h, issue 20): tables "nodes" and "leases". The
// embedded single node registers itself like any node, so that the shapes are the same on
// SQLite and PostgreSQL.
#include <sqlite3.h>

#include <algorithm>

#include "catalog/shared_rows.h"
#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

// Table groups, each created by its first write (sqlite_catalog.cc "Table groups"): the nodes,
// their fences (which a single server never writes), the leases.
extern const char* const kNodeSchema;
extern const char* const kNodeFencesSchema;
extern const char* const kLeaseSchema;
// WITHOUT ROWID: a table keyed by text is then one B-tree (one page while small) instead of a
// table and its key's index (two); the same statements work on either, so a catalog created
// before keeps its tables as they are.
const char* const kNodeSchema = R"sql(
CREATE TABLE IF NOT EXISTS nodes (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  started_ns INTEGER NOT NULL,
  heartbeat_ns INTEGER NOT NULL
) WITHOUT ROWID;
-- NodeRow::confirmed_through, beside the row (additive: an older build ignores it).
CREATE TABLE IF NOT EXISTS node_confirmed (
  id TEXT PRIMARY KEY,
  through INTEGER NOT NULL
) WITHOUT ROWID;
-- GoneNodeRow: nodes that answer nobody any more, and since when (LeaveCluster, FenceDeadNode).
CREATE TABLE IF NOT EXISTS node_gone (
  id TEXT PRIMARY KEY,
  gone_ns INTEGER NOT NULL
) WITHOUT ROWID;
-- NodeRow::settings: the cluster-wide settings the incarnation "started_ns" of node "id" runs,
-- recorded with its registration (additive: an older build ignores it and records none).
CREATE TABLE IF NOT EXISTS node_settings (
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  started_ns INTEGER NOT NULL,
  PRIMARY KEY (id, name)
) WITHOUT ROWID;
)sql";
const char* const kNodeFencesSchema = R"sql(
-- Which incarnation a fence (FenceDeadNode) was aimed at: a later process of the id registers
-- over the fenced row even when its start time is below the fence's (Heartbeat).
CREATE TABLE IF NOT EXISTS node_fences (
  id TEXT PRIMARY KEY,
  incarnation INTEGER NOT NULL,
  fenced_ns INTEGER NOT NULL
) WITHOUT ROWID;
)sql";
const char* const kLeaseSchema = R"sql(
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_ns INTEGER NOT NULL,
  epoch INTEGER NOT NULL
);
)sql";

namespace {

LeaseRow ReadLease(Stmt& st) {
  return {st.Text(0), st.Text(1), st.Int(2), static_cast<uint64_t>(st.Int(3))};
}

}  // namespace

Status SqliteCatalog::Heartbeat(const NodeRow& node) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // A row of a later incarnation is kept (catalog.h): the upsert's WHERE leaves it unchanged.
  Stmt st(db_,
          "INSERT INTO nodes (id, url, started_ns, heartbeat_ns) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_ns = excluded.started_ns, "
          "heartbeat_ns = excluded.heartbeat_ns WHERE nodes.started_ns <= excluded.started_ns");
  if (!st.ok()) return RollbackLocked(Error("prepare heartbeat"));
  st.Bind(1, node.id);
  st.Bind(2, node.url);
  st.Bind(3, node.started_ns);
  st.Bind(4, node.heartbeat_ns);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("heartbeat"));
  if (sqlite3_changes(db_) == 0) {
    if (Status s = RegisterOverFenceLocked(node); !s.ok()) return RollbackLocked(s);
  }
  Stmt confirmed(db_, "INSERT OR REPLACE INTO node_confirmed (id, through) VALUES (?, ?)");
  if (!confirmed.ok()) return RollbackLocked(Error("prepare heartbeat"));
  confirmed.Bind(1, node.id);
  confirmed.Bind(2, static_cast<int64_t>(node.confirmed_through));
  if (confirmed.Step() != SQLITE_DONE) return RollbackLocked(Error("heartbeat"));
  if (Status s = RecordNodeSettingsLocked(node); !s.ok()) return RollbackLocked(s);
  return CommitLocked();
}

Status SqliteCatalog::RecordNodeSettingsLocked(const NodeRow& node) {
  if (node.settings.empty()) return Status::OK();  // a later heartbeat: kept as registered
  Stmt clear(db_, "DELETE FROM node_settings WHERE id = ?");
  if (!clear.ok()) return Error("prepare node settings");
  clear.Bind(1, node.id);
  if (clear.Step() != SQLITE_DONE) return Error("record node settings");
  for (const auto& [name, value] : node.settings) {
    Stmt st(db_, "INSERT INTO node_settings (id, name, value, started_ns) VALUES (?, ?, ?, ?)");
    if (!st.ok()) return Error("prepare node settings");
    st.Bind(1, node.id);
    st.Bind(2, name);
    st.Bind(3, static_cast<int64_t>(value));
    st.Bind(4, node.started_ns);
    if (st.Step() != SQLITE_DONE) return Error("record node settings");
  }
  return Status::OK();
}

Status SqliteCatalog::RegisterOverFenceLocked(const NodeRow& node) {
  // Inside Heartbeat's BEGIN IMMEDIATE: no fence commits between this read and the update (nor
  // does another connection create the fences' table).
  ASSIGN_OR_RETURN(const bool fences, HasTablesLocked(Tables::kNodeFences));
  Stmt st(db_, fences ? "SELECT n.started_ns, f.incarnation FROM nodes n LEFT JOIN node_fences f "
                        "ON f.id = n.id AND f.fenced_ns = n.started_ns WHERE n.id = ?"
                      : "SELECT started_ns, NULL FROM nodes WHERE id = ?");
  if (!st.ok()) return Error("prepare heartbeat");
  st.Bind(1, node.id);
  if (st.Step() != SQLITE_ROW) return Error("heartbeat");
  const int64_t registered = st.Int(0);
  const bool fence = sqlite3_column_type(st.get(), 1) != SQLITE_NULL;
  if (!fence || st.Int(1) >= node.started_ns) {
    return Status::FailedPrecondition(
        "catalog " + path_ + ": node " + node.id + " is registered by a later incarnation than " +
        std::to_string(node.started_ns) +
        (fence ? " (this process was fenced out at " + std::to_string(registered) +
                     " ns while it was dead: restart it)"
               : " (this process was replaced)"));
  }
  // A restart, not the fenced process: the row becomes its own and the fence goes (pg_catalog.cc).
  Stmt update(db_, "UPDATE nodes SET url = ?, started_ns = ?, heartbeat_ns = ? WHERE id = ?");
  if (!update.ok()) return Error("prepare heartbeat");
  update.Bind(1, node.url);
  update.Bind(2, node.started_ns);
  update.Bind(3, node.heartbeat_ns);
  update.Bind(4, node.id);
  if (update.Step() != SQLITE_DONE) return Error("heartbeat");
  for (const char* sql : {"DELETE FROM node_gone WHERE id = ?",
                          fences ? "DELETE FROM node_fences WHERE id = ?" : nullptr}) {
    if (sql == nullptr) continue;  // a table never created holds nothing
    Stmt side(db_, sql);
    if (!side.ok()) return Error("prepare heartbeat");
    side.Bind(1, node.id);
    if (side.Step() != SQLITE_DONE) return Error("heartbeat");
  }
  return Status::OK();
}

Result<std::vector<NodeRow>> SqliteCatalog::ListNodes() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kNodes));
  if (!present) return std::vector<NodeRow>{};  // the group was never written
  // One statement: each row with its settings as recorded by its own incarnation (a
  // registration writes both in one transaction), one result row per setting, a row's adjacent.
  Stmt st(db_,
          "SELECT n.id, n.url, n.started_ns, n.heartbeat_ns, COALESCE(c.through, 0), s.name, "
          "s.value FROM nodes n LEFT JOIN node_confirmed c ON c.id = n.id "
          "LEFT JOIN node_settings s ON s.id = n.id AND s.started_ns = n.started_ns ORDER BY n.id");
  if (!st.ok()) return Error("prepare node list");
  std::vector<NodeRow> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    std::string id = st.Text(0);
    if (out.empty() || out.back().id != id) {
      out.push_back(NodeRow{std::move(id), st.Text(1), st.Int(2), st.Int(3),
                            static_cast<uint64_t>(st.Int(4))});
    }
    if (sqlite3_column_type(st.get(), 5) != SQLITE_NULL)
      out.back().settings[st.Text(5)] = static_cast<uint64_t>(st.Int(6));
  }
  if (rc != SQLITE_DONE) return Error("node list");
  return out;
}

Status SqliteCatalog::RemoveNode(std::string_view id) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "DELETE FROM nodes WHERE id = ?");
  if (!st.ok()) return RollbackLocked(Error("prepare node removal"));
  st.Bind(1, id);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("remove node"));
  if (sqlite3_changes(db_) == 0) {
    return RollbackLocked(Status::NotFound("no node with id " + std::string(id)));
  }
  Result<bool> fences = HasTablesLocked(Tables::kNodeFences);
  if (!fences.ok()) return RollbackLocked(fences.status());
  for (const char* sql :
       {"DELETE FROM node_confirmed WHERE id = ?", "DELETE FROM node_gone WHERE id = ?",
        *fences ? "DELETE FROM node_fences WHERE id = ?" : nullptr,
        "DELETE FROM node_settings WHERE id = ?"}) {
    if (sql == nullptr) continue;  // a table never created holds nothing
    Stmt side(db_, sql);
    if (!side.ok()) return RollbackLocked(Error("prepare node removal"));
    side.Bind(1, id);
    if (side.Step() != SQLITE_DONE) return RollbackLocked(Error("remove node"));
  }
  return CommitLocked();
}

Status SqliteCatalog::RecordGoneLocked(std::string_view id, int64_t gone_ns) {
  Stmt st(db_, "INSERT OR REPLACE INTO node_gone (id, gone_ns) VALUES (?, ?)");
  if (!st.ok()) return Error("prepare node_gone");
  st.Bind(1, id);
  st.Bind(2, gone_ns);
  if (st.Step() != SQLITE_DONE) return Error("record node " + std::string(id) + " gone");
  return Status::OK();
}

Status SqliteCatalog::LeaveCluster(std::string_view id, int64_t started_ns, int64_t gone_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "DELETE FROM nodes WHERE id = ? AND started_ns = ?");
  if (!st.ok()) return RollbackLocked(Error("prepare node removal"));
  st.Bind(1, id);
  st.Bind(2, started_ns);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("remove node"));
  if (sqlite3_changes(db_) == 0) {
    return RollbackLocked(Status::NotFound("no node " + std::string(id) + " of incarnation " +
                                           std::to_string(started_ns)));
  }
  Stmt settings(db_, "DELETE FROM node_settings WHERE id = ?");
  if (!settings.ok()) return RollbackLocked(Error("prepare node removal"));
  settings.Bind(1, id);
  if (settings.Step() != SQLITE_DONE) return RollbackLocked(Error("remove node"));
  if (Status s = RecordGoneLocked(id, gone_ns); !s.ok()) return RollbackLocked(s);
  return CommitLocked();
}

Result<bool> SqliteCatalog::FenceDeadNode(std::string_view id, int64_t started_ns,
                                          int64_t dead_before_ns, int64_t now_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes, Tables::kNodeFences, Tables::kWalObjects}));
  // BEGIN IMMEDIATE: no heartbeat, claim or registration runs between the checks and the fence.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_,
          "SELECT EXISTS (SELECT 1 FROM nodes n WHERE n.id = ?1 AND n.started_ns = ?2 AND "
          "n.heartbeat_ns < ?3 AND NOT EXISTS (SELECT 1 FROM node_gone g WHERE g.id = n.id AND "
          "g.gone_ns > n.heartbeat_ns)) "
          "AND NOT EXISTS (SELECT 1 FROM wal_objects WHERE owner = ?1 AND state = ?4) "
          "AND EXISTS (SELECT 1 FROM segment_origins o WHERE o.node = ?1 AND o.registered > "
          "COALESCE((SELECT through FROM node_confirmed WHERE id = ?1), 0))");
  if (!st.ok()) return RollbackLocked(Error("prepare node fence"));
  st.Bind(1, id);
  st.Bind(2, started_ns);
  st.Bind(3, dead_before_ns);
  st.Bind(4, kWalObjectUnflushed);
  if (st.Step() != SQLITE_ROW) return RollbackLocked(Error("node fence check"));
  if (st.Int(0) == 0) {
    RETURN_IF_ERROR(Exec("ROLLBACK"));
    return false;
  }
  const int64_t fenced = std::max(now_ns, started_ns + 1);
  Stmt update(db_, "UPDATE nodes SET started_ns = ? WHERE id = ?");
  if (!update.ok()) return RollbackLocked(Error("prepare node fence"));
  update.Bind(1, fenced);
  update.Bind(2, id);
  if (update.Step() != SQLITE_DONE) return RollbackLocked(Error("fence node"));
  if (Status s = RecordGoneLocked(id, fenced); !s.ok()) return RollbackLocked(s);
  // Which incarnation the fence is aimed at (RegisterOverFenceLocked).
  Stmt aimed(db_,
             "INSERT OR REPLACE INTO node_fences (id, incarnation, fenced_ns) VALUES (?, ?, ?)");
  if (!aimed.ok()) return RollbackLocked(Error("prepare node fence"));
  aimed.Bind(1, id);
  aimed.Bind(2, started_ns);
  aimed.Bind(3, fenced);
  if (aimed.Step() != SQLITE_DONE) return RollbackLocked(Error("fence node"));
  // A fence is a takeover of what the process holds (see pg_catalog.cc).
  if (Status s = BumpWalTakeoversLocked({std::string(id)}); !s.ok()) return RollbackLocked(s);
  RETURN_IF_ERROR(CommitLocked());
  return true;
}

Result<std::vector<GoneNodeRow>> SqliteCatalog::ListGoneNodes() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kNodes));
  if (!present) return std::vector<GoneNodeRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT g.id, g.gone_ns, COALESCE(c.through, 0) FROM node_gone g "
          "LEFT JOIN node_confirmed c ON c.id = g.id ORDER BY g.id");
  if (!st.ok()) return Error("prepare gone node list");
  std::vector<GoneNodeRow> out;
  if (!ReadAll(st, &out, [](Stmt& st) {
        return GoneNodeRow{st.Text(0), st.Int(1), static_cast<uint64_t>(st.Int(2))};
      })) {
    return Error("gone node list");
  }
  return out;
}

// ---- The store's format version (catalog.h) ----

Result<uint64_t> SqliteCatalog::RecordNodeFormat(std::string_view node, uint64_t reads) {
  if (node.empty()) return Status::InvalidArgument("catalog " + path_ + ": a node with no id");
  const std::string key = "node_format." + std::string(node);
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));  // no raise runs between the record and the read
  Stmt st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare " + key));
  st.Bind(1, std::string_view(key));
  st.Bind(2, static_cast<int64_t>(reads));
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("record " + key));
  Result<uint64_t> version = MetaValueLocked("setting.format_version");
  if (!version.ok()) return RollbackLocked(version.status());
  RETURN_IF_ERROR(CommitLocked());
  return *version;
}

Result<uint64_t> SqliteCatalog::RaiseFormatVersion(uint64_t version, int64_t alive_since_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));  // no node records its format meanwhile
  Result<uint64_t> recorded = MetaValueLocked("setting.format_version");
  if (!recorded.ok()) return RollbackLocked(recorded.status());
  if (*recorded == 0 || *recorded >= version) {
    RETURN_IF_ERROR(CommitLocked());
    return *recorded;
  }
  Result<bool> present = HasTablesLocked(Tables::kNodes);
  if (!present.ok()) return RollbackLocked(present.status());
  if (*present && alive_since_ns != INT64_MAX) {
    // A live node that reads less, or never said (a build before the record).
    Stmt st(db_,
            "SELECT count(*) FROM nodes n WHERE n.heartbeat_ns >= ? AND COALESCE((SELECT value "
            "FROM meta WHERE key = 'node_format.' || n.id), 0) < ?");
    if (!st.ok()) return RollbackLocked(Error("prepare format raise"));
    st.Bind(1, alive_since_ns);
    st.Bind(2, static_cast<int64_t>(version));
    if (st.Step() != SQLITE_ROW) return RollbackLocked(Error("format raise"));
    if (st.Int(0) > 0) {
      RETURN_IF_ERROR(CommitLocked());
      return *recorded;
    }
  }
  Stmt up(db_, "UPDATE meta SET value = ? WHERE key = 'setting.format_version'");
  if (!up.ok()) return RollbackLocked(Error("prepare format raise"));
  up.Bind(1, static_cast<int64_t>(version));
  if (up.Step() != SQLITE_DONE) return RollbackLocked(Error("format raise"));
  RETURN_IF_ERROR(CommitLocked());
  return version;
}

Status SqliteCatalog::TakeLeaseLocked(std::string_view name, std::string_view holder,
                                      int64_t now_ns, int64_t ttl_ns, LeaseRow* lease,
                                      bool* taken) {
  *lease = LeaseRow{std::string(name), "", 0, 0};
  *taken = false;
  {
    Stmt st(db_, "SELECT name, holder, expires_ns, epoch FROM leases WHERE name = ?");
    if (!st.ok()) return Error("prepare lease lookup");
    st.Bind(1, name);
    const int rc = st.Step();
    if (rc == SQLITE_ROW) *lease = ReadLease(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("lease lookup");
  }
  if (!TakeLease(lease, holder, now_ns, ttl_ns)) return Status::OK();  // another's, unexpired
  Stmt st(db_,
          "INSERT OR REPLACE INTO leases (name, holder, expires_ns, epoch) VALUES (?, ?, ?, ?)");
  if (!st.ok()) return Error("prepare lease");
  st.Bind(1, lease->name);
  st.Bind(2, lease->holder);
  st.Bind(3, lease->expires_ns);
  st.Bind(4, static_cast<int64_t>(lease->epoch));
  if (st.Step() != SQLITE_DONE) return Error("store lease");
  *taken = true;
  return Status::OK();
}

Result<LeaseRow> SqliteCatalog::AcquireLease(std::string_view name, std::string_view holder,
                                             int64_t now_ns, int64_t ttl_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kLeases}));
  RETURN_IF_ERROR(CheckLeaseRequest(holder, ttl_ns));
  // BEGIN IMMEDIATE: the read and the write below are one step for every connection.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  LeaseRow lease;
  bool taken = false;
  if (Status s = TakeLeaseLocked(name, holder, now_ns, ttl_ns, &lease, &taken); !s.ok()) {
    return RollbackLocked(s);
  }
  // Not taken: held by another, unexpired; nothing was written.
  RETURN_IF_ERROR(taken ? CommitLocked() : Exec("ROLLBACK"));
  return lease;
}

Result<std::vector<LeaseRow>> SqliteCatalog::AcquireLeases(const std::vector<std::string>& names,
                                                           std::string_view holder, int64_t now_ns,
                                                           int64_t ttl_ns, size_t max) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kLeases}));
  RETURN_IF_ERROR(CheckLeasesRequest(names, holder, ttl_ns, max));
  // BEGIN IMMEDIATE: one writer, so no lease is being changed by another connection meanwhile
  // (nothing to skip, unlike PostgreSQL).
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::vector<LeaseRow> out;
  for (const std::string& name : names) {
    if (out.size() == max) break;
    LeaseRow lease;
    bool taken = false;
    if (Status s = TakeLeaseLocked(name, holder, now_ns, ttl_ns, &lease, &taken); !s.ok()) {
      return RollbackLocked(s);
    }
    if (taken) out.push_back(std::move(lease));
  }
  RETURN_IF_ERROR(CommitLocked());
  return out;
}

Status SqliteCatalog::CheckLeaseFenceLocked(const LeaseFence& fence) const {
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kLeases));
  if (!present) return CheckLeaseFence(fence, std::nullopt, "catalog " + path_);  // never taken
  Stmt st(db_, "SELECT name, holder, expires_ns, epoch FROM leases WHERE name = ?");
  if (!st.ok()) return Error("prepare lease fence");
  st.Bind(1, fence.name);
  const int rc = st.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("lease fence");
  std::optional<LeaseRow> lease;
  if (rc == SQLITE_ROW) lease = ReadLease(st);
  return CheckLeaseFence(fence, lease, "catalog " + path_);
}

Status SqliteCatalog::ReleaseLease(std::string_view name, std::string_view holder) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kLeases}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "UPDATE leases SET holder = '', expires_ns = 0 WHERE name = ? AND holder = ?");
  if (!st.ok()) return RollbackLocked(Error("prepare lease release"));
  st.Bind(1, name);
  st.Bind(2, holder);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("release lease"));
  return CommitLocked();
}

Result<std::vector<LeaseRow>> SqliteCatalog::ListLeases() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kLeases));
  if (!present) return std::vector<LeaseRow>{};  // the group was never written
  Stmt st(db_, "SELECT name, holder, expires_ns, epoch FROM leases ORDER BY name");
  if (!st.ok()) return Error("prepare lease list");
  std::vector<LeaseRow> out;
  if (!ReadAll(st, &out, ReadLease)) return Error("lease list");
  return out;
}

}  // namespace sawmill::catalog
