// Runs a parsed query over a storage snapshot: memtables and segments, pruned by the planner,
// scanned in parallel on a shared worker pool, merged newest first with early termination.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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

// Why a query stopped before it looked at everything it should have.
enum class StopReason {
  kNone,
  kBytes,      // max_bytes_scanned
  kTime,       // deadline_mono_ns
  kCancelled,  // *cancelled became true (the client went away)
};

struct ExecOptions {
  TimeRange range;
  bool all_time = false;
  bool time_field_ts = false;
  size_t limit = 100;  // hits
  bool use_indexes = true;
  // With use_indexes: an aggregation whose filter the index answers exactly (or `*`) reads only
  // the columns it groups by, building no Record (docs/performance.md "Counts and aggregations
  // without records"). false: such blocks are read as records (before/after benchmarks).
  bool columnar = true;
  uint32_t partitions = 0;  // > 0: prune by partition when service and host are fixed
  uint64_t max_bytes_scanned = UINT64_MAX;
  int64_t deadline_mono_ns = INT64_MAX;  // on clock->MonotonicNanos()
  int64_t time_limit_ns = 0;  // the limit the deadline came from, named in the warning; 0: none
  // Read while the query runs; true stops it like the deadline does. May be null; else it must
  // outlive Execute().
  const std::atomic<bool>* cancelled = nullptr;
  Clock* clock = nullptr;             // nullptr: Clock::Real()
  WorkerPool* pool = nullptr;         // nullptr: everything on the calling thread
  storage::Engine* engine = nullptr;  // told about corrupt blocks; may be null
  // Cold-data progress, updated while the query runs; may be null. Must outlive Execute().
  SearchProgress* progress = nullptr;
  // Cluster fan-out (query_engine.h "Cluster fan-out"):
  bool memtables_only = false;  // plan the snapshot's memtables only (a node's part)
  bool keep_groups = false;     // ExecResult::groups holds the unfinished aggregation, no rows
  // Other nodes' parts: run on a thread of its own while this node's part runs; its hits join
  // the newest-first page as they arrive (so segments they make unnecessary are skipped), its
  // groups, counts and warnings are merged before the answer is finished. Null: none.
  std::function<PartAnswer()> remote;
};

struct ExecResult {
  std::vector<Record> hits;  // newest first (time field, then ingest_ts, then seq)
  std::vector<Row> rows;     // aggregations and "fields"
  bool is_pipe = false;
  QueryStats stats;
  bool partial = false;
  StopReason stopped = StopReason::kNone;
  std::vector<std::string> warnings;
  std::string plan;
  AggregateState groups;  // ExecOptions::keep_groups
};

// Limits are checked before each memtable chunk, segment and block, and inside them after at
// most this many rows or this many bytes of text evaluated, whichever comes first: a query
// stops within one row's evaluation of its deadline or of a cancellation.
inline constexpr uint32_t kCheckEveryRows = 256;
inline constexpr uint64_t kCheckEveryBytes = 256 * 1024;

// "60 s", "1.5 s", "250 ms": a time limit as a warning names it.
std::string FormatLimit(int64_t ns);

// Thread-safe; "snapshot" and "query" are only read.
ExecResult Execute(std::shared_ptr<const storage::Snapshot> snapshot,
                   std::shared_ptr<const Query> query, const ExecOptions& options);

// The reference answer: every record of "records" tested one by one, no index, no pruning.
// Differential tests compare Execute() with it.
ExecResult BruteForce(const std::vector<Record>& records, const Query& query,
                      const ExecOptions& options);

}  // namespace sawmill::query
