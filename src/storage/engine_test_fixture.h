// Shared by the storage engine's tests: an engine on a FaultInjectionEnv with a real SQLite
// catalog in a temporary directory, crash-and-reopen, and reading back what a snapshot holds.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/fault_env.h"
#include "storage/storage_engine.h"

namespace sawmill::storage {

// Every message of a snapshot with how often it appears, plus the number of read errors.
struct Contents {
  std::map<std::string, int> lines;
  int errors = 0;
  size_t total() const {
    size_t n = 0;
    for (const auto& [l, c] : lines) n += static_cast<size_t>(c);
    return n;
  }
};

inline Contents Read(const Snapshot& snap) {
  Contents c;
  for (const SegmentHandle& seg : snap.segments) {
    auto reader = seg.open();
    if (!reader.ok()) {
      ++c.errors;
      continue;
    }
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
      std::vector<Record> rows;
      segment::ReadStats stats;
      if (!(*reader)->ReadBlock(b, segment::kColAll, &rows, &stats).ok()) {
        ++c.errors;
        continue;
      }
      for (const Record& r : rows) ++c.lines[r.message];
    }
  }
  for (const MemtableView& m : snap.memtables) {
    for (const auto& chunk : m.chunks) {
      for (const Record& r : *chunk) ++c.lines[r.message];
    }
  }
  return c;
}

// The engine at "/data" on a FaultInjectionEnv, its catalog a real SQLite file in a temporary
// directory, no background threads, 4 partitions.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_" + std::string(info->test_suite_name()) + "_" + std::to_string(::getpid()) +
            "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.data_dir = "/data";
    options_.env = env_.get();
    options_.clock = &clock_;
    options_.catalog_path = (dir_ / "catalog.db").string();
    options_.background_threads = false;
    options_.partitions = 4;
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenEngine() {
    auto e = Engine::Open(options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
    // A dead process commits nothing: model it for the catalog, which does its own I/O.
    catalog()->SetCommitHook(
        [this] { return env_->dead() ? Status::IOError("simulated crash") : Status::OK(); });
  }
  // Kills the process at this point: nothing more reaches the disk, unsynced data is lost.
  void CrashAndReopen() {
    env_->CrashAfterOps(0);
    engine_.reset();
    env_->SimulateCrash();
    OpenEngine();
  }
  catalog::Catalog* catalog() {
    return dynamic_cast<StorageEngine*>(engine_.get())->catalog_for_testing();
  }

  std::filesystem::path dir_;
  std::unique_ptr<FaultInjectionEnv> env_ = std::make_unique<FaultInjectionEnv>();
  ManualClock clock_{1700000000000000000};
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace sawmill::storage
