#include "common/fault_env.h"

#include <algorithm>
#include <cstring>

#include "common/mutex.h"

namespace sawmill {

struct FaultInjectionEnv::FileData {
  std::string contents;
  size_t synced = 0;  // bytes of "contents" that survive a crash
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(FaultInjectionEnv* env, std::shared_ptr<FaultInjectionEnv::FileData> data,
                  uint64_t epoch)
      : env_(env), data_(std::move(data)), epoch_(epoch) {}
  Status Append(std::string_view d) override { return env_->OnAppend(data_.get(), d, epoch_); }
  Status Flush() override { return Status::OK(); }
  Status Sync() override { return env_->OnSync(data_.get(), epoch_); }
  Status Close() override { return Status::OK(); }
  uint64_t Size() const override {
    MutexLock l(&env_->mu_);
    return data_->contents.size();
  }
  Status Truncate(uint64_t size) override { return env_->OnTruncate(data_.get(), size, epoch_); }

 private:
  FaultInjectionEnv* env_;
  std::shared_ptr<FaultInjectionEnv::FileData> data_;
  uint64_t epoch_;
};

namespace {

// Readers take a snapshot of the contents when opened: files are immutable once readers see
// them in every format of this project except the WAL, whose reader re-opens to see more.
class MemRandomAccessFile final : public RandomAccessFile {
 public:
  explicit MemRandomAccessFile(std::string contents) : contents_(std::move(contents)) {}
  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (offset >= contents_.size()) {
      *result = {};
      return Status::OK();
    }
    size_t len = std::min<size_t>(n, contents_.size() - offset);
    std::memcpy(scratch, contents_.data() + offset, len);
    *result = std::string_view(scratch, len);
    return Status::OK();
  }
  uint64_t Size() const override { return contents_.size(); }

 private:
  std::string contents_;
};

class MemSequentialFile final : public SequentialFile {
 public:
  explicit MemSequentialFile(std::string contents) : contents_(std::move(contents)) {}
  Status Read(size_t n, std::string_view* result, char* scratch) override {
    size_t len = std::min(n, contents_.size() - pos_);
    std::memcpy(scratch, contents_.data() + pos_, len);
    pos_ += len;
    *result = std::string_view(scratch, len);
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    pos_ = static_cast<size_t>(std::min<uint64_t>(contents_.size(), pos_ + n));
    return Status::OK();
  }

 private:
  std::string contents_;
  size_t pos_ = 0;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv() { dirs_.insert("/"); }
FaultInjectionEnv::~FaultInjectionEnv() = default;

Status FaultInjectionEnv::CountOp() {
  if (dead_) return Status::IOError("simulated crash: process is dead");
  ++ops_;
  if (crash_at_ops_ >= 0 && ops_ > crash_at_ops_) {
    dead_ = true;
    return Status::IOError("simulated crash: process is dead");
  }
  return Status::OK();
}

Status FaultInjectionEnv::OnAppend(FileData* f, std::string_view data, uint64_t epoch) {
  MutexLock l(&mu_);
  if (epoch != epoch_) return Status::IOError("file handle opened before a simulated crash");
  RETURN_IF_ERROR(CountOp());
  if (no_space_) return Status::Unavailable("No space left on device (injected)");
  if (write_fail_countdown_ > 0 && --write_fail_countdown_ == 0) {
    return Status::IOError("injected write failure");
  }
  f->contents.append(data);
  return Status::OK();
}

Status FaultInjectionEnv::OnTruncate(FileData* f, uint64_t size, uint64_t epoch) {
  MutexLock l(&mu_);
  if (epoch != epoch_) return Status::IOError("file handle opened before a simulated crash");
  RETURN_IF_ERROR(CountOp());
  if (size < f->contents.size()) f->contents.resize(size);
  // A truncation is metadata: like the size after fdatasync, durable with the next sync.
  return Status::OK();
}

Status FaultInjectionEnv::OnSync(FileData* f, uint64_t epoch) {
  MutexLock l(&mu_);
  if (epoch != epoch_) return Status::IOError("file handle opened before a simulated crash");
  RETURN_IF_ERROR(CountOp());
  if (sync_fail_countdown_ > 0 && --sync_fail_countdown_ == 0) {
    return Status::IOError("injected sync failure");
  }
  f->synced = f->contents.size();
  return Status::OK();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  if (!dirs_.count(DirName(path))) return Status::NotFound(path + ": no such directory");
  auto it = live_.find(path);
  std::shared_ptr<FileData> data;
  if (it != live_.end()) {
    data = it->second;
    data->contents.clear();
    data->synced = 0;
  } else {
    data = std::make_shared<FileData>();
    live_[path] = data;
  }
  return std::unique_ptr<WritableFile>(new MemWritableFile(this, data, epoch_));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  if (!dirs_.count(DirName(path))) return Status::NotFound(path + ": no such directory");
  auto& slot = live_[path];
  if (!slot) slot = std::make_shared<FileData>();
  return std::unique_ptr<WritableFile>(new MemWritableFile(this, slot, epoch_));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewRandomAccessFile(
    const std::string& path) {
  MutexLock l(&mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound(path + ": No such file or directory");
  return std::unique_ptr<RandomAccessFile>(new MemRandomAccessFile(it->second->contents));
}

Result<std::unique_ptr<SequentialFile>> FaultInjectionEnv::NewSequentialFile(
    const std::string& path) {
  MutexLock l(&mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound(path + ": No such file or directory");
  return std::unique_ptr<SequentialFile>(new MemSequentialFile(it->second->contents));
}

bool FaultInjectionEnv::FileExists(const std::string& path) {
  MutexLock l(&mu_);
  return live_.count(path) > 0 || dirs_.count(path) > 0;
}

Result<std::vector<std::string>> FaultInjectionEnv::GetChildren(const std::string& dir) {
  MutexLock l(&mu_);
  if (!dirs_.count(dir)) return Status::NotFound(dir + ": No such file or directory");
  std::vector<std::string> out;
  for (const auto& [path, data] : live_) {
    if (DirName(path) == dir) out.push_back(path.substr(path.find_last_of('/') + 1));
  }
  for (const auto& d : dirs_) {
    if (d != dir && DirName(d) == dir) out.push_back(d.substr(d.find_last_of('/') + 1));
  }
  return out;
}

Result<uint64_t> FaultInjectionEnv::GetFileSize(const std::string& path) {
  MutexLock l(&mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound(path + ": No such file or directory");
  return static_cast<uint64_t>(it->second->contents.size());
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  if (live_.erase(path) == 0) return Status::NotFound(path + ": No such file or directory");
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  auto it = live_.find(from);
  if (it == live_.end()) return Status::NotFound(from + ": No such file or directory");
  auto data = it->second;
  live_.erase(it);
  live_[to] = std::move(data);
  return Status::OK();
}

Status FaultInjectionEnv::CreateDirs(const std::string& dir) {
  MutexLock l(&mu_);
  std::string d = dir;
  while (!d.empty() && d != "/" && d != "." && !dirs_.count(d)) {
    dirs_.insert(d);
    d = DirName(d);
  }
  return Status::OK();
}

Status FaultInjectionEnv::RemoveDir(const std::string& dir) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  for (const auto& [path, data] : live_) {
    if (DirName(path) == dir) return Status::IOError(dir + ": Directory not empty");
  }
  dirs_.erase(dir);
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountOp());
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (DirName(it->first) == dir && !live_.count(it->first)) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [path, data] : live_) {
    if (DirName(path) == dir) durable_[path] = data;
  }
  return Status::OK();
}

void FaultInjectionEnv::InjectWriteFailure(int nth) {
  MutexLock l(&mu_);
  write_fail_countdown_ = nth;
}

void FaultInjectionEnv::InjectSyncFailure(int nth) {
  MutexLock l(&mu_);
  sync_fail_countdown_ = nth;
}

void FaultInjectionEnv::SetDiskCapacity(uint64_t bytes) {
  MutexLock l(&mu_);
  disk_capacity_ = bytes;
}

void FaultInjectionEnv::SetOtherUsedBytes(uint64_t bytes) {
  MutexLock l(&mu_);
  other_used_ = bytes;
}

Result<DiskUsage> FaultInjectionEnv::GetDiskUsage(const std::string& path) {
  (void)path;
  MutexLock l(&mu_);
  if (disk_capacity_ == 0) return Status::Unavailable("no simulated disk capacity set");
  uint64_t used = other_used_;
  for (const auto& [name, file] : live_) used += file->contents.size();
  DiskUsage usage;
  usage.total_bytes = disk_capacity_;
  usage.free_bytes = used >= disk_capacity_ ? 0 : disk_capacity_ - used;
  return usage;
}

void FaultInjectionEnv::SetNoSpace(bool on) {
  MutexLock l(&mu_);
  no_space_ = on;
}

void FaultInjectionEnv::CrashAfterOps(int64_t n) {
  MutexLock l(&mu_);
  crash_at_ops_ = ops_ + n;
}

void FaultInjectionEnv::SimulateCrash() {
  MutexLock l(&mu_);
  std::map<std::string, std::shared_ptr<FileData>> survivors;
  for (const auto& [path, data] : durable_) {
    // Each survivor gets its own copy: a file reachable under two names before the crash
    // (renamed but the old directory entry still durable) must not share later appends.
    auto copy = std::make_shared<FileData>();
    copy->contents = data->contents.substr(0, data->synced);
    copy->synced = copy->contents.size();
    survivors[path] = std::move(copy);
  }
  live_ = survivors;
  durable_ = std::move(survivors);
  dead_ = false;
  crash_at_ops_ = -1;
  write_fail_countdown_ = 0;
  sync_fail_countdown_ = 0;
  no_space_ = false;
  ++epoch_;
}

void FaultInjectionEnv::SimulateKill() {
  MutexLock l(&mu_);
  dead_ = false;
  crash_at_ops_ = -1;
  ++epoch_;
}

int64_t FaultInjectionEnv::mutating_ops() const {
  MutexLock l(&mu_);
  return ops_;
}

bool FaultInjectionEnv::dead() const {
  MutexLock l(&mu_);
  return dead_;
}

Status FaultInjectionEnv::GetContents(const std::string& path, std::string* out) {
  MutexLock l(&mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound(path);
  *out = it->second->contents;
  return Status::OK();
}

Status FaultInjectionEnv::SetContents(const std::string& path, std::string data) {
  MutexLock l(&mu_);
  auto& slot = live_[path];
  if (!slot) slot = std::make_shared<FileData>();
  slot->contents = std::move(data);
  slot->synced = slot->contents.size();
  durable_[path] = slot;
  return Status::OK();
}

}  // namespace sawmill
