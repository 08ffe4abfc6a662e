// The file-system interface every storage component goes through, so that crash and fault tests
// can run the real code against FaultInjectionEnv (an in-memory file system that fails the Nth
// write or sync and forgets unsynced data on a simulated crash).
//
// Thread-safety: Env methods are thread-safe. A file object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill {

// A file written from the front. Data reaches durable storage only after Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Errors: IOError (kUnavailable when the device is full).
  virtual Status Append(std::string_view data) = 0;
  // Pushes buffered data to the OS (not durable).
  virtual Status Flush() = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes appended so far, including anything the file held when opened for append.
  virtual uint64_t Size() const = 0;
  // Cuts the file back to "size" bytes (no larger than Size()), dropping anything buffered, so
  // that appending can continue at "size", e.g. after a write failed part-way on a full disk.
  // Not durable until the next Sync. Errors: IOError; Unavailable when not supported.
  virtual Status Truncate(uint64_t size) {
    (void)size;
    return Status::Unavailable("this file cannot be truncated");
  }
};

// A file read at any offset. Thread-safe for concurrent reads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to "n" bytes at "offset" into "scratch"; "*result" points at the bytes read
  // (fewer than n only at end of file).
  virtual Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const = 0;
  virtual uint64_t Size() const = 0;
};

// A file read from the front.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to "n" bytes; an empty result means end of file.
  virtual Status Read(size_t n, std::string_view* result, char* scratch) = 0;
  virtual Status Skip(uint64_t n) = 0;
};

// The size of a file system and its free space (bytes available to this process).
struct DiskUsage {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  // Used / total, 0 to 1 (0 when total is 0).
  double used_fraction() const {
    return total_bytes == 0
               ? 0.0
               : 1.0 - static_cast<double>(free_bytes) / static_cast<double>(total_bytes);
  }
};

class Env {
 public:
  virtual ~Env() = default;

  // Creates or truncates "path".
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens "path" for appending, creating it if missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  virtual Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;

  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of "dir", without "." and "..".
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces "to" with "from". Durable only after SyncDir of the parent.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Creates "dir" and any missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status RemoveDir(const std::string& dir) = 0;
  // Makes the creation, renaming and removal of entries of "dir" durable.
  virtual Status SyncDir(const std::string& dir) = 0;

  // The size and free space of the file system that holds "path" (statvfs; disk watermarks).
  // Errors: IOError; Unavailable when this Env cannot tell.
  virtual Result<DiskUsage> GetDiskUsage(const std::string& path) {
    (void)path;
    return Status::Unavailable("this environment does not report disk usage");
  }

  // The process-wide POSIX environment. Never null.
  static Env* Default();
};

// An Env that forwards every call to another; fault and timing wrappers in tests override only
// the calls they change. "*target" must outlive the wrapper.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return target_->NewWritableFile(p);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    return target_->NewAppendableFile(p);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    return target_->NewRandomAccessFile(p);
  }
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& p) override {
    return target_->NewSequentialFile(p);
  }
  bool FileExists(const std::string& p) override { return target_->FileExists(p); }
  Result<std::vector<std::string>> GetChildren(const std::string& d) override {
    return target_->GetChildren(d);
  }
  Result<uint64_t> GetFileSize(const std::string& p) override { return target_->GetFileSize(p); }
  Status RemoveFile(const std::string& p) override { return target_->RemoveFile(p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return target_->RenameFile(a, b);
  }
  Status CreateDirs(const std::string& d) override { return target_->CreateDirs(d); }
  Status RemoveDir(const std::string& d) override { return target_->RemoveDir(d); }
  Status SyncDir(const std::string& d) override { return target_->SyncDir(d); }
  Result<DiskUsage> GetDiskUsage(const std::string& p) override { return target_->GetDiskUsage(p); }

 private:
  Env* target_;
};

// Helpers built on the interface.
Status ReadFileToString(Env* env, const std::string& path, std::string* out);
// Writes "data" to "path" through a temporary file, syncs it, renames it over "path" and syncs
// the directory: after OK the new contents are durable and readers see old or new, never a mix.
Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data);
std::string DirName(const std::string& path);
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace sawmill
