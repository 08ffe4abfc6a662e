// The embedded implementation of storage::Engine (engine.h): WAL + memtables + segments +
// SQLite catalog in one data directory. Decisions: docs/storage.md ("Engine parts").
//
// A coordinator of its parts: WAL replay on open (wal_replay.h), the memtable set
// (memtable_set.h), the flusher (flusher.h), the compactor (compactor.h), the segment registry
// and snapshot handles (segment_registry.h), and the WAL damage record (wal_damage_log.h). It
// owns the write path (Append -> WAL commit -> memtable set), snapshots, and the background
// threads that call the flusher and the compactor.
//
// Locking order: the flusher's / the compactor's mutex -> (WAL manager's mutex) -> mu_. mu_
// guards the memtable set and the segment registry together, so that a snapshot sees every
// record exactly once; it is never held across I/O (ReportCorruption marks the entry under it
// and writes the catalog after releasing it).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/reconcile.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "storage/append_pacer.h"
#include "storage/compactor.h"
#include "storage/engine.h"
#include "storage/flusher.h"
#include "storage/idempotency_keys.h"
#include "storage/memtable_set.h"
#include "storage/segment_registry.h"
#include "storage/shared_keys.h"
#include "storage/tier_mover.h"
#include "storage/wal_damage_log.h"
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
  Result<std::set<uint64_t>> RetiredSegmentIds() override;
  Result<uint32_t> RaiseWriteFormat() override;
  EngineStats stats() const override;
  Result<std::vector<SegmentStatus>> ListSegments() const override;
  Status WriteHealth() override;
  catalog::Catalog* catalog() override { return catalog_.get(); }
  Result<std::vector<WalDamageEntry>> ListWalDamage(bool unacknowledged_only) override;
  Result<uint64_t> AcknowledgeWalDamage(uint64_t id) override;
  Result<MemtableFence> MemtableAnswerFence() override {
    if (!options_.memtable_answer_fence) return MemtableFence{};
    return options_.memtable_answer_fence();
  }
  Status RetireSegments(
      const std::vector<uint64_t>& ids,
      const std::function<Status(const std::vector<SegmentStatus>& rows)>& commit) override;
  Result<DiskUsage> DataDiskUsage() override;
  Result<TierMoveReport> MoveTiers(int64_t older_than_ns, std::string_view to) override;
  Result<std::vector<TierUsage>> ListTierUsage() const override;
  Status RunTiersNow() override;
  Result<TierMoveReport> MoveTiersOldestFirst(std::string_view to,
                                              const std::function<bool()>& enough) override;
  void SetTierPolicy(TierPolicy policy) override;
  Status WithoutWalTrim(const std::function<Status()>& fn) override;
  void StopBackgroundWork() override;
  Status ApplySegmentChanges(const catalog::SegmentChanges& changes) override;
  uint64_t FullSegmentViewWanted() override;
  uint64_t ConfirmedThrough() override;
  Status Close() override;

  // Test hook: the catalog, e.g. to model a crash before a catalog commit.
  catalog::Catalog* catalog_for_testing() { return catalog_.get(); }
  // Test hook: the bytes the running flushes told the pacer they wrote, and their bytes.
  std::pair<uint64_t, uint64_t> flush_progress_for_testing() {
    MutexLock l(&mu_);
    return pacer_.running_progress();
  }

 private:
  using Key = PartitionKey;

  struct AppendContext {
    std::string_view tenant;
    std::vector<Record>* records;
    const wal::BatchIdempotency* idempotency;  // null: no key
  };

  explicit StorageEngine(const EngineOptions& options);
  Status Init();
  // A cluster node: the segment view and the flusher's cut from the catalog (segment_view.cc).
  Status InitSegmentView();
  // A cluster node: Idempotency-Keys across nodes (shared_keys.h), on a connection of their own.
  Status InitSharedKeys(const std::string& catalog_path);
  // Before reconciliation: refuses a partition count other than the one the catalog records
  // (FailedPrecondition naming both). Sets "*recorded" to whether one is recorded.
  Status CheckPartitions(const std::string& catalog_path, bool* recorded);
  // After reconciliation, before replay or any write, when CheckPartitions found no count (a
  // store of an earlier build, or a new one): refuses a count not above every registered
  // segment's partition in "rows", else records the count (catalog::Catalog::SettleSetting) and
  // refuses it when another node recorded another meanwhile.
  Status SettlePartitions(const std::string& catalog_path,
                          const std::vector<catalog::SegmentRow>& rows);
  // Before reconciliation: refuses a store whose recorded segment format version is newer than
  // this node reads (FailedPrecondition naming both and the fix); "*recorded": the version, or
  // nullopt when none is recorded.
  Status CheckFormat(const std::string& catalog_path, std::optional<uint64_t>* recorded);
  // After reconciliation, before replay or any write: records the store's format version when
  // none is (docs/cluster.md "Format version in a rolling upgrade"), records what this cluster
  // node reads (or, a store one node holds alone, raises the version to its newest), and sets
  // the version new segments are written in.
  Status SettleFormat(const std::string& catalog_path, std::optional<uint64_t> recorded,
                      const std::vector<catalog::SegmentRow>& rows);
  // The format version of the newest of "rows" whose segment opens (a few are tried); 0 when
  // none does.
  uint32_t NewestSegmentFormat(const std::vector<catalog::SegmentRow>& rows);
  // The catalog named for messages (a PostgreSQL URL without its password).
  static std::string CatalogForMessages(const std::string& catalog_path);
  // The stores reconciliation looks at (the data directory's and the cold one), and how it
  // reads segments from them.
  std::vector<catalog::ReconcileStore> ReconcileStores();
  catalog::SegmentFileOps ReconcileOps();
  // Append's work; "idempotency" (may be null) goes into the WAL record, and "claim" (a cluster
  // node's claim on its key; may be null) is kept by the WAL object's registration. Sets
  // "*base_seq".
  Status AppendBatch(std::string_view tenant, std::vector<Record>* records,
                     const wal::BatchIdempotency* idempotency, uint64_t* base_seq,
                     const catalog::IdempotencyClaimRow* claim = nullptr);
  // Called by the WAL commit leader for each durable batch, in seq order.
  void ApplyBatch(wal::WalBatch& batch);
  // ApplyBatch for a batch this process did not commit (context null): decodes the payload.
  void ApplyAdopted(wal::WalBatch& batch);
  // Packs the memtable chunks sealed full since the last call (MemtableSet::TakeToPack).
  // Called without mu_: compression takes a few milliseconds per chunk, which neither the WAL
  // commit leader nor readers should wait for. "to_pack" null: takes them under mu_ first.
  // "writer": an Append packing before its acknowledgement (the "pack" stage of
  // sawmill_append_stage_seconds), not the packer thread.
  void PackChunks(std::vector<std::weak_ptr<const RecordChunk>>* to_pack = nullptr,
                  bool writer = false) EXCLUDES(mu_);
  // Gives the packer thread as many of "*to_pack" as the backlog has room for (kPackBacklog);
  // the rest stay in "*to_pack", for the Append to pack itself.
  void HandToPacker(std::vector<std::weak_ptr<const RecordChunk>>* to_pack) REQUIRES(mu_);

  void FlushThread();
  void CompactionThread();
  void PackThread();

  EngineOptions options_;
  Env* env_;
  Clock* clock_;
  std::string wal_dir_;
  std::string segments_dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<wal::WalSink> wal_;  // the local WAL, or options_.wal_factory's
  std::shared_ptr<CorruptionReporter> reporter_;
  IdempotencyKeys keys_;
  // A cluster node's keys across nodes, on a catalog connection of their own (they are on the
  // acknowledgement path); null on one node (docs/cluster.md "Idempotency-Keys across nodes").
  std::unique_ptr<catalog::Catalog> keys_catalog_;
  std::unique_ptr<SharedIdempotencyKeys> shared_keys_;
  WalDamageLog damage_;

  mutable Mutex mu_;
  CondVar flushed_cv_;  // memtable bytes went down, or the engine closed
  CondVar work_cv_;     // wakes the background threads
  // Mutable: GetSnapshot seals active chunks.
  mutable MemtableSet memtables_ GUARDED_BY(mu_);
  SegmentRegistry segments_ GUARDED_BY(mu_);
  AppendPacer pacer_ GUARDED_BY(mu_);  // Append between memtable_cap and 1.5 x it
  bool closing_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  // StopBackgroundWork was called: merges and tier moves in progress stop at their next block
  // and none starts (read by the compactor and the tier mover without mu_).
  std::atomic<bool> background_stopped_{false};
  // Chunks an Append filled, packed by the packer thread after the acknowledgement
  // (background_threads only); pack_pending_ counts them until they are packed.
  std::vector<std::weak_ptr<const RecordChunk>> pack_queue_ GUARDED_BY(mu_);
  size_t pack_pending_ GUARDED_BY(mu_) = 0;
  CondVar pack_cv_;  // pack_queue_ filled, or closing

  // Created by Init once the catalog is open; they use the members above.
  std::unique_ptr<Flusher> flusher_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<TierMover> mover_;

  int lock_fd_ = -1;  // flock on DIR/LOCK (POSIX Env only)
  // RaiseWriteFormat found the store raised past this build (logged once).
  std::atomic<bool> newer_store_logged_{false};
  std::thread flush_thread_;
  std::thread compaction_thread_;
  std::thread pack_thread_;
  PeriodicWorker tier_worker_;  // RunTiersNow every tier_interval_ns
};

}  // namespace sawmill::storage
