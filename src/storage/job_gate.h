// Cluster (docs/cluster.md "Background work by lease"): whether this process may run a round of
// a background job of the storage engine now ("compaction", "tiers", "retention"), and whether a
// round that began may still commit. The server sets the gate once, to a claim of the job's
// lease in the catalog, so that each job runs on one node of a cluster at a time, and the lease
// check, so that a node that lost the lease while its round ran (a renewal failed, or another
// node took it) abandons the round before its next commit step instead of finishing it. Unset
// (tests, tools): every round runs and commits. Process-wide, because the engine's background
// threads start inside Engine::Open; one server per process sets it.
//
//   if (!MayRunJob("retention")) return;  // the claim, before the round
//   JobRound round("retention");           // this thread runs a round of "retention" until it ends
//   ...
//   s = StillHoldingJobLease();            // immediately before each commit step
//   if (s.ok()) s = catalog_->RetireSegments(...);
//
// Compaction and tier moves are claimed per partition instead ("Jobs per partition" below), so
// that several nodes of a cluster work at once, each on other partitions:
//
//   JobRound round("compaction", JobRound::kPerPartition);
//   ...
//   std::vector<std::string> got = ClaimPartitionJobs({lease_of_p1, lease_of_p2}, 1);
//   ...
//   s = CommitUnderJobLease(got[0], [&](const catalog::LeaseFence* fence) {
//     return catalog_->Replace(inputs, {output}, fence);  // refused if the lease moved on
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "sawmill/status.h"

namespace sawmill::storage {

// Thread-safe; "gate" may be null (every round runs).
void SetJobGate(std::function<bool(std::string_view job)> gate);
// True when a round of "job" may run now (the gate, or true without one).
bool MayRunJob(std::string_view job);

// Thread-safe; "still_held" may be null (a round always may commit). It answers whether this
// node has held the lease of "job" without a break since the claim that began the round.
void SetJobLeaseCheck(std::function<bool(std::string_view job)> still_held);

// ---- Jobs per partition: compaction and tier moves ----
//
// Their leases are per slot of (tenant, partition), "<job>/<slot>" (64 slots per job: a bounded
// number of lease rows, whatever the number of tenants), claimed by a round for the partitions
// it is about to work on and given up when it ends; two partitions in one slot are never worked
// on by two nodes at once, which costs some parallelism and nothing else.
inline constexpr uint32_t kPartitionJobSlots = 64;
// The lease of "job" ("compaction", "tiers") on (tenant, partition): the slot is FNV-1a of the
// tenant and the partition, so every node and build names the same one.
std::string PartitionJobLease(std::string_view job, std::string_view tenant, uint32_t partition);

// A node's leases on partition slots (cluster::JobLeases implements it).
class PartitionLeases {
 public:
  virtual ~PartitionLeases() = default;
  // Takes or renews the first "max" of "names" (in the order given) that this node may hold,
  // in one catalog call (Catalog::AcquireLeases); returns them, in that order. A catalog error
  // takes none (logged once per streak).
  virtual std::vector<std::string> ClaimSome(const std::vector<std::string>& names, size_t max) = 0;
  // Gives up those of "names" this node holds. Each name a ClaimSome returned is given up by one
  // ReleaseSome: two rounds of one node under one lease (an admin's and the background one)
  // keep it until both let go.
  virtual void ReleaseSome(const std::vector<std::string>& names) = 0;
  // Whether this node has held "name" without a break since ClaimSome took it, renewed less
  // than half a ttl ago or now (as JobLeases::StillHeld).
  virtual bool StillHeld(std::string_view name) = 0;
  // The fence a commit under "name" gives the catalog: this node's holder and the epoch
  // ClaimSome took the lease at; nullopt when it did not.
  virtual std::optional<catalog::LeaseFence> Fence(std::string_view name) const = 0;
};

// The process's partition leases (the server's, set with the gate): "leases" answers them, or
// null while the node has none yet (rounds then claim nothing). Unset (tests, tools): every
// partition may be worked on and no commit is fenced. They also give the fence of a whole-job
// round's commit (CommitUnderJobLease without a name). Thread-safe.
void SetPartitionLeases(std::function<PartitionLeases*()> leases);

// While alive, the constructing thread runs a round of "job" whose lease was claimed (MayRunJob,
// or RetentionOptions::job_gate, said yes), or, kPerPartition, a round of a per-partition job
// that claims its partitions as it goes (ClaimPartitionJobs) with "leases" (null: the
// process's, SetPartitionLeases); the partitions it still holds are given up when it ends.
// Rounds do not nest.
class JobRound {
 public:
  enum PerPartition { kPerPartition };
  explicit JobRound(std::string_view job);
  JobRound(std::string_view job, PerPartition, PartitionLeases* leases = nullptr);
  ~JobRound();
  JobRound(const JobRound&) = delete;
  JobRound& operator=(const JobRound&) = delete;
};

// In a per-partition round: claims up to "max" of the partition leases "names" (preferred
// first; at most catalog::kMaxLeasesPerCall, without repeats) and returns those claimed, which
// the round holds until ReleasePartitionJobs or its end. Outside such a round (admin commands,
// disk pressure, tools) or without partition leases set: the first "max" names, unclaimed.
// With leases set but none yet: nothing.
std::vector<std::string> ClaimPartitionJobs(const std::vector<std::string>& names, size_t max);
// Whether this thread's round claims partition leases (a per-partition round with partition
// leases set): if not, ClaimPartitionJobs grants whatever it is asked.
bool ClaimingPartitionJobs();
// Gives up "names" claimed by this thread's round before it ends (so other nodes may take
// them at once). Outside a round: nothing.
void ReleasePartitionJobs(const std::vector<std::string>& names);

// The commit step of a per-partition round under the lease "name" it claimed: asks
// StillHoldingJobLease(name), then calls "commit" with the fence the catalog is to check in the
// commit's own transaction (catalog::LeaseFence; null outside a round or without leases). A
// commit the catalog refused for its fence (FailedPrecondition) loses the round's lease as the
// check does (logged and counted once). Returns the check's or the commit's status.
Status CommitUnderJobLease(std::string_view name,
                           const std::function<Status(const catalog::LeaseFence* fence)>& commit);

// The commit step of a round of a whole-job lease ("retention", "segment_sweep", claimed with
// MayRunJob): asks StillHoldingJobLease(), then calls "commit" with the fence of the round's
// claim (the process's leases, SetPartitionLeases, give it: PartitionLeases::Fence of the job's
// name), which the catalog checks in the commit's own transaction; null outside a round or
// without leases. A commit the catalog refused for its fence (catalog::IsLeaseFenceRefusal)
// loses the round as the check does (logged and counted once; StillHoldingJobLease says so from
// then on). Returns the check's or the commit's status.
Status CommitUnderJobLease(const std::function<Status(const catalog::LeaseFence* fence)>& commit);

// Immediately before each commit step of a round (a catalog swap or update, a sweep, a
// deletion): FailedPrecondition naming the job when this thread's round lost its lease since the
// claim (the check says so now, or said so earlier in the round: a lost round stays lost). The
// caller then abandons the round without committing; the first refusal of a round is logged and
// counted (sawmill_job_rounds_abandoned_total{job}). OK outside a round (admin commands, disk
// pressure, tools), in a per-partition round (it holds no lease of its job as a whole) and
// without a check.
Status StillHoldingJobLease();
// The same for the partition lease "name" of this thread's per-partition round (OK outside one
// and without partition leases).
Status StillHoldingJobLease(std::string_view name);

}  // namespace sawmill::storage
