// The flusher: writes frozen memtables as segments (write, sync, read back and verify, register
// in the catalog, then swap memtable for segment in memory), and trims the WAL behind them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/env.h"
#include "common/mutex.h"
#include "sawmill/status.h"
#include "storage/append_pacer.h"
#include "storage/engine.h"
#include "storage/flush_fence.h"
#include "storage/idempotency_keys.h"
#include "storage/memtable_set.h"
#include "storage/record_chunk.h"
#include "storage/segment_registry.h"
#include "wal/wal_manager.h"

namespace sawmill::storage {

// CONTRACT
// Threading: thread-safe. One flush round runs at a time: every public call except flushes()
//   takes the flusher's own mutex first. A round of FlushDue or FlushAll writes up to
//   Threads() memtables at once (this thread and helpers started for the round), never two of one
//   (tenant, partition) at once, so each key's segments are still written and registered oldest
//   first. Flushes of a round end in any order: the WAL is trimmed (after the round, and by its
//   threads meanwhile every wal_trim_interval_ns, one at a time) only below the smallest seq of a
//   memtable still in the set, and a frozen memtable leaves it only with its segment registered
//   (Publish), so a flush that ends first never lets the WAL drop a running one's records;
//   registered-through is the highest change of a dropped memtable, and a running one's id is in
//   "registering" (docs/cluster.md "Exactly once across nodes"). Lock order: flusher mutex -> round
//   mutex, or round trim mutex -> (WAL manager's mutex) -> the engine's state mutex ("mu", which
//   guards the memtable set and the segment registry). The state mutex is never held across I/O.
//   Called by the engine's flush thread, by Append (when the engine runs without background
//   threads), by WAL replay (RelieveMemory), by Engine::Flush and by Close.
// Errors: a failed write, read-back (DataLoss) or catalog insert removes the new file, counts
//   sawmill_flush_errors_total and returns the error with the tenant and partition; the frozen
//   memtable stays visible and is retried by the next flush. A failed write of Idempotency-Keys
//   to the catalog is logged once while it lasts and keeps every WAL file.
// Durable when a flush returns OK: each flushed memtable is a synced segment file (in a synced
//   directory) that read back exactly its seqs and is registered in the catalog. After TrimWal,
//   the keys of every batch wholly in segments are in the catalog and WAL files wholly below
//   the smallest unflushed seq are deleted.
class Flusher {
 public:
  // Every pointer must outlive the flusher. "flushed_cv" is notified (without "mu") whenever a
  // flush lowers the memtable bytes.
  Flusher(const EngineOptions& options, Env* env, Clock* clock, catalog::Catalog* catalog,
          Mutex* mu, CondVar* flushed_cv, MemtableSet* memtables, SegmentRegistry* segments,
          IdempotencyKeys* keys, std::shared_ptr<CorruptionReporter> reporter);

  // From now on TrimWal deletes WAL files of "wal". Until then (during WAL replay, when the
  // Idempotency-Keys of later WAL files are not known yet) TrimWal does nothing.
  void EnableWalTrim(wal::WalSink* wal);
  // A cluster node's flush fence (flush_fence.h; null: segments are registered plainly). Set
  // once the WAL step exists, before any flush.
  void SetFence(FlushFence* fence) {
    MutexLock fl(&flush_mu_);
    fence_ = fence;
  }

  // Engine::Flush: flushes every memtable, then trims the WAL. Returns the first error.
  Status FlushAll();
  // The flush thread's round: flushes the memtables that are big or old enough and retries the
  // frozen ones, then the largest until under the memory cap, then trims the WAL. Returns the
  // first error (the caller logs it).
  Status FlushDue();
  // Append without background threads: flushes "keys" (big memtables) and then the largest until
  // under the memory cap, logging failures, then trims the WAL.
  void FlushForAppend(const std::vector<PartitionKey>& keys);
  // WAL replay: flushes the largest memtables until under the memory cap, logging a failure.
  void RelieveMemory();
  // Deletes the WAL files every record of which is in a registered segment, once the
  // Idempotency-Keys they hold are in the catalog.
  void TrimWal();

  // Runs "fn" with no flush (and so no WAL trim) running (Engine::WithoutWalTrim).
  Status WithoutTrim(const std::function<Status()>& fn) {
    MutexLock fl(&flush_mu_);
    return fn();
  }

  // A cluster node (docs/cluster.md "Exactly once across nodes"), under the engine's state mutex
  // (which the analysis cannot tie to mu_): sets the snapshot's registered_through (the highest
  // catalog change that registered a flush whose memtable is dropped) and registering (the ids
  // of segments whose registration began and whose memtable is still held).
  void AddCutTo(Snapshot* snapshot) const NO_THREAD_SAFETY_ANALYSIS;
  // A cluster node, under the engine's state mutex: every segment this node registered with a
  // change at or below the number returned has left its memtables (published, or found retired),
  // so no memtable answer of this node holds its lines. A registration still running or whose
  // outcome is unknown committed, if at all, above the registered-through it began with, so the
  // number is the lowest of those and registered-through. Other nodes merge or re-encode this
  // node's segments only at or below it (catalog::NodeRow::confirmed_through, written with each
  // heartbeat; docs/cluster.md "Compaction and tier moves on cluster nodes").
  uint64_t ConfirmedThrough() const NO_THREAD_SAFETY_ANALYSIS;
  // A cluster node's segment view, under the engine's state mutex: another node's change
  // removed segment "id". If it is a registration of this node whose outcome is unknown, it is
  // noted: once that registration turns out committed, its segment is not published (it was
  // retired: its lines are in a compaction's output, or expired) and its memtable is dropped.
  void NoteRemoved(uint64_t id) NO_THREAD_SAFETY_ANALYSIS;
  // At open, before any flush can run: every flush of this node registered so far is at or
  // below "change" (the catalog's newest), and none of their memtables is held.
  void RegisteredThroughAtLeast(uint64_t change) NO_THREAD_SAFETY_ANALYSIS {
    registered_through_ = std::max(registered_through_, change);
  }

  // Memtables a round flushes at once: EngineOptions::flush_threads, on a cluster node too
  // (docs/cluster.md "Exactly once across nodes": each registration marks flushed only the WAL
  // objects below the smallest seq of every other memtable, the other flush's included until
  // it is dropped; the lost objects and unknown outcomes are per memtable and fenced in the
  // catalog's transaction).
  static int Threads(const EngineOptions& options) { return std::max(1, options.flush_threads); }

  // From now on each flush of a memtable tells "pacer" (guarded by "mu") how fast it went.
  void SetPacer(AppendPacer* pacer) NO_THREAD_SAFETY_ANALYSIS { pacer_ = pacer; }

  // Memtables written as segments since open. The caller holds the engine's state mutex (the
  // "mu" given to the constructor): the analysis cannot tie the caller's name for it to mu_.
  uint64_t flushes() const NO_THREAD_SAFETY_ANALYSIS { return flushes_; }
  // Of them, those written at EngineOptions::pressure_text_zstd_level (same lock).
  uint64_t pressure_flushes() const NO_THREAD_SAFETY_ANALYSIS { return pressure_flushes_; }

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
  // Freezes the active memtable of "key" (if any) and writes every frozen memtable of "key" to
  // segments, oldest first.
  Status FlushKey(const PartitionKey& key) REQUIRES(flush_mu_);
  // "writer": the segment options of this flush (WriterFor; its block_written tells the pacer's
  // FlushProgress, not on a cluster node).
  Status WriteFrozen(const PartitionKey& key,
                     const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                     const segment::WriterOptions& writer) REQUIRES(flush_mu_);
  // The segment options of a flush: segment_options, with the text columns at
  // pressure_text_zstd_level when "pressure" (the memtables held more than the cap when the
  // flush started) and that level is lower.
  segment::WriterOptions WriterFor(bool pressure) const;
  // WriteFrozen on a cluster node (EngineOptions::shared_store): into the shared store.
  // Through fence_ when set: rows of WAL objects taken over are left out, and a fenced
  // registration deletes the object and tries again without the rows lost.
  Status WriteFrozenShared(const PartitionKey& key,
                           const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                           const ChunkRows& rows, int64_t start,
                           const segment::WriterOptions& writer) REQUIRES(flush_mu_);
  // Registers "row" in the catalog: Insert, or on a cluster node (EngineOptions::node_id)
  // RegisterSegment through "fence" (null: none; flush_fence.h), with its id among the
  // registering ones meanwhile; "seqs": the seqs of its rows, ascending. "*registered" is the
  // change that registered it (0 for Insert). An answer lost (Unavailable) is checked with
  // RegisteredAfterAll; still Unavailable: the outcome is unknown ("*unknown" set), and the
  // frozen memtable must not be registered again before it is known. FailedPrecondition:
  // fenced, nothing registered, the fence told.
  Status Register(const catalog::SegmentRow& row, FlushFence* fence, const PartitionKey& key,
                  const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                  const std::vector<uint64_t>& seqs, uint64_t* registered, bool* unknown);
  // After a registration answered Unavailable: the change that registered segment "id" (or
  // one above it) if it is registered after all, 0 when it is not; Unavailable when the
  // catalog does not answer (asked "tries" times, a moment apart): the outcome is unknown.
  Result<uint64_t> RegisteredAfterAll(uint64_t id, int tries);
  // Makes a registered segment visible and drops its frozen memtable, in one step.
  // "registered": the catalog change that registered it (RegisterSegment), 0 when not a
  // cluster node's flush. A registration whose outcome was unknown and whose segment the view
  // has seen removed meanwhile (NoteRemoved), or "entry" null: the memtable is dropped and
  // nothing is published (its segment was retired: its lines are elsewhere or expired).
  void Publish(const PartitionKey& key, const std::shared_ptr<const MemtableSet::Frozen>& frozen,
               std::shared_ptr<SegmentEntry> entry, int64_t start, uint64_t registered = 0);
  // The shared (cold) store; never changes, read without the engine's mutex.
  const std::shared_ptr<objstore::ObjectStore>& segments_cold() const NO_THREAD_SAFETY_ANALYSIS {
    return segments_->cold();
  }
  // Flushes the largest memtables until the total is under the cap, on "threads" threads.
  Status FlushForMemoryLocked(int threads) REQUIRES(flush_mu_);
  // Flushes "keys" (each once; a key met twice is flushed once), on "threads" threads. Returns
  // the first error; the other keys are still flushed.
  Status FlushKeysLocked(std::vector<PartitionKey> keys, int threads) REQUIRES(flush_mu_);
  // Runs FlushKey on the keys "pick" hands out, on up to "threads" threads at once (this one
  // and helpers started for the round), until pick has none and no flush runs. "pick" is
  // called with the round's mutex held and gets the keys being flushed ("busy"); it returns
  // the next key and the memtable bytes its flush will free. After an error, when
  // "stop_on_error", no new flush starts. Returns the first error.
  using PickFn = std::function<std::optional<std::pair<PartitionKey, uint64_t>>(
      const std::set<PartitionKey>& busy, uint64_t in_flight_bytes)>;
  Status FlushInParallel(const PickFn& pick, int threads, bool stop_on_error) REQUIRES(flush_mu_);
  void TrimWalLocked() REQUIRES(flush_mu_);
  // Writes the keys whose batches are all in segments to the catalog. False: the catalog
  // failed, and WAL files must not be deleted (they hold keys that are nowhere else).
  bool PersistKeys(uint64_t min_unflushed_seq);

  const EngineOptions& options_;
  Env* env_;
  Clock* clock_;
  catalog::Catalog* catalog_;
  Mutex* mu_;
  CondVar* flushed_cv_;
  MemtableSet* memtables_ PT_GUARDED_BY(mu_);
  SegmentRegistry* segments_ PT_GUARDED_BY(mu_);
  IdempotencyKeys* keys_;
  std::shared_ptr<CorruptionReporter> reporter_;

  Mutex flush_mu_;                                     // one flush at a time
  wal::WalSink* wal_ GUARDED_BY(flush_mu_) = nullptr;  // null: no trimming yet
  FlushFence* fence_ GUARDED_BY(flush_mu_) = nullptr;
  // A cluster node's registrations whose outcome is unknown (the answer was lost and the
  // catalog did not answer the read-back), by frozen memtable: its segment row and object. The
  // memtable's next flush first asks the catalog again, and writes nothing until it knows
  // (docs/cluster.md "Fenced flush"): registered, the segment is published as it is; not, its
  // object goes and the rows are written anew. Meanwhile the memtable and its WAL objects stay.
  struct Unresolved {
    catalog::SegmentRow row;
    std::string name;      // the object in the shared store
    bool removed = false;  // the segment view saw its row removed (NoteRemoved)
  };
  std::map<const MemtableSet::Frozen*, Unresolved> unresolved_ GUARDED_BY(mu_);
  std::atomic<bool> keys_persist_failing_{false};
  uint64_t flushes_ GUARDED_BY(mu_) = 0;
  uint64_t pressure_flushes_ GUARDED_BY(mu_) = 0;
  // A cluster node's cut (AddCutTo): the ids whose registration began, by frozen memtable (kept
  // until that memtable is dropped: a failed call may still have committed), with the
  // registered-through when the first of them began (ConfirmedThrough), and the highest change
  // of a registration whose memtable is dropped.
  struct Registering {
    std::vector<uint64_t> ids;
    uint64_t floor = 0;  // any of ids committed above this
  };
  std::map<const MemtableSet::Frozen*, Registering> registering_ GUARDED_BY(mu_);
  uint64_t registered_through_ GUARDED_BY(mu_) = 0;

  AppendPacer* pacer_ PT_GUARDED_BY(mu_) = nullptr;
};

}  // namespace sawmill::storage
