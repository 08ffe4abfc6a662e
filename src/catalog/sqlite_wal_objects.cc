// The SQLite catalog's WAL objects, seq blocks and the fence check of a segment registration
// (catalog.h, issue 20): table "wal_objects", and the "next_seq" entry of "meta". A single node
// never writes WAL objects, so its catalog has no such table (created by the first write,
// sqlite_catalog.cc "Table groups"); both catalogs keep one contract (catalog_test.cc).
#include <sqlite3.h>

#include <algorithm>

#include "catalog/shared_rows.h"
#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

extern const char* const kWalObjectSchema;  // created on first use (sqlite_catalog.cc)
const char* const kWalObjectSchema = R"sql(
CREATE TABLE IF NOT EXISTS wal_objects (
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
CREATE INDEX IF NOT EXISTS wal_objects_by_owner ON wal_objects (owner, first_seq);
CREATE TABLE IF NOT EXISTS wal_takeovers (
  node TEXT PRIMARY KEY,
  generation INTEGER NOT NULL
);
)sql";

namespace {

constexpr const char* kWalObjectColumns =
    "name, node, owner, first_seq, last_seq, bytes, batches, min_ingest_ts, max_ingest_ts, "
    "created_ns, state, claims";

WalObjectRow ReadWalObject(Stmt& st) {
  WalObjectRow r;
  r.name = st.Text(0);
  r.node = st.Text(1);
  r.owner = st.Text(2);
  r.first_seq = static_cast<uint64_t>(st.Int(3));
  r.last_seq = static_cast<uint64_t>(st.Int(4));
  r.bytes = static_cast<uint64_t>(st.Int(5));
  r.batches = static_cast<uint64_t>(st.Int(6));
  r.min_ingest_ts = st.Int(7);
  r.max_ingest_ts = st.Int(8);
  r.created_ns = st.Int(9);
  r.state = st.Text(10);
  r.claims = static_cast<uint64_t>(st.Int(11));
  return r;
}

}  // namespace

Status SqliteCatalog::RegisterWalObject(const WalObjectRow& row,
                                        const std::vector<IdempotencyClaimRow>& key_claims) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kWalObjects, Tables::kClaims}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  {
    Stmt st(db_, "SELECT 1 FROM wal_objects WHERE name = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object lookup"));
    st.Bind(1, row.name);
    const int rc = st.Step();
    if (rc == SQLITE_ROW) {
      return RollbackLocked(Status::AlreadyExists("catalog " + path_ + ": WAL object " + row.name +
                                                  " is already registered"));
    }
    if (rc != SQLITE_DONE) return RollbackLocked(Error("WAL object lookup"));
  }
  Stmt st(db_, std::string("INSERT INTO wal_objects (") + kWalObjectColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare WAL object insert"));
  st.Bind(1, row.name);
  st.Bind(2, row.node);
  st.Bind(3, row.owner);
  st.Bind(4, static_cast<int64_t>(row.first_seq));
  st.Bind(5, static_cast<int64_t>(row.last_seq));
  st.Bind(6, static_cast<int64_t>(row.bytes));
  st.Bind(7, static_cast<int64_t>(row.batches));
  st.Bind(8, row.min_ingest_ts);
  st.Bind(9, row.max_ingest_ts);
  st.Bind(10, row.created_ns);
  st.Bind(11, row.state);
  st.Bind(12, static_cast<int64_t>(row.claims));
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("register WAL object " + row.name));
  // The claims of its keyed batches, still as they were made (one writer: nothing changes them
  // before the commit).
  for (const IdempotencyClaimRow& c : key_claims) {
    Stmt held(db_,
              "SELECT 1 FROM idempotency_claims WHERE tenant = ? AND key = ? AND state = ? AND "
              "node = ? AND node_started_ns = ? AND created_ns = ?");
    if (!held.ok()) return RollbackLocked(Error("prepare idempotency claim check"));
    held.Bind(1, c.tenant);
    held.Bind(2, c.key);
    held.Bind(3, kIdempotencyPending);
    held.Bind(4, c.node);
    held.Bind(5, c.node_started_ns);
    held.Bind(6, c.created_ns);
    const int rc = held.Step();
    if (rc == SQLITE_DONE) {
      return RollbackLocked(Status::FailedPrecondition(
          "catalog " + path_ + ": node " + c.node + " no longer holds the claim on " +
          "Idempotency-Key '" + c.key + "' of tenant '" + c.tenant + "': WAL object " + row.name +
          " is not registered"));
    }
    if (rc != SQLITE_ROW) return RollbackLocked(Error("idempotency claim check"));
  }
  return CommitLocked();
}

Result<std::vector<WalObjectRow>> SqliteCatalog::ListWalObjects(std::string_view owner) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kWalObjects));
  if (!present) return std::vector<WalObjectRow>{};  // the group was never written
  Stmt st(db_, std::string("SELECT ") + kWalObjectColumns +
                   " FROM wal_objects WHERE ? = '' OR owner = ? ORDER BY first_seq, name");
  if (!st.ok()) return Error("prepare WAL object list");
  st.Bind(1, owner);
  st.Bind(2, owner);
  std::vector<WalObjectRow> out;
  if (!ReadAll(st, &out, ReadWalObject)) return Error("WAL object list");
  return out;
}

Status SqliteCatalog::MarkWalObjectsFlushed(const std::vector<std::string>& names,
                                            std::string_view owner) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kWalObjects}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (const std::string& name : names) {
    Stmt st(db_, "UPDATE wal_objects SET state = ? WHERE name = ? AND owner = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object update"));
    st.Bind(1, kWalObjectFlushed);
    st.Bind(2, name);
    st.Bind(3, owner);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("mark WAL object " + name));
    if (sqlite3_changes(db_) != 1) {
      return RollbackLocked(Status::FailedPrecondition(
          "catalog " + path_ + ": WAL object " + name + " is not registered to " +
          std::string(owner) + " (taken over by another node?)"));
    }
  }
  return CommitLocked();
}

Result<uint64_t> SqliteCatalog::DeleteWalObjects(const std::vector<std::string>& names,
                                                 std::string_view owner) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kWalObjects}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  uint64_t deleted = 0;
  for (const std::string& name : names) {
    Stmt st(db_, "DELETE FROM wal_objects WHERE name = ? AND owner = ? AND state = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object delete"));
    st.Bind(1, name);
    st.Bind(2, owner);
    st.Bind(3, kWalObjectFlushed);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("delete WAL object " + name));
    deleted += static_cast<uint64_t>(sqlite3_changes(db_));
  }
  RETURN_IF_ERROR(CommitLocked());
  return deleted;
}

Result<std::vector<WalObjectRow>> SqliteCatalog::ClaimWalObjects(
    const std::vector<std::string>& from, std::string_view to, size_t limit, int64_t alive_since_ns,
    std::optional<uint64_t> to_generation) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kWalObjects, Tables::kNodes}));
  std::vector<WalObjectRow> out;
  if (from.empty() || limit == 0) return out;
  // BEGIN IMMEDIATE: one writer at a time, so two claimers never take the same object, and no
  // claim raises the claimer's generation between its check below and this claim.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (to_generation.has_value()) {
    Stmt st(db_, "SELECT generation FROM wal_takeovers WHERE node = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object claim"));
    st.Bind(1, to);
    const int rc = st.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return RollbackLocked(Error("WAL object claim"));
    const uint64_t now = rc == SQLITE_ROW ? static_cast<uint64_t>(st.Int(0)) : 0;
    if (now > *to_generation) {
      return RollbackLocked(ClaimerTakenOver(to, now, *to_generation));
    }
  }
  for (const std::string& node : from) {
    if (out.size() >= limit) break;
    Stmt st(db_, std::string("SELECT ") + kWalObjectColumns +
                     " FROM wal_objects WHERE owner = ? AND state = ? AND NOT EXISTS (SELECT 1 "
                     "FROM nodes WHERE nodes.id = wal_objects.owner AND heartbeat_ns >= ?) "
                     "ORDER BY first_seq, name LIMIT ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object claim"));
    st.Bind(1, node);
    st.Bind(2, kWalObjectUnflushed);
    st.Bind(3, alive_since_ns);
    st.Bind(4, static_cast<int64_t>(limit - out.size()));
    if (!ReadAll(st, &out, ReadWalObject)) return RollbackLocked(Error("WAL object claim"));
  }
  // Every previous owner's takeover generation, in this transaction (docs/cluster.md "Fenced
  // answers").
  std::vector<std::string> previous;
  for (const WalObjectRow& row : out) previous.push_back(row.owner);
  if (Status s = BumpWalTakeoversLocked(previous); !s.ok()) return RollbackLocked(s);
  for (WalObjectRow& row : out) {
    Stmt st(db_, "UPDATE wal_objects SET owner = ?, claims = claims + 1 WHERE name = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare WAL object claim"));
    st.Bind(1, to);
    st.Bind(2, row.name);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("claim WAL object " + row.name));
    row.owner.assign(to);
    ++row.claims;
  }
  RETURN_IF_ERROR(CommitLocked());
  return out;
}

Status SqliteCatalog::BumpWalTakeoversLocked(std::vector<std::string> owners) const {
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  for (const std::string& owner : owners) {
    Stmt st(db_,
            "INSERT INTO wal_takeovers (node, generation) VALUES (?, 1) "
            "ON CONFLICT (node) DO UPDATE SET generation = generation + 1");
    if (!st.ok()) return Error("prepare takeover generation");
    st.Bind(1, owner);
    if (st.Step() != SQLITE_DONE) return Error("raise the takeover generation of " + owner);
  }
  return Status::OK();
}

Result<std::map<std::string, uint64_t>> SqliteCatalog::ReadWalTakeovers() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kWalObjects));
  if (!present) return std::map<std::string, uint64_t>{};  // the group was never written
  Stmt st(db_, "SELECT node, generation FROM wal_takeovers");
  if (!st.ok()) return Error("prepare takeover generations");
  std::map<std::string, uint64_t> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out[st.Text(0)] = static_cast<uint64_t>(st.Int(1));
  if (rc != SQLITE_DONE) return Error("read takeover generations");
  return out;
}

Result<uint64_t> SqliteCatalog::AllocateSeqs(uint64_t count, uint64_t at_least) {
  if (count == 0) return Status::InvalidArgument("catalog: a seq block of 0 seqs");
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  uint64_t first = at_least;
  {
    Stmt st(db_,
            "SELECT max(COALESCE((SELECT value FROM meta WHERE key = 'next_seq'), 1), "
            "COALESCE((SELECT max(max_seq) FROM segments), 0) + 1)");
    if (!st.ok() || st.Step() != SQLITE_ROW) return RollbackLocked(Error("read next seq"));
    first = std::max(first, static_cast<uint64_t>(st.Int(0)));
  }
  Stmt st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare seq block"));
  st.Bind(1, static_cast<int64_t>(first + count));
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("store seq block"));
  RETURN_IF_ERROR(CommitLocked());
  return first;
}

Result<uint64_t> SqliteCatalog::SettleSetting(std::string_view name, uint64_t value) {
  if (name.empty()) return Status::InvalidArgument("catalog " + path_ + ": a setting with no name");
  const std::string key = "setting." + std::string(name);
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  {
    Stmt st(db_, "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare setting " + key));
    st.Bind(1, std::string_view(key));
    st.Bind(2, static_cast<int64_t>(value));
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("record setting " + key));
  }
  Result<uint64_t> recorded = MetaValueLocked(key.c_str());
  if (!recorded.ok()) return RollbackLocked(recorded.status());
  RETURN_IF_ERROR(CommitLocked());
  return *recorded;
}

Result<std::map<std::string, uint64_t>> SqliteCatalog::SettleSettings(
    const std::map<std::string, uint64_t>& values) {
  for (const auto& [name, value] : values) {
    if (name.empty())
      return Status::InvalidArgument("catalog " + path_ + ": a setting with no name");
  }
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));  // no other writer between the look and the write
  Result<std::map<std::string, uint64_t>> all = ReadSettingsLocked();
  if (!all.ok()) return RollbackLocked(all.status());
  std::map<std::string, uint64_t> recorded;
  for (const auto& [name, value] : values) {
    if (auto it = all->find(name); it != all->end()) recorded.insert(*it);
  }
  if (recorded.empty()) {
    for (const auto& [name, value] : values) {
      const std::string key = "setting." + name;
      Stmt st(db_, "INSERT INTO meta (key, value) VALUES (?, ?)");
      if (!st.ok()) return RollbackLocked(Error("prepare setting " + key));
      st.Bind(1, std::string_view(key));
      st.Bind(2, static_cast<int64_t>(value));
      if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("record setting " + key));
    }
    recorded = values;
  }
  RETURN_IF_ERROR(CommitLocked());
  return recorded;
}

Result<std::map<std::string, uint64_t>> SqliteCatalog::ReadSettings() const {
  MutexLock l(&mu_);
  return ReadSettingsLocked();
}

Result<std::map<std::string, uint64_t>> SqliteCatalog::ReadSettingsLocked() const {
  // '.' and '_' are no LIKE wildcards here only with ESCAPE: compare the prefix instead.
  Stmt st(db_, "SELECT key, value FROM meta WHERE substr(key, 1, 8) = 'setting.'");
  if (!st.ok()) return Error("prepare settings read");
  std::map<std::string, uint64_t> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    out[st.Text(0).substr(8)] = static_cast<uint64_t>(st.Int(1));
  }
  if (rc != SQLITE_DONE) return Error("read settings");
  return out;
}

Status SqliteCatalog::ChangeSetting(std::string_view name, uint64_t value) {
  if (name.empty()) return Status::InvalidArgument("catalog " + path_ + ": a setting with no name");
  const std::string key = "setting." + std::string(name);
  MutexLock l(&mu_);
  Stmt st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  if (!st.ok()) return Error("prepare setting change " + key);
  st.Bind(1, std::string_view(key));
  st.Bind(2, static_cast<int64_t>(value));
  if (st.Step() != SQLITE_DONE) return Error("change setting " + key);
  return Status::OK();
}

Status SqliteCatalog::ChangeSettingIf(const std::map<std::string, uint64_t>& expected,
                                      const std::map<std::string, int64_t>& registered,
                                      std::string_view name, uint64_t value) {
  if (name.empty()) return Status::InvalidArgument("catalog " + path_ + ": a setting with no name");
  const std::string key = "setting." + std::string(name);
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes}));
  // No other writer (a change, a node's registration) between the look and the write.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Result<std::map<std::string, uint64_t>> now = ReadSettingsLocked();
  if (!now.ok()) return RollbackLocked(now.status());
  std::map<std::string, int64_t> nodes;
  {
    Stmt st(db_, "SELECT id, started_ns FROM nodes");
    if (!st.ok()) return RollbackLocked(Error("prepare node list"));
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) nodes[st.Text(0)] = st.Int(1);
    if (rc != SQLITE_DONE) return RollbackLocked(Error("list nodes"));
  }
  if (Status seen = CheckSettingsAsSeen("catalog " + path_, expected, *now, registered, nodes);
      !seen.ok()) {
    return RollbackLocked(seen);
  }
  Stmt st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare setting change " + key));
  st.Bind(1, std::string_view(key));
  st.Bind(2, static_cast<int64_t>(value));
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("change setting " + key));
  return CommitLocked();
}

Status SqliteCatalog::CheckFenceLocked(const SegmentRow& row, std::string_view node,
                                       WalFence* fence) const {
  // The caller's transaction is BEGIN IMMEDIATE: no other writer (a claim, a heartbeat) runs
  // between these reads and its commit.
  fence->lost.clear();
  std::vector<std::string> names = fence->objects;
  names.insert(names.end(), fence->mark_flushed.begin(), fence->mark_flushed.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  {
    Stmt st(db_, "SELECT started_ns FROM nodes WHERE id = ?");
    if (!st.ok()) return Error("prepare fence node lookup");
    st.Bind(1, node);
    const int rc = st.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("fence node lookup");
    if (rc == SQLITE_ROW && st.Int(0) != fence->incarnation) {
      fence->lost = names;
      return Status::FailedPrecondition(
          "catalog " + path_ + ": node " + std::string(node) + " is registered as incarnation " +
          std::to_string(st.Int(0)) + ", not " + std::to_string(fence->incarnation) + ": segment " +
          std::to_string(row.id) + " is not registered");
    }
  }
  for (const std::string& name : names) {
    Stmt st(db_, "SELECT 1 FROM wal_objects WHERE name = ? AND owner = ?");
    if (!st.ok()) return Error("prepare fence WAL object lookup");
    st.Bind(1, name);
    st.Bind(2, node);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) fence->lost.push_back(name);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("fence lookup");
  }
  if (fence->lost.empty()) return Status::OK();
  return Status::FailedPrecondition(
      "catalog " + path_ + ": node " + std::string(node) + " no longer answers for " +
      std::to_string(fence->lost.size()) + " WAL object(s), e.g. " + fence->lost.front() +
      " (taken over): segment " + std::to_string(row.id) + " is not registered");
}

}  // namespace sawmill::catalog
