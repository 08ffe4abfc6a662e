// The storage engine's Prometheus metrics, shared by its parts (flusher, compactor, segment
// registry, engine). Internal to src/storage.
#pragma once

#include <cstdint>

#include "common/metrics.h"

namespace sawmill::storage {

struct StorageMetrics {
  prometheus::Gauge* memtable_bytes;
  prometheus::Gauge* memtable_memory_bytes;
  prometheus::Gauge* memtable_pool_bytes;
  prometheus::Family<prometheus::Gauge>* segments;
  prometheus::Family<prometheus::Gauge>* segment_bytes;
  prometheus::Histogram* flush_seconds;
  prometheus::Histogram* compaction_seconds;
  prometheus::Counter* flushes;
  prometheus::Counter* pressure_flushes;
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
  // Where an Append's time goes (docs/operations.md "Metrics"): by stage, "pace" (waiting for
  // its slot between memtable_cap and 1.5 x it, append_pacer.h), "stall" (waiting at twice the
  // cap), "wal_commit" (the group commit: waiting for the leader, write, fdatasync, and the
  // memtable inserts of the group), "memtable_insert" (inserting one batch, inside its commit).
  prometheus::Histogram* append_pace_seconds;
  prometheus::Histogram* append_stall_seconds;
  prometheus::Histogram* append_wal_commit_seconds;
  prometheus::Histogram* append_memtable_insert_seconds;
  prometheus::Histogram* append_pack_seconds;
  // The flush rate the pacer assumes (memtable bytes per second, all flush threads).
  prometheus::Gauge* flush_drain_bytes_per_second;

  // Registers the metrics on first use. Thread-safe.
  static StorageMetrics& Get();
};

inline double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace sawmill::storage
