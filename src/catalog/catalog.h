// The segment catalog: which segments exist (one row each, with where their bytes are), the ids
// they are given, the WAL damage found, and recent Idempotency-Keys. An interface with one
// contract for every implementation: the embedded SQLite one (sqlite_catalog.h) and, later, a
// shared PostgreSQL one. Nothing here names a backend type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::catalog {

// Segment states. "active": readable and queried. "corrupt": a block failed its checksum; still
// queried (other blocks are fine) but never compacted. "missing": the file is gone; not queried,
// kept so operators can see what was lost.
inline constexpr std::string_view kStateActive = "active";
inline constexpr std::string_view kStateCorrupt = "corrupt";
inline constexpr std::string_view kStateMissing = "missing";

// Storage tiers (docs/storage.md "Tiers"): hot and warm segments are in the local store, cold
// ones in the cold store.
inline constexpr std::string_view kTierHot = "hot";
inline constexpr std::string_view kTierWarm = "warm";
inline constexpr std::string_view kTierCold = "cold";

// The object store that is the data directory itself: hot and warm segments.
inline constexpr std::string_view kLocalStore = "local";
// The cold tier's object store (a directory under the data directory by default, or S3; which
// one is the server's configuration: rows say "cold", not where).
inline constexpr std::string_view kColdStore = "cold";

// One segment. Its location is ("store", "path"): the object store that holds its bytes and the
// object's name there.
struct SegmentRow {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  uint64_t min_seq = 0, max_seq = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;      // file size
  uint64_t raw_bytes = 0;  // message and field bytes held
  std::string tier = std::string(kTierHot);
  std::string store = std::string(kLocalStore);
  // The object name in "store". In the local store it is relative to the data directory
  // ("segments/hot/<tenant>/<partition>/<id>.seg"), so that the directory can be named
  // differently, moved or restored elsewhere. Catalogs written by builds from before relative
  // paths hold absolute ones; reconciliation rewrites them (docs/storage.md).
  std::string path;
  std::string state = std::string(kStateActive);
  int64_t created_ns = 0;

  friend bool operator==(const SegmentRow&, const SegmentRow&) = default;
};

// Damage found in the write-ahead log (docs/operations.md, "WAL damage"): kept until an
// operator acknowledges it, and after (as history). Separate table "wal_damage".
struct DamageRow {
  uint64_t id = 0;   // assigned by RecordDamage
  std::string file;  // WAL file name, relative to DIR/wal
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string kind;  // as wal::WalDamage::kind
  std::string detail;
  bool acknowledged_loss = true;  // false: provably nothing acknowledged was lost
  bool range_known = false;       // false: may concern any time
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  int64_t first_seen_ns = 0;
  int64_t acked_ns = 0;  // 0: not acknowledged
  friend bool operator==(const DamageRow&, const DamageRow&) = default;
};

// A recent Idempotency-Key (table idempotency_keys): written once the batch it came with is in
// segments, before the WAL files that held it are deleted; see docs/api.md.
struct IdempotencyKeyRow {
  std::string tenant;
  std::string key;
  uint64_t body_hash = 0;
  std::string answer;
  uint64_t first_seq = 0;
  uint64_t count = 0;
  int64_t created_ns = 0;

  friend bool operator==(const IdempotencyKeyRow&, const IdempotencyKeyRow&) = default;
};

// ---- Idempotency-Keys across the nodes of a cluster (issue 20; docs/cluster.md
// "Idempotency-Keys across nodes") ----

// A claim on an Idempotency-Key (table idempotency_claims): which node (and incarnation) is
// storing the batch sent with it ("pending"), or what the client was told once it was stored
// ("done"). One row per tenant and key across every node sharing the catalog.
struct IdempotencyClaimRow {
  std::string tenant;
  std::string key;
  uint64_t body_hash = 0;
  std::string node;             // the node that claimed it (or stored it)
  int64_t node_started_ns = 0;  // that node's incarnation (NodeRow::started_ns)
  std::string state;            // kIdempotencyPending or kIdempotencyDone
  std::string answer;           // done: what the client was told
  uint64_t first_seq = 0, count = 0;
  int64_t created_ns = 0;  // the claiming node's clock

  friend bool operator==(const IdempotencyClaimRow&, const IdempotencyClaimRow&) = default;
};
inline constexpr std::string_view kIdempotencyPending = "pending";
inline constexpr std::string_view kIdempotencyDone = "done";

// ---- Alerts (issue 16, docs/alerting.md): tables alert_states, alert_transitions, alert_rules.

// The state of one group of one alerting rule that is not inactive (inactive groups have no row).
struct AlertStateRow {
  std::string tenant;
  std::string rule;
  std::string group;             // "" for a rule without group_by; else "field=value,field=value"
  std::string state;             // "pending" or "firing"
  int64_t active_since_ns = 0;   // when the condition began to hold (the "for" clock)
  int64_t state_since_ns = 0;    // when the group entered "state"
  int64_t last_notified_ns = 0;  // the last notification delivered for this firing; 0: none
  double value = 0;              // the measured count or rate at the last evaluation

  friend bool operator==(const AlertStateRow&, const AlertStateRow&) = default;
};

// One change of state: inactive -> pending -> firing -> inactive (resolved), or pending ->
// inactive. "id" is assigned by SaveAlertStates and increases.
struct AlertTransitionRow {
  uint64_t id = 0;
  std::string tenant;
  std::string rule;
  std::string group;
  std::string from_state;
  std::string to_state;
  int64_t at_ns = 0;
  double value = 0;

  friend bool operator==(const AlertTransitionRow&, const AlertTransitionRow&) = default;
};

// A rule defined through the API (POST /api/v1/alerts/rules): its YAML as given.
struct AlertRuleRow {
  std::string tenant;
  std::string name;
  std::string definition;
  int64_t updated_ns = 0;

  friend bool operator==(const AlertRuleRow&, const AlertRuleRow&) = default;
};

// ---- API tokens and the audit log (issue 15; docs/security.md) ----

// One API token (table api_tokens). The secret itself is never stored: "secret_hash" is the
// lower-case hex SHA-256 of it. A revoked token keeps its row (revoked_ns set), so that the
// audit log's names stay explained and "tokens exist" never turns back to false.
struct TokenRow {
  std::string id;  // public, part of the token text; unique
  std::string name;
  std::vector<std::string> tenants;  // tenant ids (never contain ','); empty for platform-wide
  std::string role;
  std::string secret_hash;
  int64_t created_ns = 0;
  int64_t expires_ns = 0;  // 0: never
  int64_t revoked_ns = 0;  // 0: not revoked
  std::string created_by;  // the name of the token that created it; "" for the bootstrap one

  friend bool operator==(const TokenRow&, const TokenRow&) = default;
};

// One audit log entry (table audit_log). Entries form a hash chain: "hash" is computed by the
// caller (src/auth/audit_log.h) over "prev_hash" and the other fields; the catalog stores them
// as given.
struct AuditRow {
  uint64_t seq = 0;  // 1, 2, 3, ... without gaps (pruning removes a prefix only)
  int64_t at_ns = 0;
  std::string who;  // token name; "" when the server runs without tokens
  std::string token_id;
  std::string tenant;
  std::string action;  // "search", "context", "tail", "token.create", ...
  std::string query;
  int64_t from_ns = 0, to_ns = 0;  // the query's time range; 0, 0: none
  int64_t rows = -1;               // rows returned; -1: not applicable
  std::string address;             // the client's address
  int32_t status = 0;              // HTTP status of the answer
  std::string prev_hash;           // hex; the anchor's hash (or "") for the first entry
  std::string hash;                // hex

  friend bool operator==(const AuditRow&, const AuditRow&) = default;
};

struct AuditFilter {
  uint64_t after_seq = 0;              // only entries with seq > this
  int64_t since_ns = 0, until_ns = 0;  // 0: unbounded
  std::optional<std::string> tenant, who, action;
  uint64_t limit = 1000;
};

// Where the audit chain starts after pruning: the seq and hash of the last removed entry.
struct AuditAnchor {
  uint64_t seq = 0;
  std::string hash;
  friend bool operator==(const AuditAnchor&, const AuditAnchor&) = default;
};

// ---- Per-tenant quota overrides (issue 15; docs/security.md "Quotas") ----

// A tenant's quotas as set through the admin API (table tenant_quotas). The config file's
// overrides are not stored: a row here wins over them, key by key.
struct TenantQuotaRow {
  std::string tenant;
  // The keys set, "key=value" pairs joined by '&' in key order ("max_queries=4&
  // scanned_bytes_per_hour=1GiB"); the server parses and validates them (http/tenant_quotas.h).
  std::string settings;
  int64_t updated_ns = 0;
  std::string updated_by;  // the token name of who set them; "" without tokens

  friend bool operator==(const TenantQuotaRow&, const TenantQuotaRow&) = default;
};

// ---- Per-tenant bytes scanned per hour (issue 15; docs/security.md "Quotas") ----

// The bytes a tenant's queries read in one minute (table tenant_scan_usage): the scan quota's
// sliding hour, kept so that a restart does not hand a tenant a fresh hour.
struct ScanUsageRow {
  std::string tenant;
  int64_t minute = 0;  // minutes since the epoch
  uint64_t bytes = 0;

  friend bool operator==(const ScanUsageRow&, const ScanUsageRow&) = default;
};

// ---- Retention, holds and the deletion record (issue 14; docs/storage.md "Retention") ----

// A tenant's retention policy as set through the admin API (table retention_policies). The
// config file's policy is not stored: a row here wins over it, field by field. -1: not set here.
struct RetentionPolicyRow {
  std::string tenant;
  int64_t retention_ns = -1;   // 0: keep forever
  int64_t warm_after_ns = -1;  // 0: never warm
  int64_t cold_after_ns = -1;  // 0: never cold
  int64_t max_bytes = -1;      // 0: no limit
  int64_t updated_ns = 0;
  std::string updated_by;

  friend bool operator==(const RetentionPolicyRow&, const RetentionPolicyRow&) = default;
};

// A compliance tag (table compliance_rules): segments of "tenant" ("": every tenant) holding a
// row whose service matches "service" (a glob, '*' any run of characters; "": every service)
// are kept at least "retention_ns" after their newest ingest time.
struct ComplianceRuleRow {
  uint64_t id = 0;  // assigned by AddComplianceRule
  std::string tenant;
  std::string service;
  int64_t retention_ns = 0;
  std::string reason;
  int64_t created_ns = 0;
  std::string created_by;

  friend bool operator==(const ComplianceRuleRow&, const ComplianceRuleRow&) = default;
};

// A legal or post-mortem hold (table holds): no segment of "tenant" whose time range meets
// [from_ns, to_ns) (and, with a query, whose index does not rule the query out) is deleted
// until the hold is released.
struct HoldRow {
  uint64_t id = 0;  // assigned by AddHold
  std::string tenant;
  int64_t from_ns = 0, to_ns = 0;
  std::string query;  // "": every segment of the range
  std::string reason;
  std::string created_by;
  int64_t created_ns = 0;
  int64_t released_ns = 0;  // 0: active
  std::string released_by;
  std::string release_reason;

  friend bool operator==(const HoldRow&, const HoldRow&) = default;
};

// One entry of the retention record (table retention_events): who did what, when and why.
struct RetentionEventRow {
  uint64_t id = 0;  // assigned by the catalog, increasing
  int64_t at_ns = 0;
  std::string actor;   // who: the operator's name, or "retention" for the server's own deletions
  std::string action;  // hold_add, hold_release, policy_set, compliance_add, compliance_remove,
                       // segment_delete
  std::string tenant;
  uint64_t hold_id = 0;
  uint64_t segment_id = 0;
  std::string reason;  // why: the operator's words, or the rule that expired the segment
  std::string detail;  // what: a JSON object (the hold, the policy, the segment's ranges)

  friend bool operator==(const RetentionEventRow&, const RetentionEventRow&) = default;
};

struct RetentionEventFilter {
  std::string action;      // "": every action
  std::string tenant;      // "": every tenant
  uint64_t before_id = 0;  // > 0: only entries with a smaller id (paging back)
  uint64_t limit = 1000;
};

// A segment deleted by retention (table retired_segments). Kept so that a file left behind by a
// crash between the catalog's retirement and the deletion of the bytes is recognised by
// reconciliation (and deleted, not registered again), and so that WAL replay never brings its
// seqs back.
struct RetiredSegmentRow {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  uint64_t min_seq = 0, max_seq = 0;
  std::string store;
  std::string path;
  int64_t retired_ns = 0;

  friend bool operator==(const RetiredSegmentRow&, const RetiredSegmentRow&) = default;
};

// ---- Nodes and leases (issue 20; docs/cluster.md) ----

// A server that shares the catalog (table nodes): registered at start, its heartbeat renewed
// every few seconds. Others read the table to find the live nodes (heartbeat_ns recent enough).
struct NodeRow {
  std::string id;   // unique per node, stable across its restarts
  std::string url;  // where other nodes reach it
  int64_t started_ns = 0;
  int64_t heartbeat_ns = 0;
  // Every segment this node registered with a change at or below this number has left its
  // memtables (published, or found retired), so no answer of this node still holds its lines;
  // a segment above it may be one whose registration's outcome the node does not know yet.
  // Other nodes merge or re-encode a node's segments only at or below it (docs/cluster.md
  // "Compaction and tier moves on cluster nodes"). Written with every heartbeat (table
  // node_confirmed); 0 until the node's engine says.
  uint64_t confirmed_through = 0;
  // The cluster-wide settings this incarnation runs (docs/cluster.md "Cluster-wide settings"),
  // by name, in milliseconds, as it recorded them with its registration (table node_settings,
  // tagged with started_ns). Empty when this incarnation recorded none: a node of a build before
  // session 15, which may run other values than the recorded ones.
  std::map<std::string, uint64_t> settings = {};

  friend bool operator==(const NodeRow&, const NodeRow&) = default;
};

// A node that answers nobody any more, and since when (table node_gone, docs/cluster.md
// "Compaction and tier moves on cluster nodes"): it left the cluster cleanly (LeaveCluster) or
// was fenced out while dead (FenceDeadNode). It no longer counts once its id heartbeats again
// (a row in nodes with heartbeat_ns at or after gone_ns: a later process). "confirmed_through"
// is the node's number as it last wrote it (0 when none is kept).
struct GoneNodeRow {
  std::string id;
  int64_t gone_ns = 0;
  uint64_t confirmed_through = 0;

  friend bool operator==(const GoneNodeRow&, const GoneNodeRow&) = default;
};

// A lease on a named job (table leases): while "expires_ns" is in the future only "holder" runs
// the job. "epoch" grows by one each time the lease changes hands, so a holder that lost it (it
// stalled past the expiry) can tell from a stale epoch that another took over.
struct LeaseRow {
  std::string name;
  std::string holder;  // "" when released
  int64_t expires_ns = 0;
  uint64_t epoch = 0;

  friend bool operator==(const LeaseRow&, const LeaseRow&) = default;
};

// The lease a job's commit is made under (Replace, Update, RetireSegments, SweepSegmentObjects):
// the commit happens only if, inside its own transaction, lease "name" is still held by "holder"
// at "epoch" (docs/cluster.md "Job leases as built"). A node that stalled past the lease's ttl
// while another took the job over cannot then commit what it did under the lease, however late
// its commit arrives.
struct LeaseFence {
  std::string name;
  std::string holder;
  uint64_t epoch = 0;
};

// What every refusal of a commit for its LeaseFence says (FailedPrecondition), so that a job can
// tell it from its other FailedPreconditions (retention's "a hold was recorded since").
inline constexpr std::string_view kLeaseFenceRefused = "the commit made under it is refused";
inline bool IsLeaseFenceRefusal(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition &&
         s.message().find(kLeaseFenceRefused) != std::string::npos;
}

// The most names AcquireLeases takes in one call.
inline constexpr size_t kMaxLeasesPerCall = 256;

// ---- WAL objects of cluster nodes (issue 20; docs/cluster.md "Write path") ----

// One WAL object in the shared object store (table wal_objects): acknowledged batches of one
// node, written with one PUT and registered before they were acknowledged.
struct WalObjectRow {
  std::string name;   // its name in the shared store: wal/<node>/<first_seq>-<last_seq>.wal
  std::string node;   // the node that wrote it
  std::string owner;  // the node that answers for it now: the writer, or one that took it over
  uint64_t first_seq = 0, last_seq = 0;  // the seqs of its batches lie in [first_seq, last_seq]
  uint64_t bytes = 0;
  uint64_t batches = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  int64_t created_ns = 0;
  std::string state;    // kWalObjectUnflushed or kWalObjectFlushed
  uint64_t claims = 0;  // times it was claimed (ClaimWalObjects)

  friend bool operator==(const WalObjectRow&, const WalObjectRow&) = default;
};
inline constexpr std::string_view kWalObjectUnflushed = "unflushed";
inline constexpr std::string_view kWalObjectFlushed = "flushed";

// ---- Segment changes: every node's view of the shared segments (issue 20; docs/cluster.md
// "Read path") ----

// A registered segment as a node's view of the catalog holds it: its row, and, for a segment a
// node flushed from its memtables (RegisterSegment), that node and the change that registered
// it, which is what keeps that node's flushed lines apart from the lines it still holds in
// memtables when a query fans out (docs/cluster.md "Exactly once across nodes").
struct SegmentView {
  SegmentRow row;
  std::string node;         // "" for a segment registered otherwise (Insert, Replace)
  uint64_t registered = 0;  // the change that registered it; 0 when "node" is ""

  friend bool operator==(const SegmentView&, const SegmentView&) = default;
};

// What changed in the segments table after a given change (ListSegmentChanges).
struct SegmentChanges {
  // True: "segments" is every registered segment, and the caller's view is to be replaced by
  // it (the caller asked from change 0, or from a change older than those kept, or from one
  // this catalog never made).
  bool full = false;
  // The segments added or rewritten (state, tier, location) since, as they are now, by id.
  std::vector<SegmentView> segments;
  // The ids removed since (compaction, retention, deletion), ascending; empty when "full".
  std::vector<uint64_t> removed;
  // The newest change this answer covers: ask from it next time.
  uint64_t last = 0;
  // More changes follow "last" (the limit was reached).
  bool more = false;
};

struct ListFilter {
  std::optional<std::string> tenant;
  std::optional<uint32_t> partition;
  // Only rows in these states; empty means every state.
  std::vector<std::string> states;
};

// The contract every implementation keeps (catalog_test.cc runs one suite against each):
//
// Threading: every call is thread-safe. An implementation may serialise calls.
//
// Durability and atomicity: each call that changes something is one transaction. When it returns
// OK the change is durable (it survives a process crash and a power loss); when it returns an
// error nothing of it is visible, now or after a restart. Replace and Update are all or nothing
// and readers see the rows before or after them, never a mix; List reads one consistent state.
//
// Ids: AllocateSegmentId hands out an id that no caller of this catalog ever gets again, also
// when several processes share one catalog, and that is above every id stored or reserved
// (Insert, Replace and ReserveIds raise the floor). Ids are never reused, even after Delete. An
// allocated id that is never stored is simply skipped.
//
// Errors, for every call: Unavailable when the catalog is busy or cannot be reached right now
// (nothing changed; retrying the call may succeed); IOError when the backend failed to read or
// write (nothing changed); DataLoss when the catalog itself is damaged. Every message names the
// catalog. The calls below list only the errors particular to them.
class Catalog {
 public:
  virtual ~Catalog() = default;

  // ---- Segments ----

  // In one transaction: deletes the rows "removed" and inserts "added"; with a "fence" (a job's
  // commit: compaction's swap, a warm move), only if lease fence->name is held by fence->holder
  // at fence->epoch when the transaction checks it, and kept so until the commit (PostgreSQL:
  // the lease row locked FOR SHARE, so a takeover waits for this commit or happened before the
  // check). The lease's expiry is not compared: nobody else can have run the job under it
  // unless its holder or epoch changed. Errors: NotFound if a removed row does not exist;
  // AlreadyExists for an added id that is registered already; FailedPrecondition naming the
  // lease and its holder when the fence does not hold (nothing changes then).
  virtual Status Replace(const std::vector<uint64_t>& removed, const std::vector<SegmentRow>& added,
                         const LeaseFence* fence) = 0;
  Status Replace(const std::vector<uint64_t>& removed, const std::vector<SegmentRow>& added) {
    return Replace(removed, added, nullptr);
  }
  // Adds a row. Errors: AlreadyExists for a duplicate id.
  Status Insert(const SegmentRow& row) { return Replace({}, {row}, nullptr); }
  // Errors: NotFound for an unknown id.
  Status Delete(uint64_t id) { return Replace({id}, {}, nullptr); }
  // Errors: NotFound for an unknown id.
  virtual Status SetState(uint64_t id, std::string_view state) = 0;
  // Rewrites every column of each row (matched by id) in one transaction: reconciliation's
  // repairs from the segment files, and a cold move's new location, under its partition's lease
  // "fence" as Replace (null: none). Errors: NotFound if a row does not exist;
  // FailedPrecondition naming the lease and its holder when the fence does not hold (nothing
  // changes then).
  virtual Status Update(const std::vector<SegmentRow>& rows, const LeaseFence* fence) = 0;
  Status Update(const std::vector<SegmentRow>& rows) { return Update(rows, nullptr); }

  // The segment sweep of a cluster's shared store (docs/cluster.md "Orphan segment objects"), in
  // one transaction: of "paths" (objects of store "store"), those no segment row names are
  // recorded as swept, and returned: the caller may delete exactly those. From then on no
  // registration may name a swept object (Replace, Insert, RegisterSegment and Update refuse it
  // with FailedPrecondition), so an upload registered late (its node stalled past the sweep's
  // grace) can never name an object the sweep deletes. Records older than "keep_ns" before "now_ns"
  // are dropped in the same transaction (bounded: one row per orphan swept in that time). With a
  // "fence" (the sweep's job lease), only while the lease holds, as Replace. Errors:
  // FailedPrecondition when the fence does not hold (nothing recorded).
  virtual Result<std::vector<std::string>> SweepSegmentObjects(
      std::string_view store, const std::vector<std::string>& paths, int64_t now_ns,
      int64_t keep_ns, const LeaseFence* fence) = 0;

  // Rows matching "filter", ordered by id.
  virtual Result<std::vector<SegmentRow>> List(const ListFilter& filter = {}) const = 0;
  virtual Result<std::optional<SegmentRow>> Get(uint64_t id) const = 0;

  // ---- Ids ----

  // A new segment id, durable before it is returned (see "Ids" above); the first is 1.
  virtual Result<uint64_t> AllocateSegmentId() = 0;
  // Raises the floor of AllocateSegmentId to above "id", so that ids seen only in files (for
  // example quarantined ones) are never handed out again.
  virtual Status ReserveIds(uint64_t id) = 0;
  // The highest id ever stored, reserved or allocated (ids are never reused), 0 if none.
  virtual Result<uint64_t> MaxId() const = 0;

  // ---- WAL damage ----

  // Stores "row" unless the same damage (file, offset, kind, bytes) is stored already, and
  // returns its id and whether it is new; "acked_ns" non-zero stores it as acknowledged already.
  virtual Result<std::pair<uint64_t, bool>> RecordDamage(const DamageRow& row) = 0;
  // Every damage row, oldest first.
  virtual Result<std::vector<DamageRow>> ListDamage() const = 0;
  // Acknowledges damage "id" (0: every unacknowledged one) at "now_ns"; returns how many rows
  // changed. Errors: NotFound for an unknown id.
  virtual Result<uint64_t> AcknowledgeDamage(uint64_t id, int64_t now_ns) = 0;

  // ---- Idempotency-Keys ----

  // In one transaction: stores "rows" (replacing rows of the same tenant and key), then deletes
  // the rows created before "expire_before_ns" and, past "max_rows", the oldest. Returns how
  // many rows were deleted for being past "max_rows" (younger than the window).
  virtual Result<uint64_t> PutIdempotencyKeys(const std::vector<IdempotencyKeyRow>& rows,
                                              int64_t expire_before_ns, uint64_t max_rows) = 0;
  // The newest "max_rows" rows created at or after "created_since_ns", oldest first.
  virtual Result<std::vector<IdempotencyKeyRow>> ListIdempotencyKeys(int64_t created_since_ns,
                                                                     uint64_t max_rows) const = 0;

  // ---- Idempotency-Keys across the nodes of a cluster (issue 20; docs/cluster.md
  // "Idempotency-Keys across nodes") ----

  // Claims "row" (state pending) for its node, in one transaction, when no row of its tenant and
  // key exists, or the row there was created before "expire_before_ns", or it is a pending claim
  // whose node can no longer store its batch: that incarnation has no heartbeat at or after
  // "alive_since_ns" (dead or restarted) and no WAL object that node wrote before its current
  // incarnation started (or at all, if it has none) is still registered (replayed and flushed:
  // a batch it acknowledged would have made the claim done when its object was replayed).
  // Returns the row as it stands afterwards: the caller holds the claim when it is "row".
  // Two claimants at once: one gets it, the other the winner's row.
  virtual Result<IdempotencyClaimRow> ClaimIdempotencyKey(const IdempotencyClaimRow& row,
                                                          int64_t expire_before_ns,
                                                          int64_t alive_since_ns) = 0;
  // The batch of "row" is stored: state done, with row's answer, first_seq and count. Not
  // "adopted": only the claim of row's node and incarnation becomes done (Errors:
  // FailedPrecondition when that claim is gone). "adopted" (a batch replayed from a WAL object,
  // which is stored whoever claimed its key since): inserts the row, or replaces a pending one;
  // a done row is kept. Then deletes the rows created before "expire_before_ns" (0: none, for a
  // caller whose periodic TrimIdempotencyClaims expires them; PostgreSQL then completes a claim
  // in one statement).
  virtual Status CompleteIdempotencyKey(const IdempotencyClaimRow& row, bool adopted,
                                        int64_t expire_before_ns) = 0;
  // Forgets the pending claim of row's tenant, key, node and incarnation (its batch failed); a
  // no-op when there is none.
  virtual Status ReleaseIdempotencyKey(const IdempotencyClaimRow& row) = 0;
  // Forgets the pending claims of "node"'s incarnations older than "started_ns" (a restarted
  // node, once it has replayed its own WAL objects: a claim whose batch it had acknowledged is
  // done by then), unless a WAL object that node wrote before "started_ns" is still registered
  // to another node (taken over, maybe not yet replayed). Returns how many went.
  virtual Result<uint64_t> ReleaseIdempotencyClaimsOf(std::string_view node,
                                                      int64_t started_ns) = 0;
  // The row of "tenant" and "key", if any.
  virtual Result<std::optional<IdempotencyClaimRow>> GetIdempotencyKey(
      std::string_view tenant, std::string_view key) const = 0;
  // Housekeeping of the claims (a periodic round on one node, docs/cluster.md): deletes the rows
  // created before "expire_before_ns" (every state: past the window a key is forgotten), then
  // the oldest done rows past the newest "max_done" (a pending claim is never deleted here: its
  // batch may be being stored). Returns {expired, evicted}.
  virtual Result<std::pair<uint64_t, uint64_t>> TrimIdempotencyClaims(int64_t expire_before_ns,
                                                                      uint64_t max_done) = 0;

  // ---- Alerts (issue 16) ----

  // In one transaction: stores "states" (replacing the rows of the same tenant, rule and
  // group), deletes the rows keyed like "removed" (only tenant, rule and group are read; a row
  // that is not there is no error), appends "transitions" (ids assigned in order), and then
  // keeps only the newest "max_transitions" transitions.
  virtual Status SaveAlertStates(const std::vector<AlertStateRow>& states,
                                 const std::vector<AlertStateRow>& removed,
                                 const std::vector<AlertTransitionRow>& transitions,
                                 uint64_t max_transitions) = 0;
  // Every stored state, ordered by tenant, rule and group.
  virtual Result<std::vector<AlertStateRow>> ListAlertStates() const = 0;
  // The newest "limit" transitions of "tenant" (empty: every tenant) at or after "since_ns",
  // newest first; "rule" non-empty: of that rule only.
  virtual Result<std::vector<AlertTransitionRow>> ListAlertTransitions(std::string_view tenant,
                                                                       std::string_view rule,
                                                                       int64_t since_ns,
                                                                       uint64_t limit) const = 0;
  // Stores (or replaces) the rule of the same tenant and name.
  virtual Status PutAlertRule(const AlertRuleRow& row) = 0;
  // Errors: NotFound when the tenant has no rule of that name.
  virtual Status DeleteAlertRule(std::string_view tenant, std::string_view name) = 0;
  // Every stored rule, ordered by tenant and name.
  virtual Result<std::vector<AlertRuleRow>> ListAlertRules() const = 0;
  // ---- API tokens and the audit log (issue 15; docs/security.md) ----

  // Stores a new token. Errors: AlreadyExists for a duplicate id.
  virtual Status InsertToken(const TokenRow& row) = 0;
  // Every token, revoked ones included, by creation time.
  virtual Result<std::vector<TokenRow>> ListTokens() const = 0;
  // Sets revoked_ns of token "id" (kept if it was revoked already). Errors: NotFound.
  virtual Status RevokeToken(std::string_view id, int64_t now_ns) = 0;

  // Appends "row" as given (seq, hashes and all). Errors: AlreadyExists when "row.seq" is taken
  // (another writer appended first: reread the tail and recompute).
  virtual Status AppendAudit(const AuditRow& row) = 0;
  // Entries matching "filter", by seq, at most filter.limit.
  virtual Result<std::vector<AuditRow>> ListAudit(const AuditFilter& filter) const = 0;
  // The entry with the highest seq, if any.
  virtual Result<std::optional<AuditRow>> LastAudit() const = 0;
  // In one transaction: deletes the entries written before "before_ns" and records the last
  // deleted one as the anchor. Returns how many were deleted.
  virtual Result<uint64_t> PruneAudit(int64_t before_ns) = 0;
  // The anchor (seq 0 and "" before any pruning).
  virtual Result<AuditAnchor> GetAuditAnchor() const = 0;

  // ---- The audit chain shared by every node of a catalog (issue 20; docs/security.md "Audit
  // log", docs/cluster.md "The audit log") ----

  // Appends "row" at the head of the one chain, in one transaction that every appender of this
  // catalog (every node sharing it, every handle) goes through one at a time: sets row.seq to
  // the last entry's seq + 1 (at least "min_seq") and row.prev_hash to that entry's hash (the
  // anchor's when pruning left no entry), then row.hash = hash(row), and inserts it. Returns the
  // row as stored. Two nodes appending at once never collide: the second waits for the first's
  // commit and follows it. "min_seq" is the appender's own last seq + 1: entries deleted from
  // the end of the log leave a gap in seq that verification names, not a renumbered chain.
  virtual Result<AuditRow> AppendAuditChained(
      AuditRow row, uint64_t min_seq, const std::function<std::string(const AuditRow&)>& hash) = 0;

  // ---- Per-tenant quota overrides (issue 15; docs/security.md "Quotas") ----

  // Stores the tenant's row, replacing any; a row with empty settings removes it.
  virtual Status PutTenantQuota(const TenantQuotaRow& row) = 0;
  // Every stored row, by tenant.
  virtual Result<std::vector<TenantQuotaRow>> ListTenantQuotas() const = 0;

  // ---- Per-tenant bytes scanned per hour (issue 15; docs/security.md "Quotas") ----

  // In one transaction: stores each row (replacing the row of its tenant and minute) and
  // removes every row of a minute before "before_minute" (out of the hour).
  virtual Status PutScanUsage(const std::vector<ScanUsageRow>& rows, int64_t before_minute) = 0;
  // The rows of minutes at or after "since_minute", by tenant, then minute.
  virtual Result<std::vector<ScanUsageRow>> ListScanUsage(int64_t since_minute) const = 0;

  // ---- Retention, holds and the deletion record (issue 14) ----
  // Every change below is one transaction that also appends its RetentionEventRow ("event":
  // at_ns, actor, reason filled by the caller; action, tenant, ids and detail may be left to
  // the call), so the record never misses a change nor shows one that did not happen.

  // Stores "hold" (id assigned) and its event. Returns the stored hold.
  virtual Result<HoldRow> AddHold(const HoldRow& hold, const RetentionEventRow& event) = 0;
  // Marks hold "id" released at event.at_ns by event.actor for event.reason. Errors: NotFound
  // for an unknown id; FailedPrecondition when it is released already.
  virtual Result<HoldRow> ReleaseHold(uint64_t id, const RetentionEventRow& event) = 0;
  // Holds by id; "active_only": those not released.
  virtual Result<std::vector<HoldRow>> ListHolds(bool active_only) const = 0;
  // Stores the tenant's policy row (replacing it; a row with every field -1 is removed).
  virtual Status SetRetentionPolicy(const RetentionPolicyRow& row,
                                    const RetentionEventRow& event) = 0;
  virtual Result<std::vector<RetentionPolicyRow>> ListRetentionPolicies() const = 0;
  virtual Result<ComplianceRuleRow> AddComplianceRule(const ComplianceRuleRow& rule,
                                                      const RetentionEventRow& event) = 0;
  // Errors: NotFound for an unknown id.
  virtual Status RemoveComplianceRule(uint64_t id, const RetentionEventRow& event) = 0;
  virtual Result<std::vector<ComplianceRuleRow>> ListComplianceRules() const = 0;
  // The deletion of expired segments, in one transaction: removes the segment rows "retired"
  // (matched by id), records them as retired, and appends "events". Refused, with nothing
  // changed, when an event other than a segment_delete was recorded after "decided_after" (the
  // id of the newest event when the decision was made: a hold or a policy change since may keep
  // these segments): FailedPrecondition. Errors: NotFound if a row is not registered.
  // With a "fence" (the retention round's job lease), only while the lease holds, as Replace:
  // FailedPrecondition naming the lease and its holder otherwise.
  virtual Status RetireSegments(const std::vector<RetiredSegmentRow>& retired,
                                const std::vector<RetentionEventRow>& events,
                                uint64_t decided_after, const LeaseFence* fence) = 0;
  Status RetireSegments(const std::vector<RetiredSegmentRow>& retired,
                        const std::vector<RetentionEventRow>& events, uint64_t decided_after) {
    return RetireSegments(retired, events, decided_after, nullptr);
  }
  virtual Result<std::vector<RetiredSegmentRow>> ListRetiredSegments() const = 0;
  // Events matching "filter", newest first.
  virtual Result<std::vector<RetentionEventRow>> ListRetentionEvents(
      const RetentionEventFilter& filter) const = 0;
  // The id of the newest event, 0 if none.
  virtual Result<uint64_t> LastRetentionEventId() const = 0;

  // ---- Nodes and leases (issue 20) ----
  // Times are the callers' clocks: nodes sharing a catalog need clocks in step (NTP) to well
  // within a lease's time to live.

  // Stores (or replaces) the node's row. Errors: FailedPrecondition when the row of node.id is of
  // a later incarnation (started_ns): a process started before the one registered (it stalled
  // and was replaced) cannot take the id back; nothing changes then. Except over a fence
  // (FenceDeadNode) aimed at an incarnation older than node.started_ns: that is a restart whose
  // start time may be below the fence's (the fence committed between the restart and its first
  // heartbeat, or the fencing node's clock is ahead), not the fenced process; its heartbeat
  // takes the row, and the fence's node_gone row goes. node.confirmed_through is stored with the
  // row (in the same transaction), and so is node.settings when not empty: it replaces what was
  // recorded for node.id (a node registers with them, and later heartbeats leave them out).
  virtual Status Heartbeat(const NodeRow& node) = 0;
  // Every registered node, by id, each with the settings its incarnation recorded (none when
  // they were recorded by another incarnation of the id).
  virtual Result<std::vector<NodeRow>> ListNodes() const = 0;
  // Errors: NotFound for an unknown id. Forgets the node entirely (its confirmed-through and
  // any node_gone row too): other nodes treat a node without a row as holding no memtables.
  virtual Status RemoveNode(std::string_view id) = 0;
  // A clean stop: removes the row of node "id" if it is of incarnation "started_ns" (a later
  // process keeps its registration) and records, in the same transaction, that the node answers
  // nobody from "gone_ns" on (node_gone); its confirmed-through is kept, so that its segments it
  // had not confirmed are merged only once no query that asked it can still run.
  // Errors: NotFound when no row of that incarnation exists; nothing changes then.
  virtual Status LeaveCluster(std::string_view id, int64_t started_ns, int64_t gone_ns) = 0;
  // Fences a dead node out for good, in one transaction, when all of these hold: its row is of
  // incarnation "started_ns" and its heartbeat is older than "dead_before_ns" (checked under
  // the row's lock, so a heartbeat committed first wins); it was not fenced already; it owns no
  // unflushed WAL object (every one was taken over or flushed); and a segment it registered
  // above its confirmed-through still exists (the fence is needed only to let those be merged).
  // Then its row's incarnation becomes "now_ns" (at least started_ns + 1) with the heartbeat
  // left as it was, so the process, if it wakes, is refused like one replaced by a later
  // incarnation (Heartbeat, the fenced RegisterSegment), node_gone records "now_ns", and the
  // fence records that it is aimed at "started_ns" (a process of a later incarnation registers
  // over it, Heartbeat). Returns whether it fenced.
  virtual Result<bool> FenceDeadNode(std::string_view id, int64_t started_ns,
                                     int64_t dead_before_ns, int64_t now_ns) = 0;
  // Every node_gone row, by id (also those a later heartbeat of the id superseded).
  virtual Result<std::vector<GoneNodeRow>> ListGoneNodes() const = 0;
  // The value recorded under setting "name" (SettleSetting, the meta row "setting.<name>"),
  // nullopt when none is: read without recording anything (a store of an earlier build has no
  // row; docs/cluster.md "One partition count per store"). ReadSettings' entry; an empty name is
  // InvalidArgument.
  Result<std::optional<uint64_t>> ReadSetting(std::string_view name) const {
    if (name.empty()) return Status::InvalidArgument("catalog: a setting with no name");
    ASSIGN_OR_RETURN(auto all, ReadSettings());
    auto it = all.find(std::string(name));
    return it == all.end() ? std::optional<uint64_t>() : std::optional<uint64_t>(it->second);
  }
  // The store's segment format version (docs/cluster.md "Format version in a rolling upgrade"):
  // the setting "format_version" (SettleSetting records the first), which every node writes its
  // segments in, raised only by RaiseFormatVersion.
  // Records that node "node" reads segment formats up to "reads" (the meta row
  // "node_format.<node>") and returns the store's format version read after it in the same
  // transaction (0 when none is recorded). PostgreSQL: the setting's row is read FOR SHARE, so a
  // raise running at the same moment either commits first (and is returned) or waits for this
  // record and sees it.
  virtual Result<uint64_t> RecordNodeFormat(std::string_view node, uint64_t reads) = 0;
  // Raises the store's format version to "version", in one transaction, when one is recorded
  // below it and every node whose heartbeat is at or after "alive_since_ns" has recorded that it
  // reads "version" or newer (a node without a record, as of a build before, reads nothing newer
  // than the store's). INT64_MAX for "alive_since_ns" checks no node (a store one node holds
  // alone). Returns the version recorded afterwards (0 when none is). PostgreSQL: the setting's
  // row is taken FOR UPDATE before the nodes are read.
  virtual Result<uint64_t> RaiseFormatVersion(uint64_t version, int64_t alive_since_ns) = 0;
  // Takes lease "name" for "holder" until now_ns + ttl_ns when it is free, expired or held by
  // "holder" already (a renewal keeps the epoch), in one transaction; returns the lease as it
  // stands afterwards: the caller holds it when the returned holder is "holder".
  virtual Result<LeaseRow> AcquireLease(std::string_view name, std::string_view holder,
                                        int64_t now_ns, int64_t ttl_ns) = 0;
  // Takes or renews several leases in one transaction: the first "max" of "names", in the order
  // given (the caller's preference), that AcquireLease would give "holder" (free, expired or its
  // own); a lease held by another, or that another transaction is changing at that moment (or
  // holds a fence on), is passed over, not waited for (PostgreSQL: FOR UPDATE SKIP LOCKED).
  // Returns the leases taken or renewed, as they now stand, in the order given. So when fewer
  // than "max" come back, every other name was busy; when "max" did, the names after the last
  // one returned were not tried. Errors: InvalidArgument as AcquireLease, and for more than
  // kMaxLeasesPerCall names, an empty or repeated name, or "max" 0.
  virtual Result<std::vector<LeaseRow>> AcquireLeases(const std::vector<std::string>& names,
                                                      std::string_view holder, int64_t now_ns,
                                                      int64_t ttl_ns, size_t max) = 0;
  // Gives the lease up if "holder" has it (a no-op otherwise: it may have expired and moved on).
  virtual Status ReleaseLease(std::string_view name, std::string_view holder) = 0;
  // Every lease, by name.
  virtual Result<std::vector<LeaseRow>> ListLeases() const = 0;

  // ---- WAL objects of cluster nodes (issue 20; docs/cluster.md "Write path") ----

  // Registers a WAL object (state and claims as given), in one transaction that first checks
  // that every claim of "key_claims" (the Idempotency-Keys of the object's batches, claimed by
  // ClaimIdempotencyKey) is still pending as made (tenant, key, node, node_started_ns and
  // created_ns as given) and keeps each until the commit (PostgreSQL: the rows locked FOR
  // SHARE), so that a claimant taking a claim over either committed first (and this fails) or
  // then finds the object registered (and does not take it). Errors: AlreadyExists for a name
  // that is registered; FailedPrecondition naming a claim that is not held (taken over by
  // another node while this one stalled past node_timeout, or expired): nothing is registered,
  // and no batch of the object may be acknowledged (docs/cluster.md "Idempotency-Keys across
  // nodes").
  virtual Status RegisterWalObject(const WalObjectRow& row,
                                   const std::vector<IdempotencyClaimRow>& key_claims) = 0;
  // The objects "owner" answers for ("" : every one), by first_seq.
  virtual Result<std::vector<WalObjectRow>> ListWalObjects(std::string_view owner) const = 0;
  // Marks "names" flushed (their records are in registered segments), in one transaction that
  // first checks "owner" still answers for each (fencing: a node whose objects were taken over
  // changes nothing). Errors: FailedPrecondition naming an object that is not registered or not
  // owned by "owner"; nothing changes then.
  virtual Status MarkWalObjectsFlushed(const std::vector<std::string>& names,
                                       std::string_view owner) = 0;
  // Removes the rows of "names" that are flushed and owned by "owner" (after their objects were
  // deleted, or before: a row-less object is an orphan the node's start-up sweep deletes).
  // Returns how many went.
  virtual Result<uint64_t> DeleteWalObjects(const std::vector<std::string>& names,
                                            std::string_view owner) = 0;
  // Takes over at most "limit" unflushed objects owned by one of "from" (nodes found dead) for
  // "to", oldest first, in one transaction; an object another claimer is taking over at the
  // same moment is skipped, not waited for (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED).
  // An owner whose nodes row has a heartbeat at or after "alive_since_ns" is alive again and
  // keeps its objects (checked in the same statement; INT64_MAX: no check, e.g. a node
  // claiming its own objects at start). Each previous owner of a claimed object has its
  // takeover generation (ReadWalTakeovers) raised by one in the same transaction. Returns the
  // rows as they now are (owner "to", claims one higher).
  // With "to_generation" (the claimer's own takeover generation as it last read it, having
  // learnt which of its objects were taken up to it: docs/cluster.md "Fenced flush"), nothing
  // is claimed when the catalog's generation of "to" is above it: another node took objects of
  // the claimer since, whose rows the claimer's memtables may still hold, and claiming them back
  // would hold them twice. Checked first in the claim's own transaction (PostgreSQL: the
  // generation's row read FOR SHARE, so a claim raising it that runs at the same moment is
  // waited for). Errors: FailedPrecondition then, nothing claimed.
  virtual Result<std::vector<WalObjectRow>> ClaimWalObjects(
      const std::vector<std::string>& from, std::string_view to, size_t limit,
      int64_t alive_since_ns, std::optional<uint64_t> to_generation = std::nullopt) = 0;
  // Each node's takeover generation (table wal_takeovers), by node id: how many claims
  // (ClaimWalObjects, in the claim's own transaction) took at least one object the node owned.
  // A node that never had an object taken over has no entry (generation 0). A memtable answer
  // carries the generation its node last confirmed, and the querying node compares
  // (docs/cluster.md "Fenced answers"): a larger one means the node was taken over since.
  virtual Result<std::map<std::string, uint64_t>> ReadWalTakeovers() const = 0;
  // Reserves "count" seqs for the caller alone: returns "first", the block being [first, first +
  // count), with first >= at_least and above every block handed out before and every seq of a
  // registered segment. Errors: InvalidArgument for a count of 0.
  virtual Result<uint64_t> AllocateSeqs(uint64_t count, uint64_t at_least) = 0;
  // A setting every node of the store must share (docs/cluster.md "One partition count per
  // store"; "partitions", the count everything is filed by, storage::EngineOptions::partitions):
  // records "value" under "name" when nothing is recorded yet (the meta row "setting.<name>")
  // and returns the recorded value, in one transaction, so that of nodes starting at once
  // exactly one sets it and the others are given it. The caller compares and refuses to start
  // when it differs. Errors: InvalidArgument for an empty name.
  virtual Result<uint64_t> SettleSetting(std::string_view name, uint64_t value) = 0;
  // Records every one of "values" (name -> value) in one transaction, but only when none of them
  // is recorded yet; otherwise records nothing. Returns the recorded values of these names after
  // it (absent: not recorded), so that of nodes starting at once with different values exactly
  // one records its whole set and the others see it whole, never a mix of two nodes' values
  // (cluster::SettleNodeSettings reads and compares first, then records what is missing).
  // Errors: InvalidArgument for an empty name.
  virtual Result<std::map<std::string, uint64_t>> SettleSettings(
      const std::map<std::string, uint64_t>& values) = 0;
  // Every recorded setting (SettleSetting, ChangeSetting), by name (without "setting."); nothing
  // is recorded by reading.
  virtual Result<std::map<std::string, uint64_t>> ReadSettings() const = 0;
  // Records "value" under "name" whatever was recorded before (an operator's change of a
  // cluster-wide setting, docs/cluster.md "Cluster-wide settings"; the caller checks that the
  // change is safe). Errors: InvalidArgument for an empty name.
  virtual Status ChangeSetting(std::string_view name, uint64_t value) = 0;
  // The same, but only when every recorded setting is still exactly "expected" (what the
  // caller read and checked the change against), in one transaction with that comparison: two
  // operators' changes at once (node_heartbeat 9s and node_timeout 5s, each safe alone) cannot
  // both pass. "registered": the node incarnations the caller read (every row of the nodes
  // table it counted, live or dead: id -> started_ns); a registration since (a node of another
  // id or incarnation) refuses the change too, so that a node registering and re-reading the
  // settings between the caller's check and this write (it would run the old value, unchecked)
  // is either seen here or reads the new value (docs/cluster.md "Cluster-wide settings"): a
  // registration (Heartbeat) and this write are serialised (PostgreSQL: the settings lock,
  // shared by heartbeats; SQLite: BEGIN IMMEDIATE). Errors:
  // FailedPrecondition "changed meanwhile" when the settings differ from "expected", "registered
  // meanwhile" for such a node; InvalidArgument for an empty name.
  virtual Status ChangeSettingIf(const std::map<std::string, uint64_t>& expected,
                                 const std::map<std::string, int64_t>& registered,
                                 std::string_view name, uint64_t value) = 0;

  // ---- Segment changes: every node's view of the shared segments (issue 20; docs/cluster.md
  // "Read path") ----
  // Every change of the segments table, by any call of this interface (Replace, Insert, Delete,
  // SetState, Update, RetireSegments, RegisterSegment), is numbered in commit order: a change
  // is visible to readers only once every change with a lower number is, so a reader that has
  // applied the changes up to N has applied every change below N (PostgreSQL: the number is
  // taken under a row lock held to the commit).

  // Insert(row), and records in the same transaction that node "node" flushed it from its
  // memtables; returns the number of the change that registered it. Errors: as Insert;
  // InvalidArgument for an empty node. Every registration of a cluster node's flush must record
  // its node and hand back its change number like this: without them, queries on other nodes
  // count the segment's lines twice while the node still holds its memtable (docs/cluster.md
  // "Exactly once across nodes").
  //
  // Fenced flush of cluster nodes (docs/cluster.md "Fenced flush"): with a "fence" (null: none),
  // the same transaction also marks the WAL objects fence->mark_flushed flushed, and it commits
  // only while node "node" still answers for every object of fence->objects and
  // fence->mark_flushed (each registered with owner "node") and the nodes row of "node", if
  // there is one, is of incarnation fence->incarnation (its started_ns: a later incarnation of
  // the id answers for everything the id owns; no row is no objection: a node removes its row at
  // a clean stop before its last flush). Otherwise nothing changes, no number is taken, and the
  // answer is FailedPrecondition naming what failed, with fence->lost set to the objects of both
  // lists that "node" does not answer for (all of them when the incarnation is not current;
  // empty on any other answer). The objects' rows are locked until the commit, so a takeover
  // running at the same moment either committed first (and this fails) or skips them.
  struct WalFence {
    int64_t incarnation = 0;                // the registering process (NodeRow::started_ns)
    std::vector<std::string> objects;       // the WAL objects holding the segment's rows
    std::vector<std::string> mark_flushed;  // marked flushed in the same transaction
    std::vector<std::string> lost;          // out: see above
  };
  virtual Result<uint64_t> RegisterSegment(const SegmentRow& row, std::string_view node,
                                           WalFence* fence) = 0;
  // After a RegisterSegment of segment "id" whose answer was lost (Unavailable: the connection
  // broke, the commit may have happened): whether it committed. First waits for every
  // registration still in flight (a commit the catalog received and had not finished: in
  // PostgreSQL each holds the segment change counter's row lock to its end), so that the answer
  // is final. Returns the number of the change that registered the segment (also when it was
  // removed since, while that change is kept: PruneSegmentChanges), or 0 when it was never
  // registered. Errors: as any call (Unavailable: ask again later; the outcome stays unknown).
  virtual Result<uint64_t> SegmentRegistration(uint64_t id) = 0;
  // What changed after change "after", at most "limit" changes (0: every one; more: ask again
  // from "last"),
  // read in one consistent state. From 0, from a change older than the kept ones (see
  // PruneSegmentChanges) or from one above the newest: every registered segment ("full").
  virtual Result<SegmentChanges> ListSegmentChanges(uint64_t after, size_t limit) const = 0;
  // Forgets the changes made before "before_ns" (the catalog's clock): a reader that had not
  // seen them gets a full answer next. Returns how many were forgotten.
  virtual Result<uint64_t> PruneSegmentChanges(int64_t before_ns) = 0;

  // ---- Tests ----

  // Run before every commit of a change: a non-OK status rolls the transaction back and is
  // returned. Crash tests use it to model a process that died before the commit. nullptr: none.
  virtual void SetCommitHook(std::function<Status()> hook) = 0;
};

}  // namespace sawmill::catalog
