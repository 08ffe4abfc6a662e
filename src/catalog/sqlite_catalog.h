// The embedded catalog (catalog.h): one SQLite database file, by default DIR/catalog.db.
//
// Durability: the database runs in WAL journal mode with synchronous=FULL, so a committed
// transaction survives a power loss before the call returns. SQLite does its own I/O (not
// through sawmill::Env); crash tests model a crash before a commit with SetCommitHook.
//
// Sharing: by default the connection holds the file exclusively (the server is the catalog's
// only user; DIR/LOCK keeps a second server out), so SQLite writes no -shm file. With "shared",
// several connections, in this process or others, may use one file at once; each call is one
// SQLite transaction (BEGIN IMMEDIATE for a change), so ids allocated through different
// connections never collide.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "catalog/catalog.h"
#include "common/mutex.h"
#include "sawmill/status.h"

struct sqlite3;

namespace sawmill::catalog {

class StmtCache;  // sqlite_stmt.h

struct SqliteCatalogOptions {
  // false: exclusive locking mode (one connection; the server's setting). true: normal locking,
  // so that other connections and processes can open the same file (SQLite adds a -shm file).
  bool shared = false;
  // How long a call waits for another connection's transaction before it returns Unavailable.
  int busy_timeout_ms = 5000;
};

// The schema version this build writes: 1 had no "store" column; 2 adds it (every older row is
// in the local store). Opening an older catalog migrates it in one transaction.
inline constexpr int kSqliteSchemaVersion = 2;

// Opens or creates the database at "path" (its directory must exist; ":memory:" is a private
// in-memory database) and migrates an older schema.
// Errors: IOError when SQLite cannot open or set up the file, naming it; DataLoss when its
// integrity check fails; FailedPrecondition when a newer build wrote a schema this one does not
// know; Unavailable when another connection holds the file.
Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path,
                                                   const SqliteCatalogOptions& options = {});

// Thread-safe: one connection, calls serialised by mu_.
class SqliteCatalog final : public Catalog {
 public:
  ~SqliteCatalog() override;

  using Catalog::Replace;
  Status Replace(const std::vector<uint64_t>& removed, const std::vector<SegmentRow>& added,
                 const LeaseFence* fence) override;
  Status SetState(uint64_t id, std::string_view state) override;
  using Catalog::Update;
  Status Update(const std::vector<SegmentRow>& rows, const LeaseFence* fence) override;
  Result<std::vector<std::string>> SweepSegmentObjects(std::string_view store,
                                                       const std::vector<std::string>& paths,
                                                       int64_t now_ns, int64_t keep_ns,
                                                       const LeaseFence* fence) override;
  Result<std::vector<SegmentRow>> List(const ListFilter& filter = {}) const override;
  Result<std::optional<SegmentRow>> Get(uint64_t id) const override;

  Result<uint64_t> AllocateSegmentId() override;
  Status ReserveIds(uint64_t id) override;
  Result<uint64_t> MaxId() const override;

  // Implemented in sqlite_damage.cc.
  Result<std::pair<uint64_t, bool>> RecordDamage(const DamageRow& row) override;
  Result<std::vector<DamageRow>> ListDamage() const override;
  Result<uint64_t> AcknowledgeDamage(uint64_t id, int64_t now_ns) override;

  Result<uint64_t> PutIdempotencyKeys(const std::vector<IdempotencyKeyRow>& rows,
                                      int64_t expire_before_ns, uint64_t max_rows) override;
  Result<std::vector<IdempotencyKeyRow>> ListIdempotencyKeys(int64_t created_since_ns,
                                                             uint64_t max_rows) const override;
  // Idempotency-Keys across nodes (sqlite_idempotency.cc)
  Result<IdempotencyClaimRow> ClaimIdempotencyKey(const IdempotencyClaimRow& row,
                                                  int64_t expire_before_ns,
                                                  int64_t alive_since_ns) override;
  Status CompleteIdempotencyKey(const IdempotencyClaimRow& row, bool adopted,
                                int64_t expire_before_ns) override;
  Status ReleaseIdempotencyKey(const IdempotencyClaimRow& row) override;
  Result<uint64_t> ReleaseIdempotencyClaimsOf(std::string_view node, int64_t started_ns) override;
  Result<std::optional<IdempotencyClaimRow>> GetIdempotencyKey(std::string_view tenant,
                                                               std::string_view key) const override;
  Result<std::pair<uint64_t, uint64_t>> TrimIdempotencyClaims(int64_t expire_before_ns,
                                                              uint64_t max_done) override;

  // Implemented in sqlite_alerts.cc.
  Status SaveAlertStates(const std::vector<AlertStateRow>& states,
                         const std::vector<AlertStateRow>& removed,
                         const std::vector<AlertTransitionRow>& transitions,
                         uint64_t max_transitions) override;
  Result<std::vector<AlertStateRow>> ListAlertStates() const override;
  Result<std::vector<AlertTransitionRow>> ListAlertTransitions(std::string_view tenant,
                                                               std::string_view rule,
                                                               int64_t since_ns,
                                                               uint64_t limit) const override;
  Status PutAlertRule(const AlertRuleRow& row) override;
  Status DeleteAlertRule(std::string_view tenant, std::string_view name) override;
  Result<std::vector<AlertRuleRow>> ListAlertRules() const override;
  // Implemented in sqlite_auth.cc.
  Status InsertToken(const TokenRow& row) override;
  Result<std::vector<TokenRow>> ListTokens() const override;
  Status RevokeToken(std::string_view id, int64_t now_ns) override;
  Status AppendAudit(const AuditRow& row) override;
  Result<std::vector<AuditRow>> ListAudit(const AuditFilter& filter) const override;
  Result<std::optional<AuditRow>> LastAudit() const override;
  Result<uint64_t> PruneAudit(int64_t before_ns) override;
  Result<AuditAnchor> GetAuditAnchor() const override;
  Result<AuditRow> AppendAuditChained(
      AuditRow row, uint64_t min_seq,
      const std::function<std::string(const AuditRow&)>& hash) override;
  Status PutTenantQuota(const TenantQuotaRow& row) override;
  Result<std::vector<TenantQuotaRow>> ListTenantQuotas() const override;
  Status PutScanUsage(const std::vector<ScanUsageRow>& rows, int64_t before_minute) override;
  Result<std::vector<ScanUsageRow>> ListScanUsage(int64_t since_minute) const override;
  // Implemented in sqlite_retention.cc.
  Result<HoldRow> AddHold(const HoldRow& hold, const RetentionEventRow& event) override;
  Result<HoldRow> ReleaseHold(uint64_t id, const RetentionEventRow& event) override;
  Result<std::vector<HoldRow>> ListHolds(bool active_only) const override;
  Status SetRetentionPolicy(const RetentionPolicyRow& row, const RetentionEventRow& event) override;
  Result<std::vector<RetentionPolicyRow>> ListRetentionPolicies() const override;
  Result<ComplianceRuleRow> AddComplianceRule(const ComplianceRuleRow& rule,
                                              const RetentionEventRow& event) override;
  Status RemoveComplianceRule(uint64_t id, const RetentionEventRow& event) override;
  Result<std::vector<ComplianceRuleRow>> ListComplianceRules() const override;
  using Catalog::RetireSegments;
  Status RetireSegments(const std::vector<RetiredSegmentRow>& retired,
                        const std::vector<RetentionEventRow>& events, uint64_t decided_after,
                        const LeaseFence* fence) override;
  Result<std::vector<RetiredSegmentRow>> ListRetiredSegments() const override;
  Result<std::vector<RetentionEventRow>> ListRetentionEvents(
      const RetentionEventFilter& filter) const override;
  Result<uint64_t> LastRetentionEventId() const override;

  // Implemented in sqlite_nodes.cc.
  Status Heartbeat(const NodeRow& node) override;
  Result<std::vector<NodeRow>> ListNodes() const override;
  Status RemoveNode(std::string_view id) override;
  Status LeaveCluster(std::string_view id, int64_t started_ns, int64_t gone_ns) override;
  Result<bool> FenceDeadNode(std::string_view id, int64_t started_ns, int64_t dead_before_ns,
                             int64_t now_ns) override;
  Result<std::vector<GoneNodeRow>> ListGoneNodes() const override;
  Result<uint64_t> RecordNodeFormat(std::string_view node, uint64_t reads) override;
  Result<uint64_t> RaiseFormatVersion(uint64_t version, int64_t alive_since_ns) override;
  Result<LeaseRow> AcquireLease(std::string_view name, std::string_view holder, int64_t now_ns,
                                int64_t ttl_ns) override;
  Result<std::vector<LeaseRow>> AcquireLeases(const std::vector<std::string>& names,
                                              std::string_view holder, int64_t now_ns,
                                              int64_t ttl_ns, size_t max) override;
  Status ReleaseLease(std::string_view name, std::string_view holder) override;
  Result<std::vector<LeaseRow>> ListLeases() const override;

  // Implemented in sqlite_wal_objects.cc.
  Status RegisterWalObject(const WalObjectRow& row,
                           const std::vector<IdempotencyClaimRow>& key_claims) override;
  Result<std::vector<WalObjectRow>> ListWalObjects(std::string_view owner) const override;
  Status MarkWalObjectsFlushed(const std::vector<std::string>& names,
                               std::string_view owner) override;
  Result<uint64_t> DeleteWalObjects(const std::vector<std::string>& names,
                                    std::string_view owner) override;
  Result<std::vector<WalObjectRow>> ClaimWalObjects(
      const std::vector<std::string>& from, std::string_view to, size_t limit,
      int64_t alive_since_ns, std::optional<uint64_t> to_generation = std::nullopt) override;
  Result<std::map<std::string, uint64_t>> ReadWalTakeovers() const override;
  Result<uint64_t> AllocateSeqs(uint64_t count, uint64_t at_least) override;
  Result<uint64_t> SettleSetting(std::string_view name, uint64_t value) override;
  Result<std::map<std::string, uint64_t>> SettleSettings(
      const std::map<std::string, uint64_t>& values) override;
  Result<std::map<std::string, uint64_t>> ReadSettings() const override;
  Status ChangeSetting(std::string_view name, uint64_t value) override;
  Status ChangeSettingIf(const std::map<std::string, uint64_t>& expected,
                         const std::map<std::string, int64_t>& registered, std::string_view name,
                         uint64_t value) override;

  // Segment changes (sqlite_catalog.cc, at the end).
  Result<uint64_t> RegisterSegment(const SegmentRow& row, std::string_view node,
                                   WalFence* fence) override;
  Result<uint64_t> SegmentRegistration(uint64_t id) override;
  Result<SegmentChanges> ListSegmentChanges(uint64_t after, size_t limit) const override;
  Result<uint64_t> PruneSegmentChanges(int64_t before_ns) override;

  void SetCommitHook(std::function<Status()> hook) override;

 private:
  friend Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path,
                                                            const SqliteCatalogOptions& options);
  SqliteCatalog(sqlite3* db, std::string path, bool shared);
  // The connection's last error as a Status (Unavailable when busy, DataLoss when the file is
  // damaged, IOError otherwise), prefixed with the catalog's path and "what".
  Status Error(std::string_view what) const REQUIRES(mu_);
  Status Exec(const char* sql) const REQUIRES(mu_);
  // Exec of one statement kept prepared in stmts_ (BEGIN IMMEDIATE, COMMIT: every audited
  // request's append runs them).
  Status ExecCached(const char* sql) const REQUIRES(mu_);
  Status MigrateLocked() REQUIRES(mu_);
  Status CheckNotSweptLocked(const SegmentRow& row) REQUIRES(mu_);
  Status InsertLocked(const SegmentRow& row) REQUIRES(mu_);  // in a transaction
  Status RaiseMaxIdLocked(uint64_t id) REQUIRES(mu_);        // in a transaction
  // Rolls the open transaction back and returns "s" (compute "s" first: Error reads the
  // connection's last message, which the rollback replaces).
  Status RollbackLocked(Status s) const REQUIRES(mu_);
  // In a transaction. Durable on return (synchronous=FULL), then folds SQLite's WAL into the
  // database. kUnsynced (the audit log's appends): the caller set synchronous=NORMAL before its
  // BEGIN, and the WAL is left for the next durable commit's checkpoint.
  enum class Sync { kDurable, kUnsynced };
  Status CommitLocked(Sync sync = Sync::kDurable) REQUIRES(mu_);
  Result<AuditRow> AppendAuditChainedLocked(AuditRow row, uint64_t min_seq,
                                            const std::function<std::string(const AuditRow&)>& hash)
      REQUIRES(mu_);
  // Tables created on first use (sqlite_catalog.cc, "Table groups"): a new catalog holds the
  // segments' tables and meta only; each group below appears with its first write, so that an
  // empty data directory is a few KiB instead of a page for each of 50 tables and indexes.
  enum class Tables : uint8_t {
    kIdempotencyKeys,  // sqlite_catalog.cc
    kSwept,            // sqlite_catalog.cc: swept_objects
    kTokens,           // sqlite_auth.cc: api_tokens
    kAudit,            // sqlite_auth.cc: audit_log
    kQuotas,           // sqlite_auth.cc: tenant_quotas, tenant_scan_usage
    kNodes,            // sqlite_nodes.cc: nodes, node_confirmed, node_gone, node_settings
    kLeases,           // sqlite_nodes.cc
    kWalObjects,       // sqlite_wal_objects.cc: wal_objects, wal_takeovers
    kClaims,           // sqlite_idempotency.cc: idempotency_claims
    kRetention,        // sqlite_retention.cc
    kDamage,           // sqlite_damage.cc
    kAlerts,           // sqlite_alerts.cc
    // Tables a single server never writes, split from the groups above (session 17): a catalog
    // created before holds them already; a new one gets each with its first write.
    kAuditAnchor,  // sqlite_auth.cc: audit_anchor (the first PruneAudit that prunes)
    kNodeFences,   // sqlite_nodes.cc: node_fences (FenceDeadNode)
  };
  static constexpr size_t kTableGroups = 14;
  // A write's first step, before its BEGIN: creates each group's tables unless this connection
  // already did (CREATE TABLE IF NOT EXISTS, one savepoint per group, so a group is whole or
  // absent). A change names every group its statements touch, also those it only reads.
  Status CreateTablesLocked(std::initializer_list<Tables> groups) REQUIRES(mu_);
  // Whether "group"'s tables exist: a read of a group that does not returns nothing, as the
  // empty tables would. In a shared catalog another connection may create it at any time, so an
  // absent group is looked up again on each call (sqlite_master, in memory).
  Result<bool> HasTablesLocked(Tables group) const REQUIRES(mu_);
  // At open: completes each group a catalog already has (tables a later build added to it).
  Status CompleteTableGroupsLocked() REQUIRES(mu_);
  // Raises the takeover generation of each of "owners" by one (ClaimWalObjects' transaction).
  Status BumpWalTakeoversLocked(std::vector<std::string> owners) const REQUIRES(mu_);
  // Segment changes: reads a meta value (0 when absent) and the newest change number.
  Result<uint64_t> MetaValueLocked(const char* key) const REQUIRES(mu_);
  Result<std::map<std::string, uint64_t>> ReadSettingsLocked() const REQUIRES(mu_);
  Result<uint64_t> NewestSegmentChangeLocked() const REQUIRES(mu_);
  // Upserts node_gone (id, gone_ns) inside the caller's transaction (sqlite_nodes.cc).
  Status RecordGoneLocked(std::string_view id, int64_t gone_ns) REQUIRES(mu_);
  // Heartbeat's step for node.settings (none: nothing changes), inside its transaction.
  Status RecordNodeSettingsLocked(const NodeRow& node) REQUIRES(mu_);
  // Heartbeat's step when its id's row is of a later incarnation (sqlite_nodes.cc): takes the
  // row over when it is a fence aimed at an older incarnation than node.started_ns.
  Status RegisterOverFenceLocked(const NodeRow& node) REQUIRES(mu_);
  // RegisterSegment's fence, in its transaction (sqlite_wal_objects.cc): OK while "node", as
  // fence->incarnation, answers for every WAL object of the fence; else FailedPrecondition with
  // fence->lost set.
  Status CheckFenceLocked(const SegmentRow& row, std::string_view node, WalFence* fence) const
      REQUIRES(mu_);
  // Replace's lease fence, in its transaction (sqlite_nodes.cc): OK when lease fence.name is
  // held by fence.holder at fence.epoch, else FailedPrecondition (shared_rows.h CheckLeaseFence).
  Status CheckLeaseFenceLocked(const LeaseFence& fence) const REQUIRES(mu_);
  // Inside the caller's transaction: reads lease "name" (a free one if it has no row) into
  // *lease and, when TakeLease gives it to "holder", stores it taken; *taken says whether.
  // An error leaves the rollback to the caller.
  Status TakeLeaseLocked(std::string_view name, std::string_view holder, int64_t now_ns,
                         int64_t ttl_ns, LeaseRow* lease, bool* taken) REQUIRES(mu_);
  // sqlite_retention.cc: appends "event" in the open transaction; returns its id.
  Result<uint64_t> InsertEventLocked(const RetentionEventRow& event) REQUIRES(mu_);

  mutable Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_);
  // Statements kept prepared (sqlite_stmt.h); finalised before db_ is closed.
  const std::unique_ptr<StmtCache> stmts_ GUARDED_BY(mu_);
  const std::string path_;
  const bool shared_;
  std::function<Status()> commit_hook_ GUARDED_BY(mu_);
  // Groups whose CREATE statements this connection ran (CreateTablesLocked) or found at open.
  std::array<bool, kTableGroups> has_tables_ GUARDED_BY(mu_){};
};

}  // namespace sawmill::catalog
