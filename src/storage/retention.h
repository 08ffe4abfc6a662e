// Retention: per-tenant policies, compliance tags, holds, and the deletion of expired segments
// (docs/storage.md "Retention and holds"). The record of every hold, release, policy change and
// deletion is kept in the catalog (catalog.h, "Retention, holds and the deletion record").
//
// A segment is deleted only when it is proven expired and no hold covers it:
//  - expired: its newest line was received (ingest_ts) longer ago than the longest retention
//    that applies to any of its rows: the tenant's retention, a compliance rule of the tenant,
//    or a compliance rule whose service pattern matches a service the segment holds (read from
//    the segment's service index; a segment whose services cannot be read is kept as long as
//    the longest rule of its tenant). A tenant without a retention keeps everything.
//  - held: an active hold of its tenant whose [from, to) meets the segment's ts or ingest_ts
//    range, unless the hold's query is proven not to match by the segment's index and blooms
//    (HoldMatcher). Partial overlap keeps the whole segment.
// Deletion is catalog-first (Engine::RetireSegments, Catalog::RetireSegments): the rows are
// retired in one transaction with their record entries, refused when a hold or policy change
// was recorded after the decision; then the bytes go when the last running query lets go. A
// crash in between leaves a file reconciliation deletes (its id is in retired_segments).
//
// Threading: every public method is thread-safe. Rounds run one at a time (a background thread
// every "interval", RunOnce, or the disk watch), never concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "sawmill/status.h"
#include "segment/segment.h"
#include "storage/engine.h"

namespace sawmill::storage {

inline constexpr int64_t kNanosPerDay = 86'400ll * 1'000'000'000;
// The longest retention without a compliance tag: 13 months (396 days). Longer is refused.
inline constexpr int64_t kMaxRetentionNs = 396 * kNanosPerDay;
// The longest compliance retention: 10 years (3650 days).
inline constexpr int64_t kMaxComplianceRetentionNs = 3650 * kNanosPerDay;
// Tier defaults (issue 14): warm after 3 days, cold after 30.
inline constexpr int64_t kDefaultWarmAfterNs = 3 * kNanosPerDay;
inline constexpr int64_t kDefaultColdAfterNs = 30 * kNanosPerDay;

// "30d", "2w", "7y" (365 days), "12h", "90m", or anything ParseDuration takes; "0", "forever"
// and "none": 0 (keep forever). Errors: InvalidArgument naming the value.
Result<int64_t> ParseRetentionDuration(std::string_view text);
// The shortest spelling of "ns" in the units above ("30d", "7y", "36h", "forever" for 0).
std::string FormatRetentionDuration(int64_t ns);
// Service patterns ("payments*") match with GlobMatch(service, pattern) of common/glob.h.

// The retention policy of the config file (server option `retention`, docs/storage.md).
struct RetentionConfig {
  // For every tenant without its own: -1 where unset (then: keep forever, the tier defaults,
  // no byte limit).
  catalog::RetentionPolicyRow defaults;
  // By tenant; fields -1 fall back to "defaults".
  std::map<std::string, catalog::RetentionPolicyRow> tenants;
  // Compliance rules of the file (id 0).
  std::vector<catalog::ComplianceRuleRow> compliance;
};

// Checks a policy's values: retention at most 13 months (longer needs a compliance tag),
// cold_after not before warm_after, nothing negative except -1 (unset). "where" prefixes the
// message. Errors: InvalidArgument.
Status ValidatePolicy(const catalog::RetentionPolicyRow& row, std::string_view where);
// A compliance rule: retention above 0 and at most 10 years; a service pattern without
// characters other than [A-Za-z0-9_.:/*-]. Errors: InvalidArgument.
Status ValidateComplianceRule(const catalog::ComplianceRuleRow& rule, std::string_view where);

// The policy that applies to one tenant, every field resolved, with where each came from.
struct EffectivePolicy {
  std::string tenant;
  int64_t retention_ns = 0;  // 0: keep forever
  int64_t warm_after_ns = kDefaultWarmAfterNs;
  int64_t cold_after_ns = kDefaultColdAfterNs;
  uint64_t max_bytes = 0;  // 0: no limit
  std::string source;      // "admin", "config", "default" (of retention_ns)
  std::vector<catalog::ComplianceRuleRow> compliance;  // the rules that may apply to it
};

// Decides whether a hold's query may match a segment, from the segment's index and blooms. The
// query layer fills it in (storage never includes query): see http/admin_retention_routes.cc.
struct HoldMatcher {
  // InvalidArgument for a query that does not parse (with the position), or that aggregates.
  std::function<Status(std::string_view query)> validate;
  // False only when the index proves no row of the segment matches.
  std::function<Result<bool>(std::string_view query, const segment::SegmentReader& reader)>
      may_match;
};

// What one round did.
struct RetentionReport {
  int64_t now_ns = 0;
  uint64_t segments_seen = 0;
  uint64_t deleted_segments = 0;
  uint64_t deleted_bytes = 0;
  uint64_t deleted_rows = 0;
  // Expired segments kept because a hold covers them: (segment id, hold ids).
  std::vector<std::pair<uint64_t, std::vector<uint64_t>>> held;
  uint64_t kept_corrupt = 0;  // expired but corrupt: kept for the operator
  std::vector<std::string> errors;
};

struct RetentionOptions {
  Engine* engine = nullptr;  // must outlive Retention; its catalog() must not be null
  Clock* clock = nullptr;    // nullptr: Clock::Real()
  RetentionConfig config;
  HoldMatcher matcher;
  // Background rounds this often; 0: only RunOnce.
  int64_t interval_ns = 60'000'000'000;
  // The tier ages of a tenant no policy gives one (the server's warm_after / cold_after).
  int64_t default_warm_after_ns = kDefaultWarmAfterNs;
  int64_t default_cold_after_ns = kDefaultColdAfterNs;
  // Cluster (docs/cluster.md "Background work by lease"): asked before each background round
  // ("retention"); false skips it (another node holds the job's lease). Null: always run.
  std::function<bool(std::string_view job)> job_gate;
};

// An operator's hold request.
struct HoldRequest {
  std::string tenant;
  int64_t from_ns = 0, to_ns = 0;
  std::string query;
  std::string reason;
};

class Retention {
 public:
  // Errors: FailedPrecondition when the engine keeps no catalog; InvalidArgument for a bad
  // config (ValidatePolicy, ValidateComplianceRule).
  static Result<std::unique_ptr<Retention>> Start(RetentionOptions options);
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // Stops the background thread (also done by the destructor).
  void Stop();

  // One round now: decides, deletes, records; returns what it did. Waits for a running round.
  Result<RetentionReport> RunOnce();

  // ---- Holds ----
  // Errors: InvalidArgument (empty tenant or reason, from >= to, a query that does not parse).
  Result<catalog::HoldRow> AddHold(const HoldRequest& request, std::string_view actor);
  // Errors: NotFound, FailedPrecondition (released already), InvalidArgument (empty reason).
  Result<catalog::HoldRow> ReleaseHold(uint64_t id, std::string_view actor,
                                       std::string_view reason);
  Result<std::vector<catalog::HoldRow>> ListHolds(bool active_only) const;
  // For a hold: how many registered segments it keeps, and their bytes.
  Result<std::pair<uint64_t, uint64_t>> HeldBy(const catalog::HoldRow& hold);

  // ---- Policies ----
  Result<EffectivePolicy> Policy(std::string_view tenant) const;
  // Every tenant with segments or a policy of its own, and the defaults (tenant "").
  Result<std::vector<EffectivePolicy>> Policies() const;
  // Sets the fields of "row" that are not -1 for row.tenant (the others keep their value);
  // "clear": removes the admin row so the config file's policy applies again.
  // Errors: InvalidArgument (ValidatePolicy).
  Status SetPolicy(const catalog::RetentionPolicyRow& row, bool clear, std::string_view actor,
                   std::string_view reason);
  Result<catalog::ComplianceRuleRow> AddComplianceRule(const catalog::ComplianceRuleRow& rule,
                                                       std::string_view actor);
  Status RemoveComplianceRule(uint64_t id, std::string_view actor, std::string_view reason);
  Result<std::vector<catalog::ComplianceRuleRow>> ComplianceRules() const;  // file and admin

  // For the tier mover (Engine::SetTierPolicy): each tenant's effective warm_after and
  // cold_after; -1 (the engine's own) when the catalog cannot be read. Valid while this lives.
  Engine::TierPolicy TierAges() const;

  // ---- The record ----
  Result<std::vector<catalog::RetentionEventRow>> Events(
      const catalog::RetentionEventFilter& filter) const;

  // ---- Disk pressure (storage/disk_watch.h) ----
  // Deletes the oldest segments of tenants whose segments hold more than their max_bytes,
  // oldest first, until each is within it; never a held segment nor one a compliance rule
  // still keeps (those are counted and logged instead). "local_only": only segments in the
  // data directory are deleted (what frees the volume when the cold store takes nothing),
  // while the tenant's bytes in every tier still count against max_bytes. Returns the bytes
  // deleted.
  Result<uint64_t> DeleteOverMaxBytes(std::string_view why, bool local_only = false);
  // Bytes of segments that disk pressure could not delete because a hold or a compliance rule
  // keeps them (last DeleteOverMaxBytes).
  uint64_t blocked_bytes() const { return blocked_bytes_.load(); }

 private:
  explicit Retention(RetentionOptions options);
  // Under round_mu_.
  Result<RetentionReport> RoundLocked();

  // Longest retention that applies to "segment" (0: keep forever), and which rule it is.
  int64_t KeepFor(const EffectivePolicy& policy, const SegmentStatus& segment,
                  const std::shared_ptr<const Snapshot>& snapshot, std::string* rule) const;
  // Active holds covering "segment" (ids); "snapshot" opens its reader for query holds.
  std::vector<uint64_t> HoldsCovering(const std::vector<catalog::HoldRow>& holds,
                                      const SegmentStatus& segment,
                                      const std::shared_ptr<const Snapshot>& snapshot) const;
  EffectivePolicy Resolve(std::string_view tenant,
                          const std::vector<catalog::RetentionPolicyRow>& admin,
                          const std::vector<catalog::ComplianceRuleRow>& rules) const;
  // Retires one segment (catalog first) with its record entry. FailedPrecondition when a
  // change was recorded after "decided_after" or the segment is busy.
  Status Retire(const SegmentStatus& segment, std::string reason, std::string rule,
                uint64_t decided_after);
  std::string Now() const;

  const RetentionOptions options_;
  Engine* const engine_;
  catalog::Catalog* const catalog_;
  Clock* const clock_;

  Mutex round_mu_;  // one round at a time
  Mutex admin_mu_;  // read-modify-write of admin policy rows
  std::atomic<uint64_t> blocked_bytes_{0};
  // Segments DeleteOverMaxBytes last said it could not delete (each is logged once while it
  // stays blocked, not at every disk check).
  std::set<uint64_t> blocked_logged_ GUARDED_BY(round_mu_);
  PeriodicWorker worker_;  // last: stopped before the members above go
};

}  // namespace sawmill::storage
