// The tier mover: moves segments from hot to warm (re-encoded for size, still in the data
// directory) and from warm to cold (the same bytes copied into the cold object store), and
// sweeps superseded objects no catalog row names. Decisions: docs/storage.md ("Tiers").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <roaring/roaring64map.hh>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/reconcile.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/repeated_failure_log.h"
#include "sawmill/status.h"
#include "storage/engine.h"
#include "storage/segment_registry.h"

namespace sawmill::storage {

// CONTRACT
// Threading: thread-safe; one transition (or sweep) at a time (its own mutex, taken first; then
//   the engine's state mutex "mu", never held across I/O). Called by the engine's tier thread,
//   by Engine::MoveTiers (the admin API) and Engine::RunTiersNow (tests).
// A transition of one segment is atomic and idempotent:
//   1. the segment is taken (its entry's "compacting" mark, so compaction and another move
//      leave it alone);
//   2. the target is written (hot -> warm: the rows re-encoded with the warm writer options as a
//      new segment id in DIR/segments/warm/...; warm -> cold: the object copied unchanged into
//      the cold store as "<tenant>/<id>.seg"), then read back and verified (every block's
//      checksum, the identity, exactly the source's seqs);
//   3. ONE catalog transaction registers the target and retires the source (Replace of the row
//      for warm; Update of the row's tier, store and path for cold);
//   4. the registry swaps source for target in one step under "mu" (a snapshot holds either,
//      never both, never neither); the source's object is deleted when the last snapshot
//      holding it lets go.
//   Any failure before 3 deletes the target and leaves the source as it was (counted in
//   sawmill_tier_transition_failures_total{tier}; logged when moves to that tier start to
//   fail, then at most once a minute with the count, and when one works again). A crash anywhere
//   leaves one registered copy; the other is an object no row names, proven superseded by its seqs
//   and deleted by reconciliation at the next start (or by Sweep). A segment already in the target
//   tier (or past it) is not moved again.
// Durable when a transition returns OK: the target is committed in its store and the catalog
//   names it.
class TierMover {
 public:
  // Every pointer must outlive the mover. "*stop" set (Engine::StopBackgroundWork): no move
  // starts, and the one in progress is abandoned at its next block (its target removed, the
  // segment left where it was; not counted as a failure); the report then holds the moves
  // made before.
  TierMover(const EngineOptions& options, Env* env, Clock* clock, catalog::Catalog* catalog,
            Mutex* mu, SegmentRegistry* segments, std::shared_ptr<CorruptionReporter> reporter,
            Engine* engine, const std::atomic<bool>* stop);

  // Moves every active segment whose newest record (max_ts) is older than "cutoff_ns" (wall
  // clock) and whose tier comes before "to" ("warm" or "cold"; a hot segment going cold goes
  // through warm). Stops at the first failure of a segment and returns the report so far with
  // the error in it. Errors: InvalidArgument for another "to".
  Result<TierMoveReport> MoveOlderThan(int64_t cutoff_ns, std::string_view to);

  // The background round: hot segments older than their tenant's warm_after go warm, warm (and
  // hot) ones older than their tenant's cold_after go cold (0 disables either). The ages come
  // from the tier policy (SetPolicy; the retention policies), the engine's options where it
  // gives none. Returns the first error.
  Status RunDue();

  // Disk pressure: segments one tier before "to" move to it, oldest max_ts first, while
  // "enough" says false (asked before each). Errors: InvalidArgument for another "to".
  Result<TierMoveReport> MoveOldestFirst(std::string_view to, const std::function<bool()>& enough);

  // The per-tenant ages RunDue uses (Engine::SetTierPolicy). Thread-safe.
  void SetPolicy(Engine::TierPolicy policy);

  // Deletes the objects no catalog row names that are proven superseded (reconciliation's sweep
  // mode), except this mover's write in flight and replaced segments a snapshot still holds.
  // REQUIRES: no compaction runs (the caller holds the compactor's mutex: a compaction's output
  // is superseded by its inputs until its swap commits). Returns how many were deleted.
  Result<uint64_t> Sweep(const std::vector<catalog::ReconcileStore>& stores,
                         const catalog::SegmentFileOps& ops);

 private:
  // Moves the active segments "due" says are due (given the row and the step's target tier),
  // step by step up to "to"; oldest max_ts first; stops before a segment when "enough" says so
  // (null: never) and at the first failure.
  Result<TierMoveReport> MoveWhere(
      std::string_view to, int first_step,
      const std::function<bool(const catalog::SegmentRow&, std::string_view step_to)>& due,
      const std::function<bool()>& enough);
  // In a per-partition round of the job (storage/job_gate.h), the segments of "due" (oldest
  // first) of the next few partitions whose leases the round claims, taken out of "due", whose
  // segments of partitions another node holds are dropped (it moves them); "*claimed": the
  // leases, to give up once they are moved. Elsewhere: all of "due".
  static std::vector<std::shared_ptr<SegmentEntry>> TakeClaimed(
      std::vector<std::shared_ptr<SegmentEntry>>* due, std::vector<std::string>* claimed);
  // The partitions claimed at once by TakeClaimed.
  static constexpr size_t kPartitionsPerClaim = 4;
  // Moves "batch" (in order) one step (1: warm, 2: cold), adding to "report"; stops when
  // "enough" says so and at the first failure (report->error).
  void MoveBatch(int step, std::vector<std::shared_ptr<SegmentEntry>>* batch,
                 const std::function<bool()>& enough, TierMoveReport* report);
  // One segment one tier further ("warm" or "cold"). "*written": the target's bytes;
  // "*skipped": the segment was taken meanwhile (a compaction, another move, replaced).
  Status MoveOne(const std::shared_ptr<SegmentEntry>& entry, std::string_view to, uint64_t* written,
                 bool* skipped);
  // "seqs" and "rows": the source's seqs and row count, which the target must hold exactly.
  Status ToWarm(const std::shared_ptr<SegmentEntry>& entry,
                const std::shared_ptr<segment::SegmentReader>& reader, const Roaring64Map& seqs,
                uint64_t rows, std::shared_ptr<SegmentEntry>* out) REQUIRES(move_mu_);
  Status ToCold(const std::shared_ptr<SegmentEntry>& entry, const Roaring64Map& seqs, uint64_t rows,
                std::shared_ptr<SegmentEntry>* out) REQUIRES(move_mu_);
  const std::shared_ptr<objstore::ObjectStore>& local() const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->store();
  }
  // "options" in the store's format version (SegmentRegistry::Writer needs no lock either).
  segment::WriterOptions Writer(segment::WriterOptions options) const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->Writer(std::move(options));
  }
  const std::shared_ptr<objstore::ObjectStore>& cold() const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->cold();
  }

  const EngineOptions& options_;
  Env* env_;
  Clock* clock_;
  catalog::Catalog* catalog_;
  Mutex* mu_;
  SegmentRegistry* segments_ PT_GUARDED_BY(mu_);
  std::shared_ptr<CorruptionReporter> reporter_;
  Engine* engine_;
  const std::atomic<bool>* const stop_;
  bool stopping() const { return stop_->load(); }

  Mutex policy_mu_;
  Engine::TierPolicy policy_ GUARDED_BY(policy_mu_);
  // Transition failures by target tier, logged without repeating a line per attempt.
  RepeatedFailureLog warm_failures_, cold_failures_;
  Mutex move_mu_;  // one transition or sweep at a time
  // The object being written right now ((store, name)), which the sweep must not touch.
  std::pair<std::string, std::string> in_flight_ GUARDED_BY(move_mu_);
};

// The rank of a tier (hot 0, warm 1, cold 2); -1 for another name.
int TierRank(std::string_view tier);

}  // namespace sawmill::storage
