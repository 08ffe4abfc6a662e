// The segment registry: the set of live segments (registered in the catalog, state active or
// corrupt) as the engine sees it, the reference-counted entries that snapshots hold, and the
// segment-id counter.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/env.h"
#include "common/mutex.h"
#include "objstore/object_store.h"
#include "storage/engine.h"
#include "storage/memtable.h"

namespace sawmill::storage {

// Lets a segment that fails to open report the corruption to the engine without keeping the
// engine alive: snapshots (and so segments) may outlive it.
// Threading: thread-safe (own mutex). Report calls Engine::ReportCorruption under that mutex.
class CorruptionReporter {
 public:
  // "newest_format": the newest segment format the engine reads (EngineOptions::
  // newest_format_version): SegmentEntry::Open refuses a newer one, as the reader does a file
  // newer than the build (FailedPrecondition, never reported corrupt).
  explicit CorruptionReporter(Engine* engine, uint32_t newest_format = segment::kFormatVersion)
      : engine_(engine), newest_format_(newest_format) {}
  uint32_t newest_format() const { return newest_format_; }
  void Report(uint64_t segment_id, const Status& status);
  // After Detach, Report does nothing. Called by the engine's destructor.
  void Detach();

 private:
  Mutex mu_;
  Engine* engine_ GUARDED_BY(mu_);  // nullptr once the engine is gone
  const uint32_t newest_format_;
};

// One registered segment as the engine sees it. Shared by the registry and by every snapshot
// that includes it; once compaction replaces it, the last holder deletes the file.
// Threading: Open and info() from any thread; set_state and "compacting" under the engine's
// state mutex (see SegmentRegistry).
class SegmentEntry {
 public:
  // "path" is where the segment is (for messages and legacy rows). The row's path is the
  // segment's name in "store" (the object store the row's "store" column names: the data
  // directory's, or the cold store), which Open reads it through and the last holder of an
  // obsolete entry deletes it through; a row with an absolute path (written by an older build)
  // is opened and deleted by path instead. "store" nullptr: the row names a store this engine
  // does not have (Open answers FailedPrecondition).
  SegmentEntry(Env* env, std::shared_ptr<objstore::ObjectStore> store, std::string path,
               catalog::SegmentRow row, std::shared_ptr<CorruptionReporter> reporter)
      : env_(env),
        store_(std::move(store)),
        path_(std::move(path)),
        row_(std::move(row)),
        reporter_(std::move(reporter)) {}
  ~SegmentEntry();
  SegmentEntry(const SegmentEntry&) = delete;
  SegmentEntry& operator=(const SegmentEntry&) = delete;

  // Opens the reader once; later calls share it. Errors as SegmentReader::Open, and DataLoss
  // when the file holds another segment; a DataLoss is reported to the engine (marked corrupt,
  // counted, logged).
  Result<std::shared_ptr<segment::SegmentReader>> Open();
  // Deletes the object when the last reference goes (a failed delete is logged and counted;
  // reconciliation removes it later, as no catalog row names it any more).
  void MarkObsolete() { obsolete_ = true; }
  bool obsolete() const { return obsolete_; }

  const catalog::SegmentRow& row() const { return row_; }
  const std::string& path() const { return path_; }
  segment::SegmentInfo info() const;
  // State changes happen under the engine's state mutex.
  void set_state(std::string state) { row_.state = std::move(state); }
  // Under the engine's state mutex, which guards the whole registry: a compaction or a tier
  // transition has taken it as its input.
  bool compacting = false;
  // Under the engine's state mutex: on a cluster node, the node whose flush made it and the
  // catalog change that registered it (docs/cluster.md "Exactly once across nodes"); "" and 0
  // for other segments and before the node's view knows.
  std::string node;
  uint64_t registered = 0;
  // Set by a single server's flush that wrote it (a cluster node's never sets it): its text is
  // at EngineOptions::pressure_text_zstd_level, not the usual level (a flush under memory
  // pressure). Compaction re-encodes such a segment alone
  // once its partition is quiet (compactor.h). Not kept across a restart: such a segment then
  // keeps its bytes until a merge takes it.
  bool cheap_text = false;
  // (A single server) when the flush that wrote it published it (EngineOptions::clock,
  // monotonic); a compaction's output: the latest of its inputs'; 0 for a segment found at
  // open. A partition is quiet for that re-encoding once its latest is recode_quiet_ns old.
  int64_t flushed_mono_ns = 0;
  // When this entry was made (steady clock, ns): its segment was registered no later, so a
  // cluster node knows how long ago at least (EngineOptions::shared_settle_ns).
  const int64_t known_since_ns = SteadyClockNanos();

  static int64_t SteadyClockNanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  Env* env_;
  std::shared_ptr<objstore::ObjectStore> store_;
  std::string path_;
  catalog::SegmentRow row_;
  std::shared_ptr<CorruptionReporter> reporter_;
  std::atomic<bool> obsolete_{false};
  Mutex open_mu_;
  std::shared_ptr<segment::SegmentReader> reader_ GUARDED_BY(open_mu_);
};

// CONTRACT
// Threading: not synchronised by itself. Every method except store() REQUIRES the engine's state
//   mutex (StorageEngine::mu_), the same mutex that guards the memtable set, so that a flush adds
//   its segment and drops its frozen memtable in one step for snapshots, and a compaction swaps
//   its inputs for its output in one step. Segment ids are not the registry's: the flusher and
//   the compactor allocate them from the catalog (Catalog::AllocateSegmentId).
// Errors: none; the registry only changes memory. Callers write the catalog first (flusher:
//   Catalog::Insert; compactor: Catalog::Replace) and change the registry after, so the registry
//   never shows a segment the catalog lacks. (Engine::ReportCorruption marks the entry corrupt
//   first and then the catalog row; a failed catalog write is logged.)
// Durable when a call returns: nothing; the registry mirrors the catalog and is rebuilt from it
//   at every start. A replaced entry's file is deleted when the last snapshot holding it lets go.
class SegmentRegistry {
 public:
  // "store" is the data directory's object store (catalog::kLocalStore), "cold" the cold tier's.
  SegmentRegistry(std::shared_ptr<objstore::ObjectStore> store,
                  std::shared_ptr<objstore::ObjectStore> cold)
      : store_(std::move(store)), cold_(std::move(cold)) {}
  // The data directory's store: hot and warm segments are written to it and read from it.
  // Set at construction: any thread, no mutex.
  const std::shared_ptr<objstore::ObjectStore>& store() const { return store_; }
  // The cold tier's store (kColdStore). Any thread, no mutex.
  const std::shared_ptr<objstore::ObjectStore>& cold() const { return cold_; }
  // The store a row's "store" column names, or nullptr. Any thread, no mutex.
  std::shared_ptr<objstore::ObjectStore> StoreNamed(std::string_view name) const;
  // The format version new segments are written in (flushes, compaction, tier moves): the
  // store's, which the engine sets at open and when it is raised (docs/cluster.md "Format
  // version in a rolling upgrade"). Any thread, no mutex.
  uint32_t write_format() const { return write_format_.load(std::memory_order_relaxed); }
  void set_write_format(uint32_t version) {
    write_format_.store(version, std::memory_order_relaxed);
  }
  // "options" written in no newer version than write_format() (an older one asked for, as
  // tests do to write files of older builds, is kept).
  segment::WriterOptions Writer(segment::WriterOptions options) const {
    options.format_version = std::min(options.format_version, write_format());
    return options;
  }

  // Adds (or replaces) the entry of its row's tenant and id.
  void Add(std::shared_ptr<SegmentEntry> entry);
  // The entry with "id" in any tenant, or nullptr.
  std::shared_ptr<SegmentEntry> Find(uint64_t id) const;
  // Compaction's and a tier transition's swap: removes "inputs" (clearing their "compacting"
  // mark and marking them obsolete, so the last holder deletes the object) and adds "output".
  // REQUIRES: every input and the output belong to one tenant.
  // With "delete_inputs" false (a cluster node: other nodes may still read the inputs' objects)
  // the inputs are not marked obsolete; their objects are left to the orphan sweep.
  void Replace(const std::vector<std::shared_ptr<SegmentEntry>>& inputs,
               std::shared_ptr<SegmentEntry> output, bool delete_inputs = true);
  // The output "id" of a compaction or tier move whose swap of "inputs" this node is committing
  // (a cluster node): the segment view leaves the output and, once it sees the swap, the
  // inputs' removal to Replace, which does both in one step (applied apart, the view would show
  // both or neither). Replace ends it; DropPendingOutput after a failed swap.
  void AddPendingOutput(uint64_t id, std::vector<uint64_t> inputs) {
    pending_outputs_[id] = std::move(inputs);
  }
  // "may_have_committed": the swap's outcome is unknown (its answer was lost and not read back);
  // if it committed while the view passed its changes (left to the swap, above), only a full
  // listing shows the output and drops the inputs, so the view asks for one
  // (full_view_wanted, Engine::FullSegmentViewWanted).
  void DropPendingOutput(uint64_t id, bool may_have_committed) {
    pending_outputs_.erase(id);
    if (may_have_committed) ++full_view_wanted_;
  }
  uint64_t full_view_wanted() const { return full_view_wanted_; }
  bool IsPendingOutput(uint64_t id) const { return pending_outputs_.count(id) > 0; }
  // The inputs of this node's pending swaps whose output is among "changed" (the swap has
  // committed: its removals are this node's to apply).
  std::set<uint64_t> OwnSwappedInputs(const std::set<uint64_t>& changed) const {
    std::set<uint64_t> out;
    for (const auto& [output, inputs] : pending_outputs_) {
      if (changed.count(output) > 0) out.insert(inputs.begin(), inputs.end());
    }
    return out;
  }
  // Retention's deletion: removes "entries" (clearing their "compacting" mark and marking them
  // obsolete, so the last holder deletes the file).
  void Remove(const std::vector<std::shared_ptr<SegmentEntry>>& entries);
  // Another node's change (a cluster node's segment view): removes the entry of "id", if any,
  // without marking it obsolete: whoever removed the row deletes the object.
  void Forget(uint64_t id);
  // Active hot segments smaller than "below_bytes" that no compaction or transition holds, by
  // (tenant, partition), each list in id order.
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> SmallActive(
      uint64_t below_bytes) const;

  // Every entry, by tenant then id.
  std::vector<std::shared_ptr<SegmentEntry>> All() const;
  // Adds (store, object name) of every replaced entry a snapshot still holds (its object is
  // deleted by the last holder; the reconciliation sweep must leave it alone).
  void HeldObsolete(std::set<std::pair<std::string, std::string>>* out);

  // Appends a handle for every segment of snapshot->tenant, in id order. Each handle holds a
  // reference to its entry, so the file stays readable while the snapshot lives.
  void AddToSnapshot(Snapshot* snapshot) const;

  // Number and total bytes of the registered segments.
  uint64_t count() const;
  uint64_t bytes() const;
  // Sets the sawmill_segments, sawmill_segment_bytes and sawmill_segments_corrupt gauges.
  void UpdateGauges() const;

 private:
  // tenant -> id -> segment. Only states active and corrupt (missing ones are not readable).
  std::map<std::string, std::map<uint64_t, std::shared_ptr<SegmentEntry>>> segments_;
  const std::shared_ptr<objstore::ObjectStore> store_;
  const std::shared_ptr<objstore::ObjectStore> cold_;
  std::vector<std::weak_ptr<SegmentEntry>> replaced_;          // pruned by HeldObsolete
  std::map<uint64_t, std::vector<uint64_t>> pending_outputs_;  // output id -> input ids
  uint64_t full_view_wanted_ = 0;
  std::atomic<uint32_t> write_format_{segment::kFormatVersion};
};

}  // namespace sawmill::storage
