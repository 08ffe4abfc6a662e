// WAL replay on open: puts every acknowledged record that is not yet in a registered segment
// back into the memtables, and recovers the Idempotency-Keys the WAL holds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "sawmill/status.h"
#include "storage/idempotency_keys.h"
#include "storage/memtable.h"
#include "storage/memtable_set.h"
#include "wal/wal_manager.h"
#include "wal/wal_sink.h"

namespace sawmill::storage {

// CONTRACT
// Threading: used once, by the thread that opens the engine, before any Append and before the
//   background threads start. Run takes the engine's state mutex (Target::mu) around each
//   batch's inserts; relieve_memory is called without it.
// Errors: Run returns the WAL manager's replay error (creating the new log file); a damaged or
//   undecodable WAL record is skipped, counted and logged by the WAL manager
//   (wal::WalManager::Replay, damage_found()) and does not fail Run. A failed flush under memory
//   pressure is the caller's to log (relieve_memory).
// Durable when Run returns: nothing new, except the segments relieve_memory flushed (each
//   registered in the catalog); the other replayed records are in memtables. Every replayed
//   record is still in its WAL file: no WAL file is deleted during replay (the engine enables
//   WAL trimming after Run). The WAL is open for appends at the next seq after the last one
//   replayed.
class WalReplay {
 public:
  // Where replayed records go.
  struct Target {
    Mutex* mu;  // the engine's state mutex, which guards *memtables
    MemtableSet* memtables;
    IdempotencyKeys* keys;
    uint32_t partitions = 0;  // partition = PartitionOf(service, host, partitions)
    uint64_t memtable_cap_bytes = 0;
    // Called (without *mu) after a batch that left the memtables over memtable_cap_bytes.
    std::function<void()> relieve_memory;
  };

  // Seqs [min_seq, max_seq] of "key" are in a registered segment: Run skips them. A segment's
  // range holds no record of its key that is not in it (records of one key enter its memtable
  // in seq order). REQUIRES: before Run.
  void Cover(const PartitionKey& key, uint64_t min_seq, uint64_t max_seq);

  // Replays every WAL file, oldest first, into "target", skipping covered records; recovers
  // the Idempotency-Keys of the batches (keys_->Recover, not persisted) as of "now_ns"; sets the
  // WAL's next seq after the last replayed one and logs a summary.
  Status Run(wal::WalSink* wal, int64_t now_ns, const Target& target);

  // Outside Run (a batch taken over from another node): after the Covers, Prepare once, then
  // ask IsCovered for each record.
  void Prepare();
  bool IsCovered(const PartitionKey& key, uint64_t seq) const { return Covered(key, seq); }

 private:
  // True when "seq" of "key" is in a registered segment.
  bool Covered(const PartitionKey& key, uint64_t seq) const;

  // (tenant, partition) -> seq ranges already in registered segments, sorted by first seq by
  // Run, with second turned into the running maximum of the ends (see Covered).
  std::map<PartitionKey, std::vector<std::pair<uint64_t, uint64_t>>> covered_;
};

}  // namespace sawmill::storage
