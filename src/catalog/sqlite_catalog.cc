#include "catalog/sqlite_catalog.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "catalog/shared_rows.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

// The schemas of the table groups created on first use (see "Table groups" below), each beside
// the code that uses it.
extern const char* const kTokenSchema;        // sqlite_auth.cc
extern const char* const kAuditSchema;        // sqlite_auth.cc
extern const char* const kQuotaSchema;        // sqlite_auth.cc
extern const char* const kAuditAnchorSchema;  // sqlite_auth.cc
extern const char* const kNodeSchema;         // sqlite_nodes.cc
extern const char* const kNodeFencesSchema;   // sqlite_nodes.cc
extern const char* const kLeaseSchema;        // sqlite_nodes.cc
extern const char* const kWalObjectSchema;    // sqlite_wal_objects.cc
extern const char* const kClaimSchema;        // sqlite_idempotency.cc
extern const char* const kRetentionSchema;    // sqlite_retention.cc: holds, policies, the record
extern const char* const kDamageSchema;       // sqlite_damage.cc
extern const char* const kAlertSchema;        // sqlite_alerts.cc

namespace {

// meta is WITHOUT ROWID (one B-tree, not a table and its key's index; as the nodes' tables in
// sqlite_nodes.cc): a catalog created before keeps its rowid table, and the statements are the
// same on both.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS segments (
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
CREATE INDEX IF NOT EXISTS segments_by_tenant ON segments (tenant, partition, max_ingest_ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', 2);
)sql";

// Schema 1 -> 2: where each segment's bytes are. Every segment of a schema 1 catalog is in the
// data directory, the local store. (A column added with a default: an older build that opens
// the catalog again ignores it, and its inserts get the default.)
constexpr const char* kAddStoreColumn =
    "ALTER TABLE segments ADD COLUMN store TEXT NOT NULL DEFAULT 'local'";

// Recent Idempotency-Keys (docs/api.md). Separate from the segments: nothing here is needed to
// read data, and an older server ignores the table.
constexpr const char* kIdempotencySchema = R"sql(
CREATE TABLE IF NOT EXISTS idempotency_keys (
  tenant TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash INTEGER NOT NULL,
  answer BLOB NOT NULL,
  first_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_ns);
)sql";

// Segment changes (catalog.h "Segment changes"): every insert, update and delete of a segment row
// is numbered by a trigger, whatever call made it (AUTOINCREMENT: numbers are never reused, and
// SQLite's single writer commits them in order); segment_origins names the node that flushed a
// segment registered with RegisterSegment; swept_objects holds the objects the segment sweep
// deletes, which no registration may name (SweepSegmentObjects). Additive: an older build ignores
// the tables and its changes are still numbered by the triggers.
constexpr const char* kSegmentChangeSchema = R"sql(
CREATE TABLE IF NOT EXISTS segment_changes (
  change_id INTEGER PRIMARY KEY AUTOINCREMENT,
  segment_id INTEGER NOT NULL,
  removed INTEGER NOT NULL,
  at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_origins (
  segment_id INTEGER PRIMARY KEY,
  node TEXT NOT NULL,
  registered INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS segment_added AFTER INSERT ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (NEW.id, 0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
END;
CREATE TRIGGER IF NOT EXISTS segment_rewritten AFTER UPDATE ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (NEW.id, 0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
END;
CREATE TRIGGER IF NOT EXISTS segment_removed AFTER DELETE ON segments BEGIN
  INSERT INTO segment_changes (segment_id, removed, at_ns)
  VALUES (OLD.id, 1, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) * 1000000);
  DELETE FROM segment_origins WHERE segment_id = OLD.id;
END;
)sql";

// The objects the segment sweep deleted (a table group of its own: created by the first sweep).
constexpr const char* kSweptSchema = R"sql(
CREATE TABLE IF NOT EXISTS swept_objects (
  store TEXT NOT NULL,
  path TEXT NOT NULL,
  swept_ns INTEGER NOT NULL,
  PRIMARY KEY (store, path)
);
)sql";

// Table groups (sqlite_catalog.h, Tables). Every table and index is at least one page of the
// file, used or not: created all at once, the 50 of them made an empty catalog.db 68 KiB, more
// than the segments of a small data set. So a new catalog holds the segments' tables and meta,
// and each group below is created by the first write that needs it; a catalog of an earlier
// version, which has them all, is unchanged. "probe" is a table every version that created the
// group has, so its presence says the group was created (a savepoint makes creation whole).
struct TableGroup {
  const char* probe;
  const char* const* schema;
};

// In the order of SqliteCatalog::Tables.
constexpr TableGroup kGroups[] = {
    {"idempotency_keys", &kIdempotencySchema},
    {"swept_objects", &kSweptSchema},
    {"api_tokens", &kTokenSchema},
    {"audit_log", &kAuditSchema},
    {"tenant_quotas", &kQuotaSchema},
    {"nodes", &kNodeSchema},
    {"leases", &kLeaseSchema},
    {"wal_objects", &kWalObjectSchema},
    {"idempotency_claims", &kClaimSchema},
    {"holds", &kRetentionSchema},
    {"wal_damage", &kDamageSchema},
    {"alert_states", &kAlertSchema},
    {"audit_anchor", &kAuditAnchorSchema},
    {"node_fences", &kNodeFencesSchema},
};

// "sql" as SQLite is given it: comments out, each run of white space one space, none after "("
// or "," or before ")". SQLite keeps each CREATE statement's text in the schema table, which a
// new catalog's small pages hold: the indentation and line breaks were 2 of its 25 pages
// (docs/storage.md "Catalog durability"). Quoted text is kept as it is.
std::string CompactSql(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool space = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const size_t end = sql.find(c, i + 1);
      const size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      if (space && !out.empty() && out.back() != '(' && out.back() != ',') out += ' ';
      space = false;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end - 1;
      space = true;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
    } else {
      if (space && !out.empty() && c != ')' && out.back() != '(' && out.back() != ',') {
        out += ' ';
      }
      space = false;
      out += c;
    }
  }
  return out;
}

constexpr const char* kColumns =
    "id, tenant, partition, min_ts, max_ts, min_ingest_ts, max_ingest_ts, min_seq, max_seq, "
    "rows, bytes, raw_bytes, tier, path, state, created, store";

SegmentRow ReadRow(Stmt& st) {
  SegmentRow r;
  r.id = static_cast<uint64_t>(st.Int(0));
  r.tenant = st.Text(1);
  r.partition = static_cast<uint32_t>(st.Int(2));
  r.min_ts = st.Int(3);
  r.max_ts = st.Int(4);
  r.min_ingest_ts = st.Int(5);
  r.max_ingest_ts = st.Int(6);
  r.min_seq = static_cast<uint64_t>(st.Int(7));
  r.max_seq = static_cast<uint64_t>(st.Int(8));
  r.rows = static_cast<uint64_t>(st.Int(9));
  r.bytes = static_cast<uint64_t>(st.Int(10));
  r.raw_bytes = static_cast<uint64_t>(st.Int(11));
  r.tier = st.Text(12);
  r.path = st.Text(13);
  r.state = st.Text(14);
  r.created_ns = st.Int(15);
  r.store = st.Text(16);
  return r;
}

// Binds ?1..?17 to a segment row, in the column order of INSERT and UPDATE (kColumns).
void BindSegmentRow(Stmt* st, const SegmentRow& row) {
  st->Bind(1, static_cast<int64_t>(row.id));
  st->Bind(2, row.tenant);
  st->Bind(3, static_cast<int64_t>(row.partition));
  st->Bind(4, row.min_ts);
  st->Bind(5, row.max_ts);
  st->Bind(6, row.min_ingest_ts);
  st->Bind(7, row.max_ingest_ts);
  st->Bind(8, static_cast<int64_t>(row.min_seq));
  st->Bind(9, static_cast<int64_t>(row.max_seq));
  st->Bind(10, static_cast<int64_t>(row.rows));
  st->Bind(11, static_cast<int64_t>(row.bytes));
  st->Bind(12, static_cast<int64_t>(row.raw_bytes));
  st->Bind(13, row.tier);
  st->Bind(14, row.path);
  st->Bind(15, row.state);
  st->Bind(16, row.created_ns);
  st->Bind(17, row.store);
}

// The SQLite error "rc" as a Status: Unavailable when another connection holds a lock (retry),
// DataLoss when the file is damaged or not a database, IOError otherwise.
Status SqliteStatus(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::DataLoss(std::move(message));
    default: return Status::IOError(std::move(message));
  }
}
}  // namespace

Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path,
                                                   const SqliteCatalogOptions& options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::IOError("catalog " + path + ": cannot open: " + msg);
  }
  std::unique_ptr<SqliteCatalog> catalog(new SqliteCatalog(db, path, options.shared));
  MutexLock l(&catalog->mu_);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // WAL mode: readers never block the writer; synchronous=FULL: a commit is durable on return.
  // Exclusive locking (unless shared): the server is the catalog's only user (DIR/LOCK already
  // keeps a second process out), so SQLite keeps the WAL index in memory and writes no -shm file.
  if (!options.shared) RETURN_IF_ERROR(catalog->Exec("PRAGMA locking_mode=EXCLUSIVE"));
  // Rows are small and few (one per segment), and every table and index takes a page at least:
  // SQLite's smallest pages (512 bytes) keep the catalog of a single server (its segments'
  // tables, its node's, the audit's: 15 B-trees and the schema) at 12 KiB where 1 KiB pages made
  // it 19 KiB, in every data directory. A catalog of 10,000 segments is 13 % larger (2.25 MB),
  // and opening and listing it 10-30 % slower (about 45 ms; docs/performance.md "Session 16:
  // disk"). Takes effect only when the database is created: a catalog keeps its page size.
  RETURN_IF_ERROR(catalog->Exec("PRAGMA page_size=512"));
  {
    Stmt st(db, "PRAGMA journal_mode=WAL");
    const bool in_memory = path == ":memory:";
    if (!st.ok() || st.Step() != SQLITE_ROW || st.Text(0) != (in_memory ? "memory" : "wal")) {
      return catalog->Error("cannot switch to WAL journal mode");
    }
  }
  RETURN_IF_ERROR(catalog->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(catalog->Exec(CompactSql(kSchema).c_str()));
  RETURN_IF_ERROR(catalog->Exec(CompactSql(kSegmentChangeSchema).c_str()));
  RETURN_IF_ERROR(catalog->CompleteTableGroupsLocked());
  RETURN_IF_ERROR(catalog->MigrateLocked());
  {
    Stmt st(db, "PRAGMA quick_check");
    if (!st.ok() || st.Step() != SQLITE_ROW || st.Text(0) != "ok") {
      return Status::DataLoss("catalog " + path + ": integrity check failed: " +
                              (st.ok() ? st.Text(0) : std::string(sqlite3_errmsg(db))));
    }
  }
  return std::unique_ptr<Catalog>(std::move(catalog));
}

SqliteCatalog::SqliteCatalog(sqlite3* db, std::string path, bool shared)
    : db_(db), stmts_(std::make_unique<StmtCache>()), path_(std::move(path)), shared_(shared) {}

SqliteCatalog::~SqliteCatalog() {
  MutexLock l(&mu_);
  stmts_->Finalize();  // sqlite3_close refuses a connection with statements left
  sqlite3_close(db_);
}

Status SqliteCatalog::Error(std::string_view what) const {
  return SqliteStatus(sqlite3_extended_errcode(db_),
                      "catalog " + path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status SqliteCatalog::Exec(const char* sql) const {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return SqliteStatus(rc, "catalog " + path_ + ": " + msg);
  }
  return Status::OK();
}

Status SqliteCatalog::ExecCached(const char* sql) const {
  Stmt st(stmts_.get(), db_, sql);
  if (!st.ok() || st.Step() != SQLITE_DONE) return Error(sql);
  return Status::OK();
}

Status SqliteCatalog::MigrateLocked() {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  int64_t version = 1;
  {
    Stmt st(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (!st.ok()) return RollbackLocked(Error("read schema version"));
    int rc = st.Step();
    if (rc == SQLITE_ROW) version = st.Int(0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return RollbackLocked(Error("read schema version"));
  }
  if (version > kSqliteSchemaVersion) {
    return RollbackLocked(Status::FailedPrecondition(
        "catalog " + path_ + " has schema version " + std::to_string(version) +
        ", written by a newer build; this build reads versions up to " +
        std::to_string(kSqliteSchemaVersion)));
  }
  if (version == kSqliteSchemaVersion) return Exec("ROLLBACK");  // nothing to change
  bool has_store = false;
  {
    Stmt st(db_, "SELECT 1 FROM pragma_table_info('segments') WHERE name = 'store'");
    if (!st.ok()) return RollbackLocked(Error("read the segments table's columns"));
    int rc = st.Step();
    has_store = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return RollbackLocked(Error("read the segments columns"));
  }
  if (!has_store) {
    Status s = Exec(kAddStoreColumn);
    if (!s.ok()) return RollbackLocked(s);
  }
  {
    Stmt st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare schema version"));
    st.Bind(1, int64_t{kSqliteSchemaVersion});
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("write schema version"));
  }
  RETURN_IF_ERROR(Exec("COMMIT"));
  spdlog::info("catalog {}: schema version {} migrated to {} (segments are in the local store)",
               path_, version, kSqliteSchemaVersion);
  return Status::OK();
}

Status SqliteCatalog::CreateTablesLocked(std::initializer_list<Tables> groups) {
  for (Tables group : groups) {
    const size_t i = static_cast<size_t>(group);
    if (has_tables_[i]) continue;
    // Before the caller's BEGIN (has_tables_ must not outlive a rollback of the caller's
    // transaction): a transaction of its own, so the group is created whole or not at all.
    RETURN_IF_ERROR(Exec("SAVEPOINT create_tables"));
    if (Status s = Exec(CompactSql(*kGroups[i].schema).c_str()); !s.ok()) {
      Exec("ROLLBACK TO create_tables").IgnoreError();
      Exec("RELEASE create_tables").IgnoreError();
      return s;
    }
    RETURN_IF_ERROR(Exec("RELEASE create_tables"));
    has_tables_[i] = true;
  }
  return Status::OK();
}

Result<bool> SqliteCatalog::HasTablesLocked(Tables group) const {
  if (has_tables_[static_cast<size_t>(group)]) return true;
  Stmt st(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (!st.ok()) return Error("prepare table lookup");
  st.Bind(1, std::string_view(kGroups[static_cast<size_t>(group)].probe));
  const int rc = st.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("look up table group");
  return rc == SQLITE_ROW;
}

Status SqliteCatalog::CompleteTableGroupsLocked() {
  static_assert(std::size(kGroups) == kTableGroups, "a group without its schema");
  for (size_t i = 0; i < kTableGroups; ++i) {
    const auto group = static_cast<Tables>(i);
    ASSIGN_OR_RETURN(bool present, HasTablesLocked(group));
    if (present) RETURN_IF_ERROR(CreateTablesLocked({group}));
  }
  return Status::OK();
}

void SqliteCatalog::SetCommitHook(std::function<Status()> hook) {
  MutexLock l(&mu_);
  commit_hook_ = std::move(hook);
}

Status SqliteCatalog::RollbackLocked(Status s) const {
  Exec("ROLLBACK").IgnoreError();
  return s;
}

Status SqliteCatalog::CommitLocked(Sync sync) {
  if (commit_hook_) {
    Status s = commit_hook_();
    if (!s.ok()) {
      return RollbackLocked(std::move(s));
    }
  }
  Status s = ExecCached("COMMIT");
  if (!s.ok()) {
    return RollbackLocked(std::move(s));
  }
  if (sync == Sync::kUnsynced) return s;
  // Catalog commits are rare (a flush or a compaction), so fold the SQLite WAL back into the
  // database each time: the -wal file stays empty instead of growing to the auto-checkpoint
  // size, which for a small data directory was larger than its segments. Best effort: the
  // commit above is already durable. A shared catalog does not wait for other connections'
  // readers (PASSIVE); SQLite's auto-checkpoint bounds its -wal file.
  sqlite3_wal_checkpoint_v2(db_, nullptr,
                            shared_ ? SQLITE_CHECKPOINT_PASSIVE : SQLITE_CHECKPOINT_TRUNCATE,
                            nullptr, nullptr);
  return s;
}

Status SqliteCatalog::RaiseMaxIdLocked(uint64_t id) {
  Stmt meta(db_,
            "INSERT INTO meta (key, value) VALUES ('max_id', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)");
  if (!meta.ok()) return Error("prepare max_id");
  meta.Bind(1, static_cast<int64_t>(id));
  if (meta.Step() != SQLITE_DONE) return Error("update max_id");
  return Status::OK();
}

// A swept object is never named again: the sweep deleted it, or is about to.
Status SqliteCatalog::CheckNotSweptLocked(const SegmentRow& row) {
  ASSIGN_OR_RETURN(bool swept_any, HasTablesLocked(Tables::kSwept));
  if (!swept_any) return Status::OK();  // nothing was ever swept
  Stmt swept(db_, "SELECT swept_ns FROM swept_objects WHERE store = ? AND path = ?");
  if (!swept.ok()) return Error("prepare swept object check");
  swept.Bind(1, row.store);
  swept.Bind(2, row.path);
  const int rc = swept.Step();
  if (rc == SQLITE_ROW) return SweptObject(row, "catalog " + path_);
  if (rc != SQLITE_DONE) return Error("swept object check");
  return Status::OK();
}

Status SqliteCatalog::InsertLocked(const SegmentRow& row) {
  RETURN_IF_ERROR(CheckNotSweptLocked(row));
  Stmt st(db_,
          "INSERT INTO segments (id, tenant, partition, min_ts, max_ts, min_ingest_ts, "
          "max_ingest_ts, min_seq, max_seq, rows, bytes, raw_bytes, tier, path, state, created, "
          "store) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return Error("prepare insert");
  BindSegmentRow(&st, row);
  int rc = st.Step();
  if (rc == SQLITE_CONSTRAINT) {
    return Status::AlreadyExists("catalog: segment " + std::to_string(row.id) +
                                 " is already registered");
  }
  if (rc != SQLITE_DONE) return Error("insert segment " + std::to_string(row.id));
  return RaiseMaxIdLocked(row.id);
}

Status SqliteCatalog::Replace(const std::vector<uint64_t>& removed,
                              const std::vector<SegmentRow>& added, const LeaseFence* fence) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (fence != nullptr) {
    if (Status s = CheckLeaseFenceLocked(*fence); !s.ok()) return RollbackLocked(std::move(s));
  }
  for (uint64_t id : removed) {
    Stmt st(db_, "DELETE FROM segments WHERE id = ?");
    if (!st.ok()) {
      return RollbackLocked(Error("prepare delete"));
    }
    st.Bind(1, static_cast<int64_t>(id));
    if (st.Step() != SQLITE_DONE) {
      return RollbackLocked(Error("delete segment " + std::to_string(id)));
    }
    if (sqlite3_changes(db_) != 1) {
      return RollbackLocked(
          Status::NotFound("catalog: segment " + std::to_string(id) + " is not registered"));
    }
  }
  for (const SegmentRow& row : added) {
    Status s = InsertLocked(row);
    if (!s.ok()) {
      return RollbackLocked(std::move(s));
    }
  }
  return CommitLocked();
}

Result<std::vector<std::string>> SqliteCatalog::SweepSegmentObjects(
    std::string_view store, const std::vector<std::string>& paths, int64_t now_ns, int64_t keep_ns,
    const LeaseFence* fence) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kSwept}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (fence != nullptr) {
    if (Status s = CheckLeaseFenceLocked(*fence); !s.ok()) return RollbackLocked(std::move(s));
  }
  {
    Stmt prune(db_, "DELETE FROM swept_objects WHERE swept_ns < ?");
    if (!prune.ok()) return RollbackLocked(Error("prepare swept object prune"));
    prune.Bind(1, now_ns - keep_ns);
    if (prune.Step() != SQLITE_DONE) return RollbackLocked(Error("prune swept objects"));
  }
  std::vector<std::string> swept;
  for (const std::string& path : paths) {
    Stmt st(db_,
            "INSERT INTO swept_objects (store, path, swept_ns) SELECT ?1, ?2, ?3 WHERE NOT "
            "EXISTS (SELECT 1 FROM segments WHERE store = ?1 AND path = ?2) ON CONFLICT (store, "
            "path) DO UPDATE SET swept_ns = excluded.swept_ns");
    if (!st.ok()) return RollbackLocked(Error("prepare swept object"));
    st.Bind(1, store);
    st.Bind(2, path);
    st.Bind(3, now_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("record swept object " + path));
    if (sqlite3_changes(db_) == 1) swept.push_back(path);
  }
  RETURN_IF_ERROR(CommitLocked());
  return swept;
}

Status SqliteCatalog::SetState(uint64_t id, std::string_view state) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "UPDATE segments SET state = ? WHERE id = ?");
  if (!st.ok()) {
    return RollbackLocked(Error("prepare update"));
  }
  st.Bind(1, state);
  st.Bind(2, static_cast<int64_t>(id));
  if (st.Step() != SQLITE_DONE) {
    return RollbackLocked(Error("update segment " + std::to_string(id)));
  }
  if (sqlite3_changes(db_) != 1) {
    return RollbackLocked(
        Status::NotFound("catalog: segment " + std::to_string(id) + " is not registered"));
  }
  return CommitLocked();
}

Status SqliteCatalog::Update(const std::vector<SegmentRow>& rows, const LeaseFence* fence) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (fence != nullptr) {
    if (Status s = CheckLeaseFenceLocked(*fence); !s.ok()) return RollbackLocked(std::move(s));
  }
  for (const SegmentRow& row : rows) {
    // An update may name a new object (a cold move's copy): never one the sweep recorded.
    if (Status s = CheckNotSweptLocked(row); !s.ok()) return RollbackLocked(std::move(s));
    Stmt st(db_,
            "UPDATE segments SET tenant = ?2, partition = ?3, min_ts = ?4, max_ts = ?5, "
            "min_ingest_ts = ?6, max_ingest_ts = ?7, min_seq = ?8, max_seq = ?9, rows = ?10, "
            "bytes = ?11, raw_bytes = ?12, tier = ?13, path = ?14, state = ?15, created = ?16, "
            "store = ?17 WHERE id = ?1");
    if (!st.ok()) {
      return RollbackLocked(Error("prepare update"));
    }
    BindSegmentRow(&st, row);
    if (st.Step() != SQLITE_DONE) {
      return RollbackLocked(Error("update segment " + std::to_string(row.id)));
    }
    if (sqlite3_changes(db_) != 1) {
      return RollbackLocked(
          Status::NotFound("catalog: segment " + std::to_string(row.id) + " is not registered"));
    }
  }
  return CommitLocked();
}

Result<uint64_t> SqliteCatalog::AllocateSegmentId() {
  MutexLock l(&mu_);
  // BEGIN IMMEDIATE takes the database's write lock before reading: two connections (or
  // processes) on one file allocate one after the other, each above what the other committed.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // "max_id" is the highest id ever stored, reserved or allocated; catalogs from before it was
  // kept for every insert may have rows above it.
  Stmt bump(db_,
            "INSERT INTO meta (key, value) "
            "VALUES ('max_id', coalesce((SELECT max(id) FROM segments), 0) + 1) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value + 1, excluded.value)");
  if (!bump.ok()) return RollbackLocked(Error("prepare segment id allocation"));
  if (bump.Step() != SQLITE_DONE) return RollbackLocked(Error("allocate a segment id"));
  Stmt read(db_, "SELECT value FROM meta WHERE key = 'max_id'");
  if (!read.ok() || read.Step() != SQLITE_ROW)
    return RollbackLocked(Error("read the allocated segment id"));
  const uint64_t id = static_cast<uint64_t>(read.Int(0));
  RETURN_IF_ERROR(CommitLocked());
  return id;
}

Status SqliteCatalog::ReserveIds(uint64_t id) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = RaiseMaxIdLocked(id);
  if (!s.ok()) {
    return RollbackLocked(std::move(s));
  }
  return CommitLocked();
}

Result<std::vector<SegmentRow>> SqliteCatalog::List(const ListFilter& filter) const {
  MutexLock l(&mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM segments WHERE 1=1";
  if (filter.tenant) sql += " AND tenant = ?1";
  if (filter.partition) sql += " AND partition = ?2";
  if (!filter.states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < filter.states.size(); ++i) {
      sql += (i ? ",?" : "?") + std::to_string(3 + i);
    }
    sql += ")";
  }
  sql += " ORDER BY id";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return Error("prepare list");
  if (filter.tenant) st.Bind(1, *filter.tenant);
  if (filter.partition) st.Bind(2, static_cast<int64_t>(*filter.partition));
  for (size_t i = 0; i < filter.states.size(); ++i) {
    st.Bind(static_cast<int>(3 + i), filter.states[i]);
  }
  std::vector<SegmentRow> rows;
  if (!ReadAll(st, &rows, ReadRow)) return Error("list segments");
  return rows;
}

Result<std::optional<SegmentRow>> SqliteCatalog::Get(uint64_t id) const {
  MutexLock l(&mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM segments WHERE id = ?";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return Error("prepare get");
  st.Bind(1, static_cast<int64_t>(id));
  int rc = st.Step();
  if (rc == SQLITE_ROW) return std::optional<SegmentRow>(ReadRow(st));
  if (rc != SQLITE_DONE) return Error("get segment");
  return std::optional<SegmentRow>();
}

Result<uint64_t> SqliteCatalog::MaxId() const {
  MutexLock l(&mu_);
  Stmt st(db_,
          "SELECT max(coalesce((SELECT value FROM meta WHERE key='max_id'), 0), "
          "coalesce((SELECT max(id) FROM segments), 0))");
  if (!st.ok() || st.Step() != SQLITE_ROW) return Error("max id");
  return static_cast<uint64_t>(st.Int(0));
}

// ---- Idempotency keys ----

Result<uint64_t> SqliteCatalog::PutIdempotencyKeys(const std::vector<IdempotencyKeyRow>& rows,
                                                   int64_t expire_before_ns, uint64_t max_rows) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kIdempotencyKeys}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  {
    Stmt st(db_,
            "INSERT OR REPLACE INTO idempotency_keys (tenant, key, body_hash, answer, first_seq, "
            "count, created_ns) VALUES (?,?,?,?,?,?,?)");
    if (!st.ok()) return RollbackLocked(Error("prepare insert idempotency key"));
    for (const IdempotencyKeyRow& row : rows) {
      sqlite3_reset(st.get());
      st.Bind(1, row.tenant);
      st.Bind(2, row.key);
      st.Bind(3, static_cast<int64_t>(row.body_hash));
      sqlite3_bind_blob(st.get(), 4, row.answer.data(), static_cast<int>(row.answer.size()),
                        SQLITE_TRANSIENT);
      st.Bind(5, static_cast<int64_t>(row.first_seq));
      st.Bind(6, static_cast<int64_t>(row.count));
      st.Bind(7, row.created_ns);
      if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("insert idempotency key"));
    }
  }
  {
    Stmt st(db_, "DELETE FROM idempotency_keys WHERE created_ns < ?");
    if (!st.ok()) return RollbackLocked(Error("prepare expire idempotency keys"));
    st.Bind(1, expire_before_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("expire idempotency keys"));
  }
  uint64_t evicted = 0;
  {
    Stmt st(db_,
            "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys "
            "ORDER BY created_ns DESC LIMIT -1 OFFSET ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare evict idempotency keys"));
    st.Bind(1, static_cast<int64_t>(std::min<uint64_t>(max_rows, INT64_MAX)));
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("evict idempotency keys"));
    evicted = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  RETURN_IF_ERROR(CommitLocked());
  return evicted;
}

Result<std::vector<IdempotencyKeyRow>> SqliteCatalog::ListIdempotencyKeys(int64_t created_since_ns,
                                                                          uint64_t max_rows) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kIdempotencyKeys));
  if (!present) return std::vector<IdempotencyKeyRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT tenant, key, body_hash, answer, first_seq, count, created_ns FROM ("
          "SELECT * FROM idempotency_keys WHERE created_ns >= ? ORDER BY created_ns DESC "
          "LIMIT ?) ORDER BY created_ns");
  if (!st.ok()) return Error("prepare list idempotency keys");
  st.Bind(1, created_since_ns);
  st.Bind(2, static_cast<int64_t>(std::min<uint64_t>(max_rows, INT64_MAX)));
  std::vector<IdempotencyKeyRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        IdempotencyKeyRow row;
        row.tenant = st.Text(0);
        row.key = st.Text(1);
        row.body_hash = static_cast<uint64_t>(st.Int(2));
        const void* blob = sqlite3_column_blob(st.get(), 3);
        row.answer.assign(static_cast<const char*>(blob),
                          static_cast<size_t>(sqlite3_column_bytes(st.get(), 3)));
        row.first_seq = static_cast<uint64_t>(st.Int(4));
        row.count = static_cast<uint64_t>(st.Int(5));
        row.created_ns = st.Int(6);
        return row;
      })) {
    return Error("list idempotency keys");
  }
  return rows;
}

// ---- Segment changes (catalog.h; docs/cluster.md "Read path") ----

Result<uint64_t> SqliteCatalog::MetaValueLocked(const char* key) const {
  Stmt st(db_, "SELECT value FROM meta WHERE key = ?");
  if (!st.ok()) return Error("prepare meta read");
  st.Bind(1, std::string_view(key));
  const int rc = st.Step();
  if (rc == SQLITE_ROW) return static_cast<uint64_t>(st.Int(0));
  if (rc != SQLITE_DONE) return Error(std::string("read meta ") + key);
  return uint64_t{0};
}

Result<uint64_t> SqliteCatalog::NewestSegmentChangeLocked() const {
  // AUTOINCREMENT keeps the highest number ever used here, also after pruning.
  Stmt st(db_, "SELECT seq FROM sqlite_sequence WHERE name = 'segment_changes'");
  if (!st.ok()) return Error("prepare newest segment change");
  const int rc = st.Step();
  if (rc == SQLITE_ROW) return static_cast<uint64_t>(st.Int(0));
  if (rc != SQLITE_DONE) return Error("read newest segment change");
  return uint64_t{0};
}

Result<uint64_t> SqliteCatalog::RegisterSegment(const SegmentRow& row, std::string_view node,
                                                WalFence* fence) {
  if (fence != nullptr) fence->lost.clear();
  if (node.empty()) {
    return Status::InvalidArgument("catalog " + path_ + ": segment " + std::to_string(row.id) +
                                   " registered for no node");
  }
  MutexLock l(&mu_);
  // The fence reads the nodes and WAL objects, and marks the objects flushed.
  if (fence != nullptr) RETURN_IF_ERROR(CreateTablesLocked({Tables::kNodes, Tables::kWalObjects}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // The fence first: nothing is written (and no number taken) for a fenced node.
  if (fence != nullptr) {
    if (Status s = CheckFenceLocked(row, node, fence); !s.ok()) return RollbackLocked(std::move(s));
  }
  Status s = InsertLocked(row);
  if (!s.ok()) return RollbackLocked(std::move(s));
  auto change = NewestSegmentChangeLocked();  // the insert's, numbered by its trigger
  if (!change.ok()) return RollbackLocked(change.status());
  Stmt st(db_, "INSERT INTO segment_origins (segment_id, node, registered) VALUES (?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare segment origin"));
  st.Bind(1, static_cast<int64_t>(row.id));
  st.Bind(2, node);
  st.Bind(3, static_cast<int64_t>(*change));
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("record segment origin"));
  if (fence != nullptr) {
    for (const std::string& name : fence->mark_flushed) {
      Stmt mark(db_, "UPDATE wal_objects SET state = ? WHERE name = ? AND owner = ?");
      if (!mark.ok()) return RollbackLocked(Error("prepare WAL object update"));
      mark.Bind(1, kWalObjectFlushed);
      mark.Bind(2, name);
      mark.Bind(3, node);
      if (mark.Step() != SQLITE_DONE) return RollbackLocked(Error("mark WAL object " + name));
    }
  }
  RETURN_IF_ERROR(CommitLocked());
  return *change;
}

Result<uint64_t> SqliteCatalog::SegmentRegistration(uint64_t id) {
  // One writer: no registration is in flight while this holds the database.
  MutexLock l(&mu_);
  Stmt st(db_,
          "SELECT COALESCE((SELECT registered FROM segment_origins WHERE segment_id = ?1), "
          "(SELECT min(change_id) FROM segment_changes WHERE segment_id = ?1 AND removed = 0), "
          "CASE WHEN EXISTS (SELECT 1 FROM segments WHERE id = ?1) THEN -1 ELSE 0 END)");
  if (!st.ok()) return Error("prepare segment registration");
  st.Bind(1, static_cast<int64_t>(id));
  if (st.Step() != SQLITE_ROW)
    return Error("read the registration of segment " + std::to_string(id));
  const int64_t change = st.Int(0);
  // Registered, its change pruned: the newest change is at or above it.
  if (change < 0) return NewestSegmentChangeLocked();
  return static_cast<uint64_t>(change);
}

Result<SegmentChanges> SqliteCatalog::ListSegmentChanges(uint64_t after, size_t limit) const {
  MutexLock l(&mu_);
  // One read transaction: the numbers and the rows are of one state.
  RETURN_IF_ERROR(Exec("BEGIN"));
  auto finish = [&](Result<SegmentChanges> r) -> Result<SegmentChanges> {
    if (!r.ok()) return RollbackLocked(r.status());
    RETURN_IF_ERROR(Exec("COMMIT"));
    return r;
  };
  auto newest = NewestSegmentChangeLocked();
  if (!newest.ok()) return finish(newest.status());
  auto pruned = MetaValueLocked("segment_changes_pruned");
  if (!pruned.ok()) return finish(pruned.status());
  const std::string view_columns = std::string(kColumns) + ", o.node, o.registered";
  if (after == 0 || after < *pruned || after > *newest) {
    Stmt st(db_, "SELECT " + view_columns +
                     " FROM segments s LEFT JOIN segment_origins o ON o.segment_id = s.id "
                     "ORDER BY s.id");
    if (!st.ok()) return finish(Error("prepare segment list"));
    SegmentChanges out;
    out.full = true;
    out.last = *newest;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      out.segments.push_back({ReadRow(st), st.Text(17), static_cast<uint64_t>(st.Int(18))});
    }
    if (rc != SQLITE_DONE) return finish(Error("list segments"));
    return finish(std::move(out));
  }
  Stmt st(db_, "SELECT " + view_columns +
                   ", c.change_id, c.segment_id, s.id IS NOT NULL FROM segment_changes c "
                   "LEFT JOIN segments s ON s.id = c.segment_id "
                   "LEFT JOIN segment_origins o ON o.segment_id = c.segment_id "
                   "WHERE c.change_id > ? ORDER BY c.change_id LIMIT ?");
  if (!st.ok()) return finish(Error("prepare segment changes"));
  st.Bind(1, static_cast<int64_t>(after));
  st.Bind(2, limit == 0 ? INT64_MAX : static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX)));
  SegmentChangeCollector collector;
  size_t n = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    ++n;
    std::optional<SegmentView> now;
    if (st.Int(21) != 0) {
      now = SegmentView{ReadRow(st), st.Text(17), static_cast<uint64_t>(st.Int(18))};
    }
    collector.Add(static_cast<uint64_t>(st.Int(19)), static_cast<uint64_t>(st.Int(20)),
                  std::move(now));
  }
  if (rc != SQLITE_DONE) return finish(Error("list segment changes"));
  return finish(collector.Finish(after, n >= limit && limit > 0));
}

Result<uint64_t> SqliteCatalog::PruneSegmentChanges(int64_t before_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // What goes is a prefix of the numbers, so that "pruned" tells a reader whether it missed any.
  uint64_t through = 0;
  {
    Stmt st(db_, "SELECT coalesce(max(change_id), 0) FROM segment_changes WHERE at_ns < ?");
    if (!st.ok()) return RollbackLocked(Error("prepare segment change pruning"));
    st.Bind(1, before_ns);
    if (st.Step() != SQLITE_ROW) return RollbackLocked(Error("find old segment changes"));
    through = static_cast<uint64_t>(st.Int(0));
  }
  if (through == 0) {
    RETURN_IF_ERROR(Exec("ROLLBACK"));
    return uint64_t{0};
  }
  Stmt del(db_, "DELETE FROM segment_changes WHERE change_id <= ?");
  if (!del.ok()) return RollbackLocked(Error("prepare segment change pruning"));
  del.Bind(1, static_cast<int64_t>(through));
  if (del.Step() != SQLITE_DONE) return RollbackLocked(Error("prune segment changes"));
  const uint64_t gone = static_cast<uint64_t>(sqlite3_changes(db_));
  Stmt meta(db_,
            "INSERT INTO meta (key, value) VALUES ('segment_changes_pruned', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)");
  if (!meta.ok()) return RollbackLocked(Error("prepare segment change pruning"));
  meta.Bind(1, static_cast<int64_t>(through));
  if (meta.Step() != SQLITE_DONE) return RollbackLocked(Error("record segment change pruning"));
  RETURN_IF_ERROR(CommitLocked());
  return gone;
}

}  // namespace sawmill::catalog
