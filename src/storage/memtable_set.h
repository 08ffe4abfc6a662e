// The memtable set: for every (tenant, partition), the active memtable that takes acknowledged
// records and the frozen memtables waiting for (or retrying) their flush, oldest first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "common/clock.h"
#include "storage/engine.h"
#include "storage/memtable.h"

namespace sawmill::storage {

// CONTRACT
// Threading: not synchronised by itself. Every method REQUIRES the engine's state mutex
//   (StorageEngine::mu_), which also guards the segment registry: the flusher drops a frozen
//   memtable and registers its segment in one step, so a snapshot sees each record exactly once.
//   Records are inserted by the WAL commit leader (Append) or by WAL replay (Open).
// Errors: none; memory only. The total (bytes()) is what admission and flush triggers read.
// Durable when a call returns: nothing here is durable by itself: every record in the set is
//   already in a synced WAL file, which is kept until the record is in a registered segment
//   (MinUnflushedSeq bounds what the WAL may delete).
class MemtableSet {
 public:
  // Memtable contents handed to a flush: frozen, still visible to snapshots until registered.
  struct Frozen {
    std::vector<Chunk> chunks;
    uint64_t bytes = 0;
    uint64_t rows = 0;
    uint64_t min_seq = 0;
    uint64_t max_seq = 0;
  };

  // "clock" (monotonic) dates each new active memtable, for the flush interval.
  explicit MemtableSet(Clock* clock) : clock_(clock) {}

  // Adds "record" to the active memtable of "key" (created if needed).
  // REQUIRES: records of one key arrive in increasing seq order.
  void Insert(const PartitionKey& key, const Record& record);

  // Bytes of every active and frozen memtable.
  uint64_t bytes() const { return bytes_; }
  // Bytes of the active memtable of "key"; 0 when there is none.
  uint64_t ActiveBytes(const PartitionKey& key) const;

  // Freezes the active memtable of "key", if it holds records, behind the older frozen ones; an
  // empty active memtable is dropped.
  void Freeze(const PartitionKey& key);
  // The oldest frozen memtable of "key", or nullptr when there is none.
  std::shared_ptr<const Frozen> OldestFrozen(const PartitionKey& key);
  // Drops "frozen", the oldest frozen memtable of "key", once its segment is registered.
  void DropFlushed(const PartitionKey& key, const std::shared_ptr<const Frozen>& frozen);

  // Keys whose active memtable holds "target_bytes" or was created "interval_ns" or longer
  // before "now_mono_ns", then every key with frozen memtables (a failed flush is retried).
  // A key may appear twice.
  std::vector<PartitionKey> Due(int64_t now_mono_ns, uint64_t target_bytes,
                                int64_t interval_ns) const;
  // Every key with an active or frozen memtable, sorted, each once.
  std::vector<PartitionKey> Keys() const;
  // The key to flush under memory pressure: the largest active memtable, else the first key
  // with frozen memtables; keys in "busy" (being flushed by another thread) are passed over.
  // nullopt when no other key holds anything.
  std::optional<PartitionKey> Largest(const std::set<PartitionKey>& busy = {}) const;
  // Bytes of the active and frozen memtables of "key".
  uint64_t KeyBytes(const PartitionKey& key) const;
  // Every seq below "next_seq" is applied: inserted here, or its batch failed. Set by the WAL
  // commit leader after each batch, and at start after replay.
  // Never lowers it: a cluster node applies batches it took over, whose seqs may be above its
  // own (storage_engine.cc ApplyAdopted).
  void SetApplied(uint64_t next_seq) { applied_next_seq_ = std::max(applied_next_seq_, next_seq); }
  // Seqs below this are all in registered segments (or were never acknowledged): the smallest
  // seq in a memtable (active or frozen), or the first seq not yet applied.
  uint64_t MinUnflushedSeq() const;
  // MinUnflushedSeq as it will be once "frozen" (a frozen memtable of "key") is flushed.
  uint64_t MinUnflushedSeqWithout(const PartitionKey& key,
                                  const std::shared_ptr<const Frozen>& frozen) const;

  // Sets the sawmill_memtable_bytes, sawmill_memtable_memory_bytes and sawmill_memtable_pool_bytes
  // gauges.
  void UpdateGauge() const;

  // The chunks sealed since the last call that are to be packed (Memtable::TakeToPack). The
  // caller packs them after releasing the engine mutex (StorageEngine::PackChunks).
  std::vector<std::weak_ptr<const RecordChunk>> TakeToPack() { return std::move(to_pack_); }

  // Appends the memtables of snapshot->tenant, one view per partition in partition order,
  // frozen (older) chunks before active (newer) ones. Seals the active chunks (cheap), so the
  // snapshot holds only immutable chunks.
  void AddToSnapshot(Snapshot* snapshot);

 private:
  Clock* clock_;
  std::map<PartitionKey, std::unique_ptr<Memtable>> active_;
  std::map<PartitionKey, std::deque<std::shared_ptr<const Frozen>>> frozen_;
  uint64_t bytes_ = 0;             // active + frozen
  uint64_t applied_next_seq_ = 1;  // every seq below is applied or failed
  std::vector<std::weak_ptr<const RecordChunk>> to_pack_;
};

}  // namespace sawmill::storage
