#include "storage/storage_metrics.h"

namespace sawmill::storage {

StorageMetrics& StorageMetrics::Get() {
  static StorageMetrics m = [] {
    auto& reg = MetricsRegistry();
    StorageMetrics s;
    s.memtable_bytes = UnlabelledGauge("sawmill_memtable_bytes",
                                       "Bytes of acknowledged records held in memtables");
    s.memtable_memory_bytes =
        UnlabelledGauge("sawmill_memtable_memory_bytes",
                        "Bytes of memory the sealed memtable chunks hold (packed chunks "
                        "compressed; active chunks and copies readers decompress are not counted)");
    s.memtable_pool_bytes =
        UnlabelledGauge("sawmill_memtable_pool_bytes",
                        "Bytes of memory the pooled zstd contexts that pack and unpack memtable "
                        "chunks hold, with their buffers (up to 4 MiB of buffers each)");
    s.segments = &prometheus::BuildGauge()
                      .Name("sawmill_segments")
                      .Help("Registered segments, by tier")
                      .Register(reg);
    s.segment_bytes = &prometheus::BuildGauge()
                           .Name("sawmill_segment_bytes")
                           .Help("Bytes of registered segment files, by tier")
                           .Register(reg);
    const prometheus::Histogram::BucketBoundaries buckets{0.001, 0.005, 0.01, 0.05, 0.1, 0.25,
                                                          0.5,   1,     2.5,  5,    10,  30};
    s.flush_seconds = &prometheus::BuildHistogram()
                           .Name("sawmill_flush_seconds")
                           .Help("Time to write one memtable as a segment and register it")
                           .Register(reg)
                           .Add({}, buckets);
    s.compaction_seconds = &prometheus::BuildHistogram()
                                .Name("sawmill_compaction_seconds")
                                .Help("Time of one compaction (read, merge, write, swap)")
                                .Register(reg)
                                .Add({}, buckets);
    s.flushes = UnlabelledCounter("sawmill_flushes_total", "Memtables written as segments");
    s.pressure_flushes = UnlabelledCounter(
        "sawmill_flushes_under_pressure_total",
        "Flushes started over memtable_cap, their text written at the cheaper zstd "
        "level (compaction rewrites them)");
    s.flush_errors = UnlabelledCounter("sawmill_flush_errors_total",
                                       "Failed flushes (retried; the WAL keeps the records)");
    s.compactions =
        UnlabelledCounter("sawmill_compactions_total", "Compactions that replaced segments");
    s.compacted_bytes = UnlabelledCounter("sawmill_compaction_input_bytes_total",
                                          "Bytes of segments merged by compaction");
    s.corrupt_segments = UnlabelledCounter("sawmill_segments_corrupt_total",
                                           "Segments found corrupt (a failed checksum, an "
                                           "unreadable header or footer, a truncated file)");
    s.corrupt_registered = UnlabelledGauge(
        "sawmill_segments_corrupt",
        "Registered segments in state corrupt (still queried; searches that touch them warn)");
    s.tier_transitions = &prometheus::BuildCounter()
                              .Name("sawmill_tier_transitions_total")
                              .Help("Segments moved to a tier (label tier: the target)")
                              .Register(reg);
    s.tier_transition_failures =
        &prometheus::BuildCounter()
             .Name("sawmill_tier_transition_failures_total")
             .Help("Tier transitions that failed and were undone (label tier: the target)")
             .Register(reg);
    s.tier_transition_bytes =
        &prometheus::BuildCounter()
             .Name("sawmill_tier_transition_bytes_total")
             .Help("Bytes written by tier transitions (label tier: the target)")
             .Register(reg);
    for (const char* tier : {"warm", "cold"}) {
      s.tier_transitions->Add({{"tier", tier}});
      s.tier_transition_failures->Add({{"tier", tier}});
      s.tier_transition_bytes->Add({{"tier", tier}});
    }
    s.delete_errors =
        UnlabelledCounter("sawmill_segment_delete_errors_total",
                          "Replaced segment objects whose deletion failed (the periodic "
                          "reconciliation sweep deletes them later)");
    s.adopted_undecodable =
        UnlabelledCounter("sawmill_adopted_batches_undecodable_total",
                          "Batches of WAL objects taken over from another node that "
                          "did not decode and were dropped");
    s.flush_fenced =
        UnlabelledCounter("sawmill_flush_fenced_total",
                          "Segments a cluster node wrote but could not register because "
                          "another node had taken over WAL objects holding their rows; "
                          "each object was deleted and the flush retried without those rows");
    s.flush_fenced_rows =
        UnlabelledCounter("sawmill_flush_fenced_rows_total",
                          "Memtable rows a cluster node dropped at flush because the WAL "
                          "objects holding them were taken over by another node (which "
                          "stores them)");
    s.swept_objects =
        UnlabelledCounter("sawmill_segment_objects_swept_total",
                          "Superseded segment objects no catalog row names, deleted by the "
                          "periodic reconciliation sweep");
    auto& stages = prometheus::BuildHistogram()
                       .Name("sawmill_append_stage_seconds")
                       .Help(
                           "Time an Append spent by stage: pace (its slot while memtables are "
                           "between memtable_cap and 1.5 x it), stall (memtables at twice the "
                           "cap), wal_commit (group commit including the group's memtable "
                           "inserts), memtable_insert (one batch's insert), pack (compressing the "
                           "memtable chunks it filled that the packer thread had no room for, "
                           "after the commit)")
                       .Register(reg);
    const prometheus::Histogram::BucketBoundaries stage_buckets{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    s.append_pace_seconds = &stages.Add({{"stage", "pace"}}, stage_buckets);
    s.append_stall_seconds = &stages.Add({{"stage", "stall"}}, stage_buckets);
    s.append_wal_commit_seconds = &stages.Add({{"stage", "wal_commit"}}, stage_buckets);
    s.append_memtable_insert_seconds = &stages.Add({{"stage", "memtable_insert"}}, stage_buckets);
    s.append_pack_seconds = &stages.Add({{"stage", "pack"}}, stage_buckets);
    s.flush_drain_bytes_per_second = UnlabelledGauge(
        "sawmill_flush_drain_bytes_per_second",
        "Memtable bytes per second the flush threads are assumed to free (measured per flush, "
        "times the flush threads); Appends past memtable_cap are paced to it");
    return s;
  }();
  return m;
}

}  // namespace sawmill::storage
