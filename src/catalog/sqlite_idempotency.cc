// The SQLite catalog's claims on Idempotency-Keys across nodes (catalog.h, IdempotencyClaimRow;
// docs/cluster.md "Idempotency-Keys across nodes"). An additive table: an older build ignores it.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

extern const char* const kClaimSchema;  // created on first use (sqlite_catalog.cc)
const char* const kClaimSchema = R"sql(
CREATE TABLE IF NOT EXISTS idempotency_claims (
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
CREATE INDEX IF NOT EXISTS idempotency_claims_by_age ON idempotency_claims (created_ns);
CREATE INDEX IF NOT EXISTS idempotency_claims_by_node ON idempotency_claims (node, state);
)sql";

namespace {

constexpr const char* kClaimColumns =
    "tenant, key, body_hash, node, node_started_ns, state, answer, first_seq, count, created_ns";

IdempotencyClaimRow ReadClaim(Stmt& st) {
  IdempotencyClaimRow r;
  r.tenant = st.Text(0);
  r.key = st.Text(1);
  r.body_hash = static_cast<uint64_t>(st.Int(2));
  r.node = st.Text(3);
  r.node_started_ns = st.Int(4);
  r.state = st.Text(5);
  r.answer = st.Text(6);
  r.first_seq = static_cast<uint64_t>(st.Int(7));
  r.count = static_cast<uint64_t>(st.Int(8));
  r.created_ns = st.Int(9);
  return r;
}

void BindClaim(Stmt& st, const IdempotencyClaimRow& r) {
  st.Bind(1, r.tenant);
  st.Bind(2, r.key);
  st.Bind(3, static_cast<int64_t>(r.body_hash));
  st.Bind(4, r.node);
  st.Bind(5, r.node_started_ns);
  st.Bind(6, r.state);
  st.Bind(7, r.answer);
  st.Bind(8, static_cast<int64_t>(r.first_seq));
  st.Bind(9, static_cast<int64_t>(r.count));
  st.Bind(10, r.created_ns);
}

constexpr const char* kUpsertClaim =
    "INSERT OR REPLACE INTO idempotency_claims (tenant, key, body_hash, node, node_started_ns, "
    "state, answer, first_seq, count, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

}  // namespace

Result<IdempotencyClaimRow> SqliteCatalog::ClaimIdempotencyKey(const IdempotencyClaimRow& row,
                                                               int64_t expire_before_ns,
                                                               int64_t alive_since_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kClaims, Tables::kNodes, Tables::kWalObjects}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::optional<IdempotencyClaimRow> existing;
  {
    Stmt st(db_, std::string("SELECT ") + kClaimColumns +
                     " FROM idempotency_claims WHERE tenant = ? AND key = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim lookup"));
    st.Bind(1, row.tenant);
    st.Bind(2, row.key);
    const int rc = st.Step();
    if (rc == SQLITE_ROW) {
      existing = ReadClaim(st);
    } else if (rc != SQLITE_DONE) {
      return RollbackLocked(Error("idempotency claim lookup"));
    }
  }
  bool take = !existing || existing->created_ns < expire_before_ns;
  if (!take && existing->state == kIdempotencyPending) {
    // Is the claiming incarnation gone, and every WAL object it may have put the batch in
    // replayed (and so flushed and unregistered)?
    bool alive = false;
    int64_t objects_before = std::numeric_limits<int64_t>::max();
    {
      Stmt st(db_, "SELECT started_ns, heartbeat_ns FROM nodes WHERE id = ?");
      if (!st.ok()) return RollbackLocked(Error("prepare node lookup"));
      st.Bind(1, existing->node);
      const int rc = st.Step();
      if (rc == SQLITE_ROW) {
        const int64_t started = st.Int(0);
        alive = started == existing->node_started_ns && st.Int(1) >= alive_since_ns;
        if (started > existing->node_started_ns) objects_before = started;
      } else if (rc != SQLITE_DONE) {
        return RollbackLocked(Error("node lookup"));
      }
    }
    if (!alive) {
      Stmt st(db_, "SELECT 1 FROM wal_objects WHERE node = ? AND created_ns < ? LIMIT 1");
      if (!st.ok()) return RollbackLocked(Error("prepare WAL object lookup"));
      st.Bind(1, existing->node);
      st.Bind(2, objects_before);
      const int rc = st.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return RollbackLocked(Error("WAL object lookup"));
      take = rc == SQLITE_DONE;
    }
  }
  if (!take) {
    RETURN_IF_ERROR(Exec("ROLLBACK"));
    return *existing;
  }
  Stmt st(db_, kUpsertClaim);
  if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim"));
  BindClaim(st, row);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("claim idempotency key"));
  RETURN_IF_ERROR(CommitLocked());
  return row;
}

Status SqliteCatalog::CompleteIdempotencyKey(const IdempotencyClaimRow& row, bool adopted,
                                             int64_t expire_before_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kClaims}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  IdempotencyClaimRow done = row;
  done.state = std::string(kIdempotencyDone);
  if (adopted) {
    std::optional<std::string> state;
    {
      Stmt st(db_, "SELECT state FROM idempotency_claims WHERE tenant = ? AND key = ?");
      if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim lookup"));
      st.Bind(1, row.tenant);
      st.Bind(2, row.key);
      const int rc = st.Step();
      if (rc == SQLITE_ROW) {
        state = st.Text(0);
      } else if (rc != SQLITE_DONE) {
        return RollbackLocked(Error("idempotency claim lookup"));
      }
    }
    if (state != kIdempotencyDone) {
      Stmt st(db_, kUpsertClaim);
      if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim"));
      BindClaim(st, done);
      if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("complete idempotency key"));
    }
  } else {
    Stmt st(db_,
            "UPDATE idempotency_claims SET state = ?, answer = ?, first_seq = ?, count = ? "
            "WHERE tenant = ? AND key = ? AND state = ? AND node = ? AND node_started_ns = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim update"));
    st.Bind(1, kIdempotencyDone);
    st.Bind(2, row.answer);
    st.Bind(3, static_cast<int64_t>(row.first_seq));
    st.Bind(4, static_cast<int64_t>(row.count));
    st.Bind(5, row.tenant);
    st.Bind(6, row.key);
    st.Bind(7, kIdempotencyPending);
    st.Bind(8, row.node);
    st.Bind(9, row.node_started_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("complete idempotency key"));
    if (sqlite3_changes(db_) != 1) {
      return RollbackLocked(Status::FailedPrecondition(
          "catalog " + path_ + ": node " + row.node + " holds no claim on Idempotency-Key '" +
          row.key + "' of tenant '" + row.tenant + "'"));
    }
  }
  {
    Stmt st(db_, "DELETE FROM idempotency_claims WHERE created_ns < ?");
    if (!st.ok()) return RollbackLocked(Error("prepare expire idempotency claims"));
    st.Bind(1, expire_before_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("expire idempotency claims"));
  }
  return CommitLocked();
}

Status SqliteCatalog::ReleaseIdempotencyKey(const IdempotencyClaimRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kClaims}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_,
          "DELETE FROM idempotency_claims WHERE tenant = ? AND key = ? AND state = ? AND "
          "node = ? AND node_started_ns = ?");
  if (!st.ok()) return RollbackLocked(Error("prepare idempotency claim release"));
  st.Bind(1, row.tenant);
  st.Bind(2, row.key);
  st.Bind(3, kIdempotencyPending);
  st.Bind(4, row.node);
  st.Bind(5, row.node_started_ns);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("release idempotency claim"));
  return CommitLocked();
}

Result<uint64_t> SqliteCatalog::ReleaseIdempotencyClaimsOf(std::string_view node,
                                                           int64_t started_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kClaims, Tables::kWalObjects}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_,
          "DELETE FROM idempotency_claims WHERE node = ?1 AND state = ?2 AND node_started_ns < ?3 "
          "AND NOT EXISTS (SELECT 1 FROM wal_objects WHERE node = ?1 AND owner <> ?1 AND "
          "created_ns < ?3)");
  if (!st.ok()) return RollbackLocked(Error("prepare idempotency claims release"));
  st.Bind(1, node);
  st.Bind(2, kIdempotencyPending);
  st.Bind(3, started_ns);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("release idempotency claims"));
  const uint64_t released = static_cast<uint64_t>(sqlite3_changes(db_));
  RETURN_IF_ERROR(CommitLocked());
  return released;
}

Result<std::optional<IdempotencyClaimRow>> SqliteCatalog::GetIdempotencyKey(
    std::string_view tenant, std::string_view key) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kClaims));
  if (!present) return std::optional<IdempotencyClaimRow>{};  // the group was never written
  Stmt st(db_, std::string("SELECT ") + kClaimColumns +
                   " FROM idempotency_claims WHERE tenant = ? AND key = ?");
  if (!st.ok()) return Error("prepare idempotency claim lookup");
  st.Bind(1, tenant);
  st.Bind(2, key);
  const int rc = st.Step();
  if (rc == SQLITE_ROW) return std::optional<IdempotencyClaimRow>(ReadClaim(st));
  if (rc != SQLITE_DONE) return Error("idempotency claim lookup");
  return std::optional<IdempotencyClaimRow>();
}

Result<std::pair<uint64_t, uint64_t>> SqliteCatalog::TrimIdempotencyClaims(int64_t expire_before_ns,
                                                                           uint64_t max_done) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kClaims}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  uint64_t expired = 0, evicted = 0;
  {
    Stmt st(db_, "DELETE FROM idempotency_claims WHERE created_ns < ?");
    if (!st.ok()) return RollbackLocked(Error("prepare expire idempotency claims"));
    st.Bind(1, expire_before_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("expire idempotency claims"));
    expired = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  {
    Stmt st(db_,
            "DELETE FROM idempotency_claims WHERE rowid IN (SELECT rowid FROM "
            "idempotency_claims WHERE state = ? ORDER BY created_ns DESC LIMIT -1 OFFSET ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare evict idempotency claims"));
    st.Bind(1, kIdempotencyDone);
    st.Bind(
        2, static_cast<int64_t>(std::min<uint64_t>(max_done, std::numeric_limits<int64_t>::max())));
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("evict idempotency claims"));
    evicted = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  RETURN_IF_ERROR(CommitLocked());
  return std::make_pair(expired, evicted);
}

}  // namespace sawmill::catalog
