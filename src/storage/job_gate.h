// Cluster (docs/cluster.md "Background work by lease"): whether this process may run a round of
// a background job of the storage engine now ("compaction", "tiers", "retention"), and whether a
// round that began may still commit. The server sets the gate once, to a claim of the job's
// lease in the catalog, so that each job runs on one node of a cluster at a time, and the lease
// check, so that a node that lost the lease while its round ran (a renewal failed, or another
// node took it) abandons the round before its next commit step instead of finishing it. Unset
// (tests, tools): every round runs and commits. Process-wide, because the engine's background
// threads start inside Engine::Open; one server per process sets it.
//
//   if (!MayRunJob("tiers")) return;      // the claim, before the round
//   JobRound round("tiers");               // this thread runs a round of "tiers" until it ends
//   ...
//   s = StillHoldingJobLease();            // immediately before each commit step
//   if (s.ok()) s = catalog_->Replace(...);
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "sawmill/status.h"

namespace sawmill::storage {

// Thread-safe; "gate" may be null (every round runs).
void SetJobGate(std::function<bool(std::string_view job)> gate);
// True when a round of "job" may run now (the gate, or true without one).
bool MayRunJob(std::string_view job);

// Thread-safe; "still_held" may be null (a round always may commit). It answers whether this
// node has held the lease of "job" without a break since the claim that began the round.
void SetJobLeaseCheck(std::function<bool(std::string_view job)> still_held);

// While alive, the constructing thread runs a round of "job" whose lease was claimed (MayRunJob,
// or RetentionOptions::job_gate, said yes). Rounds do not nest.
class JobRound {
 public:
  explicit JobRound(std::string_view job);
  ~JobRound();
  JobRound(const JobRound&) = delete;
  JobRound& operator=(const JobRound&) = delete;
};

// Immediately before each commit step of a round (a catalog swap or update, a sweep, a
// deletion): FailedPrecondition naming the job when this thread's round lost its lease since the
// claim (the check says so now, or said so earlier in the round: a lost round stays lost). The
// caller then abandons the round without committing; the first refusal of a round is logged and
// counted (sawmill_job_rounds_abandoned_total{job}). OK outside a round (admin commands, disk
// pressure, tools) and without a check.
Status StillHoldingJobLease();

}  // namespace sawmill::storage
