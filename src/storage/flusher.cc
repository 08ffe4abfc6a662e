#include "storage/flusher.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "objstore/cold_cache.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"

namespace sawmill::storage {

Flusher::Flusher(const EngineOptions& options, Env* env, Clock* clock, catalog::Catalog* catalog,
                 Mutex* mu, CondVar* flushed_cv, MemtableSet* memtables, SegmentRegistry* segments,
                 IdempotencyKeys* keys, std::shared_ptr<CorruptionReporter> reporter)
    : options_(options),
      env_(env),
      clock_(clock),
      catalog_(catalog),
      mu_(mu),
      flushed_cv_(flushed_cv),
      memtables_(memtables),
      segments_(segments),
      keys_(keys),
      reporter_(std::move(reporter)) {}

void Flusher::EnableWalTrim(wal::WalSink* wal) {
  MutexLock fl(&flush_mu_);
  wal_ = wal;
}

Status Flusher::FlushAll() {
  MutexLock fl(&flush_mu_);
  std::vector<PartitionKey> keys;
  {
    MutexLock l(&*mu_);
    keys = memtables_->Keys();
  }
  Status first;
  for (const PartitionKey& key : keys) {
    Status s = FlushKey(key);
    if (!s.ok() && first.ok()) first = s;
  }
  TrimWalLocked();
  return first;
}

Status Flusher::FlushDue() {
  MutexLock fl(&flush_mu_);
  std::vector<PartitionKey> due;
  {
    MutexLock l(&*mu_);
    due = memtables_->Due(clock_->MonotonicNanos(), options_.segment_target_bytes,
                          options_.flush_interval_ns);
  }
  Status status;
  for (const PartitionKey& key : due) {
    Status s = FlushKey(key);
    if (!s.ok() && status.ok()) status = s;
  }
  if (status.ok()) status = FlushForMemoryLocked();
  TrimWalLocked();
  return status;
}

void Flusher::FlushForAppend(const std::vector<PartitionKey>& keys) {
  MutexLock fl(&flush_mu_);
  for (const PartitionKey& key : keys) {
    Status s = FlushKey(key);
    if (!s.ok()) spdlog::warn("flush of {}/{} failed: {}", key.first, key.second, s.ToString());
  }
  Status s = FlushForMemoryLocked();
  if (!s.ok()) spdlog::warn("flush under memory pressure failed: {}", s.ToString());
  TrimWalLocked();
}

void Flusher::RelieveMemory() {
  MutexLock fl(&flush_mu_);
  Status s = FlushForMemoryLocked();
  if (!s.ok()) spdlog::warn("WAL replay: flush under memory pressure failed: {}", s.ToString());
}

void Flusher::TrimWal() {
  MutexLock fl(&flush_mu_);
  TrimWalLocked();
}

Status Flusher::FlushKey(const PartitionKey& key) {
  {
    MutexLock l(&*mu_);
    memtables_->Freeze(key);
  }
  while (true) {
    std::shared_ptr<const MemtableSet::Frozen> frozen;
    {
      MutexLock l(&*mu_);
      frozen = memtables_->OldestFrozen(key);
    }
    if (frozen == nullptr) break;
    RETURN_IF_ERROR(WriteFrozen(key, frozen));
  }
  return Status::OK();
}

Status Flusher::WriteFrozen(const PartitionKey& key,
                            const std::shared_ptr<const MemtableSet::Frozen>& frozen) {
  const int64_t start = clock_->MonotonicNanos();
  // The frozen chunks are written as they are: the segment writer sorts row numbers and decodes
  // one block of rows at a time, so a flush no longer copies the memtable (docs/storage.md,
  // "Flush memory").
  ChunkRows rows(frozen->chunks);
  std::vector<uint64_t> seqs;
  seqs.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) seqs.push_back(rows.seq(i));

  // The catalog's id (unique across processes sharing it), durable before any file names it.
  auto allocated = catalog_->AllocateSegmentId();
  if (!allocated.ok()) {
    StorageMetrics::Get().flush_errors->Increment();
    return allocated.status().WithContext("flush of tenant " + key.first + " partition " +
                                          std::to_string(key.second));
  }
  const uint64_t id = *allocated;
  if (options_.shared_store)
    return WriteFrozenShared(key, frozen, id, rows, std::move(seqs), start);
  const std::string rel = SegmentRelPath("hot", key.first, key.second, id);
  const std::string path = JoinPath(options_.data_dir, rel);
  // Written through the data directory's object store: a temporary file, synced, renamed, its
  // directory synced; the directories above it are synced by the store's first write through
  // them (and again after a failed sync, so a retry redoes what failed).
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = key.first;
  in.partition = key.second;
  Status s = segment::WriteSegment(store().get(), rel, in, rows, options_.segment_options, &out);
  if (s.ok()) s = VerifyWritten(store(), rel, out, std::move(seqs));
  catalog::SegmentRow row;
  if (s.ok()) {
    row = RowFromInfo(out, rel, "hot", clock_->NowNanos());
    s = catalog_->Insert(row);
    if (!s.ok()) store()->Delete(rel).IgnoreError();
  } else {
    store()->Delete(rel).IgnoreError();
  }
  if (!s.ok()) {
    StorageMetrics::Get().flush_errors->Increment();
    return s.WithContext("flush of tenant " + key.first + " partition " +
                         std::to_string(key.second));
  }
  auto entry = std::make_shared<SegmentEntry>(env_, store(), path, std::move(row), reporter_);
  Publish(key, frozen, std::move(entry), start);
  return Status::OK();
}

Status Flusher::WriteFrozenShared(const PartitionKey& key,
                                  const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                                  uint64_t id, const ChunkRows& rows, std::vector<uint64_t> seqs,
                                  int64_t start) {
  // A cluster node (engine.h, shared_store): the segment goes straight to the store every node
  // shares, as the tier mover's cold upload puts it there, read back past any cache, and is
  // registered; only then may the WAL objects holding its records go (TrimWal).
  const std::shared_ptr<objstore::ObjectStore>& shared = segments_cold();
  const std::string name = PathComponent(key.first) + "/" + std::to_string(id) + ".seg";
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = key.first;
  in.partition = key.second;
  Status s = segment::WriteSegment(objstore::Uncached(shared).get(), name, in, rows,
                                   options_.segment_options, &out);
  if (s.ok()) s = VerifyWritten(objstore::Uncached(shared), name, out, std::move(seqs));
  catalog::SegmentRow row;
  uint64_t registered = 0;
  if (s.ok()) {
    row = RowFromInfo(out, name, std::string(catalog::kTierCold), clock_->NowNanos());
    row.store = std::string(catalog::kColdStore);
    s = Register(row, frozen, &registered);
    // A failed insert whose commit may still have happened (a lost connection) leaves the
    // object: deleting it could leave a registered row without bytes. Otherwise it goes.
    if (!s.ok() && s.code() != StatusCode::kUnavailable) shared->Delete(name).IgnoreError();
  } else {
    shared->Delete(name).IgnoreError();
  }
  if (!s.ok()) {
    StorageMetrics::Get().flush_errors->Increment();
    return s.WithContext("flush of tenant " + key.first + " partition " +
                         std::to_string(key.second) + " to the shared store");
  }
  auto entry = std::make_shared<SegmentEntry>(env_, shared, shared->Location(name), std::move(row),
                                              reporter_);
  entry->node = options_.node_id;
  entry->registered = registered;
  Publish(key, frozen, std::move(entry), start, registered);
  return Status::OK();
}

Status Flusher::Register(const catalog::SegmentRow& row,
                         const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                         uint64_t* registered) {
  if (options_.node_id.empty()) return catalog_->Insert(row);
  // Queries on other nodes leave this segment out while its memtable is held here, whatever
  // becomes of the call (docs/cluster.md "Exactly once across nodes").
  {
    MutexLock l(&*mu_);
    registering_[frozen.get()].push_back(row.id);
  }
  auto change = catalog_->RegisterSegment(row, options_.node_id);
  if (change.ok()) {
    *registered = *change;
    return Status::OK();
  }
  if (change.status().code() != StatusCode::kUnavailable) {
    // Refused: not registered (a lost connection may have committed it: then the id stays).
    MutexLock l(&*mu_);
    std::vector<uint64_t>& ids = registering_[frozen.get()];
    ids.erase(std::remove(ids.begin(), ids.end(), row.id), ids.end());
    if (ids.empty()) registering_.erase(frozen.get());
  }
  return change.status();
}

void Flusher::AddCutTo(Snapshot* snapshot) const {
  snapshot->registered_through = registered_through_;
  for (const auto& [frozen, ids] : registering_) {
    snapshot->registering.insert(snapshot->registering.end(), ids.begin(), ids.end());
  }
}

void Flusher::Publish(const PartitionKey& key,
                      const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                      std::shared_ptr<SegmentEntry> entry, int64_t start, uint64_t registered) {
  {
    MutexLock l(&*mu_);
    // Registered and visible, and out of the memtables, in one step for snapshots (and for
    // other nodes' queries: the cut moves with the memtable).
    segments_->Add(std::move(entry));
    memtables_->DropFlushed(key, frozen);
    registering_.erase(frozen.get());
    registered_through_ = std::max(registered_through_, registered);
    ++flushes_;
    memtables_->UpdateGauge();
    segments_->UpdateGauges();
  }
  flushed_cv_->NotifyAll();
  auto& m = StorageMetrics::Get();
  m.flushes->Increment();
  m.flush_seconds->Observe(Seconds(clock_->MonotonicNanos() - start));
}

Status Flusher::FlushForMemoryLocked() {
  while (true) {
    std::optional<PartitionKey> largest;
    {
      MutexLock l(&*mu_);
      if (memtables_->bytes() <= options_.memtable_cap_bytes) return Status::OK();
      largest = memtables_->Largest();
      if (!largest) return Status::OK();
    }
    RETURN_IF_ERROR(FlushKey(*largest));
  }
}

void Flusher::TrimWalLocked() {
  if (wal_ == nullptr) return;
  uint64_t min_unflushed = 0;
  {
    MutexLock l(&*mu_);
    min_unflushed = memtables_->MinUnflushedSeq();
  }
  // A WAL file goes only once the Idempotency-Keys it holds are in the catalog.
  if (!PersistKeys(min_unflushed)) return;
  wal_->DeleteObsoleteFiles(min_unflushed);
}

bool Flusher::PersistKeys(uint64_t min_unflushed_seq) {
  std::vector<catalog::IdempotencyKeyRow> rows = keys_->Unpersisted(min_unflushed_seq);
  if (rows.empty()) return true;
  const int64_t now = clock_->NowNanos();
  auto evicted = catalog_->PutIdempotencyKeys(rows, now - keys_->window_ns(), keys_->max_keys());
  if (!evicted.ok()) {
    // Retried with every flush round; logged when it starts failing.
    if (!keys_persist_failing_.exchange(true)) {
      spdlog::error("cannot write {} Idempotency-Keys to the catalog (WAL files are kept): {}",
                    rows.size(), evicted.status().ToString());
    }
    return false;
  }
  if (keys_persist_failing_.exchange(false)) {
    spdlog::info("Idempotency-Keys are written to the catalog again");
  }
  keys_->MarkPersisted(rows);
  return true;
}

}  // namespace sawmill::storage
