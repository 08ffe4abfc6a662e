// The storage engine's Prometheus metrics, shared by its parts (flusher, compactor, segment
// registry, engine). Internal to src/storage.
#pragma once

#include <cstdint>

#include "common/metrics.h"

namespace sawmill::storage {

struct StorageMetrics {
  prometheus::Gauge* memtable_bytes;
  prometheus::Family<prometheus::Gauge>* segments;
  prometheus::Family<prometheus::Gauge>* segment_bytes;
  prometheus::Histogram* flush_seconds;
  prometheus::Histogram* compaction_seconds;
  prometheus::Counter* flushes;
  prometheus::Counter* flush_errors;
  prometheus::Counter* compactions;
  prometheus::Counter* compacted_bytes;
  prometheus::Counter* corrupt_segments;
  prometheus::Gauge* corrupt_registered;
  // Tiers (tier_mover.h): transitions done and failed, by target tier ("warm", "cold"), the
  // bytes they wrote, and replaced segment objects whose deletion failed (left to the sweep).
  prometheus::Family<prometheus::Counter>* tier_transitions;
  prometheus::Family<prometheus::Counter>* tier_transition_failures;
  prometheus::Family<prometheus::Counter>* tier_transition_bytes;
  prometheus::Counter* delete_errors;
  prometheus::Counter* swept_objects;
  // Batches of WAL objects taken over from another node that did not decode (dropped, logged).
  prometheus::Counter* adopted_undecodable;
  prometheus::Counter* flush_fenced;       // segments of a cluster node refused by the fence
  prometheus::Counter* flush_fenced_rows;  // rows of WAL objects another node took over

  // Registers the metrics on first use. Thread-safe.
  static StorageMetrics& Get();
};

inline double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace sawmill::storage
