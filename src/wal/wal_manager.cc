#include "wal/wal_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "common/coding.h"
#include "common/metrics.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"

namespace sawmill::wal {
namespace {

struct WalMetrics {
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
      w.corrupt_records = &prometheus::BuildCounter()
                               .Name("sawmill_wal_corrupt_records_total")
                               .Help("Damaged WAL records skipped during replay")
                               .Register(reg)
                               .Add({});
      w.syncs = &prometheus::BuildCounter()
                     .Name("sawmill_wal_syncs_total")
                     .Help("fdatasync calls on WAL files")
                     .Register(reg)
                     .Add({});
      w.commits = &prometheus::BuildCounter()
                       .Name("sawmill_wal_commits_total")
                       .Help("Append batches made durable in the WAL")
                       .Register(reg)
                       .Add({});
      w.write_errors = &prometheus::BuildCounter()
                            .Name("sawmill_wal_write_errors_total")
                            .Help("Failed WAL writes or syncs (the batches were not acknowledged)")
                            .Register(reg)
                            .Add({});
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

class CountingReporter final : public LogReader::Reporter {
 public:
  void Corruption(uint64_t bytes, const Status& reason) override {
    ++count;
    WalMetrics::Get().corrupt_records->Increment();
    spdlog::warn("WAL replay skipped a damaged record ({} bytes): {}", bytes, reason.ToString());
  }
  uint64_t count = 0;
};

}  // namespace

WalManager::WalManager(Env* env, Clock* clock, std::string dir, WalOptions options, ApplyFn apply)
    : env_(env), clock_(clock), dir_(std::move(dir)), options_(options), apply_(std::move(apply)) {}

WalManager::~WalManager() {
  std::lock_guard<std::mutex> l(mu_);
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
    std::lock_guard<std::mutex> l(mu_);
    files = files_;
  }
  uint64_t max_seq_seen = 0;
  CountingReporter reporter;
  std::string record;
  for (auto& [number, info] : files) {
    const std::string path = FileName(number);
    auto file = env_->NewSequentialFile(path);
    if (!file.ok()) {
      spdlog::error("WAL replay: cannot open {}: {}", path, file.status().ToString());
      ++reporter.count;
      WalMetrics::Get().corrupt_records->Increment();
      continue;
    }
    info.bytes = env_->GetFileSize(path).value_or(0);
    LogReader reader(std::move(file).value(), path, number, &reporter);
    uint64_t records = 0;
    while (reader.ReadRecord(&record)) {
      uint64_t max_seq = 0;
      Status s = fn(record, &max_seq);
      if (!s.ok()) {
        reporter.Corruption(record.size(), s.WithContext(path));
        continue;
      }
      ++records;
      info.max_seq = std::max(info.max_seq, max_seq);
    }
    max_seq_seen = std::max(max_seq_seen, info.max_seq);
    spdlog::info("WAL replay: {} records from {} ({} bytes{})", records, path, info.bytes,
                 reader.stopped_at_stale_bytes() ? ", stale tail" : "");
  }
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [number, info] : files) files_[number] = info;
  stats_.corrupt_records += reporter.count;
  replayed_ = true;
  RETURN_IF_ERROR(OpenNewFileLocked());
  return max_seq_seen;
}

void WalManager::SetNextSeq(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
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
  if (!s.ok()) return Status::Unavailable("WAL: cannot sync " + dir_ + ": " + s.ToString());
  file_ = std::move(file).value();
  writer_ = std::make_unique<LogWriter>(file_.get(), number, 0);
  files_[number] = FileInfo{};
  return Status::OK();
}

void WalManager::CloseWriterLocked() {
  if (file_ != nullptr) file_->Close().IgnoreError();
  writer_.reset();
  file_.reset();
}

Status WalManager::Commit(WalBatch* batch) {
  std::unique_lock<std::mutex> l(mu_);
  if (closed_) return Status::Unavailable("WAL is closed");
  batch->base_seq = next_seq_;
  next_seq_ += batch->count;
  batch->done = false;
  if (batch->payload.size() >= 8) EncodeFixed64(batch->payload.data(), batch->base_seq);
  queue_.push_back(batch);
  while (!batch->done && (queue_.front() != batch || leader_busy_)) cv_.wait(l);
  if (batch->done) return batch->status;

  // This thread leads a group: everything queued now, up to the byte limit.
  leader_busy_ = true;
  size_t group_size = 0;
  uint64_t group_bytes = 0;
  uint64_t group_max_seq = 0;
  for (WalBatch* b : queue_) {
    if (group_size > 0 && group_bytes + b->payload.size() > options_.max_group_bytes) break;
    ++group_size;
    group_bytes += b->payload.size();
    group_max_seq = b->base_seq + b->count - 1;
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
  l.unlock();

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
    spdlog::error("WAL write failed; {} batches not acknowledged: {}", group.size(),
                  status.ToString());
    status = Status::Unavailable("WAL write failed: " + status.message());
  }

  l.lock();
  if (status.ok()) {
    stats_.syncs += 1;
    stats_.commits += group.size();
    files_[log_number].bytes = writer->size();
    if (writer->size() >= options_.file_bytes) {
      CloseWriterLocked();
      // A failure here is retried by the next leader.
      Status open = OpenNewFileLocked();
      if (!open.ok()) spdlog::warn("WAL rotation: {}", open.ToString());
    }
  } else if (writer_.get() == writer) {
    // The file's tail is unknown after a failed write or sync: never append to it again.
    CloseWriterLocked();
  }
  for (size_t i = 0; i < group_size; ++i) {
    queue_.front()->status = status;
    queue_.front()->done = true;
    queue_.pop_front();
  }
  leader_busy_ = false;
  cv_.notify_all();
  return status;
}

int WalManager::DeleteObsoleteFiles(uint64_t min_unflushed_seq) {
  std::vector<uint32_t> obsolete;
  {
    std::lock_guard<std::mutex> l(mu_);
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
  return deleted;
}

Status WalManager::Close() {
  std::unique_lock<std::mutex> l(mu_);
  closed_ = true;
  while (!queue_.empty() || leader_busy_) cv_.wait(l);
  Status s;
  if (file_ != nullptr) {
    s = file_->Sync();
    Status c = file_->Close();
    if (s.ok()) s = c;
  }
  writer_.reset();
  file_.reset();
  return s;
}

WalStats WalManager::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  WalStats s = stats_;
  s.files = files_.size();
  s.bytes = 0;
  for (const auto& [number, info] : files_) s.bytes += info.bytes;
  if (writer_ != nullptr) s.bytes += writer_->size() - files_.at(writer_->log_number()).bytes;
  return s;
}

uint64_t WalManager::next_seq() const {
  std::lock_guard<std::mutex> l(mu_);
  return next_seq_;
}

}  // namespace sawmill::wal
