#include "cluster/wal_object_writer.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

#include "common/metrics.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"
#include "wal/record_batch.h"

namespace sawmill::cluster {
namespace {

// Every WAL object's records carry this log number (objects are never recycled, so the number
// that tells a recycled file's stale bytes apart has nothing to tell here).
constexpr uint32_t kLogNumber = 1;

struct Metrics {
  prometheus::Counter* objects;
  prometheus::Counter* object_bytes;
  prometheus::Family<prometheus::Counter>* failures;
  prometheus::Counter* batches_refused;
  prometheus::Histogram* ack_seconds;
  prometheus::Counter* deleted;
  prometheus::Counter* taken_over;
  prometheus::Counter* fenced;
  prometheus::Counter* orphans;
  prometheus::Counter* missing;

  static Metrics& Get() {
    static Metrics* m = [] {
      auto* m = new Metrics;
      m->objects = UnlabelledCounter("sawmill_wal_objects_written_total",
                                     "WAL objects written to the shared store and registered");
      m->object_bytes =
          UnlabelledCounter("sawmill_wal_object_bytes_total", "Bytes of the WAL objects written");
      m->failures = &prometheus::BuildCounter()
                         .Name("sawmill_wal_object_failures_total")
                         .Help(
                             "Failed attempts to write (stage put) or register (stage "
                             "register) a WAL object, each retried until the deadline; and "
                             "registrations refused because a batch's Idempotency-Key claim "
                             "was taken over by another node (stage claim: not retried, "
                             "nothing of the object acknowledged)")
                         .Register(MetricsRegistry());
      m->batches_refused = UnlabelledCounter(
          "sawmill_wal_object_batches_refused_total",
          "Batches refused (503, not acknowledged) because their WAL object could not be written "
          "and registered in time");
      m->ack_seconds = &prometheus::BuildHistogram()
                            .Name("sawmill_wal_object_ack_seconds")
                            .Help(
                                "From a batch's commit to its acknowledgement (buffer, PUT, "
                                "registration)")
                            .Register(MetricsRegistry())
                            .Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10});
      m->deleted = UnlabelledCounter("sawmill_wal_objects_deleted_total",
                                     "WAL objects deleted after their records were in segments");
      m->taken_over =
          UnlabelledCounter("sawmill_wal_objects_taken_over_total",
                            "WAL objects of dead nodes this node took over and replayed");
      m->fenced = UnlabelledCounter(
          "sawmill_wal_objects_fenced_total",
          "WAL objects this node found taken over by another node when it came to flush or "
          "mark them (it no longer answers for them; their rows are dropped here)");
      m->orphans = UnlabelledCounter(
          "sawmill_wal_object_orphans_deleted_total",
          "WAL objects no catalog row names (never acknowledged), deleted at start");
      m->missing = UnlabelledCounter(
          "sawmill_wal_objects_missing_total",
          "Registered, unflushed WAL objects the store did not have at replay or takeover "
          "(acknowledged lines lost)");
      return m;
    }();
    return *m;
  }
};

// A WAL object's bytes as a SequentialFile for LogReader.
class StringSource final : public SequentialFile {
 public:
  explicit StringSource(const std::string& data) : data_(data) {}
  Status Read(size_t n, std::string_view* result, char* scratch) override {
    (void)scratch;
    const size_t take = std::min(n, data_.size() - pos_);
    *result = std::string_view(data_).substr(pos_, take);
    pos_ += take;
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    pos_ = static_cast<size_t>(std::min<uint64_t>(data_.size(), pos_ + n));
    return Status::OK();
  }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

class DamageCollector final : public wal::LogReader::Reporter {
 public:
  DamageCollector(std::string name, std::vector<wal::WalDamage>* out)
      : name_(std::move(name)), out_(out) {}
  void Corruption(uint64_t offset, uint64_t bytes, std::string_view kind,
                  const Status& reason) override {
    if (out_ == nullptr) return;
    wal::WalDamage d;
    d.file = name_;
    d.offset = offset;
    d.bytes = bytes;
    d.kind = std::string(kind);
    d.detail = name_ + " at " + std::to_string(offset) + ": " + reason.ToString();
    out_->push_back(std::move(d));
  }

 private:
  std::string name_;
  std::vector<wal::WalDamage>* out_;
};

void SleepNanos(int64_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); }

}  // namespace

std::string WalObjectName(const std::string& node, uint64_t first_seq, uint64_t last_seq) {
  char range[64];
  std::snprintf(range, sizeof range, "%020" PRIu64 "-%020" PRIu64, first_seq, last_seq);
  return "wal/" + node + "/" + range + ".wal";
}

std::vector<std::string> ReadWalObjectRecords(const std::string& name, const std::string& data,
                                              std::vector<wal::WalDamage>* damage) {
  DamageCollector collector(name, damage);
  wal::LogReader reader(std::make_unique<StringSource>(data), name, kLogNumber, &collector);
  std::vector<std::string> out;
  std::string record;
  while (reader.ReadRecord(&record)) out.push_back(record);
  if (reader.valid_end() < data.size() && damage != nullptr) {
    // Every byte of an object was written by one PUT before anything in it was acknowledged:
    // an unusable tail is damage, not a torn write.
    wal::WalDamage d;
    d.file = name;
    d.offset = reader.valid_end();
    d.bytes = data.size() - reader.valid_end();
    d.kind = "truncated";
    d.detail = name + ": " + std::to_string(d.bytes) + " bytes from " + std::to_string(d.offset) +
               " do not read";
    damage->push_back(std::move(d));
  }
  return out;
}

WalObjectWriter::WalObjectWriter(catalog::Catalog* catalog,
                                 std::shared_ptr<objstore::ObjectStore> store, Clock* clock,
                                 WalObjectOptions options, ApplyFn apply)
    : catalog_(catalog),
      store_(std::move(store)),
      clock_(clock),
      options_(std::move(options)),
      apply_(std::move(apply)) {}

Result<std::unique_ptr<WalObjectWriter>> WalObjectWriter::Open(
    catalog::Catalog* catalog, std::shared_ptr<objstore::ObjectStore> store, Clock* clock,
    WalObjectOptions options, ApplyFn apply) {
  if (options.node.empty() || options.node.find('/') != std::string::npos) {
    return Status::InvalidArgument("WAL objects: the node id must be a non-empty name without '/'");
  }
  if (options.interval_ns <= 0 || options.max_bytes == 0 || options.seq_block == 0) {
    return Status::InvalidArgument("WAL objects: interval, size and seq block must be positive");
  }
  Metrics::Get();
  return std::unique_ptr<WalObjectWriter>(
      new WalObjectWriter(catalog, std::move(store), clock, std::move(options), std::move(apply)));
}

WalObjectWriter::~WalObjectWriter() { Close().IgnoreError(); }

Status WalObjectWriter::Unavailable(const std::string& why) const {
  return Status::Unavailable("not accepting writes: " + why);
}

Result<std::string> WalObjectWriter::ReadObject(const std::string& name) {
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto size = store_->Size(name);
    if (size.ok()) {
      std::string data;
      last = *size == 0 ? Status::OK() : store_->GetRange(name, 0, *size, &data);
      if (last.ok()) return data;
    } else {
      last = size.status();
    }
    if (last.IsNotFound()) return last;
    SleepNanos((attempt + 1) * 200 * kNanosPerMilli);
  }
  return last;
}

Result<uint64_t> WalObjectWriter::Replay(const ReplayFn& fn) {
  const std::string& me = options_.node;
  // Answer for what is ours now: rows another node is taking over this moment are skipped (and
  // stay theirs); from the next statement on, our fresh heartbeat keeps the others off.
  ASSIGN_OR_RETURN(auto claimed, catalog_->ClaimWalObjects({me}, me, size_t{1} << 40, INT64_MAX));
  (void)claimed;
  ASSIGN_OR_RETURN(std::vector<catalog::WalObjectRow> rows, catalog_->ListWalObjects(me));
  uint64_t max_seq = 0, records = 0, objects = 0;
  std::deque<catalog::WalObjectRow> owned;
  std::vector<std::string> done;  // flushed before a crash: rows and objects to remove
  for (catalog::WalObjectRow& row : rows) {
    max_seq = std::max(max_seq, row.last_seq);
    if (row.state == catalog::kWalObjectFlushed) {
      done.push_back(row.name);
      continue;
    }
    auto data = ReadObject(row.name);
    if (!data.ok()) {
      if (!data.status().IsNotFound()) {
        return data.status().WithContext("WAL object replay of " + row.name);
      }
      Metrics::Get().missing->Increment();
      spdlog::error(
          "WAL object {} is registered but not in the store: its {} acknowledged "
          "batches (seqs {}-{}) are lost",
          row.name, row.batches, row.first_seq, row.last_seq);
      wal::WalDamage d;
      d.file = row.name;
      d.kind = "missing_object";
      d.detail = row.name + " is registered but not in the store";
      d.range_known = false;  // the event times are not known
      damage_.push_back(std::move(d));
      continue;
    }
    for (const std::string& payload : ReadWalObjectRecords(row.name, *data, &damage_)) {
      uint64_t seq = 0;
      Status s = fn(payload, &seq);
      if (!s.ok()) {
        wal::WalDamage d;
        d.file = row.name;
        d.kind = "undecodable";
        d.detail = row.name + ": " + s.ToString();
        damage_.push_back(std::move(d));
        continue;
      }
      max_seq = std::max(max_seq, seq);
      ++records;
    }
    ++objects;
    owned.push_back(std::move(row));
  }
  for (const wal::WalDamage& d : damage_) {
    spdlog::error("WAL object damage: {} ({})", d.detail, d.kind);
  }
  if (!done.empty()) {
    ASSIGN_OR_RETURN(uint64_t removed, catalog_->DeleteWalObjects(done, me));
    (void)removed;
    for (const std::string& name : done) {
      Status s = store_->Delete(name);
      if (!s.ok() && !s.IsNotFound()) spdlog::warn("cannot delete {}: {}", name, s.ToString());
    }
  }
  // Orphans: objects under wal/<me>/ that no row names were never acknowledged (a crash or a
  // failure between PUT and registration). Only this node writes there, and it writes nothing
  // before this sweep ends.
  ASSIGN_OR_RETURN(std::vector<catalog::WalObjectRow> all, catalog_->ListWalObjects(""));
  std::set<std::string> named;
  for (const auto& r : all) named.insert(r.name);
  ASSIGN_OR_RETURN(std::vector<std::string> listed, store_->List("wal/" + me + "/"));
  for (const std::string& name : listed) {
    if (named.count(name) > 0) continue;
    Status s = store_->Delete(name);
    if (s.ok() || s.IsNotFound()) {
      Metrics::Get().orphans->Increment();
      spdlog::info("deleted WAL object {}: no catalog row names it (never acknowledged)", name);
    }
  }
  spdlog::info("WAL objects of node {}: replayed {} objects, {} batches", me, objects, records);
  {
    MutexLock l(&mu_);
    owned_ = std::move(owned);
    floor_ = std::max(floor_, max_seq + 1);
    replayed_ = true;
  }
  sealer_ = std::thread([this] { SealerThread(); });
  return max_seq;
}

Status WalObjectWriter::WriteHealth() {
  MutexLock l(&mu_);
  if (!failure_.empty()) return Unavailable(failure_);
  return Status::OK();
}

void WalObjectWriter::SetNextSeq(uint64_t seq) {
  MutexLock l(&mu_);
  floor_ = std::max(floor_, seq);
  if (next_seq_ < floor_) {
    next_seq_ = floor_;
    block_end_ = 0;  // take a new block at or above the floor
  }
}

uint64_t WalObjectWriter::next_seq() const {
  MutexLock l(&mu_);
  return next_seq_;
}

wal::WalStats WalObjectWriter::stats() const {
  MutexLock l(&mu_);
  wal::WalStats s = stats_;
  s.files = owned_.size();
  s.bytes = 0;
  for (const auto& row : owned_) s.bytes += row.bytes;
  return s;
}

Status WalObjectWriter::Commit(wal::WalBatch* batch) {
  const int64_t start = clock_->MonotonicNanos();
  UniqueLock l(&mu_);
  if (closing_ || !replayed_) return Unavailable("the WAL object writer is closed");
  if (superseded_) {
    return Unavailable("a later incarnation of node " + options_.node +
                       " has started: this process no longer takes writes");
  }
  const uint64_t count = std::max<uint64_t>(batch->count, 1);
  if (block_end_ == 0 || next_seq_ + count > block_end_) {
    // A new block of seqs, unique across the cluster (one catalog round trip per block).
    auto first = catalog_->AllocateSeqs(std::max(options_.seq_block, count), floor_);
    if (!first.ok()) {
      Metrics::Get().batches_refused->Increment();
      return Unavailable("cannot take seqs from the catalog: " + first.status().ToString());
    }
    next_seq_ = *first;
    block_end_ = *first + std::max(options_.seq_block, count);
  }
  batch->base_seq = next_seq_;
  // A batch that takes no seq still takes one here: an object's name is its seq range, and two
  // objects of one name would be one (the second PUT replaces the first).
  next_seq_ += count;
  if (batch->payload.size() >= 8) wal::SetBatchBaseSeq(batch->payload.data(), batch->base_seq);
  batch->done = false;
  Group& g = open_;
  if (g.batches.empty()) {
    g.first_seq = batch->base_seq;
    g.min_ingest_ts = batch->min_ingest_ts;
    g.max_ingest_ts = batch->max_ingest_ts;
    g.opened_ns = clock_->MonotonicNanos();
    work_cv_.NotifyAll();
  }
  g.last_seq = batch->base_seq + count - 1;
  g.min_ingest_ts = std::min(g.min_ingest_ts, batch->min_ingest_ts);
  g.max_ingest_ts = std::max(g.max_ingest_ts, batch->max_ingest_ts);
  {
    // The log format's blocks restart with each object: a fresh encoder over the group so far.
    wal::LogWriter encoder(nullptr, kLogNumber, g.data.size());
    encoder.Encode(batch->payload, &g.data);
  }
  g.batches.push_back(batch);
  if (g.data.size() >= options_.max_bytes) work_cv_.NotifyAll();
  while (!batch->done) done_cv_.Wait(&l);
  if (batch->status.ok()) {
    Metrics::Get().ack_seconds->Observe(static_cast<double>(clock_->MonotonicNanos() - start) /
                                        1e9);
  }
  return batch->status;
}

void WalObjectWriter::SealerThread() {
  while (true) {
    Group group;
    {
      UniqueLock l(&mu_);
      while (true) {
        if (!open_.batches.empty()) {
          if (closing_ || open_.data.size() >= options_.max_bytes) break;
          const int64_t due = open_.opened_ns + options_.interval_ns;
          const int64_t now = clock_->MonotonicNanos();
          if (now >= due) break;
          work_cv_.WaitFor(&l, std::chrono::nanoseconds(due - now));
          continue;
        }
        if (closing_) return;
        work_cv_.Wait(&l);
      }
      group = std::move(open_);
      open_ = Group();
    }
    auto persisted = Persist(group);
    if (persisted.ok()) {
      // Registered: durable. Apply in seq order (this thread is the only one sealing), then
      // acknowledge. The object joins owned_ under apply_mu_ too, so that a fenced flush
      // (RegisterSegment) sees every object whose records are in memtables.
      MutexLock al(&apply_mu_);
      for (wal::WalBatch* b : group.batches) apply_(*b);
      MutexLock l(&mu_);
      owned_.push_back(*persisted);
    }
    {
      MutexLock l(&mu_);
      Status status = persisted.ok() ? Status::OK() : persisted.status();
      for (wal::WalBatch* b : group.batches) {
        b->status = status;
        b->done = true;
      }
      if (persisted.ok()) {
        stats_.commits += group.batches.size();
        if (!failure_.empty()) spdlog::info("WAL objects are written and registered again");
        failure_.clear();
      } else {
        Metrics::Get().batches_refused->Increment(static_cast<double>(group.batches.size()));
        failure_ = persisted.status().message();
      }
    }
    done_cv_.NotifyAll();
  }
}

Result<catalog::WalObjectRow> WalObjectWriter::Persist(const Group& group) {
  catalog::WalObjectRow row;
  row.name = WalObjectName(options_.node, group.first_seq, group.last_seq);
  row.node = options_.node;
  row.owner = options_.node;
  row.first_seq = group.first_seq;
  row.last_seq = group.last_seq;
  row.bytes = group.data.size();
  row.batches = group.batches.size();
  row.min_ingest_ts = group.min_ingest_ts;
  row.max_ingest_ts = group.max_ingest_ts;
  row.created_ns = clock_->NowNanos();
  row.state = std::string(catalog::kWalObjectUnflushed);
  const int64_t deadline = clock_->MonotonicNanos() + options_.persist_deadline_ns;
  int64_t backoff = 50 * kNanosPerMilli;
  auto& m = Metrics::Get();
  // 1. The bytes, in the store: each Put stops at the deadline too (the S3 client's retries of
  // one PUT would otherwise run their own budget past it).
  while (true) {
    Status s = store_->PutWithin(row.name, group.data,
                                 std::max<int64_t>(1, deadline - clock_->MonotonicNanos()));
    if (s.ok()) break;
    m.failures->Add({{"stage", "put"}}).Increment();
    if (clock_->MonotonicNanos() + backoff > deadline) {
      spdlog::error("WAL object {} ({} batches) could not be written: {}; not acknowledged",
                    row.name, row.batches, s.ToString());
      return Unavailable("the object store does not take WAL objects: " + s.ToString());
    }
    spdlog::warn("WAL object {}: write failed (retrying): {}", row.name, s.ToString());
    SleepNanos(backoff);
    backoff = std::min<int64_t>(backoff * 2, 2 * kNanosPerSecond);
  }
  // 2. The row, in the catalog, with the claims of its keyed batches checked and kept in the
  // same transaction. An attempt whose answer was lost may have committed: the retry then
  // finds the name registered, which is success (and the claims were held: while the object
  // is registered, nobody takes them).
  std::vector<catalog::IdempotencyClaimRow> claims;
  for (const wal::WalBatch* b : group.batches) {
    if (b->key_claim.key.empty()) continue;
    catalog::IdempotencyClaimRow c;
    c.tenant = b->key_claim.tenant;
    c.key = b->key_claim.key;
    c.node = b->key_claim.node;
    c.node_started_ns = b->key_claim.node_started_ns;
    c.created_ns = b->key_claim.created_ns;
    claims.push_back(std::move(c));
  }
  while (true) {
    Status s = catalog_->RegisterWalObject(row, claims);
    if (s.ok() || (s.code() == StatusCode::kAlreadyExists)) break;
    if (s.code() == StatusCode::kFailedPrecondition) return ClaimLost(row, s);
    m.failures->Add({{"stage", "register"}}).Increment();
    if (clock_->MonotonicNanos() + backoff > deadline) {
      // Left in the store: if a lost answer hid a commit, the row names it and a restart
      // replays it (its batches were never acknowledged, so a client retry may store them
      // twice, which Idempotency-Keys prevent); otherwise the start-up sweep deletes it.
      spdlog::error("WAL object {} ({} batches) could not be registered: {}; not acknowledged",
                    row.name, row.batches, s.ToString());
      return Unavailable("the catalog does not register WAL objects: " + s.ToString());
    }
    spdlog::warn("WAL object {}: registration failed (retrying): {}", row.name, s.ToString());
    SleepNanos(backoff);
    backoff = std::min<int64_t>(backoff * 2, 2 * kNanosPerSecond);
  }
  m.objects->Increment();
  m.object_bytes->Increment(static_cast<double>(row.bytes));
  return row;
}

Status WalObjectWriter::ClaimLost(const catalog::WalObjectRow& row, const Status& why) {
  // This node stalled past node_timeout between claiming a key and registering the object
  // that holds its batch, and another node took the claim over (and may have stored the
  // batch): nothing of the object is acknowledged, and the object goes (no row names it, and
  // only this node writes under wal/<node>/; a failed delete leaves it to the start-up sweep).
  Metrics::Get().failures->Add({{"stage", "claim"}}).Increment();
  spdlog::error(
      "WAL object {} ({} batches) is not registered and none of its batches is acknowledged: "
      "{} (this node stalled past node_timeout while a batch held its claim?)",
      row.name, row.batches, why.ToString());
  Status d = store_->Delete(row.name);
  if (!d.ok() && !d.IsNotFound()) {
    spdlog::warn("cannot delete the unregistered WAL object {} (the next start's sweep will): {}",
                 row.name, d.ToString());
  }
  return Status::Unavailable(
      "node " + options_.node +
      ": a batch of this write's WAL object lost its Idempotency-Key claim to another node "
      "while this node stalled (" +
      why.message() + "); nothing of it was acknowledged here: retry (with the same key)");
}

int WalObjectWriter::DeleteObsoleteFiles(uint64_t min_unflushed_seq) {
  MutexLock tl(&trim_mu_);
  std::vector<std::string> names;
  {
    MutexLock l(&mu_);
    // No memtable holds seqs below min_unflushed_seq: lost ranges there have nothing to drop.
    lost_.erase(std::remove_if(lost_.begin(), lost_.end(),
                               [&](const auto& r) { return r.second < min_unflushed_seq; }),
                lost_.end());
    for (const auto& row : owned_) {
      if (row.last_seq < min_unflushed_seq) names.push_back(row.name);
    }
  }
  if (names.empty()) return 0;
  const std::string& me = options_.node;
  // 1. Marked flushed, fenced: only while this node still answers for them.
  std::vector<std::string> marked;
  Status s = catalog_->MarkWalObjectsFlushed(names, me);
  if (s.ok()) {
    marked = names;
  } else if (s.code() == StatusCode::kFailedPrecondition) {
    // Some were taken over by another node (this one looked dead): one by one, so that those
    // still ours go and the others are left to their new owner.
    for (const std::string& name : names) {
      Status one = catalog_->MarkWalObjectsFlushed({name}, me);
      if (one.ok()) {
        marked.push_back(name);
      } else if (one.code() == StatusCode::kFailedPrecondition) {
        Metrics::Get().fenced->Increment();
        spdlog::error(
            "WAL object {} was taken over by another node while this one held its "
            "records; it is that node's now: {}",
            name, one.ToString());
        MutexLock l(&mu_);
        for (auto it = owned_.begin(); it != owned_.end();) {
          if (it->name == name) {
            lost_.emplace_back(it->first_seq, it->last_seq);
            it = owned_.erase(it);
          } else {
            ++it;
          }
        }
      } else {
        spdlog::warn("cannot mark WAL object {} flushed (retried later): {}", name, one.ToString());
        break;
      }
    }
  } else {
    spdlog::warn("cannot mark {} WAL objects flushed (retried later): {}", names.size(),
                 s.ToString());
    return 0;
  }
  if (marked.empty()) return 0;
  // 2. The rows, then 3. the objects (a crash between leaves orphans the start-up sweep
  // deletes; a failed delete leaves one too, until this node's next start).
  auto removed = catalog_->DeleteWalObjects(marked, me);
  if (!removed.ok()) {
    spdlog::warn("cannot remove {} flushed WAL object rows (retried at the next start): {}",
                 marked.size(), removed.status().ToString());
  }
  int deleted = 0;
  for (const std::string& name : marked) {
    if (removed.ok()) {
      Status d = store_->Delete(name);
      if (!d.ok() && !d.IsNotFound()) {
        spdlog::warn("cannot delete WAL object {} (an orphan until the next start): {}", name,
                     d.ToString());
      } else {
        ++deleted;
        Metrics::Get().deleted->Increment();
      }
    }
  }
  {
    std::set<std::string> gone(marked.begin(), marked.end());
    MutexLock l(&mu_);
    owned_.erase(std::remove_if(owned_.begin(), owned_.end(),
                                [&](const auto& r) { return gone.count(r.name) > 0; }),
                 owned_.end());
  }
  return deleted;
}

Result<size_t> WalObjectWriter::TakeOver(const std::vector<std::string>& dead,
                                         int64_t alive_since_ns, size_t limit,
                                         std::optional<uint64_t> own_generation) {
  MutexLock tl(&trim_mu_);
  ASSIGN_OR_RETURN(
      std::vector<catalog::WalObjectRow> rows,
      catalog_->ClaimWalObjects(dead, options_.node, limit, alive_since_ns, own_generation));
  size_t adopted = 0;
  for (catalog::WalObjectRow& row : rows) {
    auto data = ReadObject(row.name);
    if (!data.ok()) {
      if (data.status().IsNotFound()) {
        Metrics::Get().missing->Increment();
        spdlog::error(
            "WAL object {} of node {} is registered but not in the store: its {} "
            "acknowledged batches (seqs {}-{}) are lost",
            row.name, row.node, row.batches, row.first_seq, row.last_seq);
        continue;  // stays registered to this node, unflushed, for operators
      }
      // Still ours: a later round or this node's restart reads it again.
      spdlog::warn(
          "cannot read WAL object {} taken over from {} (retried at this node's next "
          "start): {}",
          row.name, row.node, data.status().ToString());
      continue;
    }
    std::vector<wal::WalDamage> damage;
    std::vector<std::string> records = ReadWalObjectRecords(row.name, *data, &damage);
    for (const auto& d : damage) spdlog::error("WAL object damage: {} ({})", d.detail, d.kind);
    {
      MutexLock al(&apply_mu_);
      {
        // Taken back (it was lost to a node that died in turn): its rows are ours again.
        MutexLock l(&mu_);
        lost_.erase(
            std::remove(lost_.begin(), lost_.end(), std::make_pair(row.first_seq, row.last_seq)),
            lost_.end());
      }
      for (std::string& payload : records) {
        wal::WalBatch batch;
        batch.payload = std::move(payload);
        batch.context = nullptr;  // not ours: the engine decodes it
        apply_(batch);
      }
      MutexLock l(&mu_);
      owned_.push_back(row);
    }
    spdlog::info("took over WAL object {} of dead node {} ({} batches, seqs {}-{})", row.name,
                 row.node, records.size(), row.first_seq, row.last_seq);
    Metrics::Get().taken_over->Increment();
    ++adopted;
  }
  return adopted;
}

Status WalObjectWriter::PrepareFence(const std::vector<uint64_t>& seqs,
                                     const std::function<uint64_t()>& min_unflushed_after,
                                     catalog::Catalog::WalFence* fence) {
  // The objects this node answers for, none half applied (apply_mu_: an object joins owned_ in
  // the same step as its records join the memtables), and then the smallest seq the memtables
  // will hold once the segment is registered: every object of the snapshot whose seqs all lie
  // below it has all its records in segments by then.
  std::vector<catalog::WalObjectRow> owned;
  {
    MutexLock al(&apply_mu_);
    MutexLock l(&mu_);
    if (superseded_) {
      return Status::FailedPrecondition("a later incarnation of node " + options_.node +
                                        " answers for its WAL objects");
    }
    owned.assign(owned_.begin(), owned_.end());
  }
  const uint64_t min_unflushed = min_unflushed_after();
  *fence = catalog::Catalog::WalFence{};
  fence->incarnation = options_.incarnation;
  for (const catalog::WalObjectRow& o : owned) {
    // A record of the segment in this object: a seq of the segment within its range.
    auto it = std::lower_bound(seqs.begin(), seqs.end(), o.first_seq);
    if (it != seqs.end() && *it <= o.last_seq) fence->objects.push_back(o.name);
    if (o.last_seq < min_unflushed) fence->mark_flushed.push_back(o.name);
  }
  return Status::OK();
}

void WalObjectWriter::Fenced(catalog::Catalog* catalog, const catalog::Catalog::WalFence& fence) {
  std::vector<catalog::WalObjectRow> owned;
  {
    MutexLock l(&mu_);
    owned.assign(owned_.begin(), owned_.end());
  }
  FindLost(catalog, owned, fence.lost).IgnoreError();  // the flush is refused either way
}

Status WalObjectWriter::CheckOwnership() {
  // Not while objects are deleted (their rows go before they leave owned_) or taken over.
  MutexLock tl(&trim_mu_);
  std::vector<catalog::WalObjectRow> owned;
  {
    MutexLock l(&mu_);
    owned.assign(owned_.begin(), owned_.end());
  }
  return FindLost(catalog_, owned, {});
}

size_t WalObjectWriter::LostRangesHeld() const {
  MutexLock l(&mu_);
  return superseded_ ? SIZE_MAX : lost_.size();
}

Status WalObjectWriter::FindLost(catalog::Catalog* catalog,
                                 const std::vector<catalog::WalObjectRow>& owned,
                                 const std::vector<std::string>& lost) {
  // The transaction named what it found; a takeover claims in rounds, so whatever else of
  // "owned" this node no longer owns is lost too (one read now rather than one failed flush
  // per round).
  std::set<std::string> gone(lost.begin(), lost.end());
  bool superseded = false;
  auto nodes = catalog->ListNodes();
  if (nodes.ok()) {
    for (const catalog::NodeRow& n : *nodes) {
      superseded |= n.id == options_.node && n.started_ns > options_.incarnation;
    }
  }
  auto mine = catalog->ListWalObjects(options_.node);
  Status read = !nodes.ok() ? nodes.status() : mine.status();
  if (mine.ok()) {
    std::set<std::string> still;
    for (const catalog::WalObjectRow& r : *mine) still.insert(r.name);
    for (const catalog::WalObjectRow& o : owned) {
      if (superseded || still.count(o.name) == 0) gone.insert(o.name);
    }
  }
  std::vector<std::string> names;
  {
    MutexLock l(&mu_);
    superseded_ |= superseded;
    for (auto it = owned_.begin(); it != owned_.end();) {
      if (superseded_ || gone.count(it->name) > 0) {
        lost_.emplace_back(it->first_seq, it->last_seq);
        names.push_back(it->name);
        it = owned_.erase(it);
      } else {
        ++it;
      }
    }
  }
  Metrics::Get().fenced->Increment(static_cast<double>(names.size()));
  if (superseded) {
    spdlog::error(
        "node {}: a later incarnation of this node id is registered (this process stalled and "
        "was replaced): it answers for every WAL object of the id; this process drops {} "
        "objects' records and takes no more writes",
        options_.node, names.size());
  } else if (!names.empty()) {
    spdlog::error(
        "node {}: {} WAL objects were taken over by another node while this one held their "
        "records (it was found dead: a stall past node_timeout?), e.g. {}; their rows are "
        "dropped here, the taker stores them",
        options_.node, names.size(), names.front());
  }
  return read;
}

std::vector<std::pair<uint64_t, uint64_t>> WalObjectWriter::LostSeqs() const {
  MutexLock l(&mu_);
  return lost_;
}

Status WalObjectWriter::Close() {
  {
    MutexLock l(&mu_);
    closing_ = true;
  }
  work_cv_.NotifyAll();
  if (sealer_.joinable()) sealer_.join();  // seals what is open first
  return Status::OK();
}

}  // namespace sawmill::cluster
