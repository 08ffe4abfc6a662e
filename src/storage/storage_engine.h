// The embedded implementation of storage::Engine (engine.h): WAL + memtables + segments +
// SQLite catalog in one data directory. Decisions: docs/storage.md.
//
// Locking order: flush_mu_ / compaction_mu_ -> (WAL manager's mutex) -> mu_. mu_ is never held
// across I/O except the catalog update of ReportCorruption.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "storage/engine.h"
#include "storage/idempotency_keys.h"
#include "storage/memtable.h"
#include "storage/segment_registry.h"
#include "wal/record_batch.h"
#include "wal/wal_manager.h"

namespace sawmill::storage {

class StorageEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~StorageEngine() override;

  Status Append(std::string_view tenant, std::vector<Record>* records) override;
  Status AppendIdempotent(std::string_view tenant, std::vector<Record>* records,
                          const IdempotencyKey& key) override;
  std::optional<IdempotencyKey> FindIdempotencyKey(std::string_view tenant,
                                                   std::string_view key) const override;
  Status Flush() override;
  Status CompactNow() override;
  std::shared_ptr<const Snapshot> GetSnapshot(std::string_view tenant) const override;
  void ReportCorruption(uint64_t segment_id, const Status& status) override;
  EngineStats stats() const override;
  Result<std::vector<SegmentStatus>> ListSegments() const override;
  Status WriteHealth() override;
  Result<std::vector<WalDamageEntry>> ListWalDamage(bool unacknowledged_only) override;
  Result<uint64_t> AcknowledgeWalDamage(uint64_t id) override;
  Status Close() override;

  // Test hook: the catalog, e.g. to model a crash before a catalog commit.
  catalog::Catalog* catalog_for_testing() { return catalog_.get(); }

 private:
  using Key = PartitionKey;

  // Memtable contents handed to a flush: frozen, still visible to snapshots until registered.
  struct Frozen {
    std::vector<Chunk> chunks;
    uint64_t bytes = 0;
    uint64_t rows = 0;
    uint64_t min_seq = 0;
    uint64_t max_seq = 0;
  };
  struct AppendContext {
    std::string_view tenant;
    std::vector<Record>* records;
    const wal::BatchIdempotency* idempotency;  // null: no key
  };

  explicit StorageEngine(const EngineOptions& options);
  Status Init();
  Status ReplayWal();
  // Stores what WAL replay found in the catalog and loads the unacknowledged entries.
  void RecordWalDamage();
  // True when "seq" of "key" is in a registered segment (replay only). REQUIRES: mu_ held.
  bool Covered(const Key& key, uint64_t seq) const;
  // Append's work; "idempotency" (may be null) goes into the WAL record. Sets "*base_seq".
  Status AppendBatch(std::string_view tenant, std::vector<Record>* records,
                     const wal::BatchIdempotency* idempotency, uint64_t* base_seq);
  // Writes the keys whose batches are all in segments to the catalog. False: the catalog
  // failed, and WAL files must not be deleted (they hold keys that are nowhere else).
  bool PersistKeys(uint64_t min_unflushed_seq);
  // Called by the WAL commit leader for each durable batch, in seq order.
  void ApplyBatch(wal::WalBatch& batch);
  void InsertLocked(const Key& key, const Record& record);  // REQUIRES: mu_ held

  // Freezes the active memtable of "key" (if any) and writes every frozen memtable of "key" to
  // segments, oldest first. REQUIRES: flush_mu_ held.
  Status FlushKey(const Key& key);
  Status WriteFrozen(const Key& key, const std::shared_ptr<Frozen>& frozen);
  // Flushes the largest memtables until the total is under the cap. REQUIRES: flush_mu_ held.
  Status FlushForMemoryLocked();
  // Seqs below this are all in registered segments (or were never acknowledged).
  uint64_t MinUnflushedSeq() const;
  void DeleteObsoleteWal();
  Status CompactOnce(bool* did_work);

  std::string SegmentPath(const std::string& rel) const;
  void UpdateGaugesLocked();  // REQUIRES: mu_ held
  void FlushThread();
  void CompactionThread();

  EngineOptions options_;
  Env* env_;
  Clock* clock_;
  std::string wal_dir_;
  std::string segments_dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<wal::WalManager> wal_;
  std::shared_ptr<CorruptionReporter> reporter_;
  IdempotencyKeys keys_;
  std::atomic<bool> keys_persist_failing_{false};
  std::atomic<uint64_t> last_compaction_bytes_{0};  // read + written by the last compaction

  std::mutex flush_mu_;       // one flush at a time
  std::mutex compaction_mu_;  // one compaction at a time

  mutable std::mutex mu_;
  std::condition_variable flushed_cv_;  // memtable bytes went down, or the engine closed
  std::condition_variable work_cv_;     // wakes the background threads
  // Mutable: GetSnapshot seals active chunks.
  mutable std::map<Key, std::unique_ptr<Memtable>> active_;    // GUARDED_BY(mu_)
  std::map<Key, std::deque<std::shared_ptr<Frozen>>> frozen_;  // GUARDED_BY(mu_)
  SegmentRegistry segments_;                                   // GUARDED_BY(mu_), except NextId
  uint64_t memtable_bytes_ = 0;                                // GUARDED_BY(mu_); active + frozen
  uint64_t committed_next_seq_ = 1;  // GUARDED_BY(mu_); every seq below is applied or failed
  uint64_t flushes_ = 0;             // GUARDED_BY(mu_)
  uint64_t compactions_ = 0;         // GUARDED_BY(mu_)
  bool replaying_ = false;           // GUARDED_BY(mu_)
  bool closing_ = false;             // GUARDED_BY(mu_)
  bool closed_ = false;              // GUARDED_BY(mu_)
  // Replay: (tenant, partition) -> seq ranges already in registered segments, sorted by first
  // seq, with second turned into the running maximum of the ends (see Covered).
  std::map<Key, std::vector<std::pair<uint64_t, uint64_t>>> covered_;

  // Unacknowledged WAL damage, for search warnings without a catalog read per search.
  mutable std::mutex damage_mu_;
  std::vector<WalDamageEntry> unacked_damage_;  // GUARDED_BY(damage_mu_)

  int lock_fd_ = -1;  // flock on DIR/LOCK (POSIX Env only)
  std::thread flush_thread_;
  std::thread compaction_thread_;
};

}  // namespace sawmill::storage
