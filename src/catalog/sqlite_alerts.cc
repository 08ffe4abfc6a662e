// The SQLite catalog's alerting tables (catalog.h, "Alerts"): the state of each pending or firing
// group, the history of transitions, and the rules defined through the API. Additive tables,
// created on first use; no schema version change.
#include <sqlite3.h>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_stmt.h"
#include "common/mutex.h"

namespace sawmill::catalog {

extern const char* const kAlertSchema;  // created on first use (sqlite_catalog.cc)
const char* const kAlertSchema = R"sql(
CREATE TABLE IF NOT EXISTS alert_states (
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
CREATE TABLE IF NOT EXISTS alert_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  rule TEXT NOT NULL,
  grp TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  at INTEGER NOT NULL,
  value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_transitions_tenant ON alert_transitions (tenant, at);
CREATE TABLE IF NOT EXISTS alert_rules (
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
);
)sql";

Status SqliteCatalog::SaveAlertStates(const std::vector<AlertStateRow>& states,
                                      const std::vector<AlertStateRow>& removed,
                                      const std::vector<AlertTransitionRow>& transitions,
                                      uint64_t max_transitions) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAlerts}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  {
    Stmt put(db_,
             "INSERT OR REPLACE INTO alert_states (tenant, rule, grp, state, active_since, "
             "state_since, last_notified, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!put.ok()) return RollbackLocked(Error("prepare alert state"));
    for (const AlertStateRow& row : states) {
      sqlite3_reset(put.get());
      put.Bind(1, row.tenant);
      put.Bind(2, row.rule);
      put.Bind(3, row.group);
      put.Bind(4, row.state);
      put.Bind(5, row.active_since_ns);
      put.Bind(6, row.state_since_ns);
      put.Bind(7, row.last_notified_ns);
      sqlite3_bind_double(put.get(), 8, row.value);
      if (put.Step() != SQLITE_DONE) return RollbackLocked(Error("alert state write"));
    }
  }
  {
    Stmt del(db_, "DELETE FROM alert_states WHERE tenant = ? AND rule = ? AND grp = ?");
    if (!del.ok()) return RollbackLocked(Error("prepare alert state delete"));
    for (const AlertStateRow& row : removed) {
      sqlite3_reset(del.get());
      del.Bind(1, row.tenant);
      del.Bind(2, row.rule);
      del.Bind(3, row.group);
      if (del.Step() != SQLITE_DONE) return RollbackLocked(Error("alert state delete"));
    }
  }
  if (!transitions.empty()) {
    Stmt add(db_,
             "INSERT INTO alert_transitions (tenant, rule, grp, from_state, to_state, at, value) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!add.ok()) return RollbackLocked(Error("prepare alert transition"));
    for (const AlertTransitionRow& row : transitions) {
      sqlite3_reset(add.get());
      add.Bind(1, row.tenant);
      add.Bind(2, row.rule);
      add.Bind(3, row.group);
      add.Bind(4, row.from_state);
      add.Bind(5, row.to_state);
      add.Bind(6, row.at_ns);
      sqlite3_bind_double(add.get(), 7, row.value);
      if (add.Step() != SQLITE_DONE) return RollbackLocked(Error("alert transition write"));
    }
    Stmt trim(db_,
              "DELETE FROM alert_transitions WHERE id <= (SELECT max(id) FROM alert_transitions)"
              " - ?");
    if (!trim.ok()) return RollbackLocked(Error("prepare alert history trim"));
    trim.Bind(1, static_cast<int64_t>(max_transitions));
    if (trim.Step() != SQLITE_DONE) return RollbackLocked(Error("alert history trim"));
  }
  return CommitLocked();
}

Result<std::vector<AlertStateRow>> SqliteCatalog::ListAlertStates() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAlerts));
  if (!present) return std::vector<AlertStateRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT tenant, rule, grp, state, active_since, state_since, last_notified, value "
          "FROM alert_states ORDER BY tenant, rule, grp");
  if (!st.ok()) return Error("prepare alert state list");
  std::vector<AlertStateRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        AlertStateRow row;
        row.tenant = st.Text(0);
        row.rule = st.Text(1);
        row.group = st.Text(2);
        row.state = st.Text(3);
        row.active_since_ns = st.Int(4);
        row.state_since_ns = st.Int(5);
        row.last_notified_ns = st.Int(6);
        row.value = sqlite3_column_double(st.get(), 7);
        return row;
      })) {
    return Error("alert state list");
  }
  return rows;
}

Result<std::vector<AlertTransitionRow>> SqliteCatalog::ListAlertTransitions(std::string_view tenant,
                                                                            std::string_view rule,
                                                                            int64_t since_ns,
                                                                            uint64_t limit) const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAlerts));
  if (!present) return std::vector<AlertTransitionRow>{};  // the group was never written
  Stmt st(db_,
          "SELECT id, tenant, rule, grp, from_state, to_state, at, value FROM alert_transitions "
          "WHERE (? = '' OR tenant = ?) AND (? = '' OR rule = ?) AND at >= ? "
          "ORDER BY id DESC LIMIT ?");
  if (!st.ok()) return Error("prepare alert history");
  st.Bind(1, tenant);
  st.Bind(2, tenant);
  st.Bind(3, rule);
  st.Bind(4, rule);
  st.Bind(5, since_ns);
  st.Bind(6, static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX)));
  std::vector<AlertTransitionRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        AlertTransitionRow row;
        row.id = static_cast<uint64_t>(st.Int(0));
        row.tenant = st.Text(1);
        row.rule = st.Text(2);
        row.group = st.Text(3);
        row.from_state = st.Text(4);
        row.to_state = st.Text(5);
        row.at_ns = st.Int(6);
        row.value = sqlite3_column_double(st.get(), 7);
        return row;
      })) {
    return Error("alert history");
  }
  return rows;
}

Status SqliteCatalog::PutAlertRule(const AlertRuleRow& row) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAlerts}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_,
          "INSERT OR REPLACE INTO alert_rules (tenant, name, definition, updated) "
          "VALUES (?, ?, ?, ?)");
  if (!st.ok()) return RollbackLocked(Error("prepare alert rule"));
  st.Bind(1, row.tenant);
  st.Bind(2, row.name);
  st.Bind(3, row.definition);
  st.Bind(4, row.updated_ns);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("alert rule write"));
  return CommitLocked();
}

Status SqliteCatalog::DeleteAlertRule(std::string_view tenant, std::string_view name) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CreateTablesLocked({Tables::kAlerts}));
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st(db_, "DELETE FROM alert_rules WHERE tenant = ? AND name = ?");
  if (!st.ok()) return RollbackLocked(Error("prepare alert rule delete"));
  st.Bind(1, tenant);
  st.Bind(2, name);
  if (st.Step() != SQLITE_DONE) return RollbackLocked(Error("alert rule delete"));
  if (sqlite3_changes(db_) == 0) {
    return RollbackLocked(Status::NotFound("tenant '" + std::string(tenant) +
                                           "' has no alerting rule '" + std::string(name) + "'"));
  }
  return CommitLocked();
}

Result<std::vector<AlertRuleRow>> SqliteCatalog::ListAlertRules() const {
  MutexLock l(&mu_);
  ASSIGN_OR_RETURN(bool present, HasTablesLocked(Tables::kAlerts));
  if (!present) return std::vector<AlertRuleRow>{};  // the group was never written
  Stmt st(db_, "SELECT tenant, name, definition, updated FROM alert_rules ORDER BY tenant, name");
  if (!st.ok()) return Error("prepare alert rule list");
  std::vector<AlertRuleRow> rows;
  if (!ReadAll(st, &rows, [](Stmt& st) {
        AlertRuleRow row;
        row.tenant = st.Text(0);
        row.name = st.Text(1);
        row.definition = st.Text(2);
        row.updated_ns = st.Int(3);
        return row;
      })) {
    return Error("alert rule list");
  }
  return rows;
}

}  // namespace sawmill::catalog
