// Runs a parsed query over a storage snapshot: memtables and segments, pruned by the planner,
// scanned in parallel on a shared worker pool, merged newest first with early termination.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "query/aggregator.h"
#include "query/ast.h"
#include "query/query_engine.h"
#include "query/worker_pool.h"
#include "storage/engine.h"

namespace sawmill::query {

struct ExecOptions {
  TimeRange range;
  bool all_time = false;
  bool time_field_ts = false;
  size_t limit = 100;  // hits
  bool use_indexes = true;
  uint32_t partitions = 0;  // > 0: prune by partition when service and host are fixed
  uint64_t max_bytes_scanned = UINT64_MAX;
  int64_t deadline_mono_ns = INT64_MAX;  // on clock->MonotonicNanos()
  Clock* clock = nullptr;                // nullptr: Clock::Real()
  WorkerPool* pool = nullptr;            // nullptr: everything on the calling thread
  storage::Engine* engine = nullptr;     // told about corrupt blocks; may be null
};

struct ExecResult {
  std::vector<Record> hits;  // newest first (time field, then ingest_ts, then seq)
  std::vector<Row> rows;     // aggregations and "fields"
  bool is_pipe = false;
  QueryStats stats;
  bool partial = false;
  std::vector<std::string> warnings;
  std::string plan;
};

// Thread-safe; "snapshot" and "query" are only read.
ExecResult Execute(std::shared_ptr<const storage::Snapshot> snapshot,
                   std::shared_ptr<const Query> query, const ExecOptions& options);

// The reference answer: every record of "records" tested one by one, no index, no pruning.
// Differential tests compare Execute() with it.
ExecResult BruteForce(const std::vector<Record>& records, const Query& query,
                      const ExecOptions& options);

}  // namespace sawmill::query
