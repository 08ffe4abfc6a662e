#include "storage/storage_engine.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "catalog/pg_catalog.h"
#include "catalog/reconcile.h"
#include "catalog/sqlite_catalog.h"
#include "common/coding.h"
#include "common/hash.h"
#include "common/mutex.h"
#include "common/thread_priority.h"
#include "objstore/local_directory_store.h"
#include "segment/segment_file_reader.h"
#include "storage/job_gate.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"
#include "storage/wal_replay.h"
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
      reporter_(std::make_shared<CorruptionReporter>(
          this, options.newest_format_version != 0
                    ? std::min(options.newest_format_version, segment::kFormatVersion)
                    : segment::kFormatVersion)),
      keys_(options.idempotency_window_ns, options.idempotency_max_keys),
      memtables_(clock_),
      segments_(std::make_shared<objstore::LocalDirectoryStore>(env_, options.data_dir),
                options.cold_store != nullptr ? options.cold_store
                                              : std::make_shared<objstore::LocalDirectoryStore>(
                                                    env_, JoinPath(options.data_dir, "cold"))),
      pacer_(options.memtable_cap_bytes,
             options.memtable_cap_bytes + options.memtable_cap_bytes / 2,
             Flusher::Threads(options)) {}

Result<std::unique_ptr<Engine>> StorageEngine::Open(const EngineOptions& options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("storage: data_dir is empty");
  if (options.partitions == 0) return Status::InvalidArgument("storage: partitions must be > 0");
  std::unique_ptr<StorageEngine> engine(new StorageEngine(options));
  RETURN_IF_ERROR(engine->Init());
  if (options.background_threads) {
    engine->flush_thread_ = std::thread([e = engine.get()] { e->FlushThread(); });
    engine->pack_thread_ = std::thread([e = engine.get()] { e->PackThread(); });
    // On a cluster node both write their outputs to the shared store (engine.h, shared_store).
    if (options.background_compaction) {
      engine->compaction_thread_ = std::thread([e = engine.get()] { e->CompactionThread(); });
    }
    if (options.tier_interval_ns > 0) {
      engine->tier_worker_.Start(options.tier_interval_ns, [e = engine.get()] {
        NameThisThread("sawmill-tiers");
        NiceBackgroundThread(e->options_.background_nice, "the tier mover");
        // In a cluster a partition's segments are moved by the node that claims the partition's
        // lease (storage/job_gate.h); a lost lease abandons the move before its commit.
        JobRound round("tiers", JobRound::kPerPartition);
        Status s = e->RunTiersNow();
        if (!s.ok() && !e->background_stopped_.load()) {
          spdlog::warn("tier round failed (retried next round): {}", s.ToString());
        }
      });
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
  if (options_.shared_store) {
    // A cluster node shares the catalog with the other nodes: no exclusive lock.
    if (!catalog::IsPostgresUrl(catalog_path)) {
      return Status::InvalidArgument(
          "a shared store needs a PostgreSQL catalog (postgresql://...), not " + catalog_path);
    }
    catalog::PgCatalogOptions pg;
    pg.application_name = "sawmill engine";
    ASSIGN_OR_RETURN(catalog_, catalog::OpenPostgresCatalog(catalog_path, pg));
    if (!options_.node_id.empty()) RETURN_IF_ERROR(InitSharedKeys(catalog_path));
  } else {
    ASSIGN_OR_RETURN(catalog_, catalog::OpenCatalog(catalog_path));
  }
  if (options_.wrap_catalog) catalog_ = options_.wrap_catalog(std::move(catalog_));
  bool partitions_recorded = false;
  RETURN_IF_ERROR(CheckPartitions(catalog_path, &partitions_recorded));
  std::optional<uint64_t> format;
  RETURN_IF_ERROR(CheckFormat(catalog_path, &format));

  // Reconciliation: the segment objects say who they are; the catalog is made to agree with
  // them, and nothing that verifies is deleted unless proven superseded (catalog/reconcile.h).
  ASSIGN_OR_RETURN(
      catalog::ReconcileReport report,
      catalog::Reconcile(ReconcileStores(), catalog_.get(), ReconcileOps(), clock_->NowNanos()));
  for (const auto& [id, why] : report.corrupt) {
    StorageMetrics::Get().corrupt_segments->Increment();
    spdlog::error("segment {} is corrupt and is now marked so in the catalog: {}", id, why);
  }

  flusher_ = std::make_unique<Flusher>(options_, env_, clock_, catalog_.get(), &mu_, &flushed_cv_,
                                       &memtables_, &segments_, &keys_, reporter_);
  flusher_->SetPacer(&pacer_);
  compactor_ =
      std::make_unique<Compactor>(options_, env_, clock_, catalog_.get(), &mu_, &memtables_,
                                  &segments_, reporter_, this, &background_stopped_);
  mover_ = std::make_unique<TierMover>(options_, env_, clock_, catalog_.get(), &mu_, &segments_,
                                       reporter_, this, &background_stopped_);

  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, catalog_->List());
  // After reconciliation (a damaged partition column is rewritten from its file first), before
  // anything is replayed or written.
  if (!partitions_recorded) RETURN_IF_ERROR(SettlePartitions(catalog_path, rows));
  RETURN_IF_ERROR(SettleFormat(catalog_path, format, rows));
  uint64_t max_seq = 0;
  WalReplay replay;
  {
    MutexLock l(&mu_);
    for (catalog::SegmentRow& row : rows) {
      max_seq = std::max(max_seq, row.max_seq);
      if (row.state == catalog::kStateMissing) continue;
      replay.Cover({row.tenant, row.partition}, row.min_seq, row.max_seq);
      auto store = segments_.StoreNamed(row.store);
      std::string path = row.store == catalog::kLocalStore
                             ? catalog::ResolveSegmentPath(options_.data_dir, row.path)
                             : (store != nullptr ? store->Location(row.path) : row.path);
      segments_.Add(std::make_shared<SegmentEntry>(env_, std::move(store), std::move(path),
                                                   std::move(row), reporter_));
    }
    memtables_.UpdateGauge();
    segments_.UpdateGauges();
  }
  {
    // Segments retention deleted: their seqs are never replayed (a WAL file may still hold
    // them) nor handed out again.
    ASSIGN_OR_RETURN(std::vector<catalog::RetiredSegmentRow> retired,
                     catalog_->ListRetiredSegments());
    for (const catalog::RetiredSegmentRow& r : retired) {
      max_seq = std::max(max_seq, r.max_seq);
      replay.Cover({r.tenant, r.partition}, r.min_seq, r.max_seq);
    }
  }
  wal::WalOptions wal_options;
  wal_options.file_bytes = options_.wal_file_bytes;
  if (options_.wal_factory) {
    ASSIGN_OR_RETURN(wal_, options_.wal_factory([this](wal::WalBatch& b) { ApplyBatch(b); }));
  } else {
    ASSIGN_OR_RETURN(wal_, wal::WalManager::Open(env_, clock_, wal_dir_, wal_options,
                                                 [this](wal::WalBatch& b) { ApplyBatch(b); }));
  }
  // A cluster node's WAL step fences its flushes (flush_fence.h); the local WAL does not.
  flusher_->SetFence(dynamic_cast<FlushFence*>(wal_.get()));
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
  WalReplay::Target target;
  target.mu = &mu_;
  target.memtables = &memtables_;
  target.keys = &keys_;
  target.partitions = options_.partitions;
  target.memtable_cap_bytes = options_.memtable_cap_bytes;
  target.relieve_memory = [this] { flusher_->RelieveMemory(); };
  RETURN_IF_ERROR(replay.Run(wal_.get(), clock_->NowNanos(), target));
  // Every batch of this node's own WAL objects is replayed (their keys recorded as done): the
  // claims its earlier runs still hold are of batches never acknowledged.
  if (shared_keys_) shared_keys_->ReleaseEarlierIncarnations();
  damage_.Record(catalog_.get(), wal_->damage_found(), std::max<int64_t>(clock_->NowNanos(), 1));
  keys_.FinishRecovery(clock_->NowNanos());
  const uint64_t next_seq = std::max(max_seq + 1, wal_->next_seq());
  wal_->SetNextSeq(next_seq);
  {
    MutexLock l(&mu_);
    memtables_.SetApplied(next_seq);
  }
  PackChunks();
  flusher_->EnableWalTrim(wal_.get());
  flusher_->TrimWal();
  if (!options_.node_id.empty()) RETURN_IF_ERROR(InitSegmentView());
  return Status::OK();
}

std::string StorageEngine::CatalogForMessages(const std::string& catalog_path) {
  return catalog::IsPostgresUrl(catalog_path) ? catalog::RedactPostgresUrl(catalog_path)
                                              : catalog_path;
}

namespace {

// A record's memtable, the segment it is flushed to, WAL replay's skip of records already in
// segments (also of WAL objects taken over from another node) and a search's pruning by
// partition all compute PartitionOf(service, host, partitions) and find the same partition only
// with the count the segments were filed by.
Status OtherPartitionCount(uint32_t partitions, uint64_t recorded, const std::string& where) {
  return Status::FailedPrecondition(
      "storage: partitions = " + std::to_string(partitions) +
      " in this server's configuration, but the data under catalog " + where +
      " is filed by partitions = " + std::to_string(recorded) +
      " (recorded when it was first opened); with another count lines replayed from the WAL "
      "would be stored twice and searches for a service and host would skip segments. Start "
      "with partitions = " +
      std::to_string(recorded) +
      " (--partitions); the count of a store cannot be changed (docs/cluster.md \"One partition "
      "count per store\")");
}

}  // namespace

Status StorageEngine::CheckPartitions(const std::string& catalog_path, bool* recorded) {
  // Before reconciliation, replay or any write: a node of another count changes nothing.
  ASSIGN_OR_RETURN(std::optional<uint64_t> count, catalog_->ReadSetting("partitions"));
  *recorded = count.has_value();
  if (!count || *count == options_.partitions) return Status::OK();
  return OtherPartitionCount(options_.partitions, *count, CatalogForMessages(catalog_path));
}

Status StorageEngine::SettlePartitions(const std::string& catalog_path,
                                       const std::vector<catalog::SegmentRow>& rows) {
  // No count recorded: a new store, or one made by a build before the count was recorded,
  // whose first open by this build records the count it is given. A segment filed under a
  // partition that count does not have proves it too small. (A larger count, or a smaller one
  // above every partition the segments happen to be in, cannot be told from the segments:
  // docs/cluster.md "One partition count per store".) The rows are those reconciliation left:
  // a partition column damaged in the catalog has been rewritten from the segment's file.
  const catalog::SegmentRow* highest = nullptr;
  for (const catalog::SegmentRow& row : rows) {
    if (highest == nullptr || row.partition > highest->partition) highest = &row;
  }
  if (highest != nullptr && highest->partition >= options_.partitions) {
    return Status::FailedPrecondition(
        "storage: partitions = " + std::to_string(options_.partitions) +
        " in this server's configuration, but the catalog " + CatalogForMessages(catalog_path) +
        " records no partition count (a store of an earlier build) and names segment " +
        std::to_string(highest->id) + " of partition " + std::to_string(highest->partition) +
        ": the data was filed by partitions = " + std::to_string(highest->partition + 1) +
        " or more. Start with the count it was filed by (--partitions; 16 unless it was set), "
        "which is then recorded (docs/cluster.md \"One partition count per store\")");
  }
  ASSIGN_OR_RETURN(uint64_t recorded, catalog_->SettleSetting("partitions", options_.partitions));
  if (recorded == options_.partitions) return Status::OK();
  // Another node recorded its count between CheckPartitions and here.
  return OtherPartitionCount(options_.partitions, recorded, CatalogForMessages(catalog_path));
}

namespace {

Status NewerFormat(uint32_t newest, uint64_t recorded, const std::string& where) {
  return Status::FailedPrecondition(
      "storage: the segments under catalog " + where + " are written in format version " +
      std::to_string(recorded) +
      " (raised once every node could read it), but this build reads format versions up to " +
      std::to_string(newest) +
      ": it could not read the newer segments. Start a build that reads format version " +
      std::to_string(recorded) +
      " (the one that raised it, or newer); a store's format version is never lowered "
      "(docs/cluster.md \"Format version in a rolling upgrade\")");
}

}  // namespace

Status StorageEngine::CheckFormat(const std::string& catalog_path,
                                  std::optional<uint64_t>* recorded) {
  ASSIGN_OR_RETURN(*recorded, catalog_->ReadSetting("format_version"));
  const uint32_t newest = reporter_->newest_format();
  if (!*recorded || **recorded <= newest) return Status::OK();
  return NewerFormat(newest, **recorded, CatalogForMessages(catalog_path));
}

uint32_t StorageEngine::NewestSegmentFormat(const std::vector<catalog::SegmentRow>& rows) {
  std::vector<const catalog::SegmentRow*> newest;
  for (const catalog::SegmentRow& row : rows) {
    if (row.state == catalog::kStateActive) newest.push_back(&row);
  }
  std::sort(newest.begin(), newest.end(),
            [](const auto* a, const auto* b) { return a->id > b->id; });
  constexpr size_t kTries = 4;  // a damaged or missing newest one is passed over
  for (size_t i = 0; i < newest.size() && i < kTries; ++i) {
    const catalog::SegmentRow& row = *newest[i];
    auto store = segments_.StoreNamed(row.store);
    if (store == nullptr) continue;
    auto reader = !row.path.empty() && row.path[0] != '/'
                      ? segment::SegmentFileReader::OpenObject(store, row.path)
                      : segment::SegmentFileReader::OpenFile(env_, row.path);
    if (reader.ok()) return (*reader)->format_version();
    spdlog::warn("segment {}: not read for the store's format version: {}", row.id,
                 reader.status().ToString());
  }
  return 0;
}

Status StorageEngine::SettleFormat(const std::string& catalog_path,
                                   std::optional<uint64_t> recorded,
                                   const std::vector<catalog::SegmentRow>& rows) {
  const uint32_t newest = reporter_->newest_format();
  uint64_t version = recorded.value_or(0);
  if (!recorded) {
    // A new store, or one of a build before the version was recorded. A cluster's nodes of that
    // build may still be running: they wrote, and read, the version of the newest segment, so
    // that is recorded (it is raised once they are gone). One node alone raises it below.
    uint64_t first = newest;
    if (options_.shared_store) {
      const uint32_t found = NewestSegmentFormat(rows);
      if (found != 0) first = std::min<uint64_t>(found, newest);
    }
    ASSIGN_OR_RETURN(version, catalog_->SettleSetting("format_version", first));
  }
  if (options_.shared_store) {
    // What this node reads, and the version as it stands after that record: a raise either
    // counted this node or committed before (Catalog::RecordNodeFormat).
    if (!options_.node_id.empty()) {
      ASSIGN_OR_RETURN(version, catalog_->RecordNodeFormat(options_.node_id, newest));
    }
  } else if (version < newest) {
    // The embedded node, or a PostgreSQL catalog held under its exclusive lock: no other node
    // reads this store, so it takes this build's version at once.
    ASSIGN_OR_RETURN(version, catalog_->RaiseFormatVersion(newest, INT64_MAX));
  }
  if (version > newest) return NewerFormat(newest, version, CatalogForMessages(catalog_path));
  if (version < segment::kMinReadableVersion) {
    return Status::DataLoss("storage: catalog " + CatalogForMessages(catalog_path) +
                            " records segment format version " + std::to_string(version) +
                            ", which no build writes");
  }
  segments_.set_write_format(static_cast<uint32_t>(version));
  if (version < newest) {
    spdlog::info(
        "segments are written in format version {}, the store's, until every live node reads {} "
        "(docs/cluster.md \"Format version in a rolling upgrade\")",
        version, newest);
  }
  return Status::OK();
}

Result<uint32_t> StorageEngine::RaiseWriteFormat() {
  const uint32_t newest = reporter_->newest_format();
  const uint32_t writing = segments_.write_format();
  uint64_t version = writing;
  if (writing < newest) {
    const int64_t alive_since =
        options_.shared_store ? clock_->NowNanos() - options_.node_timeout_ns : INT64_MAX;
    ASSIGN_OR_RETURN(version, catalog_->RaiseFormatVersion(newest, alive_since));
  } else if (options_.shared_store && !newer_store_logged_.load()) {
    // One small read a round: was the store raised past this build while it looked dead?
    ASSIGN_OR_RETURN(std::optional<uint64_t> recorded, catalog_->ReadSetting("format_version"));
    version = recorded.value_or(writing);
  }
  if (version > newest) {
    // Raised while this node looked dead (paused past node_timeout): it goes on writing what
    // every node reads, and answers partial for the segments it cannot read. Logged once.
    if (!newer_store_logged_.exchange(true)) {
      spdlog::error(
          "the store's segment format version is {}, newer than this build reads ({}): it was "
          "raised while this node looked dead; segments of version {} are skipped with a "
          "warning (answers are partial). Upgrade this node",
          version, newest, version);
    }
    return writing;
  }
  if (version > writing) {
    segments_.set_write_format(static_cast<uint32_t>(version));
    spdlog::info("segments are now written in format version {} (every live node reads it)",
                 version);
  }
  return segments_.write_format();
}

std::vector<catalog::ReconcileStore> StorageEngine::ReconcileStores() {
  // A cluster node reconciles only its own directory: other nodes write the shared store
  // meanwhile, and an object of theirs not registered yet is no orphan (docs/cluster.md).
  std::vector<catalog::ReconcileStore> stores(options_.shared_store ? 1 : 2);
  stores[0].name = std::string(catalog::kLocalStore);
  stores[0].store = segments_.store().get();
  stores[0].prefix = "segments/";
  if (options_.shared_store) return stores;
  stores[1].name = std::string(catalog::kColdStore);
  stores[1].store = segments_.cold().get();
  stores[1].tier = std::string(catalog::kTierCold);
  stores[1].trust_named = true;
  return stores;
}

catalog::SegmentFileOps StorageEngine::ReconcileOps() {
  catalog::SegmentFileOps ops;
  ops.read_row = [this](const std::string& store,
                        const std::string& name) -> Result<catalog::SegmentRow> {
    ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(segments_.StoreNamed(store), name));
    return RowFromInfo(reader->info(), name, "", 0);
  };
  ops.read_identity = [this](const std::string& store,
                             const std::string& name) -> Result<catalog::SegmentRow> {
    if (store != catalog::kLocalStore) {
      return Status::FailedPrecondition("the header identity is read only from local files");
    }
    ASSIGN_OR_RETURN(segment::SegmentIdentity id,
                     segment::ReadSegmentIdentity(env_, segments_.store()->Location(name)));
    catalog::SegmentRow row;
    row.id = id.id;
    row.tenant = id.tenant;
    row.partition = id.partition;
    row.rows = id.rows;
    row.min_seq = id.min_seq;
    row.max_seq = id.max_seq;
    return row;
  };
  ops.read_seqs = [this](const std::string& store,
                         const std::string& name) -> Result<std::vector<uint64_t>> {
    ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(segments_.StoreNamed(store), name));
    std::vector<Record> rows;
    std::vector<uint64_t> seqs;
    for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
      rows.clear();
      RETURN_IF_ERROR(reader->ReadBlock(b, segment::kColSeq, &rows, nullptr));
      for (const Record& r : rows) seqs.push_back(r.seq);
    }
    return seqs;
  };
  return ops;
}

Result<std::vector<WalDamageEntry>> StorageEngine::ListWalDamage(bool unacknowledged_only) {
  return damage_.List(catalog_.get(), unacknowledged_only);
}

Result<uint64_t> StorageEngine::AcknowledgeWalDamage(uint64_t id) {
  return damage_.Acknowledge(catalog_.get(), id, std::max<int64_t>(clock_->NowNanos(), 1));
}

Status StorageEngine::WriteHealth() { return wal_ != nullptr ? wal_->WriteHealth() : Status::OK(); }

StorageEngine::~StorageEngine() {
  reporter_->Detach();
  Close().IgnoreError();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status StorageEngine::InitSharedKeys(const std::string& catalog_path) {
  // The node registry heartbeats before the engine opens (cluster::ClusterNode::Open): its row
  // names this run's incarnation, under which the keys are claimed.
  ASSIGN_OR_RETURN(std::vector<catalog::NodeRow> nodes, catalog_->ListNodes());
  int64_t incarnation = 0;
  for (const catalog::NodeRow& n : nodes) {
    if (n.id == options_.node_id) incarnation = n.started_ns;
  }
  if (incarnation == 0) {
    spdlog::warn(
        "node {} is not registered in the catalog: Idempotency-Keys are checked on this "
        "node only",
        options_.node_id);
    return Status::OK();
  }
  catalog::PgCatalogOptions pg;
  pg.application_name = "sawmill keys";
  ASSIGN_OR_RETURN(keys_catalog_, catalog::OpenPostgresCatalog(catalog_path, pg));
  SharedKeysOptions keys;
  keys.node = options_.node_id;
  keys.incarnation = incarnation;
  keys.window_ns = options_.idempotency_window_ns;
  keys.gone_after_ns = options_.node_timeout_ns;
  keys.max_done = options_.idempotency_max_keys;
  keys.trim_interval_ns = options_.background_threads ? options_.idempotency_trim_interval_ns : 0;
  shared_keys_ = std::make_unique<SharedIdempotencyKeys>(keys_catalog_.get(), clock_, keys);
  return Status::OK();
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
  // A cluster node: the key is claimed across nodes too (docs/cluster.md "Idempotency-Keys
  // across nodes"); AlreadyExists when another node stored its batch (FindIdempotencyKey has
  // the answer), Unavailable while another is storing it.
  std::optional<catalog::IdempotencyClaimRow> claim;
  if (shared_keys_) {
    auto claimed = shared_keys_->Claim(tenant, key, idempotency.created_ns);
    if (!claimed.ok()) {
      keys_.Release(tenant, key.key);
      return claimed.status();
    }
    claim = std::move(claimed).value();
  }
  uint64_t base_seq = 0;
  // ApplyBatch acknowledges the key (before a flush can take the records). A claim is checked
  // again when the batch's WAL object is registered (WalBatch::key_claim).
  Status status = AppendBatch(tenant, records, &idempotency, &base_seq, claim ? &*claim : nullptr);
  if (!status.ok()) {
    keys_.Release(tenant, key.key);
    if (claim) shared_keys_->Release(*claim);
    return status;
  }
  if (claim) {
    shared_keys_->Complete(std::move(*claim),
                           IdempotencyKey{key.key, key.body_hash, key.answer, base_seq,
                                          records->size(), idempotency.created_ns});
  }
  return status;
}

std::optional<IdempotencyKey> StorageEngine::FindIdempotencyKey(std::string_view tenant,
                                                                std::string_view key) const {
  const int64_t now = clock_->NowNanos();
  std::optional<IdempotencyKey> found = keys_.Find(tenant, key, now);
  if (!found && shared_keys_) found = shared_keys_->Find(tenant, key, now);
  return found;
}

namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A paced Append asks the pacer again at least this often (the rate moves with the memtables).
constexpr int64_t kPaceRecheckNs = 20'000'000;

// Chunks (of up to Memtable::kChunkRows rows, about 0.25 MiB unpacked on the corpus) waiting for
// the packer thread at most: past it the Append that filled them packs them itself, before its
// acknowledgement, so that memory stays bounded when the packer falls behind (about 12 MiB more
// than packed at most; a 4 MiB body of 13,400 lines fills about 13).
constexpr size_t kPackBacklog = 48;

}  // namespace

Status StorageEngine::AppendBatch(std::string_view tenant, std::vector<Record>* records,
                                  const wal::BatchIdempotency* idempotency, uint64_t* base_seq,
                                  const catalog::IdempotencyClaimRow* claim) {
  auto& metrics = StorageMetrics::Get();
  // Every wait below (twice the cap, 1.5 x it, the paced slot) ends by this one deadline.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.append_stall_ns);
  {
    UniqueLock l(&mu_);
    if (closing_) return Status::Unavailable("storage engine is closing");
    const uint64_t hard_limit = 2 * options_.memtable_cap_bytes;
    if (memtables_.bytes() >= hard_limit && options_.background_threads) {
      // Flushing is behind: hold writers back rather than grow without bound.
      const int64_t stall_start = SteadyNanos();
      work_cv_.NotifyAll();
      while (memtables_.bytes() >= hard_limit && !closing_) {
        if (!flushed_cv_.WaitUntil(&l, deadline)) break;
      }
      metrics.append_stall_seconds->Observe(Seconds(SteadyNanos() - stall_start));
      if (closing_) return Status::Unavailable("storage engine is closing");
      if (memtables_.bytes() >= hard_limit) {
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
  if (claim != nullptr) {
    batch.key_claim = {claim->tenant, claim->key, claim->node, claim->node_started_ns,
                       claim->created_ns};
  }
  if (options_.pace_appends && options_.background_threads) {
    // Past memtable_cap, wait for this batch's turn (append_pacer.h): writers slow down a
    // little each, at the rate flushes free memory, instead of some waiting seconds at the
    // limit. The wait ends early when flushes bring the memtables back under the cap, or
    // closing; it never passes the deadline, where the batch goes on (memory is still bounded
    // by the 429 at 1.5 x the cap and the stall at twice it).
    UniqueLock l(&mu_);
    const int64_t arrived = SteadyNanos();
    const uint64_t pace_limit = options_.memtable_cap_bytes + options_.memtable_cap_bytes / 2;
    if (memtables_.bytes() >= pace_limit) {
      // At the pacer's limit (where the server answers 429): wait for a flush to end, until
      // the deadline, then go on paced (twice the cap, above, is the hard stop).
      work_cv_.NotifyAll();
      while (memtables_.bytes() >= pace_limit && !closing_) {
        if (!flushed_cv_.WaitUntil(&l, deadline)) break;
      }
    }
    // The wait is asked again as it goes (a flush ending, or every 20 ms): the queue before
    // this batch is paid at the rate of each moment, so a moment of low rate delays it only for
    // that moment.
    const int64_t latest =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    const AppendPacer::Ticket ticket =
        pacer_.Enqueue(SteadyNanos(), memtables_.bytes(), batch.payload.size(), latest);
    metrics.flush_drain_bytes_per_second->Set(pacer_.drain_bytes_per_s(SteadyNanos()));
    bool woke_flusher = false;
    while (!closing_) {
      const int64_t now = SteadyNanos();
      const int64_t ready = pacer_.ReadyAt(ticket, now, memtables_.bytes());
      if (ready <= now) break;
      if (!woke_flusher) {
        work_cv_.NotifyAll();
        woke_flusher = true;
      }
      const int64_t until = std::min(ready, now + kPaceRecheckNs);
      flushed_cv_.WaitUntil(&l,
                            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
    }
    metrics.append_pace_seconds->Observe(Seconds(SteadyNanos() - arrived));
    if (closing_) return Status::Unavailable("storage engine is closing");
  }
  const int64_t commit_start = SteadyNanos();
  RETURN_IF_ERROR(wal_->Commit(&batch));
  metrics.append_wal_commit_seconds->Observe(Seconds(SteadyNanos() - commit_start));
  *base_seq = batch.base_seq;

  // Acknowledged. Now see whether a flush is due.
  std::vector<Key> big;
  bool over_cap = false;
  std::vector<std::weak_ptr<const RecordChunk>> to_pack;
  {
    MutexLock l(&mu_);
    to_pack = memtables_.TakeToPack();
    if (options_.background_threads) HandToPacker(&to_pack);
    std::set<uint32_t> touched;
    for (const Record& r : *records) {
      touched.insert(PartitionOf(r.service, r.host, options_.partitions));
    }
    for (uint32_t p : touched) {
      Key key{std::string(tenant), p};
      const uint64_t active_bytes = memtables_.ActiveBytes(key);  // 0: none (a flush took it)
      if (active_bytes > 0 && active_bytes >= options_.segment_target_bytes) {
        big.push_back(std::move(key));
      }
    }
    over_cap = memtables_.bytes() > options_.memtable_cap_bytes;
    if ((!big.empty() || over_cap) && options_.background_threads) work_cv_.NotifyAll();
  }
  // The chunks this batch (or another, if the leader applied it) filled, and the packer thread
  // had no room for: packed by the writer, so that their cost slows the senders that cause it,
  // outside every lock.
  PackChunks(&to_pack, /*writer=*/true);
  if ((!big.empty() || over_cap) && !options_.background_threads) {
    flusher_->FlushForAppend(big);
  }
  return Status::OK();
}

void StorageEngine::PackChunks(std::vector<std::weak_ptr<const RecordChunk>>* to_pack,
                               bool writer) {
  std::vector<std::weak_ptr<const RecordChunk>> taken;
  if (to_pack == nullptr) {
    MutexLock l(&mu_);
    taken = memtables_.TakeToPack();
    to_pack = &taken;
  }
  if (to_pack->empty()) return;
  const int64_t start = SteadyNanos();
  for (const auto& weak : *to_pack) {
    if (Chunk chunk = weak.lock()) chunk->Pack();  // expired: flushed meanwhile
  }
  auto& metrics = StorageMetrics::Get();
  if (writer) metrics.append_pack_seconds->Observe(Seconds(SteadyNanos() - start));
  metrics.memtable_memory_bytes->Set(static_cast<double>(RecordChunk::HeldBytes()));
}

void StorageEngine::HandToPacker(std::vector<std::weak_ptr<const RecordChunk>>* to_pack) {
  const size_t room = pack_pending_ < kPackBacklog ? kPackBacklog - pack_pending_ : 0;
  const size_t handed = std::min(room, to_pack->size());
  if (handed == 0) return;
  pack_queue_.insert(pack_queue_.end(), to_pack->begin(), to_pack->begin() + handed);
  to_pack->erase(to_pack->begin(), to_pack->begin() + handed);
  pack_pending_ += handed;
  pack_cv_.NotifyOne();
}

void StorageEngine::PackThread() {
  // Packs what Appends filled after they were acknowledged: the compression of a 4 MiB body's
  // chunks (tens of milliseconds) is no longer part of its acknowledgement (issue 19, ack p99).
  NameThisThread("sawmill-pack");
  while (true) {
    std::vector<std::weak_ptr<const RecordChunk>> taken;
    {
      UniqueLock l(&mu_);
      while (pack_queue_.empty() && !closing_) pack_cv_.Wait(&l);
      if (pack_queue_.empty()) return;  // closing; unpacked chunks are still whole
      taken.swap(pack_queue_);
    }
    PackChunks(&taken);
    MutexLock l(&mu_);
    pack_pending_ -= taken.size();
  }
}

void StorageEngine::ApplyBatch(wal::WalBatch& batch) {
  if (batch.context == nullptr) {
    ApplyAdopted(batch);
    return;
  }
  const int64_t start = SteadyNanos();
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
  MutexLock l(&mu_);
  const uint64_t held_before = memtables_.bytes();
  Key key{std::string(context->tenant), 0};
  for (size_t i = 0; i < records.size(); ++i) {
    key.second = partitions[i];
    memtables_.Insert(key, records[i]);
  }
  // What a WAL byte becomes in the memtables, the unit the pacer charges batches in.
  pacer_.NoteApplied(batch.payload.size(), memtables_.bytes() - held_before);
  memtables_.SetApplied(batch.base_seq + batch.count);
  memtables_.UpdateGauge();
  StorageMetrics::Get().append_memtable_insert_seconds->Observe(Seconds(SteadyNanos() - start));
}

void StorageEngine::ApplyAdopted(wal::WalBatch& batch) {
  // A batch another node acknowledged (a WAL object taken over): its seqs are in the payload.
  std::vector<Record> records;
  wal::BatchHeader header;
  Status s = wal::DecodeBatch(batch.payload, &records, &header);
  if (!s.ok()) {
    StorageMetrics::Get().adopted_undecodable->Increment();
    spdlog::error("a batch of a WAL object taken over does not decode and is dropped: {}",
                  s.ToString());
    return;
  }
  if (header.idempotency) {
    const wal::BatchIdempotency& b = *header.idempotency;
    const int64_t now = clock_->NowNanos();
    const IdempotencyKey adopted{b.key,           b.body_hash,  b.answer,
                                 header.base_seq, header.count, b.created_ns};
    keys_.Acknowledge(header.tenant, adopted, now);
    // Stored, whoever claimed the key since: other nodes answer retries with it.
    if (shared_keys_) shared_keys_->Adopted(header.tenant, adopted);
  }
  // Records the dead node flushed before it died (its segment registered, its WAL object not yet
  // marked) are skipped, as WAL replay skips records already in segments.
  WalReplay covered;
  catalog::ListFilter filter;
  filter.tenant = header.tenant;
  auto rows = catalog_->List(filter);
  if (rows.ok()) {
    for (const catalog::SegmentRow& row : *rows) {
      if (row.max_seq >= header.base_seq)
        covered.Cover({row.tenant, row.partition}, row.min_seq, row.max_seq);
    }
  } else {
    spdlog::warn(
        "cannot read the segments of tenant {} to check a batch taken over; it is "
        "kept whole (lines already in segments may show twice): {}",
        header.tenant, rows.status().ToString());
  }
  covered.Prepare();
  MutexLock l(&mu_);
  for (const Record& r : records) {
    PartitionKey key{r.tenant, PartitionOf(r.service, r.host, options_.partitions)};
    if (covered.IsCovered(key, r.seq)) continue;
    memtables_.Insert(key, r);
  }
  // Every WAL object this node answers for is applied before it is trimmed by seq, so seqs up
  // to this batch's are applied (they may be above this node's own).
  if (!records.empty()) memtables_.SetApplied(records.back().seq + 1);
  memtables_.UpdateGauge();
}

Status StorageEngine::WithoutWalTrim(const std::function<Status()>& fn) {
  return flusher_->WithoutTrim(fn);
}

// ---- Flush and compaction ----

Status StorageEngine::Flush() { return flusher_->FlushAll(); }

Status StorageEngine::CompactNow() {
  bool did_work = false;
  return compactor_->CompactOnce(&did_work);
}

// ---- Reads ----

std::shared_ptr<const Snapshot> StorageEngine::GetSnapshot(std::string_view tenant) const {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->tenant.assign(tenant);
  MutexLock l(&mu_);
  segments_.AddToSnapshot(snapshot.get());
  // Both under mu_: a flush moves records from one to the other in one step.
  memtables_.AddToSnapshot(snapshot.get());
  flusher_->AddCutTo(snapshot.get());  // and, on a cluster node, the cut with them
  return snapshot;
}

void StorageEngine::ReportCorruption(uint64_t segment_id, const Status& status) {
  std::shared_ptr<SegmentEntry> entry;
  {
    MutexLock l(&mu_);
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
    MutexLock l(&mu_);
    memtables_.UpdateGauge();
    segments_.UpdateGauges();
  }
  spdlog::error("segment {} ({}) is corrupt and is now marked so in the catalog: {}", segment_id,
                entry->path(), status.ToString());
  Status s = catalog_->SetState(segment_id, catalog::kStateCorrupt);
  if (!s.ok()) spdlog::error("cannot mark segment {} corrupt: {}", segment_id, s.ToString());
}

Result<std::set<uint64_t>> StorageEngine::RetiredSegmentIds() {
  ASSIGN_OR_RETURN(std::vector<catalog::RetiredSegmentRow> retired,
                   catalog_->ListRetiredSegments());
  std::set<uint64_t> out;
  for (const catalog::RetiredSegmentRow& r : retired) out.insert(r.id);
  return out;
}

namespace {

SegmentStatus StatusOfRow(catalog::SegmentRow row) {
  SegmentStatus s;
  s.id = row.id;
  s.tenant = std::move(row.tenant);
  s.partition = row.partition;
  s.rows = row.rows;
  s.bytes = row.bytes;
  s.min_ts = row.min_ts;
  s.max_ts = row.max_ts;
  s.min_ingest_ts = row.min_ingest_ts;
  s.max_ingest_ts = row.max_ingest_ts;
  s.min_seq = row.min_seq;
  s.max_seq = row.max_seq;
  s.tier = std::move(row.tier);
  s.store = std::move(row.store);
  s.path = std::move(row.path);
  s.state = std::move(row.state);
  return s;
}

}  // namespace

Result<std::vector<SegmentStatus>> StorageEngine::ListSegments() const {
  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, catalog_->List());
  std::vector<SegmentStatus> out;
  out.reserve(rows.size());
  for (catalog::SegmentRow& row : rows) out.push_back(StatusOfRow(std::move(row)));
  return out;
}

// ---- Retention ----

Status StorageEngine::RetireSegments(
    const std::vector<uint64_t>& ids,
    const std::function<Status(const std::vector<SegmentStatus>& rows)>& commit) {
  std::vector<std::shared_ptr<SegmentEntry>> entries;
  std::vector<SegmentStatus> rows;
  {
    MutexLock l(&mu_);
    if (closing_) return Status::Unavailable("storage engine is closing");
    for (uint64_t id : ids) {
      std::shared_ptr<SegmentEntry> entry = segments_.Find(id);
      if (entry == nullptr || entry->compacting) {
        for (auto& e : entries) e->compacting = false;
        return Status::FailedPrecondition(
            "segment " + std::to_string(id) +
            (entry == nullptr ? " is not registered" : " is being compacted or deleted"));
      }
      entry->compacting = true;  // busy: compaction and other deletions leave it alone
      entries.push_back(entry);
      rows.push_back(StatusOfRow(entry->row()));
    }
  }
  Status s = commit(rows);
  MutexLock l(&mu_);
  if (!s.ok()) {
    for (auto& e : entries) e->compacting = false;
    return s;
  }
  // Gone from new snapshots now; running queries keep reading, and the last one to let go
  // deletes the bytes (MarkObsolete).
  segments_.Remove(entries);
  memtables_.UpdateGauge();
  segments_.UpdateGauges();
  return Status::OK();
}

Result<DiskUsage> StorageEngine::DataDiskUsage() { return env_->GetDiskUsage(options_.data_dir); }

EngineStats StorageEngine::stats() const {
  EngineStats s;
  {
    MutexLock l(&mu_);
    s.memtable_bytes = memtables_.bytes();
    s.segments = segments_.count();
    s.segment_bytes = segments_.bytes();
    s.flushes = flusher_ != nullptr ? flusher_->flushes() : 0;
    s.pressure_flushes = flusher_ != nullptr ? flusher_->pressure_flushes() : 0;
    s.compactions = compactor_ != nullptr ? compactor_->compactions() : 0;
  }
  if (wal_ != nullptr) {
    wal::WalStats w = wal_->stats();
    s.wal_bytes = w.bytes;
    s.wal_corrupt_records = w.corrupt_records;
    s.next_seq = wal_->next_seq();
  }
  return s;
}

// ---- Background work ----

void StorageEngine::FlushThread() {
  NameThisThread("sawmill-flush");
  const auto poll = std::chrono::milliseconds(200);
  bool backoff = false;
  while (true) {
    {
      UniqueLock l(&mu_);
      work_cv_.WaitFor(&l, backoff ? std::chrono::milliseconds(1000) : poll);
      if (closing_) return;
    }
    Status status = flusher_->FlushDue();
    if (!status.ok()) {
      if (!backoff) spdlog::error("background flush failed (will retry): {}", status.ToString());
      backoff = true;
    } else {
      backoff = false;
    }
  }
}

void StorageEngine::CompactionThread() {
  NameThisThread("sawmill-compact");
  NiceBackgroundThread(options_.background_nice, "compaction");
  bool did_work = false;
  while (true) {
    {
      UniqueLock l(&mu_);
      // closing_ asked before the wait too: a Close that woke this thread while its round ran
      // would otherwise wait out the 2 s.
      if (!did_work && !closing_) work_cv_.WaitFor(&l, std::chrono::seconds(2));
      if (closing_) return;
    }
    const int64_t start = clock_->MonotonicNanos();
    Status s;
    {
      // In a cluster a partition is merged by the node that claims the partition's lease
      // (storage/job_gate.h); a lost lease abandons the merge before its swap.
      JobRound round("compaction", JobRound::kPerPartition);
      s = compactor_->CompactOnce(&did_work);
    }
    if (!s.ok()) {
      if (!background_stopped_.load()) spdlog::warn("compaction failed: {}", s.ToString());
      did_work = false;
      continue;
    }
    if (did_work && options_.compaction_bytes_per_sec > 0) {
      // Rate limit: sleep so that this round's bytes average out to the configured rate.
      const double budget_s = static_cast<double>(compactor_->last_bytes()) /
                              static_cast<double>(options_.compaction_bytes_per_sec);
      const double spent_s = Seconds(clock_->MonotonicNanos() - start);
      if (budget_s > spent_s) {
        UniqueLock l(&mu_);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(budget_s - spent_s));
        while (!closing_) {
          if (!work_cv_.WaitUntil(&l, deadline)) break;
        }
      }
    }
  }
}

// ---- Tiers ----

Result<TierMoveReport> StorageEngine::MoveTiers(int64_t older_than_ns, std::string_view to) {
  if (options_.shared_store && to == catalog::kTierCold) {
    return Status::FailedPrecondition(
        "tier move to cold: a cluster node has no cold tier, every segment is in the shared "
        "store already (--store); move to warm to re-encode segments for size");
  }
  if (older_than_ns < 0) return Status::InvalidArgument("tier move: older_than is negative");
  return mover_->MoveOlderThan(clock_->NowNanos() - older_than_ns, to);
}

Result<TierMoveReport> StorageEngine::MoveTiersOldestFirst(std::string_view to,
                                                           const std::function<bool()>& enough) {
  if (options_.shared_store) {
    return Status::FailedPrecondition("a cluster node's segments are all in the shared store");
  }
  return mover_->MoveOldestFirst(to, enough);
}

void StorageEngine::SetTierPolicy(TierPolicy policy) { mover_->SetPolicy(std::move(policy)); }

Status StorageEngine::RunTiersNow() {
  Status status = mover_->RunDue();
  // A cluster node's shared store is swept by the segment sweep (cluster_node.h), which knows
  // that other nodes write there; its own directory holds no segments. Any other server is the
  // one process of its catalog, so its sweep needs no lease.
  if (options_.shared_store) return status;
  // No compaction while sweeping: an output is superseded by its inputs until its swap commits.
  MutexLock cl(compactor_->mutex());
  auto swept = mover_->Sweep(ReconcileStores(), ReconcileOps());
  if (!swept.ok() && status.ok()) status = swept.status();
  return status;
}

Result<std::vector<TierUsage>> StorageEngine::ListTierUsage() const {
  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, catalog_->List());
  std::vector<TierUsage> all;
  std::map<std::pair<std::string, std::string>, TierUsage> by_tenant;  // (tenant, tier)
  for (std::string_view tier : {catalog::kTierHot, catalog::kTierWarm, catalog::kTierCold}) {
    all.push_back(TierUsage{std::string(tier), "", 0, 0, 0, 0, 0});
  }
  auto add = [](TierUsage* u, const catalog::SegmentRow& row) {
    if (u->segments == 0 || row.min_ts < u->oldest_ts) u->oldest_ts = row.min_ts;
    if (u->segments == 0 || row.max_ts > u->newest_ts) u->newest_ts = row.max_ts;
    ++u->segments;
    u->bytes += row.bytes;
    u->rows += row.rows;
  };
  for (const catalog::SegmentRow& row : rows) {
    if (row.state == catalog::kStateMissing) continue;
    const int rank = TierRank(row.tier);
    if (rank < 0) continue;
    add(&all[static_cast<size_t>(rank)], row);
    TierUsage& u = by_tenant[{row.tenant, row.tier}];
    u.tier = row.tier;
    u.tenant = row.tenant;
    add(&u, row);
  }
  std::vector<std::pair<std::string, int>> order;
  for (auto& [key, u] : by_tenant) order.emplace_back(key.first, TierRank(key.second));
  std::sort(order.begin(), order.end());
  for (const auto& [tenant, rank] : order) {
    const char* tier = rank == 0 ? "hot" : rank == 1 ? "warm" : "cold";
    all.push_back(by_tenant.at({tenant, tier}));
  }
  return all;
}

void StorageEngine::StopBackgroundWork() {
  background_stopped_.store(true);
  work_cv_.NotifyAll();
}

Status StorageEngine::Close() {
  // A compaction round or a tier move in progress (niced: on a busy machine it may have minutes
  // to go) must not hold the stop up: it ends at its next block (docs/storage.md "Stopping").
  StopBackgroundWork();
  {
    MutexLock l(&mu_);
    if (closed_) return Status::OK();
    closing_ = true;
  }
  work_cv_.NotifyAll();
  flushed_cv_.NotifyAll();
  pack_cv_.NotifyAll();
  if (pack_thread_.joinable()) pack_thread_.join();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (compaction_thread_.joinable()) compaction_thread_.join();
  tier_worker_.Stop();
  Status status;
  if (wal_ != nullptr) {
    // A clean shutdown leaves everything in segments, so the next start replays nothing.
    Status f = Flush();
    if (!f.ok()) spdlog::warn("flush at close failed; the WAL keeps the records: {}", f.ToString());
    status = wal_->Close();
  }
  MutexLock l(&mu_);
  closed_ = true;
  return status;
}

}  // namespace sawmill::storage
