// The compactor: merges small segments of one (tenant, partition) into one segment, swaps them
// in the catalog and in the segment registry, and leaves the replaced files to be deleted by
// their last reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/env.h"
#include "common/mutex.h"
#include "sawmill/status.h"
#include "storage/engine.h"
#include "storage/memtable_set.h"
#include "storage/segment_registry.h"

namespace sawmill::storage {

// CONTRACT
// Threading: thread-safe; one compaction runs at a time (its own mutex, taken first; then the
//   engine's state mutex "mu", never held across I/O). Called by the engine's compaction thread
//   and by Engine::CompactNow.
// Errors: a failed read of an input returns its error (a DataLoss is also reported through
//   Engine::ReportCorruption: the input is marked corrupt and no longer picked); a failed
//   write, read-back or catalog swap removes the new file and returns the error with the
//   tenant and partition. In every failure the inputs stay registered and readable.
// Durable when CompactOnce returns with *did_work: the merged segment is a synced file that
//   read back exactly the inputs' seqs, and the catalog lists it instead of its inputs (one
//   SQLite transaction). The inputs' files are deleted when the last snapshot holding them
//   lets go (or by reconciliation at the next start, as superseded).
class Compactor {
 public:
  // Every pointer must outlive the compactor. "engine" receives ReportCorruption. "*stop" set
  // (Engine::StopBackgroundWork): no round starts, and the one in progress is abandoned at its
  // next block (its output removed, its inputs left as they were) with Unavailable.
  Compactor(const EngineOptions& options, Env* env, Clock* clock, catalog::Catalog* catalog,
            Mutex* mu, const MemtableSet* memtables, SegmentRegistry* segments,
            std::shared_ptr<CorruptionReporter> reporter, Engine* engine,
            const std::atomic<bool>* stop);

  // One round: picks the (tenant, partition) with the most active segments smaller than
  // compaction_small_bytes (at least max(2, compaction_min_inputs)) whose partition lease this
  // round claims (storage/job_gate.h; any outside a round: the best), takes the oldest of them up
  // to about two target segments of raw bytes (at least two, at most 64), and merges them.
  // While the memtables hold more than half their cap (ingestion first), merges only a partition
  // with at least compaction_pressure_inputs small segments (none when that is 0) and re-encodes
  // nothing alone.
  // When no partition has enough small segments to merge, a single server re-encodes one
  // segment alone: the oldest that a flush under memory pressure wrote at the cheap text level
  // (SegmentEntry::cheap_text) in a partition whose memtables are empty (quiet: no flush is
  // coming to merge it with), at the compaction level (docs/storage.md "Backpressure").
  // "*did_work": a compaction replaced segments.
  Status CompactOnce(bool* did_work);

  // Compactions that replaced segments since open. The caller holds the engine's state mutex
  // (the "mu" given to the constructor): the analysis cannot tie the caller's name for it to mu_.
  uint64_t compactions() const NO_THREAD_SAFETY_ANALYSIS { return compactions_; }
  // Whether CompactOnce may re-encode "entry" alone: a segment a single server's pressure flush
  // wrote at the cheap text level (SegmentEntry::cheap_text), never on a cluster node
  // ("options".shared_store) nor one a node flushed (SegmentEntry::node), whatever the flag says.
  static bool RecodableAlone(const EngineOptions& options, const SegmentEntry& entry);

  // Held while no compaction may run (the reconciliation sweep, tier_mover.h).
  Mutex* mutex() RETURN_CAPABILITY(compaction_mu_) { return &compaction_mu_; }
  // Bytes read and written by the last compaction (for the rate limit).
  uint64_t last_bytes() const { return last_bytes_.load(); }

 private:
  // The segments' object store. It never changes (SegmentRegistry::store needs no lock), so it
  // is read without the engine's mutex that guards the rest of the registry.
  const std::shared_ptr<objstore::ObjectStore>& store() const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->store();
  }
  // "options" in the store's format version (SegmentRegistry::Writer needs no lock either).
  segment::WriterOptions Writer(segment::WriterOptions options) const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->Writer(std::move(options));
  }
  // The cold store: on a cluster node (EngineOptions::shared_store), the store every node shares.
  const std::shared_ptr<objstore::ObjectStore>& segments_cold() const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->cold();
  }
  // A cluster node's candidates: per (tenant, partition), the largest run of one node's settled
  // segments within shared_merge_seq_span whose node has confirmed them ("confirmed":
  // ConfirmedThroughByNode; compactor.cc says why). REQUIRES: "mu".
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> SharedCandidates(
      std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> candidates,
      const std::map<std::string, uint64_t>& confirmed) const;
  // The (tenant, partition)s with at least max(2, compaction_min_inputs, "min_inputs")
  // candidates (on a cluster node, SharedCandidates), the most candidates first. REQUIRES: "mu"
  // (the analysis cannot tie the caller's lock of it to mu_).
  std::vector<std::pair<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>>> RankedCandidates(
      const std::map<std::string, uint64_t>& confirmed,
      size_t min_inputs) const NO_THREAD_SAFETY_ANALYSIS;
  // A single server's segments written at the cheap text level under memory pressure in
  // partitions whose memtables are empty, oldest first (CompactOnce). REQUIRES: "mu".
  std::vector<std::shared_ptr<SegmentEntry>> RecodeCandidates() const NO_THREAD_SAFETY_ANALYSIS;
  // Sleeps SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS (tests that kill a node mid-round); else nothing.
  static void TestPauseBeforeSwap(uint64_t id);
  const EngineOptions& options_;
  Env* env_;
  Clock* clock_;
  catalog::Catalog* catalog_;
  Mutex* mu_;
  const MemtableSet* memtables_ PT_GUARDED_BY(mu_);
  SegmentRegistry* segments_ PT_GUARDED_BY(mu_);
  std::shared_ptr<CorruptionReporter> reporter_;
  Engine* engine_;
  const std::atomic<bool>* const stop_;

  Mutex compaction_mu_;  // one compaction at a time
  std::atomic<uint64_t> last_bytes_{0};
  uint64_t compactions_ GUARDED_BY(mu_) = 0;
};

}  // namespace sawmill::storage
