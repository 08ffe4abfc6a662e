// Test-only: a fixed dataset of real log lines (loghub 2k samples of five systems, read from
// SAWMILL_SHARED_DIR at run time) with deterministic ingest times, hosts and trace ids.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "sawmill/record.h"

namespace sawmill::query::testing {

// 2026-11-30T10:00:00Z: the first record's ingest_ts.
inline constexpr int64_t kDatasetStart = 1'796'032'800LL * kNanosPerSecond;
// Records are 700 ms apart; the fixed "now" of the golden tests: two hours after the start.
inline constexpr int64_t kDatasetNow = kDatasetStart + 2 * 3600 * kNanosPerSecond;

// The shared folder (SAWMILL_SHARED_DIR environment variable, else the compile definition).
std::string SharedDir();

// Records in ingest (seq) order, tenant "default". Empty when the data cannot be read.
std::vector<Record> LoadDataset();

}  // namespace sawmill::query::testing
