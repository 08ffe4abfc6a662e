// The segment registry: the set of live segments (registered in the catalog, state active or
// corrupt) as the engine sees it, the reference-counted entries that snapshots hold, and the
// segment-id counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
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
  explicit CorruptionReporter(Engine* engine) : engine_(engine) {}
  void Report(uint64_t segment_id, const Status& status);
  // After Detach, Report does nothing. Called by the engine's destructor.
  void Detach();

 private:
  Mutex mu_;
  Engine* engine_ GUARDED_BY(mu_);  // nullptr once the engine is gone
};

// One registered segment as the engine sees it. Shared by the registry and by every snapshot
// that includes it; once compaction replaces it, the last holder deletes the file.
// Threading: Open and info() from any thread; set_state and "compacting" under the engine's
// state mutex (see SegmentRegistry).
class SegmentEntry {
 public:
  // "path" is the file. The row's path, relative to the data directory, is the segment's name in
  // "store" (the data directory's object store), which Open reads it through; a row with an
  // absolute path (written by an older build) is opened by path instead.
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
  // Deletes the file when the last reference goes (a failed delete is logged; reconciliation
  // at the next start removes the file, which no catalog row names any more).
  void MarkObsolete() { obsolete_ = true; }

  const catalog::SegmentRow& row() const { return row_; }
  const std::string& path() const { return path_; }
  segment::SegmentInfo info() const;
  // State changes happen under the engine's state mutex.
  void set_state(std::string state) { row_.state = std::move(state); }
  bool compacting = false;  // under the engine's state mutex, which guards the whole registry

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
  // "store" is where the segments are read from (the data directory's object store).
  explicit SegmentRegistry(std::shared_ptr<objstore::ObjectStore> store)
      : store_(std::move(store)) {}
  // The store every entry opens its segment through, and new segments are verified through.
  // Set at construction: any thread, no mutex.
  const std::shared_ptr<objstore::ObjectStore>& store() const { return store_; }

  // Adds (or replaces) the entry of its row's tenant and id.
  void Add(std::shared_ptr<SegmentEntry> entry);
  // The entry with "id" in any tenant, or nullptr.
  std::shared_ptr<SegmentEntry> Find(uint64_t id) const;
  // Compaction's swap: removes "inputs" (clearing their "compacting" mark and marking them
  // obsolete, so the last holder deletes the file) and adds "output".
  // REQUIRES: every input and the output belong to one tenant.
  void Replace(const std::vector<std::shared_ptr<SegmentEntry>>& inputs,
               std::shared_ptr<SegmentEntry> output);
  // Retention's deletion: removes "entries" (clearing their "compacting" mark and marking them
  // obsolete, so the last holder deletes the file).
  void Remove(const std::vector<std::shared_ptr<SegmentEntry>>& entries);
  // Active segments smaller than "below_bytes" that no compaction holds, by (tenant, partition),
  // each list in id order.
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> SmallActive(
      uint64_t below_bytes) const;

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
};

}  // namespace sawmill::storage
