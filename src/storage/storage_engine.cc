#include "storage/storage_engine.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>

#include "catalog/reconcile.h"
#include "common/coding.h"
#include "common/hash.h"
#include "segment/segment_file_reader.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"
#include "wal/record_batch.h"

namespace sawmill::storage {
// ---- Open ----

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  return StorageEngine::Open(options);
}

StorageEngine::StorageEngine(const EngineOptions& options)
    : options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      wal_dir_(JoinPath(options.data_dir, "wal")),
      segments_dir_(JoinPath(options.data_dir, "segments")),
      reporter_(std::make_shared<CorruptionReporter>(this)),
      keys_(options.idempotency_window_ns, options.idempotency_max_keys) {}

Result<std::unique_ptr<Engine>> StorageEngine::Open(const EngineOptions& options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("storage: data_dir is empty");
  if (options.partitions == 0) return Status::InvalidArgument("storage: partitions must be > 0");
  std::unique_ptr<StorageEngine> engine(new StorageEngine(options));
  RETURN_IF_ERROR(engine->Init());
  if (options.background_threads) {
    engine->flush_thread_ = std::thread([e = engine.get()] { e->FlushThread(); });
    if (options.background_compaction) {
      engine->compaction_thread_ = std::thread([e = engine.get()] { e->CompactionThread(); });
    }
  }
  return std::unique_ptr<Engine>(std::move(engine));
}

Status StorageEngine::Init() {
  StorageMetrics::Get();
  RETURN_IF_ERROR(env_->CreateDirs(options_.data_dir));
  RETURN_IF_ERROR(env_->CreateDirs(wal_dir_));
  RETURN_IF_ERROR(env_->CreateDirs(JoinPath(segments_dir_, "hot")));

  if (env_ == Env::Default()) {
    // One process per data directory: a second server on the same DIR would interleave WAL
    // files and segment ids. The lock goes with the process, so a crash never leaves it held.
    const std::string lock_path = JoinPath(options_.data_dir, "LOCK");
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      return Status::IOError(lock_path + ": " + std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::FailedPrecondition("data directory " + options_.data_dir +
                                        " is in use by another sawmill process (" + lock_path +
                                        " is locked)");
    }
  }
  std::string catalog_path = options_.catalog_path;
  if (catalog_path.empty()) {
    catalog_path = env_ == Env::Default() ? JoinPath(options_.data_dir, "catalog.db") : ":memory:";
  }
  ASSIGN_OR_RETURN(catalog_, catalog::Catalog::Open(catalog_path));

  // Reconciliation: the segment files say who they are; the catalog is made to agree with
  // them, and nothing that verifies is deleted unless proven superseded (catalog/reconcile.h).
  catalog::SegmentFileOps ops;
  ops.read_row = [this](const std::string& path) -> Result<catalog::SegmentRow> {
    ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(env_, path));
    return RowFromInfo(reader->info(), path, "", 0);
  };
  ops.read_identity = [this](const std::string& path) -> Result<catalog::SegmentRow> {
    ASSIGN_OR_RETURN(segment::SegmentIdentity id, segment::ReadSegmentIdentity(env_, path));
    catalog::SegmentRow row;
    row.id = id.id;
    row.tenant = id.tenant;
    row.partition = id.partition;
    row.rows = id.rows;
    row.min_seq = id.min_seq;
    row.max_seq = id.max_seq;
    return row;
  };
  ops.read_seqs = [this](const std::string& path) -> Result<std::vector<uint64_t>> {
    ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(env_, path));
    std::vector<Record> rows;
    std::vector<uint64_t> seqs;
    for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
      rows.clear();
      RETURN_IF_ERROR(reader->ReadBlock(b, segment::kColSeq, &rows, nullptr));
      for (const Record& r : rows) seqs.push_back(r.seq);
    }
    return seqs;
  };
  ASSIGN_OR_RETURN(
      catalog::ReconcileReport report,
      catalog::Reconcile(env_, options_.data_dir, catalog_.get(), ops, clock_->NowNanos()));
  for (const auto& [id, why] : report.corrupt) {
    StorageMetrics::Get().corrupt_segments->Increment();
    spdlog::error("segment {} is corrupt and is now marked so in the catalog: {}", id, why);
  }

  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, catalog_->List());
  uint64_t max_seq = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (catalog::SegmentRow& row : rows) {
      max_seq = std::max(max_seq, row.max_seq);
      if (row.state == catalog::kStateMissing) continue;
      covered_[{row.tenant, row.partition}].emplace_back(row.min_seq, row.max_seq);
      std::string path = catalog::ResolveSegmentPath(options_.data_dir, row.path);
      segments_.Add(
          std::make_shared<SegmentEntry>(env_, std::move(path), std::move(row), reporter_));
    }
    UpdateGaugesLocked();
  }
  ASSIGN_OR_RETURN(uint64_t max_id, catalog_->MaxId());
  segments_.SetNextId(std::max(max_id, report.max_file_id) + 1);

  wal::WalOptions wal_options;
  wal_options.file_bytes = options_.wal_file_bytes;
  ASSIGN_OR_RETURN(wal_, wal::WalManager::Open(env_, clock_, wal_dir_, wal_options,
                                               [this](wal::WalBatch& b) { ApplyBatch(b); }));
  {
    // Recent Idempotency-Keys whose WAL files are gone; replay adds the others.
    const int64_t now = clock_->NowNanos();
    ASSIGN_OR_RETURN(auto key_rows,
                     catalog_->ListIdempotencyKeys(now - options_.idempotency_window_ns,
                                                   options_.idempotency_max_keys));
    for (const catalog::IdempotencyKeyRow& row : key_rows) {
      IdempotencyKey key{row.key,       row.body_hash, row.answer,
                         row.first_seq, row.count,     row.created_ns};
      keys_.Recover(row.tenant, key, /*persisted=*/true, now);
    }
  }
  RETURN_IF_ERROR(ReplayWal());
  keys_.FinishRecovery(clock_->NowNanos());
  const uint64_t next_seq = std::max(max_seq + 1, wal_->next_seq());
  wal_->SetNextSeq(next_seq);
  {
    std::lock_guard<std::mutex> l(mu_);
    committed_next_seq_ = next_seq;
  }
  DeleteObsoleteWal();
  return Status::OK();
}

bool StorageEngine::Covered(const Key& key, uint64_t seq) const {
  auto it = covered_.find(key);
  if (it == covered_.end()) return false;
  // Sorted by first seq, with each second replaced by the running maximum of the ends: some
  // range starting at or before "seq" reaches it exactly when the running maximum there does.
  const auto& ranges = it->second;
  auto pos = std::upper_bound(ranges.begin(), ranges.end(), seq,
                              [](uint64_t s, const auto& range) { return s < range.first; });
  return pos != ranges.begin() && std::prev(pos)->second >= seq;
}

Status StorageEngine::ReplayWal() {
  {
    std::lock_guard<std::mutex> l(mu_);
    replaying_ = true;
    for (auto& [key, ranges] : covered_) {
      std::sort(ranges.begin(), ranges.end());
      for (size_t i = 1; i < ranges.size(); ++i) {
        ranges[i].second = std::max(ranges[i].second, ranges[i - 1].second);
      }
    }
  }
  uint64_t replayed = 0, skipped = 0, batches = 0;  // lines, lines, WAL records
  std::vector<Record> records;
  wal::BatchHeader header;
  const int64_t replay_now = clock_->NowNanos();
  auto result = wal_->Replay([&](std::string_view payload, uint64_t* max_seq) -> Status {
    records.clear();
    RETURN_IF_ERROR(wal::DecodeBatch(payload, &records, &header));
    ++batches;
    if (header.idempotency) {
      const wal::BatchIdempotency& b = *header.idempotency;
      keys_.Recover(
          header.tenant,
          IdempotencyKey{b.key, b.body_hash, b.answer, header.base_seq, header.count, b.created_ns},
          /*persisted=*/false, replay_now);
      if (records.empty()) *max_seq = header.base_seq;  // the seq a key-only batch takes
    }
    if (records.empty()) return Status::OK();
    *max_seq = records.back().seq;
    bool over_cap = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const Record& r : records) {
        Key key{r.tenant, PartitionOf(r.service, r.host, options_.partitions)};
        if (Covered(key, r.seq)) {
          ++skipped;
          continue;
        }
        InsertLocked(key, r);
        ++replayed;
      }
      over_cap = memtable_bytes_ > options_.memtable_cap_bytes;
    }
    if (over_cap) {
      std::lock_guard<std::mutex> fl(flush_mu_);
      Status s = FlushForMemoryLocked();
      if (!s.ok()) spdlog::warn("WAL replay: flush under memory pressure failed: {}", s.ToString());
    }
    return Status::OK();
  });
  {
    std::lock_guard<std::mutex> l(mu_);
    replaying_ = false;
    covered_.clear();
  }
  if (!result.ok()) return result.status();
  wal_->SetNextSeq(*result + 1);
  spdlog::info(
      "WAL replay: {} batches, {} lines: {} lines back into memtables, {} lines already in "
      "segments",
      batches, replayed + skipped, replayed, skipped);
  RecordWalDamage();
  return Status::OK();
}

namespace {

WalDamageEntry EntryFromRow(const catalog::DamageRow& row) {
  WalDamageEntry e;
  e.id = row.id;
  e.file = row.file;
  e.offset = row.offset;
  e.bytes = row.bytes;
  e.kind = row.kind;
  e.detail = row.detail;
  e.acknowledged_loss = row.acknowledged_loss;
  e.range_known = row.range_known;
  e.min_ts = row.min_ts;
  e.max_ts = row.max_ts;
  e.min_ingest_ts = row.min_ingest_ts;
  e.max_ingest_ts = row.max_ingest_ts;
  e.first_seen_ns = row.first_seen_ns;
  e.acked_ns = row.acked_ns;
  return e;
}

}  // namespace

void StorageEngine::RecordWalDamage() {
  const int64_t now = std::max<int64_t>(clock_->NowNanos(), 1);
  for (const wal::WalDamage& d : wal_->damage_found()) {
    catalog::DamageRow row;
    row.file = d.file;
    row.offset = d.offset;
    row.bytes = d.bytes;
    row.kind = d.kind;
    row.detail = d.detail;
    row.acknowledged_loss = d.acknowledged_loss;
    row.range_known = d.range_known;
    row.min_ts = d.min_ts;
    row.max_ts = d.max_ts;
    row.min_ingest_ts = d.min_ingest_ts;
    row.max_ingest_ts = d.max_ingest_ts;
    row.first_seen_ns = now;
    // A torn tail past the synced size lost nothing acknowledged: kept as history only.
    if (!d.acknowledged_loss) row.acked_ns = now;
    auto stored = catalog_->RecordDamage(row);
    if (!stored.ok()) {
      spdlog::error("cannot record WAL damage in the catalog ({}): {}", stored.status().ToString(),
                    d.detail);
    } else if (stored->second) {
      spdlog::warn(
          "WAL damage recorded as entry {}; acknowledge it with `sawmill admin damage "
          "ack {}` once handled",
          stored->first, stored->first);
    }
  }
  auto rows = catalog_->ListDamage();
  if (!rows.ok()) {
    spdlog::error("cannot list WAL damage: {}", rows.status().ToString());
    return;
  }
  std::lock_guard<std::mutex> l(damage_mu_);
  unacked_damage_.clear();
  for (const catalog::DamageRow& row : *rows) {
    if (row.acked_ns == 0) unacked_damage_.push_back(EntryFromRow(row));
  }
  if (!unacked_damage_.empty()) {
    spdlog::warn(
        "{} unacknowledged WAL damage entries: searches over their time ranges warn "
        "(sawmill admin damage list)",
        unacked_damage_.size());
  }
}

Result<std::vector<WalDamageEntry>> StorageEngine::ListWalDamage(bool unacknowledged_only) {
  if (unacknowledged_only) {
    std::lock_guard<std::mutex> l(damage_mu_);
    return unacked_damage_;
  }
  ASSIGN_OR_RETURN(std::vector<catalog::DamageRow> rows, catalog_->ListDamage());
  std::vector<WalDamageEntry> out;
  out.reserve(rows.size());
  for (const catalog::DamageRow& row : rows) out.push_back(EntryFromRow(row));
  return out;
}

Result<uint64_t> StorageEngine::AcknowledgeWalDamage(uint64_t id) {
  ASSIGN_OR_RETURN(uint64_t changed,
                   catalog_->AcknowledgeDamage(id, std::max<int64_t>(clock_->NowNanos(), 1)));
  std::lock_guard<std::mutex> l(damage_mu_);
  std::erase_if(unacked_damage_, [id](const WalDamageEntry& e) { return id == 0 || e.id == id; });
  if (changed > 0)
    spdlog::info("WAL damage acknowledged: {}", id == 0 ? std::string("all") : std::to_string(id));
  return changed;
}

Status StorageEngine::WriteHealth() { return wal_ != nullptr ? wal_->WriteHealth() : Status::OK(); }

StorageEngine::~StorageEngine() {
  reporter_->Detach();
  Close().IgnoreError();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

// ---- Write path ----

Status StorageEngine::Append(std::string_view tenant, std::vector<Record>* records) {
  if (records->empty()) return Status::OK();
  uint64_t base_seq = 0;
  return AppendBatch(tenant, records, nullptr, &base_seq);
}

Status StorageEngine::AppendIdempotent(std::string_view tenant, std::vector<Record>* records,
                                       const IdempotencyKey& key) {
  wal::BatchIdempotency idempotency{key.key, key.body_hash, clock_->NowNanos(), key.answer};
  RETURN_IF_ERROR(keys_.Reserve(tenant, key.key, idempotency.created_ns));
  uint64_t base_seq = 0;
  // ApplyBatch acknowledges the key (before a flush can take the records).
  Status status = AppendBatch(tenant, records, &idempotency, &base_seq);
  if (!status.ok()) keys_.Release(tenant, key.key);
  return status;
}

std::optional<IdempotencyKey> StorageEngine::FindIdempotencyKey(std::string_view tenant,
                                                                std::string_view key) const {
  return keys_.Find(tenant, key, clock_->NowNanos());
}

Status StorageEngine::AppendBatch(std::string_view tenant, std::vector<Record>* records,
                                  const wal::BatchIdempotency* idempotency, uint64_t* base_seq) {
  {
    std::unique_lock<std::mutex> l(mu_);
    if (closing_) return Status::Unavailable("storage engine is closing");
    const uint64_t hard_limit = 2 * options_.memtable_cap_bytes;
    if (memtable_bytes_ >= hard_limit && options_.background_threads) {
      // Flushing is behind: hold writers back rather than grow without bound.
      work_cv_.notify_all();
      flushed_cv_.wait_for(l, std::chrono::nanoseconds(options_.append_stall_ns),
                           [&] { return memtable_bytes_ < hard_limit || closing_; });
      if (closing_) return Status::Unavailable("storage engine is closing");
      if (memtable_bytes_ >= hard_limit) {
        return Status::Unavailable("memtables are full and flushing is behind; retry later");
      }
    }
  }
  const int64_t now = clock_->NowNanos();
  wal::WalBatch batch;
  for (Record& r : *records) {
    if (r.ingest_ts == 0) r.ingest_ts = now;
    if (r.ts == 0) r.ts = r.ingest_ts;
    r.tenant.assign(tenant);
    // Kept per WAL file, so that damage found later can name the time it affects.
    batch.min_ts = std::min(batch.min_ts, r.ts);
    batch.max_ts = std::max(batch.max_ts, r.ts);
    batch.min_ingest_ts = std::min(batch.min_ingest_ts, r.ingest_ts);
    batch.max_ingest_ts = std::max(batch.max_ingest_ts, r.ingest_ts);
  }
  AppendContext context{tenant, records, idempotency};
  wal::EncodeBatch(tenant, *records, &batch.payload, idempotency);
  // A batch with only a key still takes a seq, so that its WAL file is kept until the key is in
  // the catalog (files are deleted by seq).
  batch.count = std::max<uint64_t>(records->size(), idempotency != nullptr ? 1 : 0);
  batch.context = &context;
  RETURN_IF_ERROR(wal_->Commit(&batch));
  *base_seq = batch.base_seq;

  // Acknowledged. Now see whether a flush is due.
  std::vector<Key> big;
  bool over_cap = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::set<uint32_t> touched;
    for (const Record& r : *records) {
      touched.insert(PartitionOf(r.service, r.host, options_.partitions));
    }
    for (uint32_t p : touched) {
      auto it = active_.find(Key{std::string(tenant), p});
      if (it != active_.end() && it->second->bytes() >= options_.segment_target_bytes) {
        big.push_back(it->first);
      }
    }
    over_cap = memtable_bytes_ > options_.memtable_cap_bytes;
    if ((!big.empty() || over_cap) && options_.background_threads) work_cv_.notify_all();
  }
  if ((!big.empty() || over_cap) && !options_.background_threads) {
    std::lock_guard<std::mutex> fl(flush_mu_);
    for (const Key& key : big) {
      Status s = FlushKey(key);
      if (!s.ok()) spdlog::warn("flush of {}/{} failed: {}", key.first, key.second, s.ToString());
    }
    Status s = FlushForMemoryLocked();
    if (!s.ok()) spdlog::warn("flush under memory pressure failed: {}", s.ToString());
    DeleteObsoleteWal();
  }
  return Status::OK();
}

void StorageEngine::ApplyBatch(wal::WalBatch& batch) {
  auto* context = static_cast<AppendContext*>(batch.context);
  std::vector<Record>& records = *context->records;
  if (const wal::BatchIdempotency* key = context->idempotency) {
    // Before the records reach a memtable: no flush (and so no WAL deletion) can pass the
    // batch before its key waits to be written to the catalog.
    keys_.Acknowledge(context->tenant,
                      IdempotencyKey{key->key, key->body_hash, key->answer, batch.base_seq,
                                     records.size(), key->created_ns},
                      key->created_ns);
  }
  std::vector<uint32_t> partitions(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].seq = batch.base_seq + i;
    partitions[i] = PartitionOf(records[i].service, records[i].host, options_.partitions);
  }
  std::lock_guard<std::mutex> l(mu_);
  Key key{std::string(context->tenant), 0};
  for (size_t i = 0; i < records.size(); ++i) {
    key.second = partitions[i];
    InsertLocked(key, records[i]);
  }
  committed_next_seq_ = batch.base_seq + batch.count;
  StorageMetrics::Get().memtable_bytes->Set(static_cast<double>(memtable_bytes_));
}

void StorageEngine::InsertLocked(const Key& key, const Record& record) {
  auto& slot = active_[key];
  if (slot == nullptr) {
    slot = std::make_unique<Memtable>(key.first, key.second, clock_->MonotonicNanos());
  }
  const uint64_t before = slot->bytes();
  slot->Add(record);
  memtable_bytes_ += slot->bytes() - before;
}

// ---- Flush ----

std::string StorageEngine::SegmentPath(const std::string& rel) const {
  return JoinPath(options_.data_dir, rel);
}

Status StorageEngine::FlushKey(const Key& key) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = active_.find(key);
    if (it != active_.end() && !it->second->empty()) {
      auto frozen = std::make_shared<Frozen>();
      Memtable& m = *it->second;
      frozen->chunks = m.Seal();
      frozen->bytes = m.bytes();
      frozen->rows = m.rows();
      frozen->min_seq = m.min_seq();
      frozen->max_seq = m.max_seq();
      frozen_[key].push_back(std::move(frozen));
      active_.erase(it);
    } else if (it != active_.end()) {
      active_.erase(it);
    }
  }
  while (true) {
    std::shared_ptr<Frozen> frozen;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = frozen_.find(key);
      if (it == frozen_.end()) break;
      if (it->second.empty()) {
        frozen_.erase(it);
        break;
      }
      frozen = it->second.front();
    }
    RETURN_IF_ERROR(WriteFrozen(key, frozen));
  }
  return Status::OK();
}

Status StorageEngine::WriteFrozen(const Key& key, const std::shared_ptr<Frozen>& frozen) {
  const int64_t start = clock_->MonotonicNanos();
  std::vector<Record> records;
  records.reserve(frozen->rows);
  for (const Chunk& chunk : frozen->chunks)
    records.insert(records.end(), chunk->begin(), chunk->end());
  std::vector<uint64_t> seqs;
  seqs.reserve(records.size());
  for (const Record& r : records) seqs.push_back(r.seq);

  const uint64_t id = segments_.NextId();
  const std::string rel = SegmentRelPath("hot", key.first, key.second, id);
  const std::string path = SegmentPath(rel);
  const std::string dir = DirName(path);
  Status s;
  if (!env_->FileExists(dir)) {
    s = env_->CreateDirs(dir);
    // New directories must themselves be durable before a file in them is registered.
    if (s.ok()) s = env_->SyncDir(DirName(dir));
    if (s.ok()) s = env_->SyncDir(DirName(DirName(dir)));
  }
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = key.first;
  in.partition = key.second;
  if (s.ok()) {
    s = segment::WriteSegment(env_, path, in, std::move(records), options_.segment_options, &out);
  }
  if (s.ok()) s = VerifyWritten(env_, path, out, std::move(seqs));
  catalog::SegmentRow row;
  if (s.ok()) {
    row = RowFromInfo(out, rel, "hot", clock_->NowNanos());
    s = catalog_->Insert(row);
    if (!s.ok()) env_->RemoveFile(path).IgnoreError();
  } else {
    env_->RemoveFile(path).IgnoreError();
  }
  if (!s.ok()) {
    StorageMetrics::Get().flush_errors->Increment();
    return s.WithContext("flush of tenant " + key.first + " partition " +
                         std::to_string(key.second));
  }
  auto entry = std::make_shared<SegmentEntry>(env_, path, std::move(row), reporter_);
  {
    std::lock_guard<std::mutex> l(mu_);
    // Registered and visible, and out of the memtables, in one step for snapshots.
    segments_.Add(std::move(entry));
    auto& queue = frozen_[key];
    if (!queue.empty() && queue.front() == frozen) queue.pop_front();
    if (queue.empty()) frozen_.erase(key);
    memtable_bytes_ -= frozen->bytes;
    ++flushes_;
    UpdateGaugesLocked();
  }
  flushed_cv_.notify_all();
  auto& m = StorageMetrics::Get();
  m.flushes->Increment();
  m.flush_seconds->Observe(Seconds(clock_->MonotonicNanos() - start));
  return Status::OK();
}

Status StorageEngine::FlushForMemoryLocked() {
  while (true) {
    Key largest;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (memtable_bytes_ <= options_.memtable_cap_bytes) return Status::OK();
      uint64_t best = 0;
      for (const auto& [key, m] : active_) {
        if (m->bytes() > best) {
          best = m->bytes();
          largest = key;
        }
      }
      if (best == 0) {
        if (frozen_.empty()) return Status::OK();
        largest = frozen_.begin()->first;
      }
    }
    RETURN_IF_ERROR(FlushKey(largest));
  }
}

Status StorageEngine::Flush() {
  std::lock_guard<std::mutex> fl(flush_mu_);
  std::vector<Key> keys;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [key, m] : active_) keys.push_back(key);
    for (const auto& [key, q] : frozen_) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  Status first;
  for (const Key& key : keys) {
    Status s = FlushKey(key);
    if (!s.ok() && first.ok()) first = s;
  }
  DeleteObsoleteWal();
  return first;
}

uint64_t StorageEngine::MinUnflushedSeq() const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t min_seq = committed_next_seq_;
  for (const auto& [key, m] : active_) {
    if (!m->empty()) min_seq = std::min(min_seq, m->min_seq());
  }
  for (const auto& [key, q] : frozen_) {
    if (!q.empty()) min_seq = std::min(min_seq, q.front()->min_seq);
  }
  return min_seq;
}

void StorageEngine::DeleteObsoleteWal() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (replaying_) return;
  }
  if (wal_ == nullptr) return;
  const uint64_t min_unflushed = MinUnflushedSeq();
  // A WAL file goes only once the Idempotency-Keys it holds are in the catalog.
  if (!PersistKeys(min_unflushed)) return;
  wal_->DeleteObsoleteFiles(min_unflushed);
}

bool StorageEngine::PersistKeys(uint64_t min_unflushed_seq) {
  std::vector<catalog::IdempotencyKeyRow> rows = keys_.Unpersisted(min_unflushed_seq);
  if (rows.empty()) return true;
  const int64_t now = clock_->NowNanos();
  auto evicted = catalog_->PutIdempotencyKeys(rows, now - keys_.window_ns(), keys_.max_keys());
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
  keys_.MarkPersisted(rows);
  return true;
}

// ---- Compaction ----

Status StorageEngine::CompactNow() {
  bool did_work = false;
  return CompactOnce(&did_work);
}

Status StorageEngine::CompactOnce(bool* did_work) {
  *did_work = false;
  std::lock_guard<std::mutex> cl(compaction_mu_);
  std::vector<std::shared_ptr<SegmentEntry>> inputs;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (memtable_bytes_ > options_.memtable_cap_bytes / 2) return Status::OK();  // ingestion first
    std::map<Key, std::vector<std::shared_ptr<SegmentEntry>>> candidates =
        segments_.SmallActive(options_.compaction_small_bytes);
    size_t best = 0;
    for (auto& [key, list] : candidates) {
      if (list.size() >= std::max<uint32_t>(2, options_.compaction_min_inputs) &&
          list.size() > best) {
        best = list.size();
        inputs = list;
      }
    }
    if (inputs.empty()) return Status::OK();
    std::sort(inputs.begin(), inputs.end(),
              [](const auto& a, const auto& b) { return a->row().min_seq < b->row().min_seq; });
    // Bound one compaction's memory: every input row is decoded before the merged segment is
    // written, so stop at about two target segments of raw bytes (at least two inputs).
    const uint64_t raw_budget = std::max<uint64_t>(2 * options_.segment_target_bytes, 1 << 20);
    uint64_t raw = 0;
    size_t take = 0;
    while (take < inputs.size() && take < 64 &&
           (take < 2 || raw + inputs[take]->row().raw_bytes <= raw_budget)) {
      raw += inputs[take]->row().raw_bytes;
      ++take;
    }
    inputs.resize(take);
    for (auto& entry : inputs) entry->compacting = true;
  }
  auto release = [&] {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& entry : inputs) entry->compacting = false;
  };

  const int64_t start = clock_->MonotonicNanos();
  const std::string tenant = inputs.front()->row().tenant;
  const uint32_t partition = inputs.front()->row().partition;
  std::vector<Record> rows;
  uint64_t input_bytes = 0;
  std::vector<uint64_t> input_ids;
  segment::ReadStats read_stats;
  for (auto& entry : inputs) {
    input_ids.push_back(entry->row().id);
    input_bytes += entry->row().bytes;
    auto reader = entry->Open();
    Status s = reader.status();
    if (reader.ok()) {
      for (uint32_t b = 0; b < (*reader)->blocks().size() && s.ok(); ++b) {
        s = (*reader)->ReadBlock(b, segment::kColAll, &rows, &read_stats);
      }
    }
    if (!s.ok()) {
      release();
      if (s.IsDataLoss()) ReportCorruption(entry->row().id, s);
      return s.WithContext("compaction of segment " + std::to_string(entry->row().id));
    }
  }
  std::vector<uint64_t> seqs;
  seqs.reserve(rows.size());
  for (Record& r : rows) {
    r.tenant = tenant;
    seqs.push_back(r.seq);
  }

  const uint64_t id = segments_.NextId();
  const std::string rel = SegmentRelPath("hot", tenant, partition, id);
  const std::string path = SegmentPath(rel);
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = tenant;
  in.partition = partition;
  Status s = env_->CreateDirs(DirName(path));
  if (s.ok()) {
    s = segment::WriteSegment(env_, path, in, std::move(rows), options_.segment_options, &out);
  }
  // The inputs are deleted once the swap commits: the output must verify first.
  if (s.ok()) s = VerifyWritten(env_, path, out, std::move(seqs));
  catalog::SegmentRow row;
  if (s.ok()) {
    row = RowFromInfo(out, rel, "hot", clock_->NowNanos());
    // The swap: readers of the catalog see the inputs or the output, never both.
    s = catalog_->Replace(input_ids, {row});
  }
  if (!s.ok()) {
    env_->RemoveFile(path).IgnoreError();
    release();
    return s.WithContext("compaction of tenant " + tenant + " partition " +
                         std::to_string(partition));
  }
  auto output = std::make_shared<SegmentEntry>(env_, path, std::move(row), reporter_);
  {
    std::lock_guard<std::mutex> l(mu_);
    // Snapshots holding an input keep reading; the last one to let go deletes the file.
    segments_.Replace(inputs, std::move(output));
    ++compactions_;
    UpdateGaugesLocked();
  }
  inputs.clear();
  const int64_t elapsed = clock_->MonotonicNanos() - start;
  auto& m = StorageMetrics::Get();
  m.compactions->Increment();
  m.compacted_bytes->Increment(static_cast<double>(input_bytes));
  last_compaction_bytes_ = input_bytes + out.file_bytes;
  m.compaction_seconds->Observe(Seconds(elapsed));
  spdlog::info("compaction: {} segments of {}/{} ({} bytes) -> segment {} ({} bytes) in {:.3f}s",
               input_ids.size(), tenant, partition, input_bytes, id, out.file_bytes,
               Seconds(elapsed));
  *did_work = true;
  return Status::OK();
}

// ---- Reads ----

std::shared_ptr<const Snapshot> StorageEngine::GetSnapshot(std::string_view tenant) const {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->tenant.assign(tenant);
  std::lock_guard<std::mutex> l(mu_);
  segments_.AddToSnapshot(snapshot.get());
  // Frozen (older) before active (newer), per partition.
  std::map<uint32_t, MemtableView> views;
  const Key first{snapshot->tenant, 0};
  for (auto it = frozen_.lower_bound(first); it != frozen_.end() && it->first.first == tenant;
       ++it) {
    MemtableView& v = views[it->first.second];
    v.partition = it->first.second;
    for (const auto& f : it->second)
      v.chunks.insert(v.chunks.end(), f->chunks.begin(), f->chunks.end());
  }
  for (auto it = active_.lower_bound(first); it != active_.end() && it->first.first == tenant;
       ++it) {
    MemtableView& v = views[it->first.second];
    v.partition = it->first.second;
    const auto& chunks = it->second->Seal();
    v.chunks.insert(v.chunks.end(), chunks.begin(), chunks.end());
  }
  for (auto& [p, v] : views) snapshot->memtables.push_back(std::move(v));
  return snapshot;
}

void StorageEngine::ReportCorruption(uint64_t segment_id, const Status& status) {
  std::shared_ptr<SegmentEntry> entry;
  {
    std::lock_guard<std::mutex> l(mu_);
    entry = segments_.Find(segment_id);
    if (entry == nullptr) {
      spdlog::error("corruption reported in segment {}, which is no longer registered: {}",
                    segment_id, status.ToString());
      return;
    }
    if (entry->row().state == catalog::kStateCorrupt) return;  // counted once
    entry->set_state(std::string(catalog::kStateCorrupt));
  }
  StorageMetrics::Get().corrupt_segments->Increment();
  {
    std::lock_guard<std::mutex> l(mu_);
    UpdateGaugesLocked();
  }
  spdlog::error("segment {} ({}) is corrupt and is now marked so in the catalog: {}", segment_id,
                entry->path(), status.ToString());
  Status s = catalog_->SetState(segment_id, catalog::kStateCorrupt);
  if (!s.ok()) spdlog::error("cannot mark segment {} corrupt: {}", segment_id, s.ToString());
}

Result<std::vector<SegmentStatus>> StorageEngine::ListSegments() const {
  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, catalog_->List());
  std::vector<SegmentStatus> out;
  out.reserve(rows.size());
  for (catalog::SegmentRow& row : rows) {
    SegmentStatus s;
    s.id = row.id;
    s.tenant = std::move(row.tenant);
    s.partition = row.partition;
    s.rows = row.rows;
    s.bytes = row.bytes;
    s.min_ts = row.min_ts;
    s.max_ts = row.max_ts;
    s.tier = std::move(row.tier);
    s.path = std::move(row.path);
    s.state = std::move(row.state);
    out.push_back(std::move(s));
  }
  return out;
}

EngineStats StorageEngine::stats() const {
  EngineStats s;
  {
    std::lock_guard<std::mutex> l(mu_);
    s.memtable_bytes = memtable_bytes_;
    s.segments = segments_.count();
    s.segment_bytes = segments_.bytes();
    s.flushes = flushes_;
    s.compactions = compactions_;
  }
  if (wal_ != nullptr) {
    wal::WalStats w = wal_->stats();
    s.wal_bytes = w.bytes;
    s.wal_corrupt_records = w.corrupt_records;
    s.next_seq = wal_->next_seq();
  }
  return s;
}

void StorageEngine::UpdateGaugesLocked() {
  auto& m = StorageMetrics::Get();
  m.memtable_bytes->Set(static_cast<double>(memtable_bytes_));
  segments_.UpdateGauges();
}

// ---- Background work ----

void StorageEngine::FlushThread() {
  const auto poll = std::chrono::milliseconds(200);
  bool backoff = false;
  while (true) {
    std::vector<Key> due;
    {
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.wait_for(l, backoff ? std::chrono::milliseconds(1000) : poll);
      if (closing_) return;
      const int64_t now = clock_->MonotonicNanos();
      for (const auto& [key, m] : active_) {
        if (m->bytes() >= options_.segment_target_bytes ||
            now - m->created_mono_ns() >= options_.flush_interval_ns) {
          due.push_back(key);
        }
      }
      for (const auto& [key, q] : frozen_) due.push_back(key);  // retries
    }
    std::lock_guard<std::mutex> fl(flush_mu_);
    Status status;
    for (const Key& key : due) {
      Status s = FlushKey(key);
      if (!s.ok() && status.ok()) status = s;
    }
    if (status.ok()) status = FlushForMemoryLocked();
    if (!status.ok()) {
      if (!backoff) spdlog::error("background flush failed (will retry): {}", status.ToString());
      backoff = true;
    } else {
      backoff = false;
    }
    DeleteObsoleteWal();
  }
}

void StorageEngine::CompactionThread() {
  bool did_work = false;
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!did_work) work_cv_.wait_for(l, std::chrono::seconds(2));
      if (closing_) return;
    }
    const int64_t start = clock_->MonotonicNanos();
    Status s = CompactOnce(&did_work);
    if (!s.ok()) {
      spdlog::warn("compaction failed: {}", s.ToString());
      did_work = false;
      continue;
    }
    if (did_work && options_.compaction_bytes_per_sec > 0) {
      // Rate limit: sleep so that this round's bytes average out to the configured rate.
      const double budget_s = static_cast<double>(last_compaction_bytes_.load()) /
                              static_cast<double>(options_.compaction_bytes_per_sec);
      const double spent_s = Seconds(clock_->MonotonicNanos() - start);
      if (budget_s > spent_s) {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait_for(l, std::chrono::duration<double>(budget_s - spent_s),
                          [&] { return closing_; });
      }
    }
  }
}

Status StorageEngine::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::OK();
    closing_ = true;
  }
  work_cv_.notify_all();
  flushed_cv_.notify_all();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (compaction_thread_.joinable()) compaction_thread_.join();
  Status status;
  if (wal_ != nullptr) {
    // A clean shutdown leaves everything in segments, so the next start replays nothing.
    Status f = Flush();
    if (!f.ok()) spdlog::warn("flush at close failed; the WAL keeps the records: {}", f.ToString());
    status = wal_->Close();
  }
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  return status;
}

}  // namespace sawmill::storage
