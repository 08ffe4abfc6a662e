// The SQLite catalog's retention tables (catalog.h, "Retention, holds and the deletion record"):
// holds, per-tenant policies set through the admin API, compliance rules, the retired segments
// and the record of every change and deletion. Kept apart from sqlite_catalog.cc: an additive
// block of tables (CREATE TABLE IF NOT EXISTS) that an older build ignores.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

extern const char* const kRetentionSchema;
const char* const kRetentionSchema = R"sql(
CREATE TABLE IF NOT EXISTS holds (
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
CREATE TABLE IF NOT EXISTS retention_policies (
  tenant TEXT PRIMARY KEY,
  retention_ns INTEGER NOT NULL, warm_after_ns INTEGER NOT NULL,
  cold_after_ns INTEGER NOT NULL, max_bytes INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL, updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compliance_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL, service TEXT NOT NULL,
  retention_ns INTEGER NOT NULL,
  reason TEXT NOT NULL, created_ns INTEGER NOT NULL, created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retired_segments (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL, partition INTEGER NOT NULL,
  min_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL,
  store TEXT NOT NULL, path TEXT NOT NULL,
  retired_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS retention_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ns INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT NOT NULL,
  hold_id INTEGER NOT NULL, segment_id INTEGER NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS retention_events_by_action ON retention_events (action, id);
)sql";

namespace {

constexpr const char* kHoldColumns =
    "id, tenant, from_ns, to_ns, query, reason, created_by, created_ns, released_ns, "
    "released_by, release_reason";

HoldRow ReadHold(Stmt& st) {
  HoldRow h;
  h.id = static_cast<uint64_t>(st.Int(0));
  h.tenant = st.Text(1);
  h.from_ns = st.Int(2);
  h.to_ns = st.Int(3);
  h.query = st.Text(4);
  h.reason = st.Text(5);
  h.created_by = st.Text(6);
  h.created_ns = st.Int(7);
  h.released_ns = st.Int(8);
  h.released_by = st.Text(9);
  h.release_reason = st.Text(10);
  return h;
}

constexpr const char* kEventColumns =
    "id, at_ns, actor, action, tenant, hold_id, segment_id, reason, detail";

RetentionEventRow ReadEvent(Stmt& st) {
  RetentionEventRow e;
  e.id = static_cast<uint64_t>(st.Int(0));
  e.at_ns = st.Int(1);
  e.actor = st.Text(2);
  e.action = st.Text(3);
  e.tenant = st.Text(4);
  e.hold_id = static_cast<uint64_t>(st.Int(5));
  e.segment_id = static_cast<uint64_t>(st.Int(6));
  e.reason = st.Text(7);
  e.detail = st.Text(8);
  return e;
}

}  // namespace

Result<uint64_t> SqliteCatalog::InsertEventLocked(const RetentionEventRow& e) {
  Stmt st(db_, std::string("INSERT INTO retention_events (") + kEventColumns +
                   ") VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return Error("prepare retention event");
  st.Bind(1, e.at_ns);
  st.Bind(2, e.actor);
  st.Bind(3, e.action);
  st.Bind(4, e.tenant);
  st.Bind(5, static_cast<int64_t>(e.hold_id));
  st.Bind(6, static_cast<int64_t>(e.segment_id));
  st.Bind(7, e.reason);
  st.Bind(8, e.detail);
  if (st.Step() != SQLITE_DONE) return Error("insert retention event");
  return static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
}

Result<HoldRow> SqliteCatalog::AddHold(const HoldRow& hold, const RetentionEventRow& event) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  HoldRow stored = hold;
  {
    Stmt st(db_, std::string("INSERT INTO holds (") + kHoldColumns +
                     ") VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, 0, '', '')");
    if (!st.ok()) return RollbackLocked(Error("prepare hold insert"));
    st.Bind(1, hold.tenant);
    st.Bind(2, hold.from_ns);
    st.Bind(3, hold.to_ns);
    st.Bind(4, hold.query);
    st.Bind(5, hold.reason);
    st.Bind(6, hold.created_by);
    st.Bind(7, hold.created_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("insert hold"));
    stored.id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
    stored.released_ns = 0;
    stored.released_by.clear();
    stored.release_reason.clear();
  }
  RetentionEventRow e = event;
  e.action = "hold_add";
  e.tenant = hold.tenant;
  e.hold_id = stored.id;
  Result<uint64_t> id = InsertEventLocked(e);
  if (!id.ok()) return RollbackLocked(id.status());
  RETURN_IF_ERROR(CommitLocked());
  return stored;
}

Result<HoldRow> SqliteCatalog::ReleaseHold(uint64_t id, const RetentionEventRow& event) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  HoldRow hold;
  {
    Stmt st(db_, std::string("SELECT ") + kHoldColumns + " FROM holds WHERE id = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare hold lookup"));
    st.Bind(1, static_cast<int64_t>(id));
    int rc = st.Step();
    if (rc == SQLITE_DONE) {
      return RollbackLocked(Status::NotFound("no hold with id " + std::to_string(id)));
    }
    if (rc != SQLITE_ROW) return RollbackLocked(Error("hold lookup"));
    hold = ReadHold(st);
  }
  if (hold.released_ns != 0) {
    return RollbackLocked(Status::FailedPrecondition(
        "hold " + std::to_string(id) + " was released already (by " + hold.released_by + ")"));
  }
  hold.released_ns = event.at_ns;
  hold.released_by = event.actor;
  hold.release_reason = event.reason;
  {
    Stmt st(db_,
            "UPDATE holds SET released_ns = ?, released_by = ?, release_reason = ? WHERE id = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare hold release"));
    st.Bind(1, hold.released_ns);
    st.Bind(2, hold.released_by);
    st.Bind(3, hold.release_reason);
    st.Bind(4, static_cast<int64_t>(id));
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("release hold"));
  }
  RetentionEventRow e = event;
  e.action = "hold_release";
  e.tenant = hold.tenant;
  e.hold_id = id;
  Result<uint64_t> event_id = InsertEventLocked(e);
  if (!event_id.ok()) return RollbackLocked(event_id.status());
  RETURN_IF_ERROR(CommitLocked());
  return hold;
}

Result<std::vector<HoldRow>> SqliteCatalog::ListHolds(bool active_only) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return std::vector<HoldRow>{};  // the group was never written
  Stmt st(db_, std::string("SELECT ") + kHoldColumns + " FROM holds" +
                   (active_only ? " WHERE released_ns = 0" : "") + " ORDER BY id");
  if (!st.ok()) return Error("prepare hold list");
  std::vector<HoldRow> out;
  if (!ReadAll(st, &out, ReadHold)) return Error("hold list");
  return out;
}

Status SqliteCatalog::SetRetentionPolicy(const RetentionPolicyRow& row,
                                         const RetentionEventRow& event) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  const bool clear =
      row.retention_ns < 0 && row.warm_after_ns < 0 && row.cold_after_ns < 0 && row.max_bytes < 0;
  {
    Stmt st(db_, clear ? "DELETE FROM retention_policies WHERE tenant = ?"
                       : "INSERT OR REPLACE INTO retention_policies (tenant, retention_ns, "
                         "warm_after_ns, cold_after_ns, max_bytes, updated_ns, updated_by) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare retention policy"));
    st.Bind(1, row.tenant);
    if (!clear) {
      st.Bind(2, row.retention_ns);
      st.Bind(3, row.warm_after_ns);
      st.Bind(4, row.cold_after_ns);
      st.Bind(5, row.max_bytes);
      st.Bind(6, row.updated_ns);
      st.Bind(7, row.updated_by);
    }
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("store retention policy"));
  }
  RetentionEventRow e = event;
  e.action = "policy_set";
  e.tenant = row.tenant;
  Result<uint64_t> id = InsertEventLocked(e);
  if (!id.ok()) return RollbackLocked(id.status());
  return CommitLocked();
}

Result<std::vector<RetentionPolicyRow>> SqliteCatalog::ListRetentionPolicies() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return std::vector<RetentionPolicyRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT tenant, retention_ns, warm_after_ns, cold_after_ns, max_bytes, updated_ns, "
          "updated_by FROM retention_policies ORDER BY tenant");
  if (!st.ok()) return Error("prepare retention policy list");
  std::vector<RetentionPolicyRow> out;
  if (!ReadAll(st, &out, [](Stmt& st) {
        RetentionPolicyRow r;
        r.tenant = st.Text(0);
        r.retention_ns = st.Int(1);
        r.warm_after_ns = st.Int(2);
        r.cold_after_ns = st.Int(3);
        r.max_bytes = st.Int(4);
        r.updated_ns = st.Int(5);
        r.updated_by = st.Text(6);
        return r;
      })) {
    return Error("retention policy list");
  }
  return out;
}

Result<ComplianceRuleRow> SqliteCatalog::AddComplianceRule(const ComplianceRuleRow& rule,
                                                           const RetentionEventRow& event) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  ComplianceRuleRow stored = rule;
  {
    Stmt st(db_,
            "INSERT INTO compliance_rules (id, tenant, service, retention_ns, reason, "
            "created_ns, created_by) VALUES (NULL, ?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare compliance rule"));
    st.Bind(1, rule.tenant);
    st.Bind(2, rule.service);
    st.Bind(3, rule.retention_ns);
    st.Bind(4, rule.reason);
    st.Bind(5, rule.created_ns);
    st.Bind(6, rule.created_by);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("insert compliance rule"));
    stored.id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
  }
  RetentionEventRow e = event;
  e.action = "compliance_add";
  e.tenant = rule.tenant;
  Result<uint64_t> id = InsertEventLocked(e);
  if (!id.ok()) return RollbackLocked(id.status());
  RETURN_IF_ERROR(CommitLocked());
  return stored;
}

Status SqliteCatalog::RemoveComplianceRule(uint64_t id, const RetentionEventRow& event) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::string tenant;
  {
    Stmt st(db_, "SELECT tenant FROM compliance_rules WHERE id = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare compliance rule lookup"));
    st.Bind(1, static_cast<int64_t>(id));
    int rc = st.Step();
    if (rc == SQLITE_DONE) {
      return RollbackLocked(Status::NotFound("no compliance rule with id " + std::to_string(id)));
    }
    if (rc != SQLITE_ROW) return RollbackLocked(Error("compliance rule lookup"));
    tenant = st.Text(0);
  }
  {
    Stmt st(db_, "DELETE FROM compliance_rules WHERE id = ?");
    if (!st.ok()) return RollbackLocked(Error("prepare compliance rule removal"));
    st.Bind(1, static_cast<int64_t>(id));
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("remove compliance rule"));
  }
  RetentionEventRow e = event;
  e.action = "compliance_remove";
  e.tenant = tenant;
  Result<uint64_t> event_id = InsertEventLocked(e);
  if (!event_id.ok()) return RollbackLocked(event_id.status());
  return CommitLocked();
}

Result<std::vector<ComplianceRuleRow>> SqliteCatalog::ListComplianceRules() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return std::vector<ComplianceRuleRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT id, tenant, service, retention_ns, reason, created_ns, created_by FROM "
          "compliance_rules ORDER BY id");
  if (!st.ok()) return Error("prepare compliance rule list");
  std::vector<ComplianceRuleRow> out;
  if (!ReadAll(st, &out, [](Stmt& st) {
        ComplianceRuleRow r;
        r.id = static_cast<uint64_t>(st.Int(0));
        r.tenant = st.Text(1);
        r.service = st.Text(2);
        r.retention_ns = st.Int(3);
        r.reason = st.Text(4);
        r.created_ns = st.Int(5);
        r.created_by = st.Text(6);
        return r;
      })) {
    return Error("compliance rule list");
  }
  return out;
}

Status SqliteCatalog::RetireSegments(const std::vector<RetiredSegmentRow>& retired,
                                     const std::vector<RetentionEventRow>& events,
                                     uint64_t decided_after, const LeaseFence* fence) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kRetention}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (fence != nullptr) {
    if (Status s = CheckLeaseFenceLocked(*fence); !s.ok()) return RollbackLocked(std::move(s));
  }
  {
    // A hold or a policy change recorded since the decision may keep some of these segments.
    Stmt st(db_,
            "SELECT id, action FROM retention_events WHERE id > ? AND action != "
            "'segment_delete' ORDER BY id LIMIT 1");
    if (!st.ok()) return RollbackLocked(Error("prepare retention check"));
    st.Bind(1, static_cast<int64_t>(decided_after));
    int rc = st.Step();
    if (rc == SQLITE_ROW) {
      return RollbackLocked(Status::FailedPrecondition(
          "retention: " + st.Text(1) + " (event " + std::to_string(st.Int(0)) +
          ") was recorded after the deletion was decided; nothing deleted, deciding again"));
    }
    if (rc != SQLITE_DONE) return RollbackLocked(Error("retention check"));
  }
  for (const RetiredSegmentRow& r : retired) {
    {
      Stmt st(db_, "DELETE FROM segments WHERE id = ?");
      if (!st.ok()) return RollbackLocked(Error("prepare delete"));
      st.Bind(1, static_cast<int64_t>(r.id));
      if (st.Step() != SQLITE_DONE) {
        return RollbackLocked(Error("delete segment " + std::to_string(r.id)));
      }
      if (sqlite3_changes(db_) != 1) {
        return RollbackLocked(
            Status::NotFound("catalog: segment " + std::to_string(r.id) + " is not registered"));
      }
    }
    Stmt st(db_,
            "INSERT OR REPLACE INTO retired_segments (id, tenant, partition, min_seq, max_seq, "
            "store, path, retired_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return RollbackLocked(Error("prepare retired segment"));
    st.Bind(1, static_cast<int64_t>(r.id));
    st.Bind(2, r.tenant);
    st.Bind(3, int64_t{r.partition});
    st.Bind(4, static_cast<int64_t>(r.min_seq));
    st.Bind(5, static_cast<int64_t>(r.max_seq));
    st.Bind(6, r.store);
    st.Bind(7, r.path);
    st.Bind(8, r.retired_ns);
    if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("insert retired segment"));
  }
  for (const RetentionEventRow& e : events) {
    Result<uint64_t> id = InsertEventLocked(e);
    if (!id.ok()) return RollbackLocked(id.status());
  }
  return CommitLocked();
}

Result<std::vector<RetiredSegmentRow>> SqliteCatalog::ListRetiredSegments() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return std::vector<RetiredSegmentRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT id, tenant, partition, min_seq, max_seq, store, path, retired_ns FROM "
          "retired_segments ORDER BY id");
  if (!st.ok()) return Error("prepare retired segment list");
  std::vector<RetiredSegmentRow> out;
  if (!ReadAll(st, &out, [](Stmt& st) {
        RetiredSegmentRow r;
        r.id = static_cast<uint64_t>(st.Int(0));
        r.tenant = st.Text(1);
        r.partition = static_cast<uint32_t>(st.Int(2));
        r.min_seq = static_cast<uint64_t>(st.Int(3));
        r.max_seq = static_cast<uint64_t>(st.Int(4));
        r.store = st.Text(5);
        r.path = st.Text(6);
        r.retired_ns = st.Int(7);
        return r;
      })) {
    return Error("retired segment list");
  }
  return out;
}

Result<std::vector<RetentionEventRow>> SqliteCatalog::ListRetentionEvents(
    const RetentionEventFilter& filter) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return std::vector<RetentionEventRow>{};  // the group was never written
  std::string sql = std::string("SELECT ") + kEventColumns + " FROM retention_events WHERE 1";
  if (!filter.action.empty()) sql += " AND action = ?1";
  if (!filter.tenant.empty()) sql += " AND tenant = ?2";
  if (filter.before_id > 0) sql += " AND id < ?3";
  sql += " ORDER BY id DESC LIMIT ?4";
  Stmt st(db_, sql);
  if (!st.ok()) return Error("prepare retention event list");
  if (!filter.action.empty()) st.Bind(1, filter.action);
  if (!filter.tenant.empty()) st.Bind(2, filter.tenant);
  if (filter.before_id > 0) st.Bind(3, static_cast<int64_t>(filter.before_id));
  st.Bind(4, static_cast<int64_t>(std::min<uint64_t>(filter.limit, INT64_MAX)));
  std::vector<RetentionEventRow> out;
  if (!ReadAll(st, &out, ReadEvent)) return Error("retention event list");
  return out;
}

Result<uint64_t> SqliteCatalog::LastRetentionEventId() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kRetention));
  if (!present) return uint64_t{0};  // the group was never written
  Stmt st(db_, "SELECT COALESCE(MAX(id), 0) FROM retention_events");
  if (!st.ok() || st.Step() != SQLITE_ROW) return Error("read the newest retention event");
  return static_cast<uint64_t>(st.Int(0));
}

}  // namespace sawmill::catalog
