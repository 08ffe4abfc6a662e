#include "wal/wal_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"

namespace sawmill::wal {
namespace {

struct WalMetrics {
  prometheus::Family<prometheus::Counter>* damage;
  prometheus::Family<prometheus::Counter>* damage_bytes;
  prometheus::Counter* corrupt_records;
  prometheus::Counter* syncs;
  prometheus::Counter* commits;
  prometheus::Counter* write_errors;
  prometheus::Histogram* sync_seconds;
  prometheus::Histogram* group_batches;

  static WalMetrics& Get() {
    static WalMetrics m = [] {
      auto& reg = MetricsRegistry();
      WalMetrics w;
      w.damage = &prometheus::BuildCounter()
                      .Name("sawmill_wal_damage_total")
                      .Help(
                          "Damage found reading the WAL (skipped records, truncated and torn "
                          "tails), by kind")
                      .Register(reg);
      w.damage_bytes = &prometheus::BuildCounter()
                            .Name("sawmill_wal_damage_bytes_total")
                            .Help("Bytes of WAL damage found (skipped or missing), by kind")
                            .Register(reg);
      for (const char* kind : {"checksum", "truncated", "torn_tail"}) {
        w.damage->Add({{"kind", kind}});
        w.damage_bytes->Add({{"kind", kind}});
      }
      w.corrupt_records = UnlabelledCounter("sawmill_wal_corrupt_records_total",
                                            "Damaged WAL records skipped during replay");
      w.syncs = UnlabelledCounter("sawmill_wal_syncs_total", "fdatasync calls on WAL files");
      w.commits =
          UnlabelledCounter("sawmill_wal_commits_total", "Append batches made durable in the WAL");
      w.write_errors =
          UnlabelledCounter("sawmill_wal_write_errors_total",
                            "Failed WAL writes or syncs (the batches were not acknowledged)");
      w.sync_seconds = &prometheus::BuildHistogram()
                            .Name("sawmill_wal_sync_seconds")
                            .Help("Latency of one WAL group write + fdatasync")
                            .Register(reg)
                            .Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05, 0.1, 0.25, 0.5, 1});
      w.group_batches =
          &prometheus::BuildHistogram()
               .Name("sawmill_wal_group_commit_batches")
               .Help("Append batches sharing one WAL sync")
               .Register(reg)
               .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128});
      return w;
    }();
    return m;
  }
};

// Parses "000123.log"; returns false for other names.
bool ParseLogName(const std::string& name, uint32_t* number) {
  const std::string suffix = kLogSuffix;
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  uint64_t n = 0;
  for (size_t i = 0; i < name.size() - suffix.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
    if (n > UINT32_MAX) return false;
  }
  *number = static_cast<uint32_t>(n);
  return true;
}

class CollectingReporter final : public LogReader::Reporter {
 public:
  void Corruption(uint64_t offset, uint64_t bytes, std::string_view kind,
                  const Status& reason) override {
    WalDamage d;
    d.offset = offset;
    d.bytes = bytes;
    d.kind = std::string(kind);
    d.detail = reason.message();
    found.push_back(std::move(d));
  }
  std::vector<WalDamage> found;
};

constexpr const char* kSyncedName = "SYNCED";
// masked crc32c of the rest (4), log number (4), synced bytes (8), max seq (8), min/max ts (16),
// min/max ingest ts (16).
constexpr size_t kSyncedEntrySize = 4 + 4 + 8 + 8 + 16 + 16;

void EncodeSyncedEntry(uint32_t number, uint64_t bytes, uint64_t max_seq, int64_t min_ts,
                       int64_t max_ts, int64_t min_ingest_ts, int64_t max_ingest_ts,
                       std::string* out) {
  char buf[kSyncedEntrySize];
  EncodeFixed32(buf + 4, number);
  EncodeFixed64(buf + 8, bytes);
  EncodeFixed64(buf + 16, max_seq);
  EncodeFixed64(buf + 24, static_cast<uint64_t>(min_ts));
  EncodeFixed64(buf + 32, static_cast<uint64_t>(max_ts));
  EncodeFixed64(buf + 40, static_cast<uint64_t>(min_ingest_ts));
  EncodeFixed64(buf + 48, static_cast<uint64_t>(max_ingest_ts));
  EncodeFixed32(buf, crc32c::Mask(crc32c::Value(buf + 4, kSyncedEntrySize - 4)));
  out->append(buf, kSyncedEntrySize);
}

}  // namespace

WalManager::WalManager(Env* env, Clock* clock, std::string dir, WalOptions options, ApplyFn apply)
    : env_(env), clock_(clock), dir_(std::move(dir)), options_(options), apply_(std::move(apply)) {}

WalManager::~WalManager() {
  MutexLock l(&mu_);
  CloseWriterLocked();
}

std::string WalManager::FileName(uint32_t log_number) const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%06u%s", log_number, kLogSuffix);
  return JoinPath(dir_, buf);
}

Result<std::unique_ptr<WalManager>> WalManager::Open(Env* env, Clock* clock, std::string dir,
                                                     WalOptions options, ApplyFn apply) {
  RETURN_IF_ERROR(env->CreateDirs(dir));
  ASSIGN_OR_RETURN(auto children, env->GetChildren(dir));
  std::unique_ptr<WalManager> wal(
      new WalManager(env, clock, std::move(dir), options, std::move(apply)));
  WalMetrics::Get();
  MutexLock l(&wal->mu_);  // not shared yet; taken for the analysis
  for (const auto& name : children) {
    uint32_t number = 0;
    if (!ParseLogName(name, &number)) continue;
    wal->files_[number] = FileInfo{};
    wal->next_log_number_ = std::max(wal->next_log_number_, number + 1);
  }
  return wal;
}

Result<uint64_t> WalManager::Replay(const ReplayFn& fn) {
  std::map<uint32_t, FileInfo> files;
  {
    MutexLock l(&mu_);
    files = files_;
  }
  // What the last run knew it had synced (and acknowledged) of each file. Entries are appended
  // in order; the last intact one of a file wins; a torn last entry is ignored.
  std::map<uint32_t, FileInfo> recorded;
  {
    std::string synced;
    const std::string synced_path = JoinPath(dir_, kSyncedName);
    if (env_->FileExists(synced_path) && ReadFileToString(env_, synced_path, &synced).ok()) {
      for (size_t at = 0; at + kSyncedEntrySize <= synced.size(); at += kSyncedEntrySize) {
        const char* e = synced.data() + at;
        if (crc32c::Unmask(DecodeFixed32(e)) != crc32c::Value(e + 4, kSyncedEntrySize - 4)) break;
        FileInfo& info = recorded[DecodeFixed32(e + 4)];
        info.bytes = DecodeFixed64(e + 8);
        info.max_seq = DecodeFixed64(e + 16);
        info.min_ts = static_cast<int64_t>(DecodeFixed64(e + 24));
        info.max_ts = static_cast<int64_t>(DecodeFixed64(e + 32));
        info.min_ingest_ts = static_cast<int64_t>(DecodeFixed64(e + 40));
        info.max_ingest_ts = static_cast<int64_t>(DecodeFixed64(e + 48));
      }
    }
  }
  uint64_t max_seq_seen = 0;
  uint64_t corrupt = 0;
  std::string record;
  for (auto& [number, info] : files) {
    const std::string path = FileName(number);
    char name[32];
    std::snprintf(name, sizeof(name), "%06u%s", number, kLogSuffix);
    auto rec = recorded.find(number);
    const FileInfo* known = rec != recorded.end() ? &rec->second : nullptr;
    auto with_range = [&](WalDamage d) {
      d.file = name;
      if (known != nullptr && known->min_ts <= known->max_ts &&
          known->min_ingest_ts <= known->max_ingest_ts) {
        d.range_known = true;
        d.min_ts = known->min_ts;
        d.max_ts = known->max_ts;
        d.min_ingest_ts = known->min_ingest_ts;
        d.max_ingest_ts = known->max_ingest_ts;
      }
      return d;
    };
    auto file = env_->NewSequentialFile(path);
    if (!file.ok()) {
      WalDamage d;
      d.kind = "unreadable";
      d.bytes = env_->GetFileSize(path).value_or(0);
      d.detail = path + ": cannot open: " + file.status().ToString();
      ++corrupt;
      AddDamage(with_range(std::move(d)));
      continue;
    }
    info.bytes = env_->GetFileSize(path).value_or(0);
    CollectingReporter reporter;
    LogReader reader(std::move(file).value(), path, number, &reporter);
    uint64_t records = 0;
    while (true) {
      const uint64_t start = reader.valid_end();
      if (!reader.ReadRecord(&record)) break;
      uint64_t max_seq = 0;
      Status s = fn(record, &max_seq);
      if (!s.ok()) {
        reporter.Corruption(start, reader.valid_end() - start, "undecodable",
                            s.WithContext(path + " at offset " + std::to_string(start)));
        continue;
      }
      ++records;
      info.max_seq = std::max(info.max_seq, max_seq);
    }
    for (WalDamage& d : reporter.found) {
      ++corrupt;
      AddDamage(with_range(std::move(d)));
    }
    if (!reader.stopped_at_stale_bytes()) {
      WalDamage tail;
      const uint64_t synced = known != nullptr ? known->bytes : 0;
      const uint64_t end = reader.valid_end();
      if (known != nullptr && end < synced) {
        tail.kind = "truncated";
        tail.offset = end;
        tail.bytes = synced - end;
        tail.detail =
            path + ": the data ends at offset " + std::to_string(end) + " but " +
            std::to_string(synced) +
            " bytes were synced and acknowledged; acknowledged records were lost" +
            (info.bytes < synced ? " (the file is " + std::to_string(synced - info.bytes) +
                                       " bytes shorter than it was)"
                                 : " (the bytes there are unreadable)");
        AddDamage(with_range(std::move(tail)));
      } else if (info.bytes > end) {
        tail.kind = "torn_tail";
        tail.offset = end;
        tail.bytes = info.bytes - end;
        if (known != nullptr) {
          tail.acknowledged_loss = false;
          tail.detail = path + ": " + std::to_string(tail.bytes) + " unusable bytes at offset " +
                        std::to_string(end) + ", past the " + std::to_string(synced) +
                        " bytes synced and acknowledged: a write interrupted by a crash, never "
                        "acknowledged";
        } else {
          tail.detail = path + ": " + std::to_string(tail.bytes) + " unusable bytes at offset " +
                        std::to_string(end) +
                        "; the synced size of this file is not known, so the lost records may "
                        "have been acknowledged (or may be a write interrupted by a crash)";
        }
        AddDamage(with_range(std::move(tail)));
      }
    }
    // Keep what the last run knew (ranges; the synced size, so that a truncation stays visible
    // if the server restarts again before the file is deleted).
    // Never claim an unusable tail as synced: the next start would call it a truncation.
    info.bytes = std::min(info.bytes, reader.valid_end());
    if (known != nullptr) {
      info.bytes = std::max(info.bytes, known->bytes);
      info.min_ts = known->min_ts;
      info.max_ts = known->max_ts;
      info.min_ingest_ts = known->min_ingest_ts;
      info.max_ingest_ts = known->max_ingest_ts;
    } else if (info.bytes > 0) {
      info.ranges_complete = false;
    }
    max_seq_seen = std::max(max_seq_seen, info.max_seq);
    // One WAL record is one ingested batch (of many lines): say batches, as the engine's
    // summary line after replay does.
    spdlog::info("WAL replay: {} batches from {} ({} bytes{})", records, path, info.bytes,
                 reader.stopped_at_stale_bytes() ? ", stale tail" : "");
  }
  MutexLock l(&mu_);
  for (const auto& [number, info] : files) files_[number] = info;
  stats_.corrupt_records += corrupt;
  stats_.damage += damage_.size();
  replayed_ = true;
  RETURN_IF_ERROR(OpenNewFileLocked());
  return max_seq_seen;
}

void WalManager::AddDamage(WalDamage d) {
  auto& m = WalMetrics::Get();
  m.damage->Add({{"kind", d.kind}}).Increment();
  m.damage_bytes->Add({{"kind", d.kind}}).Increment(static_cast<double>(d.bytes));
  if (d.kind != "truncated" && d.kind != "torn_tail") m.corrupt_records->Increment();
  if (d.acknowledged_loss) {
    spdlog::error("WAL damage ({}): file {} offset {} bytes {}: {}", d.kind, d.file, d.offset,
                  d.bytes, d.detail);
  } else {
    spdlog::warn("WAL torn tail: file {} offset {} bytes {}: {}", d.file, d.offset, d.bytes,
                 d.detail);
  }
  damage_.push_back(std::move(d));
}

void WalManager::SetNextSeq(uint64_t seq) {
  MutexLock l(&mu_);
  next_seq_ = seq;
}

Status WalManager::OpenNewFileLocked() {
  const uint32_t number = next_log_number_++;
  const std::string path = FileName(number);
  auto file = env_->NewWritableFile(path);
  if (!file.ok())
    return Status::Unavailable("WAL: cannot create " + path + ": " + file.status().ToString());
  // The new directory entry must be durable before anything in the file is acknowledged.
  Status s = env_->SyncDir(dir_);
  if (!s.ok()) {
    // Never leave a file behind per failed attempt (a full disk would collect thousands).
    file.value()->Close().IgnoreError();
    env_->RemoveFile(path).IgnoreError();
    return Status::Unavailable("WAL: cannot sync " + dir_ + ": " + s.ToString());
  }
  file_ = std::move(file).value();
  writer_ = std::make_unique<LogWriter>(file_.get(), number, 0);
  files_[number] = FileInfo{};
  RewriteSyncedLocked();
  return Status::OK();
}

void WalManager::RewriteSyncedLocked() {
  if (synced_file_ != nullptr) {
    synced_file_->Close().IgnoreError();
    synced_file_.reset();
  }
  std::string data;
  for (const auto& [number, info] : files_) {
    if (info.bytes == 0) continue;
    const bool ranges = info.ranges_complete;
    EncodeSyncedEntry(number, info.bytes, info.max_seq,
                      ranges ? info.min_ts : std::numeric_limits<int64_t>::max(),
                      ranges ? info.max_ts : std::numeric_limits<int64_t>::min(),
                      ranges ? info.min_ingest_ts : std::numeric_limits<int64_t>::max(),
                      ranges ? info.max_ingest_ts : std::numeric_limits<int64_t>::min(), &data);
  }
  const std::string path = JoinPath(dir_, kSyncedName);
  Status s = WriteFileAtomically(env_, path, data);
  if (s.ok()) {
    auto file = env_->NewAppendableFile(path);
    if (file.ok()) {
      synced_file_ = std::move(file).value();
      return;
    }
    s = file.status();
  }
  // Without it, a later truncation of the WAL is reported as a torn tail that "may have been
  // acknowledged" instead of as a certain loss; nothing else changes.
  spdlog::warn("WAL: cannot write {} (truncation detection is weaker until the next log file): {}",
               path, s.ToString());
}

void WalManager::AppendSyncedLocked(uint32_t log_number, const FileInfo& info) {
  if (synced_file_ == nullptr) return;
  std::string entry;
  const bool ranges = info.ranges_complete;
  EncodeSyncedEntry(log_number, info.bytes, info.max_seq,
                    ranges ? info.min_ts : std::numeric_limits<int64_t>::max(),
                    ranges ? info.max_ts : std::numeric_limits<int64_t>::min(),
                    ranges ? info.min_ingest_ts : std::numeric_limits<int64_t>::max(),
                    ranges ? info.max_ingest_ts : std::numeric_limits<int64_t>::min(), &entry);
  // Not synced: it only ever claims bytes already synced, so after a power loss it is behind,
  // never ahead. Flushed to the kernel so that a killed process leaves it complete.
  Status s = synced_file_->Append(entry);
  if (s.ok()) s = synced_file_->Flush();
  if (!s.ok()) {
    spdlog::warn("WAL: cannot append to {}: {}", JoinPath(dir_, kSyncedName), s.ToString());
    synced_file_->Close().IgnoreError();
    synced_file_.reset();
  }
}

void WalManager::CloseWriterLocked() {
  if (file_ != nullptr) file_->Close().IgnoreError();
  writer_.reset();
  file_.reset();
}

Status WalManager::Commit(WalBatch* batch) {
  UniqueLock l(&mu_);
  if (closed_) return Status::Unavailable("WAL is closed");
  batch->base_seq = next_seq_;
  next_seq_ += batch->count;
  batch->done = false;
  if (batch->payload.size() >= 8) EncodeFixed64(batch->payload.data(), batch->base_seq);
  queue_.push_back(batch);
  while (!batch->done && (queue_.front() != batch || leader_busy_)) cv_.Wait(&l);
  if (batch->done) return batch->status;

  // This thread leads a group: everything queued now, up to the byte limit.
  leader_busy_ = true;
  size_t group_size = 0;
  uint64_t group_bytes = 0;
  uint64_t group_max_seq = 0;
  FileInfo group_ranges;
  for (WalBatch* b : queue_) {
    if (group_size > 0 && group_bytes + b->payload.size() > options_.max_group_bytes) break;
    ++group_size;
    group_bytes += b->payload.size();
    group_max_seq = b->base_seq + b->count - 1;
    if (b->min_ts > b->max_ts || b->min_ingest_ts > b->max_ingest_ts) {
      group_ranges.ranges_complete = false;
    }
    group_ranges.min_ts = std::min(group_ranges.min_ts, b->min_ts);
    group_ranges.max_ts = std::max(group_ranges.max_ts, b->max_ts);
    group_ranges.min_ingest_ts = std::min(group_ranges.min_ingest_ts, b->min_ingest_ts);
    group_ranges.max_ingest_ts = std::max(group_ranges.max_ingest_ts, b->max_ingest_ts);
  }
  Status status;
  if (writer_ == nullptr) status = OpenNewFileLocked();
  LogWriter* writer = writer_.get();
  uint32_t log_number = writer != nullptr ? writer->log_number() : 0;
  if (status.ok()) {
    // The file may hold these seqs from the moment anything is written.
    files_[log_number].max_seq = std::max(files_[log_number].max_seq, group_max_seq);
  }
  std::vector<WalBatch*> group(queue_.begin(), queue_.begin() + group_size);
  l.Unlock();

  int64_t start = clock_->MonotonicNanos();
  if (status.ok()) {
    group_buffer_.clear();
    for (WalBatch* b : group) writer->Encode(b->payload, &group_buffer_);
    status = writer->Write(group_buffer_);
    if (status.ok()) status = writer->Sync();
  }
  const int64_t elapsed = clock_->MonotonicNanos() - start;
  if (status.ok()) {
    auto& m = WalMetrics::Get();
    m.sync_seconds->Observe(static_cast<double>(elapsed) / 1e9);
    m.syncs->Increment();
    m.commits->Increment(static_cast<double>(group.size()));
    m.group_batches->Observe(static_cast<double>(group.size()));
    // Still the leader: no other apply can run, so batches are applied in seq order.
    for (WalBatch* b : group) apply_(*b);
  } else {
    WalMetrics::Get().write_errors->Increment();
  }
  const bool no_space = !status.ok() && status.IsUnavailable();
  if (!status.ok()) {
    status = Status::Unavailable(std::string(no_space ? "not accepting writes: disk full"
                                                      : "not accepting writes: WAL write failed") +
                                 " (" + status.message() + ")");
  }

  l.Lock();
  if (status.ok()) {
    stats_.syncs += 1;
    stats_.commits += group.size();
    if (!write_failure_.empty()) {
      spdlog::info("WAL: writing again after {} refused batches ({})", refused_batches_,
                   write_failure_);
      write_failure_.clear();
      refused_batches_ = 0;
    }
    FileInfo& info = files_[log_number];
    info.bytes = writer->size();
    info.ranges_complete = info.ranges_complete && group_ranges.ranges_complete;
    info.min_ts = std::min(info.min_ts, group_ranges.min_ts);
    info.max_ts = std::max(info.max_ts, group_ranges.max_ts);
    info.min_ingest_ts = std::min(info.min_ingest_ts, group_ranges.min_ingest_ts);
    info.max_ingest_ts = std::max(info.max_ingest_ts, group_ranges.max_ingest_ts);
    // Before anything of the group is acknowledged (below).
    if (synced_file_ == nullptr && clock_->MonotonicNanos() - synced_retry_ns_ >= 10'000'000'000) {
      // It failed before (e.g. on a full disk): try again, at most every 10 s.
      synced_retry_ns_ = clock_->MonotonicNanos();
      RewriteSyncedLocked();
    } else {
      AppendSyncedLocked(log_number, info);
    }
    if (writer->size() >= options_.file_bytes) {
      CloseWriterLocked();
      // A failure here is retried by the next leader.
      Status open = OpenNewFileLocked();
      if (!open.ok()) spdlog::warn("WAL rotation: {}", open.ToString());
    }
  } else {
    const int64_t now = clock_->MonotonicNanos();
    // One line for the first failure and then one every 10 s: a full disk refuses thousands of
    // batches (all counted in sawmill_wal_write_errors_total).
    if (write_failure_.empty() || now - last_failure_log_ns_ >= 10'000'000'000) {
      spdlog::error(
          "WAL write failed; {} batches not acknowledged ({} refused since the last "
          "successful write): {}",
          group.size(), refused_batches_ + group.size(), status.message());
      last_failure_log_ns_ = now;
    }
    write_failure_ = status.message();
    refused_batches_ += group.size();
    last_attempt_ns_ = now;
    if (writer_.get() == writer && writer != nullptr) {
      const uint64_t synced = files_[log_number].bytes;
      Status cut = no_space ? file_->Truncate(synced) : Status::Unavailable("not a full disk");
      if (cut.ok()) {
        // A full disk: cut the file back to what was synced and keep appending to it, rather
        // than starting a new (empty) file for every refused batch.
        writer_ = std::make_unique<LogWriter>(file_.get(), log_number, synced);
      } else {
        // After an I/O error the file's tail is unknown: never append to it again. A file that
        // never had a successful commit holds nothing acknowledged: remove it rather than leave
        // one file behind per failure.
        CloseWriterLocked();
        if (synced == 0) {
          Status rm = env_->RemoveFile(FileName(log_number));
          if (rm.ok() || rm.IsNotFound()) files_.erase(log_number);
        }
      }
    }
  }
  for (size_t i = 0; i < group_size; ++i) {
    queue_.front()->status = status;
    queue_.front()->done = true;
    queue_.pop_front();
  }
  leader_busy_ = false;
  cv_.NotifyAll();
  return status;
}

int WalManager::DeleteObsoleteFiles(uint64_t min_unflushed_seq) {
  std::vector<uint32_t> obsolete;
  {
    MutexLock l(&mu_);
    const uint32_t open_number = writer_ != nullptr ? writer_->log_number() : 0;
    for (const auto& [number, info] : files_) {
      if (number == open_number) continue;
      if (info.max_seq < min_unflushed_seq) obsolete.push_back(number);
    }
    for (uint32_t number : obsolete) files_.erase(number);
  }
  int deleted = 0;
  for (uint32_t number : obsolete) {
    Status s = env_->RemoveFile(FileName(number));
    if (s.ok() || s.IsNotFound()) {
      ++deleted;
    } else {
      spdlog::warn("WAL: cannot delete {}: {}", FileName(number), s.ToString());
    }
  }
  // Make the deletions durable, so that a power cut does not bring deleted files back (replay
  // would skip their records, but retention must be able to rely on a file being gone).
  if (deleted > 0) {
    Status s = env_->SyncDir(dir_);
    if (!s.ok()) spdlog::warn("WAL: cannot sync {} after deleting files: {}", dir_, s.ToString());
  }
  return deleted;
}

Status WalManager::Close() {
  UniqueLock l(&mu_);
  closed_ = true;
  while (!queue_.empty() || leader_busy_) cv_.Wait(&l);
  Status s;
  if (file_ != nullptr) {
    s = file_->Sync();
    Status c = file_->Close();
    if (s.ok()) s = c;
  }
  writer_.reset();
  file_.reset();
  if (synced_file_ != nullptr) synced_file_->Close().IgnoreError();
  synced_file_.reset();
  return s;
}

Status WalManager::WriteHealth() {
  UniqueLock l(&mu_);
  if (write_failure_.empty()) return Status::OK();
  const int64_t now = clock_->MonotonicNanos();
  if (now - last_attempt_ns_ >= 1'000'000'000 && !leader_busy_ && !closed_) {
    // Nobody wrote for a second: probe with a small synced write of our own.
    last_attempt_ns_ = now;
    l.Unlock();
    const std::string probe = JoinPath(dir_, "SPACE-PROBE");
    Status s;
    {
      auto file = env_->NewWritableFile(probe);
      s = file.status();
      if (s.ok()) s = file.value()->Append(std::string(4096, '\0'));
      if (s.ok()) s = file.value()->Sync();
      if (file.ok()) file.value()->Close().IgnoreError();
    }
    env_->RemoveFile(probe).IgnoreError();
    l.Lock();
    if (s.ok() && !write_failure_.empty()) {
      spdlog::info("WAL: the disk takes writes again ({} refused batches: {})", refused_batches_,
                   write_failure_);
      write_failure_.clear();
      refused_batches_ = 0;
    }
    if (write_failure_.empty()) return Status::OK();
  }
  return Status::Unavailable(write_failure_ + "; " + std::to_string(refused_batches_) +
                             " batches refused since; writes resume once the WAL can be "
                             "written again");
}

WalStats WalManager::stats() const {
  MutexLock l(&mu_);
  WalStats s = stats_;
  s.files = files_.size();
  s.bytes = 0;
  for (const auto& [number, info] : files_) s.bytes += info.bytes;
  if (writer_ != nullptr) s.bytes += writer_->size() - files_.at(writer_->log_number()).bytes;
  return s;
}

uint64_t WalManager::next_seq() const {
  MutexLock l(&mu_);
  return next_seq_;
}

}  // namespace sawmill::wal
