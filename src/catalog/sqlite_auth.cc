// The SQLite catalog's API tokens and audit log (catalog.h, TokenRow and AuditRow; issue 15).
// Additive tables: an older build ignores them.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>

#include "catalog/shared_rows.h"
#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

// Three table groups, each created by its first write (sqlite_catalog.cc "Table groups").
extern const char* const kTokenSchema;
extern const char* const kAuditSchema;
extern const char* const kAuditAnchorSchema;
extern const char* const kQuotaSchema;
const char* const kTokenSchema = R"sql(
CREATE TABLE IF NOT EXISTS api_tokens (
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
)sql";
const char* const kAuditSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
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
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at_ns);
)sql";
// Where a pruned chain continues (PruneAudit's first write creates it).
const char* const kAuditAnchorSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
)sql";
const char* const kQuotaSchema = R"sql(
CREATE TABLE IF NOT EXISTS tenant_quotas (
  tenant TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  updated_ns INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_scan_usage (
  tenant TEXT NOT NULL,
  minute INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (tenant, minute)
);
)sql";

namespace {

constexpr const char* kTokenColumns =
    "id, name, tenants, role, secret_hash, created_ns, expires_ns, revoked_ns, created_by";
constexpr const char* kAuditColumns =
    "seq, at_ns, who, token_id, tenant, action, query, from_ns, to_ns, rows, address, status, "
    "prev_hash, hash";

TokenRow ReadToken(Stmt& st) {
  TokenRow r;
  r.id = st.Text(0);
  r.name = st.Text(1);
  r.tenants = SplitTenants(st.Text(2));
  r.role = st.Text(3);
  r.secret_hash = st.Text(4);
  r.created_ns = st.Int(5);
  r.expires_ns = st.Int(6);
  r.revoked_ns = st.Int(7);
  r.created_by = st.Text(8);
  return r;
}

AuditRow ReadAudit(Stmt& st) {
  AuditRow r;
  r.seq = static_cast<uint64_t>(st.Int(0));
  r.at_ns = st.Int(1);
  r.who = st.Text(2);
  r.token_id = st.Text(3);
  r.tenant = st.Text(4);
  r.action = st.Text(5);
  r.query = st.Text(6);
  r.from_ns = st.Int(7);
  r.to_ns = st.Int(8);
  r.rows = st.Int(9);
  r.address = st.Text(10);
  r.status = static_cast<int32_t>(st.Int(11));
  r.prev_hash = st.Text(12);
  r.hash = st.Text(13);
  return r;
}

void BindAudit(Stmt& st, const AuditRow& row) {
  st.Bind(1, static_cast<int64_t>(row.seq));
  st.Bind(2, row.at_ns);
  st.Bind(3, row.who);
  st.Bind(4, row.token_id);
  st.Bind(5, row.tenant);
  st.Bind(6, row.action);
  st.Bind(7, row.query);
  st.Bind(8, row.from_ns);
  st.Bind(9, row.to_ns);
  st.Bind(10, row.rows);
  st.Bind(11, row.address);
  st.Bind(12, static_cast<int64_t>(row.status));
  st.Bind(13, row.prev_hash);
  st.Bind(14, row.hash);
}

}  // namespace

Status SqliteCatalog::InsertToken(const TokenRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kTokens}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, std::string("INSERT INTO api_tokens (") + kTokenColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare token insert"));
  st.Bind(1, row.id);
  st.Bind(2, row.name);
  st.Bind(3, JoinTenants(row.tenants));
  st.Bind(4, row.role);
  st.Bind(5, row.secret_hash);
  st.Bind(6, row.created_ns);
  st.Bind(7, row.expires_ns);
  st.Bind(8, row.revoked_ns);
  st.Bind(9, row.created_by);
  if (int rc = st.Step(); rc != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_CONSTRAINT) {
      return RollbackLocked(
          Status::AlreadyExists("catalog " + path_ + ": token id " + row.id + " exists"));
    }
    return RollbackLocked(Error("insert token"));
  }
  return CommitLocked();
}

Result<std::vector<TokenRow>> SqliteCatalog::ListTokens() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kTokens));
  if (!present) return std::vector<TokenRow>{};  // the group was never written
  Stmt st(db_, std::string("SELECT ") + kTokenColumns + " FROM api_tokens ORDER BY created_ns, id");
  if (!st.ok()) return Error("prepare token list");
  std::vector<TokenRow> rows;
  if (!ReadAll(st, &rows, ReadToken)) return Error("list tokens");
  return rows;
}

Status SqliteCatalog::RevokeToken(std::string_view id, int64_t now_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kTokens}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "UPDATE api_tokens SET revoked_ns = ? WHERE id = ? AND revoked_ns = 0");
  if (!st.ok()) return RollbackLocked(Error("prepare token revoke"));
  st.Bind(1, now_ns);
  st.Bind(2, id);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("revoke token"));
  if (sqlite3_changes(db_) == 0) {
    Stmt find(db_, "SELECT 1 FROM api_tokens WHERE id = ?");
    if (!find.ok()) return RollbackLocked(Error("prepare token lookup"));
    find.Bind(1, id);
    if (find.Step() != SQLITE_ROW) {
      return RollbackLocked(Status::NotFound("no token with id " + std::string(id)));
    }
  }
  return CommitLocked();
}

Status SqliteCatalog::AppendAudit(const AuditRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAudit}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, std::string("INSERT INTO audit_log (") + kAuditColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare audit insert"));
  BindAudit(st, row);
  if (st.Step() != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_CONSTRAINT) {
      return RollbackLocked(Status::AlreadyExists("catalog " + path_ + ": audit entry " +
                                                  std::to_string(row.seq) + " exists"));
    }
    return RollbackLocked(Error("insert audit entry"));
  }
  return CommitLocked();
}

Result<AuditRow> SqliteCatalog::AppendAuditChained(
    AuditRow row, uint64_t min_seq, const std::function<std::string(const AuditRow&)>& hash) {
  MutexLock l(&mu_);
  // Every audited request waits for its entry, so the entry is committed without waiting for the
  // disk: synchronous=NORMAL for this one transaction (SQLite refuses to change it inside one)
  // and no checkpoint. It is in the WAL file when this returns, so it survives the process being
  // killed; an OS crash or power loss before the next durable commit (a flush's registration,
  // which syncs the WAL and everything before it, or SQLite's auto-checkpoint) can lose the
  // newest entries, never break the chain (docs/security.md "Audit log"). Every other commit of
  // the catalog stays synchronous=FULL: the setting is put back before the lock is released.
  RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  Result<AuditRow> appended = AppendAuditChainedLocked(std::move(row), min_seq, hash);
  if (Status s = Exec("PRAGMA synchronous=FULL"); !s.ok()) {
    // Not expected outside a transaction; every later commit would be unsynced, so the append
    // says so instead of passing as an ordinary success (the entry itself may be stored).
    return s.WithContext("restoring synchronous=FULL after an audit append");
  }
  return appended;
}

Result<AuditRow> SqliteCatalog::AppendAuditChainedLocked(
    AuditRow row, uint64_t min_seq, const std::function<std::string(const AuditRow&)>& hash) {
  // Under synchronous=NORMAL like the entry: the first append's tables wait for no disk either.
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAudit}));
  // BEGIN IMMEDIATE takes the database's write lock: every other connection (another process
  // sharing the file) appends before or after this one, never in between the read and insert.
  // Every audited request comes here: its statements are kept prepared (stmts_), all but the
  // caller's two PRAGMAs, which take effect when prepared.
  RETURN_IF_ERROR(ExecCached("BEGIN IMMEDIATE"));
  {
    Stmt st(stmts_.get(), db_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    if (!st.ok()) return RollbackLocked(Error("prepare read of the audit chain's head"));
    int rc = st.Step();
    if (rc == SQLITE_ROW) {
      row.seq = static_cast<uint64_t>(st.Int(0)) + 1;
      row.prev_hash = st.Text(1);
    } else if (rc != SQLITE_DONE) {
      return RollbackLocked(Error("read the audit chain's head"));
    } else {
      // Inside the write lock: no other connection creates the anchor's table meanwhile.
      Result<bool> anchored = HasTablesLocked(Tables::kAuditAnchor);
      if (!anchored.ok()) return RollbackLocked(anchored.status());
      Stmt anchor(stmts_.get(), db_,
                  *anchored ? "SELECT seq, hash FROM audit_anchor WHERE id = 1"
                            : "SELECT 0, '' WHERE 0");  // never pruned: no anchor
      if (!anchor.ok()) return RollbackLocked(Error("prepare audit anchor"));
      rc = anchor.Step();
      if (rc == SQLITE_ROW) {
        row.seq = static_cast<uint64_t>(anchor.Int(0)) + 1;
        row.prev_hash = anchor.Text(1);
      } else if (rc == SQLITE_DONE) {
        row.seq = 1;
        row.prev_hash.clear();
      } else {
        return RollbackLocked(Error("read audit anchor"));
      }
    }
  }
  row.seq = std::max(row.seq, min_seq);
  row.hash = hash(row);
  Stmt st(stmts_.get(), db_,
          std::string("INSERT INTO audit_log (") + kAuditColumns +
              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare audit insert"));
  BindAudit(st, row);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("insert audit entry"));
  RETURN_IF_ERROR(CommitLocked(Sync::kUnsynced));
  return row;
}

Result<std::vector<AuditRow>> SqliteCatalog::ListAudit(const AuditFilter& filter) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAudit));
  if (!present) return std::vector<AuditRow>{};  // the group was never written
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE seq > ?1";
  if (filter.since_ns != 0) sql += " AND at_ns >= ?2";
  if (filter.until_ns != 0) sql += " AND at_ns < ?3";
  if (filter.tenant) sql += " AND tenant = ?4";
  if (filter.who) sql += " AND who = ?5";
  if (filter.action) sql += " AND action = ?6";
  sql += " ORDER BY seq LIMIT ?7";
  Stmt st(db_, sql);
  if (!st.ok()) return Error("prepare audit list");
  st.Bind(1, static_cast<int64_t>(std::min<uint64_t>(filter.after_seq, INT64_MAX)));
  if (filter.since_ns != 0) st.Bind(2, filter.since_ns);
  if (filter.until_ns != 0) st.Bind(3, filter.until_ns);
  if (filter.tenant) st.Bind(4, *filter.tenant);
  if (filter.who) st.Bind(5, *filter.who);
  if (filter.action) st.Bind(6, *filter.action);
  st.Bind(7, static_cast<int64_t>(std::min<uint64_t>(filter.limit, INT64_MAX)));
  std::vector<AuditRow> rows;
  if (!ReadAll(st, &rows, ReadAudit)) return Error("list audit entries");
  return rows;
}

Result<std::optional<AuditRow>> SqliteCatalog::LastAudit() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAudit));
  if (!present) return std::optional<AuditRow>{};  // the group was never written
  Stmt st(db_,
          std::string("SELECT ") + kAuditColumns + " FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!st.ok()) return Error("prepare last audit entry");
  int rc = st.Step();
  if (rc == SQLITE_ROW) return std::optional<AuditRow>(ReadAudit(st));
  if (rc != SQLITE_DONE) return Error("read last audit entry");
  return std::optional<AuditRow>();
}

Result<uint64_t> SqliteCatalog::PruneAudit(int64_t before_ns) {
  MutexLock l(&mu_);
  // Nothing older than "before_ns" (the server prunes at start, a single server's audit mostly
  // holds nothing that old): no anchor to write, so its table is not created.
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAudit));
  if (!present) return uint64_t{0};  // the group was never written
  {
    Stmt st(db_, "SELECT 1 FROM audit_log WHERE at_ns < ? LIMIT 1");
    if (!st.ok()) return Error("prepare audit prune");
    st.Bind(1, before_ns);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return uint64_t{0};
    if (rc != SQLITE_ROW) return Error("find audit prune point");
  }
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAudit, Tables::kAuditAnchor}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // Only a prefix of the chain goes: everything up to the last entry older than "before_ns".
  int64_t last = 0;
  std::string hash;
  {
    Stmt st(db_,
            "SELECT seq, hash FROM audit_log WHERE seq <= (SELECT MAX(seq) FROM audit_log "
            "WHERE at_ns < ?) ORDER BY seq DESC LIMIT 1");
    if (!st.ok()) return RollbackLocked(Error("prepare audit prune"));
    st.Bind(1, before_ns);
    int rc = st.Step();
    if (rc == SQLITE_DONE) {
      RETURN_IF_ERROR(Exec("ROLLBACK"));
      return uint64_t{0};
    }
    if (rc != SQLITE_ROW) return RollbackLocked(Error("find audit prune point"));
    last = st.Int(0);
    hash = st.Text(1);
  }
  uint64_t deleted = 0;
  {
    Stmt st(db_, "DELETE FROM audit_log WHERE seq <= ?");
    if (!st.ok()) return RollbackLocked(Error("prepare audit delete"));
    st.Bind(1, last);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("delete audit entries"));
    deleted = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  {
    Stmt st(db_, "INSERT OR REPLACE INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare audit anchor"));
    st.Bind(1, last);
    st.Bind(2, hash);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("write audit anchor"));
  }
  RETURN_IF_ERROR(CommitLocked());
  return deleted;
}

Result<AuditAnchor> SqliteCatalog::GetAuditAnchor() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAuditAnchor));
  if (!present) return AuditAnchor{};  // the audit was never pruned
  Stmt st(db_, "SELECT seq, hash FROM audit_anchor WHERE id = 1");
  if (!st.ok()) return Error("prepare audit anchor");
  AuditAnchor anchor;
  int rc = st.Step();
  if (rc == SQLITE_ROW) {
    anchor.seq = static_cast<uint64_t>(st.Int(0));
    anchor.hash = st.Text(1);
  } else if (rc != SQLITE_DONE) {
    return Error("read audit anchor");
  }
  return anchor;
}

Status SqliteCatalog::PutTenantQuota(const TenantQuotaRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kQuotas}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, row.settings.empty()
                   ? "DELETE FROM tenant_quotas WHERE tenant = ?"
                   : "INSERT OR REPLACE INTO tenant_quotas (tenant, settings, updated_ns, "
                     "updated_by) VALUES (?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare tenant quota update"));
  st.Bind(1, row.tenant);
  if (!row.settings.empty()) {
    st.Bind(2, row.settings);
    st.Bind(3, row.updated_ns);
    st.Bind(4, row.updated_by);
  }
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("store tenant quota"));
  return CommitLocked();
}

Result<std::vector<TenantQuotaRow>> SqliteCatalog::ListTenantQuotas() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kQuotas));
  if (!present) return std::vector<TenantQuotaRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT tenant, settings, updated_ns, updated_by FROM tenant_quotas ORDER BY tenant");
  if (!st.ok()) return Error("prepare tenant quota list");
  std::vector<TenantQuotaRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        return TenantQuotaRow{st.Text(0), st.Text(1), st.Int(2), st.Text(3)};
      })) {
    return Error("list tenant quotas");
  }
  return rows;
}

Status SqliteCatalog::PutScanUsage(const std::vector<ScanUsageRow>& rows, int64_t before_minute) {
  MutexLock l(&mu_);
  if (rows.empty()) {  // only pruning (each server's periodic call): nothing to prune yet
    ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kQuotas));
    if (!present) return Status::OK();
  }
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kQuotas}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  {
    Stmt st(db_,
            "INSERT OR REPLACE INTO tenant_scan_usage (tenant, minute, bytes) VALUES (?, ?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare scan usage update"));
    for (const ScanUsageRow& row : rows) {
      sqlite3_reset(st.get());
      st.Bind(1, row.tenant);
      st.Bind(2, row.minute);
      st.Bind(3, static_cast<int64_t>(row.bytes));
      if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("store scan usage"));
    }
  }
  Stmt old(db_, "DELETE FROM tenant_scan_usage WHERE minute < ?");
  if (!old.ok()) return RollbackLocked(Error("prepare scan usage pruning"));
  old.Bind(1, before_minute);
  if (old.Step() != SQLITE_DONE) return RollbackLocked(Error("prune scan usage"));
  return CommitLocked();
}

Result<std::vector<ScanUsageRow>> SqliteCatalog::ListScanUsage(int64_t since_minute) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kQuotas));
  if (!present) return std::vector<ScanUsageRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT tenant, minute, bytes FROM tenant_scan_usage WHERE minute >= ? ORDER BY tenant, "
          "minute");
  if (!st.ok()) return Error("prepare scan usage list");
  st.Bind(1, since_minute);
  std::vector<ScanUsageRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        return ScanUsageRow{st.Text(0), st.Int(1), static_cast<uint64_t>(st.Int(2))};
      })) {
    return Error("list scan usage");
  }
  return rows;
}

}  // namespace sawmill::catalog
