// An in-memory Env for crash and fault tests.
//
// Durability model (strict POSIX): appended bytes survive a crash only once the file is synced;
// a created, renamed or removed directory entry survives only once its directory is synced
// (SyncDir). Directories themselves are durable as soon as they are created.
//
// Faults:
//  - InjectWriteFailure(n) / InjectSyncFailure(n): the n-th Append / Sync from now fails once
//    with IOError (n = 1 is the very next one).
//  - SetNoSpace(true): every Append fails with Unavailable ("No space left on device").
//  - CrashAfterOps(n): after n more mutating operations (create, append, sync, rename, remove,
//    sync dir) the "process is dead": every later mutating operation fails with IOError.
//  - SimulateCrash(): forgets everything not durable as above, revives the env, and makes
//    every file handle opened before it fail.
//  - SimulateKill(): kill -9 (the kernel keeps what was written): revives the env after
//    CrashAfterOps without forgetting anything, and makes every earlier file handle fail.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/env.h"
#include "common/mutex.h"

namespace sawmill {

class FaultInjectionEnv final : public Env {
 public:
  FaultInjectionEnv();
  ~FaultInjectionEnv() override;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override;
  Result<uint64_t> GetFileSize(const std::string& path) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status CreateDirs(const std::string& dir) override;
  Status RemoveDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  // With SetDiskCapacity: total = the capacity, free = the capacity less the bytes of every
  // file (a disk that fills as files grow). Without: Unavailable.
  Result<DiskUsage> GetDiskUsage(const std::string& path) override;

  void InjectWriteFailure(int nth);
  void InjectSyncFailure(int nth);
  void SetNoSpace(bool on);
  // The simulated disk's size for GetDiskUsage (0: unknown), and bytes counted as used besides
  // the files (another program filling the disk).
  void SetDiskCapacity(uint64_t bytes);
  void SetOtherUsedBytes(uint64_t bytes);
  void CrashAfterOps(int64_t n);
  void SimulateCrash();
  void SimulateKill();
  // Mutating operations performed so far (to enumerate crash points in tests).
  int64_t mutating_ops() const;
  bool dead() const;

  // Test helpers: direct access to a file's current contents, e.g. to flip a byte.
  Status GetContents(const std::string& path, std::string* out);
  Status SetContents(const std::string& path, std::string data);

  struct FileData;  // implementation detail, public for the file classes in the .cc

 private:
  friend class MemWritableFile;
  // Counts one mutating op; returns an error if the env is dead.
  Status CountOp() REQUIRES(mu_);
  Status OnAppend(FileData* f, std::string_view data, uint64_t epoch) EXCLUDES(mu_);
  Status OnSync(FileData* f, uint64_t epoch) EXCLUDES(mu_);
  Status OnTruncate(FileData* f, uint64_t size, uint64_t epoch) EXCLUDES(mu_);

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<FileData>> live_ GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FileData>> durable_ GUARDED_BY(mu_);
  std::set<std::string> dirs_ GUARDED_BY(mu_);
  int write_fail_countdown_ GUARDED_BY(mu_) = 0;
  int sync_fail_countdown_ GUARDED_BY(mu_) = 0;
  bool no_space_ GUARDED_BY(mu_) = false;
  uint64_t disk_capacity_ GUARDED_BY(mu_) = 0;
  uint64_t other_used_ GUARDED_BY(mu_) = 0;
  int64_t ops_ GUARDED_BY(mu_) = 0;
  int64_t crash_at_ops_ GUARDED_BY(mu_) = -1;
  bool dead_ GUARDED_BY(mu_) = false;
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
};

}  // namespace sawmill
