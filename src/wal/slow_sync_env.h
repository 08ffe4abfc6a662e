// Test helper: an Env that delegates to another and makes every WritableFile::Sync take a fixed
// time, like a real disk, so that concurrent committers pile up behind a sync.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/env.h"

namespace sawmill::wal {

class SlowSyncEnv final : public Env {
 public:
  // "*base" must outlive this Env.
  SlowSyncEnv(Env* base, std::chrono::microseconds sync_time)
      : base_(base), sync_time_(sync_time) {}

  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> f, std::chrono::microseconds t) : f_(std::move(f)), t_(t) {}
    Status Append(std::string_view d) override { return f_->Append(d); }
    Status Flush() override { return f_->Flush(); }
    Status Sync() override {
      std::this_thread::sleep_for(t_);
      return f_->Sync();
    }
    Status Close() override { return f_->Close(); }
    uint64_t Size() const override { return f_->Size(); }

   private:
    std::unique_ptr<WritableFile> f_;
    std::chrono::microseconds t_;
  };

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, base_->NewWritableFile(p));
    return std::unique_ptr<WritableFile>(new File(std::move(f), sync_time_));
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, base_->NewAppendableFile(p));
    return std::unique_ptr<WritableFile>(new File(std::move(f), sync_time_));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    return base_->NewRandomAccessFile(p);
  }
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& p) override {
    return base_->NewSequentialFile(p);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<std::vector<std::string>> GetChildren(const std::string& d) override {
    return base_->GetChildren(d);
  }
  Result<uint64_t> GetFileSize(const std::string& p) override { return base_->GetFileSize(p); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return base_->RenameFile(a, b);
  }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status RemoveDir(const std::string& d) override { return base_->RemoveDir(d); }
  Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }

 private:
  Env* base_;
  std::chrono::microseconds sync_time_;
};

}  // namespace sawmill::wal
