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

class SlowSyncEnv final : public EnvWrapper {
 public:
  // "*base" must outlive this Env.
  SlowSyncEnv(Env* base, std::chrono::microseconds sync_time)
      : EnvWrapper(base), sync_time_(sync_time) {}

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
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }

   private:
    std::unique_ptr<WritableFile> f_;
    std::chrono::microseconds t_;
  };

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, target()->NewWritableFile(p));
    return std::unique_ptr<WritableFile>(new File(std::move(f), sync_time_));
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, target()->NewAppendableFile(p));
    return std::unique_ptr<WritableFile>(new File(std::move(f), sync_time_));
  }

 private:
  std::chrono::microseconds sync_time_;
};

}  // namespace sawmill::wal
