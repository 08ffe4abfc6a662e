// Test-only: a fixed dataset of real log lines (loghub 2k samples of five systems, read from
// SAWMILL_SHARED_DIR at run time) with deterministic ingest times, hosts and trace ids.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "query/executor.h"
#include "sawmill/record.h"
#include "segment/segment.h"
#include "segment/testdata.h"
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

// "records" written as the segment file "path" ("info", "options") and opened once: a handle
// whose open() answers that reader, as the engine's would. A failed write or open fails the
// test; a failed open answers nothing (the caller leaves the segment out).
std::optional<storage::SegmentHandle> OpenedSegment(const std::string& path,
                                                    const segment::SegmentInfo& info,
                                                    std::vector<Record> records,
                                                    const segment::WriterOptions& options);

// A snapshot of tenant "default": segments of "records" (all but the last "in_memory", which
// stay in one memtable chunk) written in "dir", "per_segment" records each, blocks of
// "block_rows"; every "old_every"-th segment (0: none) as format version 2 wrote it (no index
// kinds), and every "old_every"-th after it in the warm tier's encoding (WarmWriterOptions'
// text layouts and blooms, with the test's block size and indexes), and every other one of the
// rest with the word postings laid out as before the front-coded layout (version 1), so the
// differential tests mix old and warm files in. "words": the rule of the message's word postings
// (null: the default). "values": which exact-value fields get postings (null: every even-numbered
// segment posts every field, the others follow segment::DefaultValuePostingsRule(), which leaves
// near-unique fields such as the dataset's trace_id to their blooms: both kinds of segments
// mixed).
std::shared_ptr<storage::Snapshot> BuildSnapshot(const std::vector<Record>& records,
                                                 const std::string& dir, size_t per_segment,
                                                 size_t in_memory, uint32_t block_rows,
                                                 uint64_t old_every = 3,
                                                 const index::WordPostingsRule* words = nullptr,
                                                 const index::ValuePostingsRule* values = nullptr);

// The differential tests' shared loops. Inline: only the tests that use them link
// sawmill_segment_testdata.

// Every record of every time, the range unbounded.
inline ExecOptions AllTime() {
  ExecOptions o;
  o.all_time = true;
  o.range = {INT64_MIN, INT64_MAX, false};
  return o;
}

// The smallest and largest ingest_ts of "records".
inline std::pair<int64_t, int64_t> IngestSpan(const std::vector<Record>& records) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const Record& r : records) {
    lo = std::min(lo, r.ingest_ts);
    hi = std::max(hi, r.ingest_ts);
  }
  return {lo, hi};
}

// A random time window over the dataset's first "span_s" seconds, drawn with "gen" (its
// Pick(n)): one time in three AllTime(); else "base" with a range from a random second (plus a
// random millisecond when "sub_second") lasting 1 to 120 minutes, on ingest_ts or (as often) on
// ts.
template <class Gen>
ExecOptions RandomWindow(Gen& gen, int64_t span_s, bool sub_second, ExecOptions base) {
  const int shape = gen.Pick(3);
  if (shape == 0) return AllTime();
  int64_t from = kDatasetStart + gen.Pick(static_cast<int>(span_s)) * kNanosPerSecond;
  if (sub_second) from += gen.Pick(1000) * kNanosPerMilli;
  base.range = {from, from + (1 + gen.Pick(120)) * 60 * kNanosPerSecond, false};
  base.time_field_ts = shape == 2;
  return base;
}

// Runs "check" on every real dataset (segment::testdata::RealFiles(), the first "max_records"
// records of each, tenant "default") under a SCOPED_TRACE of its file; files of fewer than 100
// records are passed over, and at most one may be (else the shared folder lacks datasets).
inline void ForEachRealDataset(size_t max_records,
                               const std::function<void(std::vector<Record>& records)>& check) {
  const std::vector<std::string> files = segment::testdata::RealFiles();
  size_t tested = 0;
  for (const std::string& rel : files) {
    SCOPED_TRACE(rel);
    std::string path = segment::testdata::SharedDir() + "/data/real/" + rel;
    std::vector<Record> records = segment::testdata::LoadRecords(path, max_records);
    if (records.size() < 100) continue;
    for (Record& r : records) r.tenant = "default";
    check(records);
    ++tested;
  }
  EXPECT_GE(tested, files.size() - 1)
      << "datasets missing under " << segment::testdata::SharedDir();
}

}  // namespace sawmill::query::testing
