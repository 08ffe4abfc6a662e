#include "storage/flusher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "common/mutex.h"
#include "common/thread_priority.h"
#include "objstore/cold_cache.h"
#include "segment/compression_policy.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"

namespace sawmill::storage {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The rows of "base" whose seq "keep" accepts, in order: a flush's rows without those of WAL
// objects another node took over (Flusher::WriteFrozenShared).
class KeptRows final : public segment::RowSource {
 public:
  KeptRows(const segment::RowSource& base, const std::function<bool(uint64_t)>& keep)
      : base_(base) {
    at_.reserve(base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      if (keep(base.seq(i))) at_.push_back(i);
    }
  }
  size_t size() const override { return at_.size(); }
  int64_t ts(size_t row) const override { return base_.ts(at_[row]); }
  int64_t ingest_ts(size_t row) const override { return base_.ingest_ts(at_[row]); }
  uint64_t seq(size_t row) const override { return base_.seq(at_[row]); }
  std::string_view service(size_t row) const override { return base_.service(at_[row]); }
  std::string_view host(size_t row) const override { return base_.host(at_[row]); }
  uint64_t raw_bytes(size_t row) const override { return base_.raw_bytes(at_[row]); }
  void Get(size_t row, Record* out) const override { base_.Get(at_[row], out); }
  void WillGet(const uint32_t* rows, size_t count) const override {
    base_rows_.resize(count);
    for (size_t i = 0; i < count; ++i) base_rows_[i] = static_cast<uint32_t>(at_[rows[i]]);
    base_.WillGet(base_rows_.data(), count);
  }

 private:
  const segment::RowSource& base_;
  std::vector<size_t> at_;
  mutable std::vector<uint32_t> base_rows_;  // WillGet's rows as base_'s row numbers
};

}  // namespace

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
  Status first = FlushKeysLocked(std::move(keys), Threads(options_));
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
  Status status = FlushKeysLocked(std::move(due), Threads(options_));
  if (status.ok()) status = FlushForMemoryLocked(Threads(options_));
  TrimWalLocked();
  return status;
}

void Flusher::FlushForAppend(const std::vector<PartitionKey>& keys) {
  // The appending thread flushes (no background threads): one memtable at a time.
  MutexLock fl(&flush_mu_);
  for (const PartitionKey& key : keys) {
    Status s = FlushKey(key);
    if (!s.ok()) spdlog::warn("flush of {}/{} failed: {}", key.first, key.second, s.ToString());
  }
  Status s = FlushForMemoryLocked(1);
  if (!s.ok()) spdlog::warn("flush under memory pressure failed: {}", s.ToString());
  TrimWalLocked();
}

void Flusher::RelieveMemory() {
  MutexLock fl(&flush_mu_);
  Status s = FlushForMemoryLocked(Threads(options_));
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
    // The pacer measures each flush (in real time, also when a test drives clock_ by hand); one
    // that fails ends unmeasured.
    int pace_token = -1;
    bool pressure = false;
    {
      MutexLock l(&*mu_);
      if (pacer_ != nullptr) pace_token = pacer_->FlushStarted(frozen->bytes, SteadyNanos());
      // Over the cap, writers wait for flushes to free memory: this one is written at the
      // cheaper level, and compaction rewrites it later at its own.
      pressure = memtables_->bytes() > options_.memtable_cap_bytes;
    }
    segment::WriterOptions writer = WriterFor(pressure);
    const bool lowered = writer.text_zstd_level != options_.segment_options.text_zstd_level;
    if (pace_token >= 0 && !options_.shared_store) {
      // The segment writer tells each block it has written (the pacer allows for the tail
      // that follows the last one: AppendPacer::kFlushTailShare).
      writer.block_written = [this, pace_token, bytes = frozen->bytes](uint64_t written,
                                                                       uint64_t rows) {
        const double fraction = static_cast<double>(written) / static_cast<double>(rows);
        MutexLock l(&*mu_);
        pacer_->FlushProgress(pace_token, static_cast<uint64_t>(fraction * bytes), SteadyNanos());
      };
    }
    Status s = WriteFrozen(key, frozen, writer);
    {
      MutexLock l(&*mu_);
      if (pace_token >= 0) pacer_->FlushEnded(pace_token, s.ok(), SteadyNanos());
      if (s.ok() && lowered) ++pressure_flushes_;
    }
    if (s.ok() && lowered) StorageMetrics::Get().pressure_flushes->Increment();
    RETURN_IF_ERROR(s);
  }
  return Status::OK();
}

segment::WriterOptions Flusher::WriterFor(bool pressure) const {
  // At the store's format version (SegmentRegistry::Writer), then the pressure level.
  segment::WriterOptions writer = Writer(options_.segment_options);
  const int level = options_.pressure_text_zstd_level;
  if (!pressure || level == 0) return writer;
  const int usual = writer.text_zstd_level != 0
                        ? writer.text_zstd_level
                        : segment::CodecFor(segment::ColumnId::kMessage).level;
  if (level < usual) writer.text_zstd_level = level;
  return writer;
}

Status Flusher::WriteFrozen(const PartitionKey& key,
                            const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                            const segment::WriterOptions& writer) {
  const int64_t start = clock_->MonotonicNanos();
  // The frozen chunks are written as they are: the segment writer sorts row numbers and decodes
  // one block of rows at a time, so a flush no longer copies the memtable (docs/storage.md,
  // "Flush memory").
  ChunkRows rows(frozen->chunks);
  if (options_.shared_store) return WriteFrozenShared(key, frozen, rows, start, writer);
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
  const std::string rel = SegmentRelPath("hot", key.first, key.second, id);
  const std::string path = JoinPath(options_.data_dir, rel);
  // Written through the data directory's object store: a temporary file, synced, renamed, its
  // directory synced; the directories above it are synced by the store's first write through
  // them (and again after a failed sync, so a retry redoes what failed).
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = key.first;
  in.partition = key.second;
  Status s = segment::WriteSegment(store().get(), rel, in, rows, writer, &out);
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
  entry->cheap_text = writer.text_zstd_level != WriterFor(/*pressure=*/false).text_zstd_level;
  entry->flushed_mono_ns = clock_->MonotonicNanos();
  Publish(key, frozen, std::move(entry), start);
  return Status::OK();
}

Status Flusher::WriteFrozenShared(const PartitionKey& key,
                                  const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                                  const ChunkRows& all_rows, int64_t start,
                                  const segment::WriterOptions& writer) {
  // A cluster node (engine.h, shared_store): the segment goes straight to the store every node
  // shares, as the tier mover's cold upload puts it there, read back past any cache, and is
  // registered through the node's fence (docs/cluster.md "Fenced flush"); only then may the WAL
  // objects holding its records go (TrimWal).
  const std::shared_ptr<objstore::ObjectStore>& shared = segments_cold();
  FlushFence* fence = fence_;
  size_t dropped_so_far = 0;
  auto& metrics = StorageMetrics::Get();
  const std::string where = "flush of tenant " + key.first + " partition " +
                            std::to_string(key.second) + " to the shared store";
  constexpr int kFencedTries = 3;
  std::optional<Unresolved> unresolved;
  {
    MutexLock l(&*mu_);
    if (auto it = unresolved_.find(frozen.get()); it != unresolved_.end()) unresolved = it->second;
  }
  if (unresolved) {
    // An earlier flush of this memtable lost its registration's answer and could not learn the
    // outcome: nothing is written again until the catalog says whether it committed, and, if it
    // did, whether the segment is still registered.
    const Unresolved& pending = *unresolved;
    auto outcome = RegisteredAfterAll(pending.row.id, /*tries=*/1);
    Result<std::optional<catalog::SegmentRow>> named = std::optional<catalog::SegmentRow>();
    if (outcome.ok() && *outcome != 0) named = catalog_->Get(pending.row.id);
    if (!outcome.ok() || !named.ok()) {
      metrics.flush_errors->Increment();
      return Status::Unavailable("segment " + std::to_string(pending.row.id) +
                                 ": whether its registration committed is still unknown (" +
                                 (!outcome.ok() ? outcome.status() : named.status()).ToString() +
                                 "); its memtable and WAL objects are kept and asked about again")
          .WithContext(where);
    }
    if (*outcome != 0) {
      std::shared_ptr<SegmentEntry> entry;
      if (named->has_value()) {
        spdlog::info("{}: segment {} turned out registered (change {}); published as it is", where,
                     pending.row.id, *outcome);
        entry = std::make_shared<SegmentEntry>(env_, shared, shared->Location(pending.name),
                                               pending.row, reporter_);
        entry->node = options_.node_id;
        entry->registered = *outcome;
      } else {
        // Registered, and retired since: by a compaction or a warm move (its lines are in the
        // output, which the view holds or will) or by retention (they expired). Published, it
        // would count them a second time (docs/cluster.md "Fenced flush").
        spdlog::warn(
            "{}: segment {} turned out registered (change {}) and retired since; its memtable "
            "is dropped as flushed, the segment is not published",
            where, pending.row.id, *outcome);
      }
      // Publish drops the memtable and forgets the unresolved registration in one step; it
      // publishes nothing if the view saw the row removed after the read above.
      Publish(key, frozen, std::move(entry), start, *outcome);
      return Status::OK();
    }
    {
      MutexLock l(&*mu_);
      unresolved_.erase(frozen.get());
      // Known not to have committed: no longer among the ids queries must leave out.
      if (auto it = registering_.find(frozen.get()); it != registering_.end()) {
        std::erase(it->second.ids, pending.row.id);
        if (it->second.ids.empty()) registering_.erase(it);
      }
    }
    // Never registered: the object goes, and the rows are written again below.
    spdlog::warn("{}: segment {} turned out not registered; its rows are written again", where,
                 pending.row.id);
    Status deleted = shared->Delete(pending.name);
    if (!deleted.ok() && !deleted.IsNotFound()) {
      spdlog::warn("{}: cannot delete {} (the segment sweep will): {}", where,
                   shared->Location(pending.name), deleted.ToString());
    }
  }
  for (int attempt = 1;; ++attempt) {
    // Rows of WAL objects another node took over are that node's to store now.
    std::vector<std::pair<uint64_t, uint64_t>> lost;
    if (fence != nullptr) lost = fence->LostSeqs();
    std::sort(lost.begin(), lost.end());
    const KeptRows kept(all_rows, [&lost](uint64_t seq) {
      auto it = std::upper_bound(lost.begin(), lost.end(),
                                 std::make_pair(seq, std::numeric_limits<uint64_t>::max()));
      return it == lost.begin() || std::prev(it)->second < seq;
    });
    const KeptRows* rows = &kept;
    if (const size_t dropped = all_rows.size() - kept.size(); dropped > dropped_so_far) {
      metrics.flush_fenced_rows->Increment(static_cast<double>(dropped - dropped_so_far));
      spdlog::error(
          "{}: {} rows dropped: their WAL objects were taken over by another node while this "
          "one held them (it was found dead); that node stores them",
          where, dropped - dropped_so_far);
      dropped_so_far = dropped;
    }
    if (rows->size() == 0) {
      // Nothing of it is this node's any more.
      {
        MutexLock l(&*mu_);
        memtables_->DropFlushed(key, frozen);
        registering_.erase(frozen.get());
        memtables_->UpdateGauge();
      }
      flushed_cv_->NotifyAll();
      return Status::OK();
    }
    std::vector<uint64_t> seqs;
    seqs.reserve(rows->size());
    for (size_t i = 0; i < rows->size(); ++i) seqs.push_back(rows->seq(i));
    std::vector<uint64_t> sorted = seqs;
    std::sort(sorted.begin(), sorted.end());
    auto allocated = catalog_->AllocateSegmentId();
    if (!allocated.ok()) {
      metrics.flush_errors->Increment();
      return allocated.status().WithContext(where);
    }
    const uint64_t id = *allocated;
    const std::string name = SharedSegmentName(key.first, id);
    segment::SegmentInfo in, out;
    in.id = id;
    in.tenant = key.first;
    in.partition = key.second;
    Status s =
        segment::WriteSegment(objstore::Uncached(shared).get(), name, in, *rows, writer, &out);
    if (s.ok()) s = VerifyWritten(objstore::Uncached(shared), name, out, std::move(seqs));
    catalog::SegmentRow row;
    uint64_t registered = 0;
    if (s.ok()) {
      // Tier hot (as flushed; compaction and warm moves take it from there), store the shared
      // one (docs/cluster.md "Compaction and tier moves on cluster nodes").
      row = RowFromInfo(out, name, std::string(catalog::kTierHot), clock_->NowNanos());
      row.store = std::string(catalog::kColdStore);
      bool unknown = false;
      s = Register(row, fence, key, frozen, sorted, &registered, &unknown);
      if (unknown) {
        // The commit may have happened: the object stays, and this memtable is not written
        // again until the outcome is known (above, at its next flush).
        {
          MutexLock l(&*mu_);
          unresolved_[frozen.get()] = Unresolved{row, name, false};
        }
        metrics.flush_errors->Increment();
        spdlog::error(
            "{}: the answer of segment {}'s registration was lost and the catalog cannot say "
            "yet whether it committed; its memtable and WAL objects are kept, and nothing is "
            "written again until it can: {}",
            where, id, s.ToString());
        return s.WithContext(where);
      }
      if (s.code() == StatusCode::kFailedPrecondition && fence != nullptr &&
          attempt < kFencedTries) {
        // Fenced: nothing was registered. The object goes; the rows the node lost are left
        // out at the next try.
        metrics.flush_fenced->Increment();
        Status deleted = shared->Delete(name);
        spdlog::error("{}: segment {} was not registered ({}); its object {}", where, id,
                      s.ToString(),
                      deleted.ok() || deleted.IsNotFound()
                          ? std::string("is deleted")
                          : "could not be deleted (an orphan): " + deleted.ToString());
        continue;
      }
      // Refused, or known not to have committed (a registration whose commit may have
      // happened returned above, keeping its object): the object goes.
      if (!s.ok()) shared->Delete(name).IgnoreError();
    } else {
      shared->Delete(name).IgnoreError();
    }
    if (!s.ok()) {
      metrics.flush_errors->Increment();
      return s.WithContext(where);
    }
    auto entry = std::make_shared<SegmentEntry>(env_, shared, shared->Location(name),
                                                std::move(row), reporter_);
    entry->node = options_.node_id;
    entry->registered = registered;
    Publish(key, frozen, std::move(entry), start, registered);
    return Status::OK();
  }
}

Result<uint64_t> Flusher::RegisteredAfterAll(uint64_t id, int tries) {
  // The registration's answer was lost: the commit may have happened. Asked again (a few
  // times, as the catalog reconnects), so that a retry does not register the rows twice. The
  // catalog waits for any registration still in flight before it answers
  // (Catalog::SegmentRegistration), so "not registered" is final.
  ASSIGN_OR_RETURN(const uint64_t number, ReadBackRegistration(catalog_, id, tries));
  if (number != 0) {
    spdlog::info("segment {}: its registration's answer was lost, but it is registered (change {})",
                 id, number);
  }
  return number;
}

Status Flusher::Register(const catalog::SegmentRow& row, FlushFence* fence, const PartitionKey& key,
                         const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                         const std::vector<uint64_t>& seqs, uint64_t* registered, bool* unknown) {
  *unknown = false;
  if (options_.node_id.empty()) return catalog_->Insert(row);
  // Queries on other nodes leave this segment out while its memtable is held here, whatever
  // becomes of the call (docs/cluster.md "Exactly once across nodes").
  {
    MutexLock l(&*mu_);
    // The first registration of this memtable fixes the floor: whatever of it commits, commits
    // above every registration whose memtable is dropped by now.
    auto [it, first] = registering_.try_emplace(frozen.get());
    if (first) it->second.floor = registered_through_;
    it->second.ids.push_back(row.id);
  }
  // Through the node's fence, if it has one (docs/cluster.md "Fenced flush").
  catalog::Catalog::WalFence wal_fence;
  Status prepared;
  if (fence != nullptr) {
    prepared = fence->PrepareFence(
        seqs,
        [&] {
          MutexLock l(&*mu_);
          return memtables_->MinUnflushedSeqWithout(key, frozen);
        },
        &wal_fence);
  }
  Result<uint64_t> change =
      !prepared.ok() ? Result<uint64_t>(prepared)
                     : catalog_->RegisterSegment(row, options_.node_id,
                                                 fence != nullptr ? &wal_fence : nullptr);
  if (change.status().code() == StatusCode::kUnavailable && prepared.ok()) {
    auto after_all = RegisteredAfterAll(row.id, /*tries=*/5);
    if (!after_all.ok()) {
      *unknown = true;  // the id stays among the registering ones (below)
    } else if (*after_all != 0) {
      change = *after_all;
    } else {
      change =
          Status::Unavailable("segment " + std::to_string(row.id) +
                              " was not registered (read back): " + change.status().ToString());
    }
  }
  if (change.ok()) {
    *registered = *change;
    return Status::OK();
  }
  if (change.status().code() == StatusCode::kFailedPrecondition && fence != nullptr &&
      prepared.ok()) {
    fence->Fenced(catalog_, wal_fence);
  }
  if (!*unknown) {
    // Refused: not registered (a lost connection may have committed it: then the id stays).
    MutexLock l(&*mu_);
    std::vector<uint64_t>& ids = registering_[frozen.get()].ids;
    ids.erase(std::remove(ids.begin(), ids.end(), row.id), ids.end());
    if (ids.empty()) registering_.erase(frozen.get());
  }
  return change.status();
}

void Flusher::AddCutTo(Snapshot* snapshot) const {
  snapshot->registered_through = registered_through_;
  for (const auto& [frozen, registering] : registering_) {
    snapshot->registering.insert(snapshot->registering.end(), registering.ids.begin(),
                                 registering.ids.end());
  }
}

uint64_t Flusher::ConfirmedThrough() const {
  uint64_t through = registered_through_;
  for (const auto& [frozen, registering] : registering_) {
    through = std::min(through, registering.floor);
  }
  return through;
}

void Flusher::NoteRemoved(uint64_t id) {
  for (auto& [frozen, pending] : unresolved_) {
    if (pending.row.id == id) pending.removed = true;
  }
}

void Flusher::Publish(const PartitionKey& key,
                      const std::shared_ptr<const MemtableSet::Frozen>& frozen,
                      std::shared_ptr<SegmentEntry> entry, int64_t start, uint64_t registered) {
  {
    MutexLock l(&*mu_);
    if (auto it = unresolved_.find(frozen.get()); it != unresolved_.end()) {
      if (it->second.removed && entry != nullptr) {
        spdlog::warn(
            "segment {} was retired just before it was to be published; its memtable "
            "is dropped as flushed, the segment is not published",
            it->second.row.id);
        entry.reset();  // retired meanwhile (NoteRemoved)
      }
      unresolved_.erase(it);
    }
    // Registered and visible, and out of the memtables, in one step for snapshots (and for
    // other nodes' queries: the cut moves with the memtable).
    if (entry != nullptr) segments_->Add(std::move(entry));
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

Status Flusher::FlushKeysLocked(std::vector<PartitionKey> keys, int threads) {
  // Each key once, in the order given (a key can be due twice: big, and a frozen retry).
  std::set<PartitionKey> seen;
  std::vector<PartitionKey> order;
  for (PartitionKey& key : keys) {
    if (seen.insert(key).second) order.push_back(std::move(key));
  }
  size_t next = 0;
  return FlushInParallel(
      [&](const std::set<PartitionKey>&,
          uint64_t) -> std::optional<std::pair<PartitionKey, uint64_t>> {
        if (next == order.size()) return std::nullopt;
        return std::make_pair(order[next++], uint64_t{0});
      },
      threads, /*stop_on_error=*/false);
}

Status Flusher::FlushForMemoryLocked(int threads) {
  return FlushInParallel(
      [&](const std::set<PartitionKey>& busy,
          uint64_t in_flight) -> std::optional<std::pair<PartitionKey, uint64_t>> {
        MutexLock l(&*mu_);
        // What the running flushes will free counts as freed: another flush starts only when
        // that is not enough.
        const uint64_t bytes = memtables_->bytes();
        if (bytes <= options_.memtable_cap_bytes + in_flight) return std::nullopt;
        std::optional<PartitionKey> largest = memtables_->Largest(busy);
        if (!largest) return std::nullopt;
        return std::make_pair(*largest, memtables_->KeyBytes(*largest));
      },
      threads, /*stop_on_error=*/true);
}

Status Flusher::FlushInParallel(const PickFn& pick, int threads, bool stop_on_error) {
  struct Round {
    Mutex mu;
    CondVar changed;  // a flush ended
    std::set<PartitionKey> busy GUARDED_BY(mu);
    uint64_t in_flight GUARDED_BY(mu) = 0;
    int running GUARDED_BY(mu) = 0;
    bool stop GUARDED_BY(mu) = false;
    Status first GUARDED_BY(mu);
    Mutex trim_mu;  // one trim at a time; a thread that finds it taken skips its turn
    std::chrono::steady_clock::time_point last_trim GUARDED_BY(trim_mu) =
        std::chrono::steady_clock::now();
  } round;
  // Under a sustained overload a memory round lasts as long as the overload (the pacer keeps the
  // memtables over the cap): the WAL is trimmed meanwhile, every wal_trim_interval_ns, by the
  // round thread that ends a flush then. That is safe while another flush of the round still
  // runs: its frozen memtable stays in the memtable set until Publish drops it (with its
  // segment registered), so MinUnflushedSeq still counts its records, however the flushes end.
  auto maybe_trim = [&]() NO_THREAD_SAFETY_ANALYSIS {
    if (!round.trim_mu.TryLock()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - round.last_trim >= std::chrono::nanoseconds(options_.wal_trim_interval_ns)) {
      TrimWalLocked();
      round.last_trim = std::chrono::steady_clock::now();
    }
    round.trim_mu.Unlock();
  };
  // The round's helpers flush under this thread's flush_mu_.
  auto work = [&]() NO_THREAD_SAFETY_ANALYSIS {
    while (true) {
      std::pair<PartitionKey, uint64_t> job;
      {
        UniqueLock l(&round.mu);
        while (true) {
          if (round.stop) return;
          auto picked = pick(round.busy, round.in_flight);
          if (picked) {
            job = std::move(*picked);
            break;
          }
          // Nothing now; a running flush may leave work (a retry, more memory to free).
          if (round.running == 0) {
            round.stop = true;
            round.changed.NotifyAll();
            return;
          }
          round.changed.WaitFor(&l, std::chrono::milliseconds(50));
        }
        round.busy.insert(job.first);
        round.in_flight += job.second;
        ++round.running;
      }
      Status s = FlushKey(job.first);
      {
        MutexLock l(&round.mu);
        round.busy.erase(job.first);
        round.in_flight -= job.second;
        --round.running;
        if (!s.ok() && round.first.ok()) round.first = s;
        if (!s.ok() && stop_on_error) round.stop = true;
      }
      round.changed.NotifyAll();
      if (s.ok()) maybe_trim();
    }
  };
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) {
    helpers.emplace_back([&work] {
      NameThisThread("sawmill-flush+");
      work();
    });
  }
  work();
  for (std::thread& t : helpers) t.join();
  MutexLock l(&round.mu);
  return round.first;
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
