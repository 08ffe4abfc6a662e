// The SQLite catalog's WAL damage table (catalog.h, DamageRow). Kept apart from
// sqlite_catalog.cc: the segments table and its reconciliation change independently of it.
#include <sqlite3.h>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

extern const char* const kDamageSchema;  // created on first use (sqlite_catalog.cc)
const char* const kDamageSchema = R"sql(
CREATE TABLE IF NOT EXISTS wal_damage (
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
)sql";

namespace {

constexpr const char* kDamageColumns =
    "id, file, offset, bytes, kind, detail, acknowledged_loss, range_known, min_ts, max_ts, "
    "min_ingest_ts, max_ingest_ts, first_seen, acked";

DamageRow ReadDamage(Stmt& st) {
  DamageRow r;
  r.id = static_cast<uint64_t>(st.Int(0));
  r.file = st.Text(1);
  r.offset = static_cast<uint64_t>(st.Int(2));
  r.bytes = static_cast<uint64_t>(st.Int(3));
  r.kind = st.Text(4);
  r.detail = st.Text(5);
  r.acknowledged_loss = st.Int(6) != 0;
  r.range_known = st.Int(7) != 0;
  r.min_ts = st.Int(8);
  r.max_ts = st.Int(9);
  r.min_ingest_ts = st.Int(10);
  r.max_ingest_ts = st.Int(11);
  r.first_seen_ns = st.Int(12);
  r.acked_ns = st.Int(13);
  return r;
}

}  // namespace

Result<std::pair<uint64_t, bool>> SqliteCatalog::RecordDamage(const DamageRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kDamage}));
  {
    Stmt find(db_,
              "SELECT id FROM wal_damage WHERE file = ? AND offset = ? AND kind = ? AND "
              "bytes = ?");
    if (!find.ok()) return Error("prepare damage lookup");
    find.Bind(1, row.file);
    find.Bind(2, static_cast<int64_t>(row.offset));
    find.Bind(3, row.kind);
    find.Bind(4, static_cast<int64_t>(row.bytes));
    int rc = find.Step();
    if (rc == SQLITE_ROW) return std::make_pair(static_cast<uint64_t>(find.Int(0)), false);
    if (rc != SQLITE_DONE) return Error("damage lookup");
  }
  Stmt st(db_, std::string("INSERT INTO wal_damage (") + kDamageColumns +
                   ") VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return Error("prepare damage insert");
  st.Bind(1, row.file);
  st.Bind(2, static_cast<int64_t>(row.offset));
  st.Bind(3, static_cast<int64_t>(row.bytes));
  st.Bind(4, row.kind);
  st.Bind(5, row.detail);
  st.Bind(6, int64_t{row.acknowledged_loss});
  st.Bind(7, int64_t{row.range_known});
  st.Bind(8, row.min_ts);
  st.Bind(9, row.max_ts);
  st.Bind(10, row.min_ingest_ts);
  st.Bind(11, row.max_ingest_ts);
  st.Bind(12, row.first_seen_ns);
  st.Bind(13, row.acked_ns);
  if (st.Step() != SQLITE_DONE) return Error("damage insert");
  return std::make_pair(static_cast<uint64_t>(sqlite3_last_insert_rowid(db_)), true);
}

Result<std::vector<DamageRow>> SqliteCatalog::ListDamage() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kDamage));
  if (!present) return std::vector<DamageRow>{};  // the group was never written
  Stmt st(db_, std::string("SELECT ") + kDamageColumns + " FROM wal_damage ORDER BY id");
  if (!st.ok()) return Error("prepare damage list");
  std::vector<DamageRow> rows;
  if (!ReadAll(st, &rows, ReadDamage)) return Error("damage list");
  return rows;
}

Result<uint64_t> SqliteCatalog::AcknowledgeDamage(uint64_t id, int64_t now_ns) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kDamage}));
  if (id != 0) {
    Stmt find(db_, "SELECT acked FROM wal_damage WHERE id = ?");
    if (!find.ok()) return Error("prepare damage lookup");
    find.Bind(1, static_cast<int64_t>(id));
    int rc = find.Step();
    if (rc == SQLITE_DONE) {
      return Status::NotFound("no WAL damage entry with id " + std::to_string(id));
    }
    if (rc != SQLITE_ROW) return Error("damage lookup");
  }
  Stmt st(db_, id != 0 ? "UPDATE wal_damage SET acked = ? WHERE acked = 0 AND id = ?"
                       : "UPDATE wal_damage SET acked = ? WHERE acked = 0");
  if (!st.ok()) return Error("prepare damage acknowledgement");
  st.Bind(1, now_ns);
  if (id != 0) st.Bind(2, static_cast<int64_t>(id));
  if (st.Step() != SQLITE_DONE) return Error("damage acknowledgement");
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

}  // namespace sawmill::catalog
