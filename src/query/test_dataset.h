// Test-only: a fixed dataset of real log lines (loghub 2k samples of five systems, read from
// SAWMILL_SHARED_DIR at run time) with deterministic ingest times, hosts and trace ids.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sawmill/record.h"
#include "storage/engine.h"

namespace sawmill::query::testing {

// 2026-11-30T10:00:00Z: the first record's ingest_ts.
inline constexpr int64_t kDatasetStart = 1'796'032'800LL * kNanosPerSecond;
// Records are 700 ms apart; the fixed "now" of the golden tests: two hours after the start.
inline constexpr int64_t kDatasetNow = kDatasetStart + 2 * 3600 * kNanosPerSecond;

// The shared folder (SAWMILL_SHARED_DIR environment variable, else the compile definition).
std::string SharedDir();

// Records in ingest (seq) order, tenant "default". Empty when the data cannot be read.
std::vector<Record> LoadDataset();

// A fresh directory under the system's temporary folder, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A snapshot of tenant "default": segments of "records" (all but the last "in_memory", which
// stay in one memtable chunk) written in "dir", "per_segment" records each, blocks of
// "block_rows"; every "old_every"-th segment (0: none) as format version 2 wrote it (no index
// kinds), and every "old_every"-th after it in the warm tier's encoding (WarmWriterOptions'
// text layouts and blooms, with the test's block size and indexes), so the differential tests mix
// old and warm files in. "words": the rule of the message's word postings (null: the default).
std::shared_ptr<storage::Snapshot> BuildSnapshot(const std::vector<Record>& records,
                                                 const std::string& dir, size_t per_segment,
                                                 size_t in_memory, uint32_t block_rows,
                                                 uint64_t old_every = 3,
                                                 const index::WordPostingsRule* words = nullptr);

}  // namespace sawmill::query::testing
