#include "query/executor.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>
#include <deque>
#include <functional>
#include <numeric>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "query/column_aggregation.h"
#include "query/evaluator.h"
#include "query/planner.h"
#include "query/time_range.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"

namespace sawmill::query {

namespace {

// The tier whose segments are in the cold store (catalog::kTierCold; query does not include
// catalog).
constexpr std::string_view kColdTier = "cold";

// Newest-first order: time field, then ingest_ts, then seq (unique).
struct HitKey {
  int64_t time;
  int64_t ingest;
  uint64_t seq;
  auto operator<=>(const HitKey&) const = default;
};

HitKey KeyOf(const Record& r, bool ts) { return {ts ? r.ts : r.ingest_ts, r.ingest_ts, r.seq}; }

bool InRange(const Record& r, const ExecOptions& o) {
  int64_t t = o.time_field_ts ? r.ts : r.ingest_ts;
  return t >= o.range.from_ns && t < o.range.to_ns;
}

// The rows of "rows" (segment-wide row numbers) that lie in block "info": how many, and which
// (block-relative, ascending, in "*out"; every row of the block when "rows" is null).
uint64_t RowsInBlock(const roaring::Roaring& rows, const segment::BlockInfo& info) {
  if (info.rows == 0) return 0;
  const uint64_t before = info.first_row == 0 ? 0 : rows.rank(info.first_row - 1);
  return rows.rank(info.first_row + info.rows - 1) - before;
}

void SelectBlockRows(const roaring::Roaring* rows, const segment::BlockInfo& info,
                     std::vector<uint32_t>* out) {
  out->clear();
  if (rows == nullptr) {
    out->resize(info.rows);
    for (uint32_t i = 0; i < info.rows; ++i) (*out)[i] = i;
    return;
  }
  const uint64_t n = RowsInBlock(*rows, info);
  if (n == 0) return;
  const uint64_t before = info.first_row == 0 ? 0 : rows->rank(info.first_row - 1);
  out->resize(n);
  rows->rangeUint32Array(out->data(), before, n);
  for (uint32_t& r : *out) r -= info.first_row;
}

// An equality on an id column (trace_id, span_id, user_id) that every match must meet: the
// filter itself, or one condition of its top-level AND. A candidate block is first checked on
// that column alone, read as values, and only its rows holding the value go on to be read as
// records and evaluated: the other rows of the block, and every row of a block that a bloom
// false positive let through, cost one column's decode instead of a record each
// (docs/performance.md "Id lookups").
struct IdEquality {
  uint32_t column = 0;  // the column's bit; 0: the filter has no such condition
  std::string value;
  std::string Record::*member = nullptr;  // the record's field of that column

  // Rows that NarrowById kept hold exactly "value" in the column: their records get it without
  // the column being read (and decoded) a second time.
  void Fill(std::vector<Record>* records) const {
    for (Record& r : *records) r.*member = value;
  }
};

IdEquality IdEqualityOf(const Node& filter) {
  auto of = [](const Node& n) -> IdEquality {
    // An empty value matches no row (an empty id is an absent one): left to the evaluator.
    if (n.kind != NodeKind::kField || n.op != FieldOp::kEq || n.value.empty()) return {};
    switch (n.field) {
      case FieldId::kTraceId: return {segment::kColTraceId, n.value, &Record::trace_id};
      case FieldId::kSpanId: return {segment::kColSpanId, n.value, &Record::span_id};
      case FieldId::kUserId: return {segment::kColUserId, n.value, &Record::user_id};
      default: return {};
    }
  };
  if (filter.kind != NodeKind::kAnd) return of(filter);
  for (const auto& c : filter.children) {
    IdEquality e = of(*c);
    if (e.column != 0) return e;
  }
  return {};
}

// The words and phrases every match holds in its message: the filter itself when it is one, or
// those among the conditions of its top-level AND. A candidate block's messages are tested for
// them first, the message read alone (SegmentReader::KeepRowsWithMessage: a kTimeText block's
// rows on their text as stored, without rendering each row's time back), and only the rows
// holding them go on to be read as records and evaluated. Passes is Evaluate's ContainsWord and
// ContainsPhrase, so no row that matches is dropped.
class MessageNeedles final : public segment::TextTest {
 public:
  // Null when the filter has no such words.
  static std::unique_ptr<MessageNeedles> Of(const Node& filter) {
    auto out = std::make_unique<MessageNeedles>();
    auto add = [&](const Node& n) {
      if ((n.kind != NodeKind::kWord && n.kind != NodeKind::kPhrase) || n.words.empty()) return;
      out->needles_.push_back(&n);
      for (const std::string& w : n.words) {
        if (segment::WordMayBeInTime(w, n.kind == NodeKind::kWord && n.word_prefix)) {
          out->avoids_times_ = false;
        }
      }
    };
    if (filter.kind == NodeKind::kAnd) {
      for (const auto& c : filter.children) add(*c);
    } else {
      add(filter);
    }
    if (out->needles_.empty()) return nullptr;
    return out;
  }

  bool Passes(std::string_view text) const override {
    for (const Node* n : needles_) {
      if (!Holds(*n, text)) return false;
    }
    return true;
  }
  bool AvoidsTimes() const override { return avoids_times_; }
  // A word of neither part nor of the time between them: each needle lies wholly in one part.
  bool PassesAround(std::string_view before, std::string_view after) const override {
    for (const Node* n : needles_) {
      if (!Holds(*n, before) && !Holds(*n, after)) return false;
    }
    return true;
  }

 private:
  static bool Holds(const Node& n, std::string_view text) {
    return n.kind == NodeKind::kWord ? ContainsWord(text, n.words[0], n.word_prefix)
                                     : ContainsPhrase(text, n.words);
  }

  std::vector<const Node*> needles_;  // nodes of the query's filter, which outlives this
  bool avoids_times_ = true;
};

// Moves the columns in "mask" from "src" into "dst".
void MoveColumns(Record&& src, uint32_t mask, Record* dst) {
  for (const segment::BuiltinField& field : segment::kBuiltinFields) {
    if ((mask & field.column_bit) == 0) continue;
    switch (field.type) {
      case segment::FieldType::kTime: dst->*field.time = src.*field.time; break;
      case segment::FieldType::kSequence: dst->seq = src.seq; break;
      case segment::FieldType::kString: dst->*field.text = std::move(src.*field.text); break;
      case segment::FieldType::kLevel: dst->level = src.level; break;
      case segment::FieldType::kFlags: dst->flags = src.flags; break;
      case segment::FieldType::kInternal: break;
    }
  }
  if (mask & segment::kColFields) dst->fields = std::move(src.fields);
}

struct Task {
  const storage::SegmentHandle* segment = nullptr;  // or a memtable chunk:
  const storage::RecordChunk* chunk = nullptr;
  int64_t max_time = INT64_MAX;
};

struct WorkerState {
  std::unique_ptr<Aggregator> agg;
  // The column-only path of the aggregation (ExecOptions::columnar), with its scratch.
  std::optional<ColumnAggregation> by_columns;
  segment::BlockColumns columns;
  std::vector<uint32_t> selected;
  uint64_t listed_blocks = 0;          // blocks read as listed rows (the plan line)
  std::vector<uint32_t> minute_cells;  // BlockFromMinutes: a block's minute counts
  QueryStats stats;
  std::vector<std::string> warnings;
  std::vector<std::string> plan;
  bool partial = false;
  // Work since the last CheckLimits() inside a chunk or block (see kCheckEveryRows).
  uint32_t rows_unchecked = 0;
  uint64_t bytes_unchecked = 0;
};

// The bytes of text a filter may look at in "r": the message and the dynamic fields.
uint64_t TextBytes(const Record& r) {
  uint64_t bytes = r.message.size();
  for (const auto& [name, value] : r.fields) bytes += name.size() + value.size();
  return bytes;
}

// Per group field, each indexed value (as GroupValue gives it) and its postings in one segment.
using GroupPostings = std::vector<std::vector<std::pair<std::string, roaring::Roaring>>>;

class Job {
 public:
  Job(std::shared_ptr<const storage::Snapshot> snapshot, std::shared_ptr<const Query> query,
      const ExecOptions& options)
      : snapshot_(std::move(snapshot)), query_(std::move(query)), options_(options) {
    clock_ = options_.clock ? options_.clock : Clock::Real();
    progress_ = options_.progress != nullptr ? options_.progress : &own_progress_;
    aggregates_ = query_->Aggregates();
    limit_ = HitLimit(*query_, options_.limit);
    newest_ = !aggregates_ && limit_ > 0;
    time_col_ = options_.time_field_ts ? segment::kColTs : segment::kColIngestTs;
    pinned_ = PinnedPartition(*query_->filter, options_.partitions);
    // The record path (columnar off: before/after benchmarks) reads every row as a record.
    if (options_.use_indexes && options_.columnar) {
      id_eq_ = IdEqualityOf(*query_->filter);
      // Only words that cannot be a time's: for the others every row of a kTimeText block
      // is rendered anyway, and testing them twice (here, then Evaluate) cost more than it
      // saved (`"Mozilla/5.0" | count` on the Apache log: 5.5 -> 7.7 ms server CPU;
      // docs/performance.md "Session 16: time-text scans").
      needles_ = MessageNeedles::Of(*query_->filter);
      if (needles_ != nullptr && !needles_->AvoidsTimes()) needles_.reset();
    }
    filter_mask_ =
        ColumnsOf(*query_->filter) | time_col_ | segment::kColIngestTs | segment::kColSeq;
    if (aggregates_) {
      Aggregator probe(query_.get(), options_.time_field_ts);
      filter_mask_ |= probe.columns();
      count_only_ = probe.CountsOnly();
      group_fields_ = probe.GroupFields();
      // A filter on service and level only (or `*`), counted or grouped by service and level:
      // the per-block (service, level) counts of format version 19 answer a whole segment.
      const uint32_t kServiceLevel = segment::kColService | segment::kColLevel;
      service_levels_ok_ = options_.use_indexes && options_.columnar &&
                           (count_only_ || !group_fields_.empty()) &&
                           (ColumnsOf(*query_->filter) & ~kServiceLevel) == 0;
      for (const std::string& f : group_fields_) {
        const FieldId id = FieldIdOf(f);
        if (id != FieldId::kService && id != FieldId::kLevel) service_levels_ok_ = false;
      }
      columnar_ = options_.use_indexes && options_.columnar &&
                  ColumnAggregation::Make(probe, options_.time_field_ts).has_value();
      if (columnar_) {
        // Per-block minute counts (format version 19) answer buckets of whole minutes (aligned
        // to the epoch, as every bucket is; not bucket_end's (t - N, t]) of the levels.
        const int64_t width = probe.BucketWidth();
        minutes_ok_ = ColumnAggregation::Make(probe, options_.time_field_ts)->BucketAndLevels() &&
                      width % index::MinuteCounts::kMinuteNs == 0 &&
                      (width == 0 || probe.BucketFirstTime(0) == 0);
        const std::vector<Aggregator::ColumnKey> keys = *probe.ColumnKeys();
        for (const Aggregator::ColumnKey& k : keys) {
          if (k.bucket) {
            has_bucket_ = true;
          } else {
            key_names_.push_back(*k.name);
          }
        }
      }
    }
  }

  // Builds the task list: memtable chunks, then the segments the planner picks from the
  // snapshot's metadata (time, partition), newest first.
  void Plan() {
    for (const storage::MemtableView& m : snapshot_->memtables) {
      if (pinned_ && m.partition != *pinned_) continue;
      for (const auto& chunk : m.chunks) {
        if (chunk && !chunk->empty()) tasks_.push_back(Task{nullptr, chunk.get(), INT64_MAX});
      }
    }
    if (options_.memtables_only) return;  // a node's part of a cluster query
    SegmentPlanOptions plan_options;
    plan_options.range = options_.range;
    plan_options.time_field_ts = options_.time_field_ts;
    if (options_.use_indexes) plan_options.partition = pinned_;
    SegmentPlan plan = PlanSegments(*snapshot_, plan_options);
    {
      MutexLock lock(&mu_);  // no worker runs yet; taken for the analysis
      totals_.segments_total += plan.total;
      totals_.segments_after_time += plan.segments.size();
    }
    for (uint64_t id : plan.pruned_by_partition) {
      AddPlanLine("segment " + std::to_string(id) + ": pruned by partition");
    }
    locations_ = DescribeLocations(plan);
    for (const PlannedSegment& p : plan.segments) {
      if (newest_) {
        merge_segments_.push_back(p);
      } else {
        tasks_.push_back(Task{p.segment, nullptr, p.max_time});
      }
      if (p.segment->tier == kColdTier) {
        progress_->cold_segments.fetch_add(1, std::memory_order_relaxed);
        progress_->cold_bytes.fetch_add(p.segment->info.file_bytes, std::memory_order_relaxed);
      }
    }
  }

  // Claims and runs tasks until none is left. Safe to call from many threads at once.
  void Work() {
    // Reads of cold segments on this thread count for this query (fetched or from the cache).
    objstore::ScopedColdReadTally cold_reads(&progress_->cold_reads);
    WorkerState ws;
    if (aggregates_) ws.agg = std::make_unique<Aggregator>(query_.get(), options_.time_field_ts);
    if (columnar_) ws.by_columns = ColumnAggregation::Make(*ws.agg, options_.time_field_ts);
    bool claimed_any = false;
    while (true) {
      Claim claim;
      {
        MutexLock lock(&mu_);
        if (!ClaimLocked(&claim)) break;
        ++in_flight_;
        if (!claimed_any) {
          claimed_any = true;
          ++claimed_unmerged_;
        }
      }
      if (claim.kind == Claim::kBlock) {
        ReadQueuedBlock(claim.block, &ws);
      } else if (claim.kind == Claim::kSegment) {
        OpenForMerge(merge_segments_[claim.index], &ws);
      } else if (stop_.load() == StopReason::kNone) {
        const Task& task = tasks_[claim.index];
        if (task.chunk) {
          ScanChunk(*task.chunk, &ws);
        } else {
          ScanSegment(task, &ws);
        }
      }
      MutexLock lock(&mu_);
      --in_flight_;
    }
    if (!claimed_any) return;  // a late helper: nothing to merge, and the answer may be gone
    if (ws.by_columns) ws.by_columns->HandOver(ws.agg.get());
    MutexLock lock(&mu_);
    Add(&totals_, ws.stats);
    if (ws.agg) {
      if (!agg_) {
        agg_ = std::move(ws.agg);
      } else {
        agg_->Merge(*ws.agg);
      }
    }
    for (auto& w : ws.warnings) warnings_.push_back(std::move(w));
    for (auto& p : ws.plan) AddPlanLineLocked(std::move(p));
    partial_ = partial_ || ws.partial;
    --claimed_unmerged_;
    done_cv_.NotifyAll();
  }

  // Runs on the calling thread plus up to pool size helpers; returns when all is merged.
  ExecResult Run(std::shared_ptr<Job> self) {
    int64_t start = clock_->MonotonicNanos();
    Plan();
    // Other nodes' parts (cluster fan-out), asked while this node's part runs.
    std::thread remote;
    if (options_.remote) remote = std::thread([this] { MergeRemote(options_.remote()); });
    const size_t units = tasks_.size() + merge_segments_.size();
    if (options_.pool != nullptr && units > 1) {
      unsigned helpers =
          std::min<unsigned>(options_.pool->size(), static_cast<unsigned>(units - 1));
      for (unsigned i = 0; i < helpers; ++i) {
        options_.pool->Submit([self] { self->Work(); });
      }
    }
    Work();
    {
      // Every claimed task finished and merged. Helpers that start later find nothing to
      // claim and touch nothing but mu_ and next_.
      UniqueLock lock(&mu_);
      while (next_ < tasks_.size() || in_flight_ != 0 || claimed_unmerged_ != 0) {
        done_cv_.Wait(&lock);
      }
    }
    if (remote.joinable()) remote.join();
    return Finish(start);
  }

 private:
  static void Add(QueryStats* to, const QueryStats& s) {
    to->segments_after_index += s.segments_after_index;
    to->segments_after_bloom += s.segments_after_bloom;
    to->segments_pruned_by_index += s.segments_pruned_by_index;
    to->segments_not_needed += s.segments_not_needed;
    to->blocks_total += s.blocks_total;
    to->blocks_read += s.blocks_read;
    to->bytes_read_compressed += s.bytes_read_compressed;
    to->bytes_read_raw += s.bytes_read_raw;
    to->rows_scanned += s.rows_scanned;
    to->rows_matched += s.rows_matched;
    to->memtable_rows_scanned += s.memtable_rows_scanned;
    to->rows_counted_from_index += s.rows_counted_from_index;
    to->rows_from_columns += s.rows_from_columns;
  }

  // Other nodes' part of the answer (ExecOptions::remote).
  void MergeRemote(PartAnswer part) {
    if (!aggregates_ && limit_ > 0) Offer(&part.hits);
    MutexLock lock(&mu_);
    if (aggregates_) {
      if (!agg_) agg_ = std::make_unique<Aggregator>(query_.get(), options_.time_field_ts);
      agg_->Import(part.groups);
    }
    totals_.rows_scanned += part.stats.rows_scanned;
    totals_.rows_matched += part.stats.rows_matched;
    totals_.memtable_rows_scanned += part.stats.memtable_rows_scanned;
    for (auto& w : part.warnings) warnings_.push_back(std::move(w));
    partial_ = partial_ || part.partial;
  }

  void AddPlanLine(std::string line) {
    MutexLock lock(&mu_);
    AddPlanLineLocked(std::move(line));
  }
  void AddPlanLineLocked(std::string line) REQUIRES(mu_) {
    if (plan_lines_.size() < 200) plan_lines_.push_back(std::move(line));
  }

  bool CheckLimits(WorkerState* ws) {
    StopReason reason = stop_.load();
    if (reason == StopReason::kNone) {
      if (options_.cancelled != nullptr && options_.cancelled->load(std::memory_order_relaxed)) {
        reason = StopReason::kCancelled;
      } else if (bytes_read_.load() >= options_.max_bytes_scanned) {
        reason = StopReason::kBytes;
      } else if (clock_->MonotonicNanos() > options_.deadline_mono_ns) {
        reason = StopReason::kTime;
      }
      if (reason != StopReason::kNone) {
        StopReason expected = StopReason::kNone;
        stop_.compare_exchange_strong(expected, reason);
      }
    }
    if (reason != StopReason::kNone) ws->partial = true;
    return reason == StopReason::kNone;
  }

  // Called after each row evaluated inside a chunk or block: checks the limits every
  // kCheckEveryRows rows or kCheckEveryBytes bytes of text. False: stop scanning.
  bool CheckLimitsAfterRow(const Record& r, WorkerState* ws) {
    ws->bytes_unchecked += TextBytes(r);
    if (++ws->rows_unchecked < kCheckEveryRows && ws->bytes_unchecked < kCheckEveryBytes) {
      return true;
    }
    ws->rows_unchecked = 0;
    ws->bytes_unchecked = 0;
    return CheckLimits(ws);
  }

  // Current top-K threshold: a record whose key is below it cannot be a hit.
  bool Admissible(const HitKey& key) {
    MutexLock lock(&heap_mu_);
    return heap_.size() < limit_ || key > KeyOf(heap_.front(), options_.time_field_ts);
  }
  bool Exhausted(int64_t max_time) {
    MutexLock lock(&heap_mu_);
    return heap_.size() >= limit_ && max_time < KeyOf(heap_.front(), options_.time_field_ts).time;
  }

  void Offer(std::vector<Record>* matched) {
    if (matched->empty()) return;
    MutexLock lock(&heap_mu_);
    auto greater = [&](const Record& a, const Record& b) {
      return KeyOf(a, options_.time_field_ts) > KeyOf(b, options_.time_field_ts);
    };
    for (Record& r : *matched) {
      if (heap_.size() < limit_) {
        heap_.push_back(std::move(r));
        std::push_heap(heap_.begin(), heap_.end(), greater);
      } else if (greater(r, heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), greater);
        heap_.back() = std::move(r);
        std::push_heap(heap_.begin(), heap_.end(), greater);
      }
    }
    matched->clear();
  }

  // Counts and evaluates one row: a hit goes to the aggregator, or is reported (true) when the
  // newest-first page may still take it.
  bool Consider(const Record& r, WorkerState* ws) {
    ++ws->stats.rows_scanned;
    if (!InRange(r, options_) || !Evaluate(*query_->filter, r)) return false;
    ++ws->stats.rows_matched;
    if (ws->agg) {
      ws->agg->Add(r);
      return false;
    }
    return limit_ > 0 && Admissible(KeyOf(r, options_.time_field_ts));
  }

  void ScanChunk(const storage::RecordChunk& chunk, WorkerState* ws) {
    if (!CheckLimits(ws)) return;
    std::vector<Record> matched;
    for (const Record& r : chunk) {
      ++ws->stats.memtable_rows_scanned;
      if (Consider(r, ws)) matched.push_back(r);
      if (!CheckLimitsAfterRow(r, ws)) break;
    }
    Offer(&matched);
  }

  // What is known of a segment before any of its blocks is read: its reader and the rows its
  // index allows (nullopt: every row is a candidate).
  struct SegmentScan {
    std::shared_ptr<segment::SegmentReader> reader;
    std::optional<roaring::Roaring> rows;
    bool exact = false;  // "rows" is exactly the rows the filter matches (time aside)
    // A plain count whose filter is a word too frequent to post: the matching rows of each
    // block (BlockCounts), checked against the block list.
    std::optional<std::vector<uint32_t>> block_counts;
    // A may-match question of the segment's index kinds failed to read (named): every block
    // that the rest leaves is read.
    bool kinds_unreadable = false;
    // The index kinds whose damage or failed read this search warned of for the segment
    // (IndexUnreadable), by the kind (the error's subject, else its message) and the code: once
    // each, however many questions meet it.
    std::set<std::pair<std::string, StatusCode>> warned;
  };

  void ScanSegment(const Task& task, WorkerState* ws) {
    const storage::SegmentHandle& h = *task.segment;
    // However the scan ends (read, pruned, skipped, failed), a cold segment is then done.
    struct ColdDone {
      std::atomic<uint64_t>* read;
      ~ColdDone() {
        if (read != nullptr) read->fetch_add(1, std::memory_order_relaxed);
      }
    } cold_done{h.tier == kColdTier ? &progress_->cold_segments_read : nullptr};
    std::string name = "segment " + std::to_string(h.info.id);
    if (!aggregates_ && Exhausted(task.max_time)) {
      ++ws->stats.segments_not_needed;
      ws->plan.push_back(name + ": skipped, the newest hits are already found");
      return;
    }
    SegmentScan scan;
    if (!OpenSegment(h, name, ws, &scan)) return;
    const segment::SegmentReader& reader = *scan.reader;
    const std::vector<segment::BlockInfo>& blocks = reader.blocks();
    std::optional<roaring::Roaring>& rows = scan.rows;
    const bool exact = scan.exact;
    const std::vector<uint32_t> order = CandidateBlocks(h, ws, &scan);
    auto block_max = [&](uint32_t b) {
      return options_.time_field_ts ? blocks[b].max_ts : blocks[b].max_ingest_ts;
    };
    uint32_t first_mask = filter_mask_;
    uint32_t rest_mask = segment::kColAll & ~first_mask;
    uint64_t read_here = 0;
    std::vector<Record> block_rows, rest_rows, matched;
    uint64_t counted_here = 0;
    uint64_t columns_here = 0;
    // Every matching row of a block is known without evaluating the filter: the aggregation
    // reads only its columns (and the time column when the block is cut by the time range).
    const bool by_columns = ws->by_columns && (exact || query_->filter->kind == NodeKind::kAll);
    // The rows a block aggregates from its columns: null for every row (`*`).
    const roaring::Roaring* column_rows =
        exact && query_->filter->kind != NodeKind::kAll ? &*rows : nullptr;
    std::optional<GroupPostings> block_groups;  // BlockFromPostings, loaded on first use
    // Loading the group fields' postings decodes them for the whole segment: per-block
    // statistics are used only when the blocks they can answer hold a good part of its rows;
    // a few such blocks (the short last block of a segment inside one minute) are read as
    // columns instead.
    bool block_groups_loaded = !by_columns || !BlockStatisticsPay(reader, order, ws);
    // The segment's minute counts (format version 19), loaded on first use.
    std::shared_ptr<const index::MinuteCounts> minutes;
    bool minutes_loaded = !by_columns || !minutes_ok_;
    uint64_t minutes_here = 0;
    const uint64_t listed_before = ws->listed_blocks;
    for (uint32_t b : order) {
      if (!aggregates_ && Exhausted(block_max(b))) continue;
      if (!CheckLimits(ws)) break;
      const segment::BlockInfo& info = blocks[b];
      if (scan.block_counts &&
          Within(info.min_ts, info.max_ts, info.min_ingest_ts, info.max_ingest_ts)) {
        // The block's matching rows are its count; only blocks the time range cuts are read.
        const uint64_t n = (*scan.block_counts)[b];
        CountFromIndex(n, ws);
        counted_here += n;
        continue;
      }
      if (exact && count_only_ &&
          Within(info.min_ts, info.max_ts, info.min_ingest_ts, info.max_ingest_ts)) {
        // The block's matching rows are the postings in its row range.
        const uint64_t n = RowsInBlock(*rows, info);
        CountFromIndex(n, ws);
        counted_here += n;
        continue;
      }
      if (!minutes_loaded || minutes != nullptr) {
        if (BlockFromMinutes(h, name, reader, b, column_rows, &minutes, &minutes_loaded, ws, &scan,
                             &counted_here)) {
          ++minutes_here;
          continue;
        }
      }
      Status groups_failed;
      if (by_columns &&
          BlockFromPostings(reader, info, column_rows, &block_groups, &block_groups_loaded, ws,
                            &counted_here, &groups_failed)) {
        continue;
      }
      if (!groups_failed.ok()) {
        IndexUnreadable(h, name + ": index", groups_failed, ws, &scan,
                        "reading the blocks instead");
      }
      if (by_columns) {
        ColumnsResult done = AggregateColumns(h, reader, b, column_rows, ws);
        if (done == ColumnsResult::kCorrupt) {
          ++read_here;
          continue;
        }
        if (done == ColumnsResult::kDone) {
          ++read_here;
          ++columns_here;
          continue;
        }
      }
      block_rows.clear();
      ++read_here;
      ++ws->stats.blocks_read;  // row blocks; the reader counts one per column block
      // With an id equality, or words every match holds (and no exact rows), only the rows
      // holding the id and the words become records.
      const bool by_id = id_eq_.column != 0 && !exact;
      const bool by_text = needles_ != nullptr && !exact && (first_mask & segment::kColMessage);
      const bool by_rows = by_id || by_text;
      std::vector<uint32_t> id_rows;      // by_rows: the rows read, block-relative, ascending
      std::vector<std::string> messages;  // by_text: their messages
      if (by_rows) {
        SelectBlockRows(rows ? &*rows : nullptr, info, &id_rows);
        if (!NarrowById(h, reader, b, &id_rows, ws) || id_rows.empty()) continue;
        if (by_text && (!NarrowByText(h, reader, b, &id_rows, &messages, ws) || id_rows.empty())) {
          continue;
        }
      }
      // The columns the narrowing read: their records get them without a second read.
      const uint32_t known =
          (by_id ? id_eq_.column : 0) | (by_text ? uint32_t{segment::kColMessage} : 0);
      segment::ReadStats rs;
      Status st = by_rows ? reader.ReadRows(b, first_mask & ~known, id_rows, &block_rows, &rs)
                          : reader.ReadBlock(b, first_mask, &block_rows, &rs);
      Account(rs, ws);
      if (st.ok() && by_rows && block_rows.size() != id_rows.size()) {
        st = Status::DataLoss("row count differs between columns");
      }
      if (!st.ok()) {
        CorruptBlock(h, b, st, ws);
        continue;
      }
      if (by_id && (first_mask & id_eq_.column) != 0) id_eq_.Fill(&block_rows);
      if (by_text) FillMessages(&messages, &block_rows);
      const segment::BlockInfo& bi = blocks[b];
      auto row_of = [&](uint32_t i) { return by_rows ? id_rows[i] : i; };
      std::vector<uint32_t> hit_index;
      for (uint32_t i = 0; i < block_rows.size(); ++i) {
        if (rows && !rows->contains(bi.first_row + row_of(i))) continue;
        const Record& r = block_rows[i];
        if (Consider(r, ws)) hit_index.push_back(i);
        // The hits found so far in this block are still kept (they are real hits); the next
        // CheckLimits() before a block stops the segment.
        if (!CheckLimitsAfterRow(r, ws)) break;
      }
      if (hit_index.empty()) continue;
      if (rest_mask != 0) {
        rest_rows.clear();
        segment::ReadStats rs2;
        Status st2 = by_rows ? reader.ReadRows(b, rest_mask, id_rows, &rest_rows, &rs2)
                             : reader.ReadBlock(b, rest_mask, &rest_rows, &rs2);
        Account(rs2, ws);
        if (!st2.ok() || rest_rows.size() != block_rows.size()) {
          CorruptBlock(h, b, st2.ok() ? Status::DataLoss("row count differs between columns") : st2,
                       ws);
          continue;
        }
        for (uint32_t i : hit_index)
          MoveColumns(std::move(rest_rows[i]), rest_mask, &block_rows[i]);
      }
      for (uint32_t i : hit_index) matched.push_back(std::move(block_rows[i]));
      Offer(&matched);
    }
    ws->plan.push_back(
        name + " (partition " + std::to_string(h.info.partition) + ", " +
        std::to_string(h.info.rows) + " rows): " + std::to_string(read_here) + " of " +
        std::to_string(blocks.size()) + " blocks read" +
        (rows ? ", index narrowed to " + std::to_string(rows->cardinality()) + " rows" : "") +
        (counted_here > 0 ? ", " + std::to_string(counted_here) + " counted from the index" : "") +
        (columns_here > 0 ? ", " + std::to_string(columns_here) + " read as columns only" : "") +
        (ws->listed_blocks > listed_before
             ? " (" + std::to_string(ws->listed_blocks - listed_before) +
                   " of their listed rows only)"
             : "") +
        (minutes_here > 0 ? ", " + std::to_string(minutes_here) + " from minute counts" : ""));
  }

  // Opens segment "h" ("name" in the plan) and asks its index which rows may match. False when
  // nothing more is to be read from it: pruned by the index or the blooms, counted from the
  // index, unreadable, or the query stopped (the plan line and the stats are written).
  bool OpenSegment(const storage::SegmentHandle& h, const std::string& name, WorkerState* ws,
                   SegmentScan* scan) {
    if (!CheckLimits(ws)) return false;
    Result<std::shared_ptr<segment::SegmentReader>> opened = h.open();
    if (!opened.ok()) {
      if (Retired(h, opened.status())) {
        ws->plan.push_back(name + ": deleted by retention meanwhile (its lines expired), skipped");
        return false;
      }
      ws->partial = true;
      ws->warnings.push_back(name +
                             " could not be read and was skipped: " + opened.status().ToString());
      return false;
    }
    scan->reader = *opened;
    const segment::SegmentReader& reader = *scan->reader;
    const std::vector<segment::BlockInfo>& blocks = reader.blocks();
    std::optional<roaring::Roaring>& rows = scan->rows;
    bool& exact = scan->exact;  // "rows" is exactly the rows the filter matches (time aside)
    if (service_levels_ok_ &&
        Within(h.info.min_ts, h.info.max_ts, h.info.min_ingest_ts, h.info.max_ingest_ts) &&
        FromServiceLevels(h, name, reader, ws, scan)) {
      return false;
    }
    if (options_.use_indexes) {
      // A condition whose index is damaged is reported and cannot tell; an AND's others still
      // narrow the rows.
      IndexAnswer index = EvaluateIndex(*query_->filter, reader);
      if (!index.damage.ok()) IndexUnreadable(h, name + ": index", index.damage, ws, scan);
      rows = std::move(index.rows);
      exact = rows.has_value() && index.exact;
      if ((count_only_ || !group_fields_.empty()) && query_->filter->kind == NodeKind::kAll) {
        // `* | count`: every row matches; the count is the row count.
        rows.emplace();
        rows->addRange(0, h.info.rows);
        exact = true;
      }
      if (rows && rows->isEmpty()) {
        ++ws->stats.segments_pruned_by_index;
        ws->plan.push_back(name + ": pruned by the inverted index");
        return false;
      }
      ++ws->stats.segments_after_index;
      if (!rows && count_only_) LoadBlockCounts(h, reader, name, ws, scan);
      if (scan->block_counts &&
          Within(h.info.min_ts, h.info.max_ts, h.info.min_ingest_ts, h.info.max_ingest_ts)) {
        // A word too frequent to post, in a segment wholly inside the time range: the sum of its
        // counts per block.
        uint64_t total = 0;
        for (uint32_t n : *scan->block_counts) total += n;
        ++ws->stats.segments_after_bloom;
        ws->stats.blocks_total += blocks.size();
        CountFromIndex(total, ws);
        ws->plan.push_back(name + " (partition " + std::to_string(h.info.partition) + ", " +
                           std::to_string(h.info.rows) + " rows): counted from the index's " +
                           "counts per block, " + std::to_string(total) + " rows, 0 blocks read");
        return false;
      }
      // A plain count whose filter the index answers exactly needs no row of the segment when
      // the segment lies wholly inside the time range: the count is the postings' cardinality.
      if (exact && count_only_ &&
          Within(h.info.min_ts, h.info.max_ts, h.info.min_ingest_ts, h.info.max_ingest_ts)) {
        ++ws->stats.segments_after_bloom;
        ws->stats.blocks_total += blocks.size();
        CountFromIndex(rows->cardinality(), ws);
        ws->plan.push_back(name + " (partition " + std::to_string(h.info.partition) + ", " +
                           std::to_string(h.info.rows) + " rows): counted from the index, " +
                           std::to_string(rows->cardinality()) + " rows, 0 blocks read");
        return false;
      }
      // The same for `count by`, `top` and `uniq` of indexed built-in fields: each group's count
      // is the size of the intersection of the filter's rows with its values' postings.
      std::vector<std::pair<std::vector<std::string>, uint64_t>> groups;
      Status groups_failed;
      if (exact && !group_fields_.empty() &&
          Within(h.info.min_ts, h.info.max_ts, h.info.min_ingest_ts, h.info.max_ingest_ts) &&
          GroupsFromIndex(reader, *rows, &groups, &groups_failed)) {
        ++ws->stats.segments_after_bloom;
        ws->stats.blocks_total += blocks.size();
        uint64_t total = 0;
        for (const auto& [values, n] : groups) {
          ws->agg->AddGroupCount(values, static_cast<int64_t>(n));
          total += n;
        }
        ws->stats.rows_matched += total;
        ws->stats.rows_counted_from_index += total;
        ws->plan.push_back(
            name + " (partition " + std::to_string(h.info.partition) + ", " +
            std::to_string(h.info.rows) + " rows): " + std::to_string(groups.size()) +
            " groups counted from the index, " + std::to_string(total) + " rows, 0 blocks read");
        return false;
      }
      if (!groups_failed.ok()) IndexUnreadable(h, name + ": index", groups_failed, ws, scan);
      if (!MayMatch(h, reader, -1, ws, scan)) {
        ws->plan.push_back(name + ": pruned by blooms");
        return false;
      }
      ++ws->stats.segments_after_bloom;
    } else {
      ++ws->stats.segments_after_index;
      ++ws->stats.segments_after_bloom;
    }
    ws->stats.blocks_total += blocks.size();
    return true;
  }

  // (Format version 19) A segment wholly inside the time range, the filter on service and
  // level only, counted or grouped by service and level: each (service, level) of the
  // segment's per-block counts (index/index_kind.h ServiceLevelCounts) is summed, tested with
  // the filter as a record holding only that service and level (and the segment's tenant)
  // would be, and added as its groups' count, decoding no postings. False, having added
  // nothing, when the segment has no such counts (older versions), they are damaged (a
  // warning naming where) or nothing matches (the postings then prune the segment as before).
  bool FromServiceLevels(const storage::SegmentHandle& h, const std::string& name,
                         const segment::SegmentReader& reader, WorkerState* ws, SegmentScan* scan) {
    Result<std::shared_ptr<const index::ServiceLevelCounts>> got = reader.BlockServiceLevels();
    if (!got.ok()) {
      IndexUnreadable(h, name + ": service and level counts", got.status(), ws, scan,
                      "using the index instead");
      return false;
    }
    const index::ServiceLevelCounts* counts = got->get();
    if (counts == nullptr) return false;
    std::vector<uint64_t> sums(counts->services.size() * kLevelCount, 0);
    for (const index::ServiceLevelCounts::Cell& c : counts->cells) {
      sums[c.service * kLevelCount + c.level] += c.count;
    }
    Record r;
    r.tenant = h.info.tenant;
    std::vector<std::string> values(group_fields_.size());
    uint64_t total = 0, groups = 0;
    for (size_t i = 0; i < sums.size(); ++i) {
      if (sums[i] == 0) continue;
      r.service = counts->services[i / kLevelCount];
      r.level = static_cast<Level>(i % kLevelCount);
      if (!Evaluate(*query_->filter, r)) continue;
      total += sums[i];
      ++groups;
      if (count_only_) {
        ws->agg->AddCount(static_cast<int64_t>(sums[i]));
        continue;
      }
      for (size_t f = 0; f < group_fields_.size(); ++f) values[f] = GroupValue(r, group_fields_[f]);
      ws->agg->AddGroupCount(values, static_cast<int64_t>(sums[i]));
    }
    if (total == 0) return false;
    ++ws->stats.segments_after_index;
    ++ws->stats.segments_after_bloom;
    ws->stats.blocks_total += reader.blocks().size();
    ws->stats.rows_matched += total;
    ws->stats.rows_counted_from_index += total;
    ws->plan.push_back(name + " (partition " + std::to_string(h.info.partition) + ", " +
                       std::to_string(h.info.rows) + " rows): " + std::to_string(groups) +
                       " service and level counts, " + std::to_string(total) +
                       " rows, 0 blocks read");
    return true;
  }

  // Sets scan->block_counts when the filter is a word the segment counts per block (BlockCounts)
  // and the counts agree with the block list; otherwise the blocks are read as before.
  void LoadBlockCounts(const storage::SegmentHandle& h, const segment::SegmentReader& reader,
                       const std::string& name, WorkerState* ws, SegmentScan* scan) {
    Result<std::optional<std::vector<uint32_t>>> counts = BlockCounts(*query_->filter, reader);
    if (!counts.ok()) {
      IndexUnreadable(h, name + ": index counts", counts.status(), ws, scan);
      return;
    }
    if (!*counts) return;
    const std::vector<segment::BlockInfo>& blocks = reader.blocks();
    bool fits = (*counts)->size() == blocks.size();
    for (size_t b = 0; fits && b < blocks.size(); ++b) fits = (**counts)[b] <= blocks[b].rows;
    if (!fits) {
      ws->warnings.push_back(name + ": index counts do not fit the block list, scanning instead");
      return;
    }
    scan->block_counts = std::move(*counts);
  }

  // Whether the segment's index kinds leave "block" (-1: the segment) a match (KindsMayMatch).
  // A condition whose question meets damage (DataLoss) is reported as the index's
  // (IndexUnreadable: the segment marked corrupt, one warning) and is "maybe", while the others
  // still prune (session 23): the reader keeps the damage, so asking again for the next block
  // costs nothing. A failed read (IOError, Unavailable) is named and the kinds are asked nothing
  // more of the segment (each question would read again): its blocks are read.
  bool MayMatch(const storage::SegmentHandle& h, const segment::SegmentReader& reader,
                int64_t block, WorkerState* ws, SegmentScan* scan) {
    if (scan->kinds_unreadable) return true;
    Status damage;
    const bool may = KindsMayMatch(*query_->filter, reader, block, &damage);
    if (damage.ok()) return may;
    IndexUnreadable(h, "segment " + std::to_string(h.info.id) + ": index", damage, ws, scan);
    if (damage.IsDataLoss()) return may;
    scan->kinds_unreadable = true;
    return true;
  }

  // The blocks of an opened segment that may hold matches, newest first. The time range is
  // pruned with and without indexes.
  std::vector<uint32_t> CandidateBlocks(const storage::SegmentHandle& h, WorkerState* ws,
                                        SegmentScan* scan) {
    const segment::SegmentReader& reader = *scan->reader;
    const std::vector<segment::BlockInfo>& blocks = reader.blocks();
    const std::optional<roaring::Roaring>& rows = scan->rows;
    const index::FieldPredicate time_predicate =
        TimePredicate(options_.range, options_.time_field_ts);
    std::vector<uint32_t> order;
    for (uint32_t b = 0; b < blocks.size(); ++b) {
      const segment::BlockInfo& bi = blocks[b];
      // (The block list's times: read with the footer, never damaged here.)
      if (!reader.BlockMayMatch(b, time_predicate).value_or(true)) continue;
      if (rows && bi.rows > 0 && RowsInBlock(*rows, bi) == 0) continue;
      if (scan->block_counts && (*scan->block_counts)[b] == 0) continue;
      if (options_.use_indexes && !MayMatch(h, reader, static_cast<int64_t>(b), ws, scan)) {
        continue;
      }
      order.push_back(b);
    }
    auto block_max = [&](uint32_t b) {
      return options_.time_field_ts ? blocks[b].max_ts : blocks[b].max_ingest_ts;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return block_max(a) > block_max(b); });
    return order;
  }

  // The newest-first merge of a search for hits (newest_). Segments are opened in the plan's
  // order (newest first), each only once it may hold a block newer than every block already
  // queued; the candidate blocks of all open segments are read newest first across segments,
  // and a block (or a segment) whose newest time is older than the page's oldest hit, once the
  // page is full, is not read. So a page of the newest 100 reads the blocks that hold them, and
  // the blocks of the other segments that overlap them in time, however many segments and
  // blocks hold older matches. Which worker reads which block changes only the work, never the
  // answer: every skip is proven by the hits already found.
  struct OpenedSegment {
    const storage::SegmentHandle* handle = nullptr;
    // Released (reader and rows) once each queued block is read or skipped, so the query holds
    // only the segments its merge has not finished, not every segment it opened.
    SegmentScan scan;
    std::atomic<uint32_t> pending{0};  // queued blocks not yet read or skipped
    std::atomic<uint32_t> read{0}, not_needed{0};
    // For the plan line, kept after the release.
    size_t blocks = 0;
    std::optional<uint64_t> narrowed;  // the rows the index allowed, when it narrowed them
  };
  struct QueuedBlock {
    int64_t max_time = 0;  // the block's newest time on the query's time field
    OpenedSegment* segment = nullptr;
    uint32_t block = 0;
    bool operator<(const QueuedBlock& o) const { return max_time < o.max_time; }
  };
  struct Claim {
    enum Kind { kTask, kSegment, kBlock } kind = kTask;
    size_t index = 0;  // tasks_ (kTask) or merge_segments_ (kSegment)
    QueuedBlock block;
  };

  // The next piece of work: a memtable chunk or a planned task, else (newest_) the next segment to
  // open when it may hold something newer than the newest queued block, else that block. False
  // when none is left or the query stopped.
  bool ClaimLocked(Claim* claim) REQUIRES(mu_) {
    if (next_ < tasks_.size()) {
      claim->kind = Claim::kTask;
      claim->index = next_++;
      return true;
    }
    if (!newest_) return false;
    if (stop_.load() != StopReason::kNone) {
      frontier_.clear();
      next_segment_ = merge_segments_.size();
      return false;
    }
    if (next_segment_ < merge_segments_.size() &&
        (frontier_.empty() ||
         merge_segments_[next_segment_].max_time >= frontier_.front().max_time)) {
      claim->kind = Claim::kSegment;
      claim->index = next_segment_++;
      return true;
    }
    if (frontier_.empty()) return false;
    std::pop_heap(frontier_.begin(), frontier_.end());
    claim->kind = Claim::kBlock;
    claim->block = frontier_.back();
    frontier_.pop_back();
    return true;
  }

  // A cold segment of the merge is done once each of its queued blocks is read or skipped.
  // The last one releases the segment: no worker reads it any more.
  void BlockDone(OpenedSegment* s) {
    if (s->pending.fetch_sub(1) != 1) return;
    s->scan = SegmentScan();
    if (s->handle->tier == kColdTier) {
      progress_->cold_segments_read.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void OpenForMerge(const PlannedSegment& p, WorkerState* ws) {
    const storage::SegmentHandle& h = *p.segment;
    const std::string name = "segment " + std::to_string(h.info.id);
    auto cold_done = [&] {
      if (h.tier == kColdTier)
        progress_->cold_segments_read.fetch_add(1, std::memory_order_relaxed);
    };
    if (Exhausted(p.max_time)) {
      ++ws->stats.segments_not_needed;
      ws->plan.push_back(name + ": skipped, the newest hits are already found");
      cold_done();
      return;
    }
    SegmentScan scan;
    if (!OpenSegment(h, name, ws, &scan)) {
      cold_done();
      return;
    }
    const std::vector<uint32_t> order = CandidateBlocks(h, ws, &scan);
    if (order.empty()) {
      ws->plan.push_back(
          name + " (partition " + std::to_string(h.info.partition) + ", " +
          std::to_string(h.info.rows) + " rows): 0 of " +
          std::to_string(scan.reader->blocks().size()) + " blocks read" +
          (scan.rows ? ", index narrowed to " + std::to_string(scan.rows->cardinality()) + " rows"
                     : ""));
      cold_done();
      return;
    }
    const std::vector<segment::BlockInfo>& blocks = scan.reader->blocks();
    MutexLock lock(&mu_);
    OpenedSegment& s = opened_.emplace_back();
    s.handle = &h;
    s.scan = std::move(scan);
    s.pending = static_cast<uint32_t>(order.size());
    s.blocks = blocks.size();
    if (s.scan.rows) s.narrowed = s.scan.rows->cardinality();
    for (uint32_t b : order) {
      frontier_.push_back(
          QueuedBlock{options_.time_field_ts ? blocks[b].max_ts : blocks[b].max_ingest_ts, &s, b});
      std::push_heap(frontier_.begin(), frontier_.end());
    }
  }

  void ReadQueuedBlock(const QueuedBlock& q, WorkerState* ws) {
    OpenedSegment* s = q.segment;
    if (Exhausted(q.max_time)) {
      ++s->not_needed;
    } else if (CheckLimits(ws)) {
      ++s->read;
      ReadBlockHits(*s, q.block, ws);
    }
    BlockDone(s);
  }

  // The page's oldest hit once it holds limit_ hits: a row must be newer to join it.
  std::optional<HitKey> PageFloor() {
    MutexLock lock(&heap_mu_);
    if (heap_.size() < limit_) return std::nullopt;
    return KeyOf(heap_.front(), options_.time_field_ts);
  }

  // Offers the rows of block "b" that match and may be among the newest limit_ to the page, as
  // records of every column; no other row becomes a record. First only the time, ingest_ts and
  // seq columns are read, for the rows the index allows (its postings in the block, or every
  // row): a row outside the time range, or not newer than the page's oldest hit once the page is
  // full, is dropped before anything else of it is decoded. When the index answers the filter
  // exactly, the rows left match: every column is read for the newest limit_ of them. Otherwise
  // the filter's columns are read for the rows left, the filter evaluated, and the other columns
  // read for the rows that match.
  void ReadBlockHits(const OpenedSegment& s, uint32_t b, WorkerState* ws) {
    const storage::SegmentHandle& h = *s.handle;
    const segment::SegmentReader& reader = *s.scan.reader;
    const segment::BlockInfo& info = reader.blocks()[b];
    const std::optional<roaring::Roaring>& rows = s.scan.rows;
    ++ws->stats.blocks_read;         // row blocks; the reader counts one per column block
    std::vector<uint32_t> selected;  // candidate rows, block-relative, ascending
    SelectBlockRows(rows ? &*rows : nullptr, info, &selected);
    if (!s.scan.exact && !NarrowById(h, reader, b, &selected, ws)) return;
    if (selected.empty()) return;
    const uint32_t key_mask = time_col_ | segment::kColIngestTs | segment::kColSeq;
    segment::ReadStats rs;
    // The keys of the rows before the last candidate only: a delta-coded column (ts, ingest_ts)
    // is decoded no further (a rare word's one row in a block: half the block on average).
    // (A search narrowed by its words tests the whole message block against the block's ts:
    // every row's are read for it.)
    const bool whole_ts =
        !s.scan.exact && needles_ != nullptr && (filter_mask_ & segment::kColMessage) != 0;
    const uint32_t through = whole_ts ? info.rows : selected.back() + 1;
    Status st = reader.ReadIntColumnsThrough(b, key_mask, through, &ws->columns, &rs);
    Account(rs, ws);
    auto short_of = [&](uint32_t bit) {
      return ws->columns.ints[std::countr_zero(bit)].size() < through;
    };
    if (st.ok() && ws->columns.rows == info.rows &&
        (short_of(time_col_) || short_of(segment::kColIngestTs) || short_of(segment::kColSeq))) {
      st = Status::DataLoss("a key column holds fewer values than the block's rows");
    }
    if (!st.ok() || ws->columns.rows != info.rows) {
      CorruptBlock(h, b, st.ok() ? Status::DataLoss("row count differs from the block list") : st,
                   ws);
      return;
    }
    const std::vector<int64_t>& time = ws->columns.ints[std::countr_zero(time_col_)];
    const std::vector<int64_t>& ingest =
        ws->columns.ints[std::countr_zero(static_cast<uint32_t>(segment::kColIngestTs))];
    const std::vector<int64_t>& seq =
        ws->columns.ints[std::countr_zero(static_cast<uint32_t>(segment::kColSeq))];
    // The block's ts, read just now (those of its rows before "through" at least): a message
    // whose times are stored against them (kTimeText, format version 13) is decoded with these
    // instead of the reader decoding ts again (a read of the rows before "through" needs no more).
    std::optional<segment::RowTimesScope> ts_scope;
    if (time_col_ == segment::kColTs) ts_scope.emplace(time.data(), time.size(), &reader, b);
    const std::optional<HitKey> floor = PageFloor();
    std::vector<std::pair<HitKey, uint32_t>> keep;
    uint64_t in_range = 0;
    for (uint32_t r : selected) {
      if (time[r] < options_.range.from_ns || time[r] >= options_.range.to_ns) continue;
      ++in_range;
      const HitKey key{time[r], ingest[r], static_cast<uint64_t>(seq[r])};
      if (!floor || key > *floor) keep.emplace_back(key, r);
    }
    // The keys of the records built below come from the columns already read.
    auto set_keys = [&](const std::vector<uint32_t>& at, std::vector<Record>* records) {
      for (size_t i = 0; i < records->size(); ++i) {
        Record& rec = (*records)[i];
        if (options_.time_field_ts) rec.ts = time[at[i]];
        rec.ingest_ts = ingest[at[i]];
        rec.seq = static_cast<uint64_t>(seq[at[i]]);
      }
    };
    std::vector<Record> found;
    if (s.scan.exact) {
      ws->stats.rows_scanned += selected.size();
      ws->stats.rows_matched += in_range;
      if (keep.size() > limit_) {
        std::nth_element(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(limit_),
                         keep.end(),
                         [](const auto& a, const auto& c) { return a.first > c.first; });
        keep.resize(limit_);
      }
      if (keep.empty() || !CheckLimits(ws)) return;
      selected.clear();
      for (const auto& k : keep) selected.push_back(k.second);
      std::sort(selected.begin(), selected.end());
      segment::ReadStats rs2;
      st = reader.ReadRows(b, segment::kColAll & ~key_mask, selected, &found, &rs2);
      Account(rs2, ws);
      if (!st.ok() || found.size() != selected.size()) {
        CorruptBlock(h, b, st.ok() ? Status::DataLoss("row count differs between columns") : st,
                     ws);
        return;
      }
      set_keys(selected, &found);
      Offer(&found);
      return;
    }
    if (keep.empty()) return;
    selected.clear();
    for (const auto& k : keep) selected.push_back(k.second);  // ascending: "selected" was
    std::vector<Record> candidates;
    const uint32_t filter_mask = filter_mask_ & ~key_mask;
    // The id column was read by NarrowById: its rows left hold the id.
    const uint32_t id_known = id_eq_.column & filter_mask;
    // The words every match holds: the rows left are those whose message holds them.
    const bool by_text = needles_ != nullptr && (filter_mask & segment::kColMessage) != 0;
    std::vector<std::string> messages;
    if (by_text && (!NarrowByText(h, reader, b, &selected, &messages, ws) || selected.empty())) {
      return;
    }
    const uint32_t known = id_known | (by_text ? uint32_t{segment::kColMessage} : 0);
    segment::ReadStats rs2;
    st = reader.ReadRows(b, filter_mask & ~known, selected, &candidates, &rs2);
    Account(rs2, ws);
    if (!st.ok() || candidates.size() != selected.size()) {
      CorruptBlock(h, b, st.ok() ? Status::DataLoss("row count differs between columns") : st, ws);
      return;
    }
    if (id_known != 0) id_eq_.Fill(&candidates);
    if (by_text) FillMessages(&messages, &candidates);
    set_keys(selected, &candidates);
    std::vector<uint32_t> hit_index;
    for (uint32_t i = 0; i < candidates.size(); ++i) {
      const Record& r = candidates[i];
      if (Consider(r, ws)) hit_index.push_back(i);
      // The hits found so far in this block are still kept (they are real hits); the next
      // CheckLimits() before a block stops the query.
      if (!CheckLimitsAfterRow(r, ws)) break;
    }
    if (hit_index.empty()) return;
    const uint32_t rest_mask = segment::kColAll & ~(filter_mask | key_mask);
    if (rest_mask != 0) {
      std::vector<uint32_t> hit_rows;
      hit_rows.reserve(hit_index.size());
      for (uint32_t i : hit_index) hit_rows.push_back(selected[i]);
      std::vector<Record> rest;
      segment::ReadStats rs3;
      st = reader.ReadRows(b, rest_mask, hit_rows, &rest, &rs3);
      Account(rs3, ws);
      if (!st.ok() || rest.size() != hit_rows.size()) {
        CorruptBlock(h, b, st.ok() ? Status::DataLoss("row count differs between columns") : st,
                     ws);
        return;
      }
      for (size_t j = 0; j < hit_index.size(); ++j) {
        MoveColumns(std::move(rest[j]), rest_mask, &candidates[hit_index[j]]);
      }
    }
    found.reserve(hit_index.size());
    for (uint32_t i : hit_index) found.push_back(std::move(candidates[i]));
    Offer(&found);
  }

  // Per-block statistics: a block wholly inside the time range (and inside one bucket) is
  // counted from the postings of its group fields' values ranked over its rows (GroupsFromIndex
  // on the block; a level histogram is the level postings in the block), the rows from the
  // block list. False, having added nothing, when the block is cut by the range or spans two
  // buckets, a group field has no postings here or too many values, or the walk would take
  // more than kMaxBlockGroupWork intersections: the block is then read as columns. Postings
  // that could not be read: "*failed" too (LoadGroupPostings), once.
  bool BlockFromPostings(const segment::SegmentReader& reader, const segment::BlockInfo& info,
                         const roaring::Roaring* rows, std::optional<GroupPostings>* groups,
                         bool* loaded, WorkerState* ws, uint64_t* counted, Status* failed) {
    constexpr size_t kMaxBlockGroupWork = 64;
    int64_t bucket = 0;
    if (!OneBucketBlock(info, *ws->agg, &bucket)) return false;
    // Statistics that do not pay in this segment, or postings that could not be loaded.
    if (*loaded && !*groups) return false;
    if (!*loaded) {
      *loaded = true;
      *groups = LoadGroupPostings(reader, key_names_, kMaxBlockGroupWork, failed);
    }
    if (!*groups) return false;
    roaring::Roaring set;
    set.addRange(info.first_row, static_cast<uint64_t>(info.first_row) + info.rows);
    if (rows != nullptr) set &= *rows;
    std::vector<std::pair<std::vector<std::string>, uint64_t>> found;
    if (!WalkGroups(**groups, set, kMaxBlockGroupWork, &found)) return false;
    uint64_t total = 0;
    for (const auto& [values, n] : found) {
      ws->agg->AddBucketCount(bucket, values, static_cast<int64_t>(n));
      total += n;
    }
    ws->stats.rows_matched += total;
    ws->stats.rows_counted_from_index += total;
    *counted += total;
    return true;
  }

  // Per-block minute counts (format version 19, index/index_kind.h MinuteCounts): block "b",
  // whose rows all match (every row of it is in "rows"; null: `*`), is counted from its rows per
  // minute and level when each minute holding rows lies wholly inside or wholly outside the
  // time range (so a block the range cuts on a minute's edge is counted too). False, having
  // added nothing, when the segment has no counts or they are damaged (a warning naming where;
  // its blocks are then read), the block has none (too many minutes), a filtered row is
  // missing, or the range cuts a minute holding rows: the block is then read as columns.
  bool BlockFromMinutes(const storage::SegmentHandle& h, const std::string& name,
                        const segment::SegmentReader& reader, uint32_t b,
                        const roaring::Roaring* rows,
                        std::shared_ptr<const index::MinuteCounts>* minutes, bool* loaded,
                        WorkerState* ws, SegmentScan* scan, uint64_t* counted) {
    const segment::BlockInfo& info = reader.blocks()[b];
    if (info.rows == 0) return false;
    if (rows != nullptr &&
        !rows->containsRange(info.first_row, static_cast<uint64_t>(info.first_row) + info.rows)) {
      return false;
    }
    if (!*loaded) {
      *loaded = true;
      Result<std::shared_ptr<const index::MinuteCounts>> got =
          reader.BlockMinuteCounts(options_.time_field_ts);
      if (!got.ok()) {
        IndexUnreadable(h, name + ": minute counts", got.status(), ws, scan,
                        "reading the blocks instead");
        return false;
      }
      *minutes = std::move(got).value();
    }
    const index::MinuteCounts* m = minutes->get();
    if (m == nullptr || b >= m->known.size() || !m->known[b]) return false;
    constexpr int64_t kMinute = index::MinuteCounts::kMinuteNs;
    const __int128 lo = options_.time_field_ts ? info.min_ts : info.min_ingest_ts;
    const __int128 hi = options_.time_field_ts ? info.max_ts : info.max_ingest_ts;
    const __int128 from = options_.range.from_ns, to = options_.range.to_ns;
    const uint32_t present = static_cast<uint32_t>(std::popcount(m->levels[b]));
    m->Counts(b, &ws->minute_cells);
    const uint32_t* counts = ws->minute_cells.data();
    // Whether minute i of the block lies inside the range; nullopt: the range cuts it.
    auto inside = [&](uint32_t i) -> std::optional<bool> {
      const __int128 start = static_cast<__int128>(m->first_minute[b] + i) * kMinute;
      const __int128 first = std::max(start, lo), last = std::min(start + kMinute - 1, hi);
      if (first >= from && last < to) return true;
      if (last < from || first >= to) return false;
      return std::nullopt;
    };
    for (uint32_t i = 0; i < m->minutes[b]; ++i) {
      if (inside(i).has_value()) continue;
      for (uint32_t l = 0; l < present; ++l) {
        if (counts[i * present + l] != 0) return false;
      }
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < m->minutes[b]; ++i) {
      if (!inside(i).value_or(false)) continue;
      const int64_t bucket =
          has_bucket_ ? ws->agg->BucketOf((m->first_minute[b] + i) * kMinute) : 0;
      uint32_t rank = 0;
      for (uint32_t level = 0; level < kLevelCount; ++level) {
        if ((m->levels[b] & (1u << level)) == 0) continue;
        const uint32_t n = counts[i * present + rank++];
        if (n == 0) continue;
        ws->by_columns->AddCount(bucket, level, n, ws->agg.get());
        total += n;
      }
    }
    ws->stats.rows_matched += total;
    ws->stats.rows_counted_from_index += total;
    *counted += total;
    return true;
  }

  // True when block "info" lies wholly inside the time range and (with a bucket) inside one
  // bucket, "*bucket": per-block statistics can answer it.
  bool OneBucketBlock(const segment::BlockInfo& info, const Aggregator& agg,
                      int64_t* bucket) const {
    if (info.rows == 0 ||
        !Within(info.min_ts, info.max_ts, info.min_ingest_ts, info.max_ingest_ts)) {
      return false;
    }
    *bucket = 0;
    if (has_bucket_) {
      const int64_t lo = options_.time_field_ts ? info.min_ts : info.min_ingest_ts;
      const int64_t hi = options_.time_field_ts ? info.max_ts : info.max_ingest_ts;
      *bucket = agg.BucketOf(lo);
      if (agg.BucketOf(hi) != *bucket) return false;
    }
    return true;
  }

  // Whether the candidate blocks "order" that per-block statistics can answer hold at least a
  // quarter of the segment's rows (decoding a group field's postings costs a few ns a row of
  // the whole segment; reading a block's columns a few times that a row of the block).
  bool BlockStatisticsPay(const segment::SegmentReader& reader, const std::vector<uint32_t>& order,
                          WorkerState* ws) const {
    const std::vector<segment::BlockInfo>& blocks = reader.blocks();
    uint64_t answerable = 0, all = 0;
    for (const segment::BlockInfo& info : blocks) all += info.rows;
    int64_t bucket;
    for (uint32_t b : order) {
      if (OneBucketBlock(blocks[b], *ws->agg, &bucket)) answerable += blocks[b].rows;
    }
    return answerable > 0 && answerable * 4 >= all;
  }

  enum class ColumnsResult { kDone, kCorrupt, kUseRecords };

  // Aggregates the rows of block "b" that are in "rows" (null: every row) and in the time
  // range from the columns the aggregation needs, building no record. Some rows of a block and
  // integer columns only (`service=X | count by bucket(1m), level`): only the listed rows'
  // values are read (ReadIntColumnRows: a rice-runs `ts` passes over the runs of other sources,
  // packed level ids are read row by row), row i of the columns being the i-th listed row.
  ColumnsResult AggregateColumns(const storage::SegmentHandle& h,
                                 const segment::SegmentReader& reader, uint32_t b,
                                 const roaring::Roaring* rows, WorkerState* ws) {
    const segment::BlockInfo& info = reader.blocks()[b];
    const bool whole = Within(info.min_ts, info.max_ts, info.min_ingest_ts, info.max_ingest_ts);
    const uint32_t mask = ws->by_columns->columns() | (whole ? 0 : time_col_);
    constexpr uint32_t kIntColumns = segment::kColTs | segment::kColIngestTs | segment::kColSeq |
                                     segment::kColLevel | segment::kColFlags;
    const bool listed = rows != nullptr && (mask & ~kIntColumns) == 0;
    std::vector<uint32_t>& selected = ws->selected;
    segment::ReadStats rs;
    Status st;
    uint32_t expected = info.rows;
    if (listed) {
      SelectBlockRows(rows, info, &selected);
      if (selected.empty()) return ColumnsResult::kDone;
      expected = static_cast<uint32_t>(selected.size());
      st = reader.ReadIntColumnRows(b, mask, selected, &ws->columns, &rs);
    } else {
      st = reader.ReadColumnValues(b, mask, &ws->columns, &rs);
    }
    Account(rs, ws);
    ++ws->stats.blocks_read;
    if (!st.ok() || ws->columns.rows != expected) {
      CorruptBlock(h, b,
                   st.ok() ? Status::DataLoss(listed ? "row count differs from the rows asked"
                                                     : "row count differs from the block list")
                           : st,
                   ws);
      return ColumnsResult::kCorrupt;
    }
    // The candidate rows of the columns, ascending: every row read when the rows were listed or
    // "rows" is null, else those "rows" selects.
    const bool every_row_read = listed || rows == nullptr;
    if (!every_row_read) SelectBlockRows(rows, info, &selected);
    const uint64_t candidates = every_row_read ? ws->columns.rows : selected.size();
    if (!whole) {
      const std::vector<int64_t>& t = ws->columns.ints[std::countr_zero(time_col_)];
      if (every_row_read) {
        selected.resize(ws->columns.rows);
        std::iota(selected.begin(), selected.end(), 0u);
      }
      size_t kept = 0;
      for (uint32_t r : selected) {
        if (t[r] >= options_.range.from_ns && t[r] < options_.range.to_ns) selected[kept++] = r;
      }
      selected.resize(kept);
    }
    const bool every_row = whole && every_row_read;
    if (!ws->by_columns->Add(ws->columns, every_row ? nullptr : &selected, ws->agg.get())) {
      return ColumnsResult::kUseRecords;
    }
    ws->stats.rows_scanned += candidates;
    ws->stats.rows_from_columns += candidates;
    ws->stats.rows_matched += every_row ? candidates : selected.size();
    if (listed) ++ws->listed_blocks;
    return ColumnsResult::kDone;
  }

  // True when a segment or block with these ranges lies wholly inside the query's time range,
  // so every row of it passes the time test.
  bool Within(int64_t min_ts, int64_t max_ts, int64_t min_ingest_ts, int64_t max_ingest_ts) const {
    const int64_t lo = options_.time_field_ts ? min_ts : min_ingest_ts;
    const int64_t hi = options_.time_field_ts ? max_ts : max_ingest_ts;
    return lo >= options_.range.from_ns && hi < options_.range.to_ns;
  }

  // The postings of each indexed value of the group fields "names" in one segment, the value
  // as GroupValue gives it (an UNKNOWN level is ""). nullopt when a field is not an indexed
  // built-in field of this segment or has more than "max_values" values, or when the postings
  // could not be read: then "*failed" is the reader's error (damage, or a failed read), for the
  // caller to report (IndexUnreadable; session 23 dropped it: nothing said, nothing reported).
  static std::optional<GroupPostings> LoadGroupPostings(const segment::SegmentReader& reader,
                                                        const std::vector<std::string>& names,
                                                        size_t max_values, Status* failed) {
    GroupPostings fields;
    for (const std::string& name : names) {
      index::IndexedField f = segment::IndexedFieldOf(name);
      if (!f.builtin || f.message_words) return std::nullopt;
      auto values = reader.FieldValues(f.name, /*builtin=*/true);
      if (!values.ok()) {
        *failed = values.status();
        return std::nullopt;
      }
      if (!*values || (*values)->size() > max_values) return std::nullopt;
      auto& postings = fields.emplace_back();
      postings.reserve((*values)->size());
      index::FieldPredicate p;
      p.field = f.name;
      p.builtin = true;
      for (const std::string& v : **values) {
        p.value = v;
        auto matching = reader.MatchingRows(p);
        if (!matching.ok()) {
          *failed = matching.status();
          return std::nullopt;
        }
        if (!*matching) return std::nullopt;
        bool unknown_level = f.text == nullptr && v == LevelName(Level::kUnknown);
        postings.emplace_back(unknown_level ? std::string() : v, std::move(**matching));
      }
    }
    return fields;
  }

  // The groups of "rows" by group_fields_ and their row counts, from the postings of each
  // field's values: a depth-first walk over the fields intersecting the rows with each value's
  // postings; the rows holding none of a field's indexed values form its "" group (as
  // GroupValue gives "" for an empty field and an UNKNOWN level). False, having added nothing,
  // when a field is not an indexed built-in field of this segment or the walk would take more
  // than kMaxGroupIntersections intersections, or the postings could not be read ("*failed":
  // LoadGroupPostings): the segment is then read.
  bool GroupsFromIndex(const segment::SegmentReader& reader, const roaring::Roaring& rows,
                       std::vector<std::pair<std::vector<std::string>, uint64_t>>* out,
                       Status* failed) const {
    constexpr size_t kMaxGroupIntersections = 4096;
    std::optional<GroupPostings> fields =
        LoadGroupPostings(reader, group_fields_, kMaxGroupIntersections, failed);
    return fields && WalkGroups(*fields, rows, kMaxGroupIntersections, out);
  }

  // The walk of GroupsFromIndex over "fields"; false, having set nothing, past "budget"
  // intersections.
  static bool WalkGroups(const GroupPostings& fields, const roaring::Roaring& rows, size_t budget,
                         std::vector<std::pair<std::vector<std::string>, uint64_t>>* out) {
    std::vector<std::string> values(fields.size());
    size_t work = 0;
    std::vector<std::pair<std::vector<std::string>, uint64_t>> found;
    if (fields.size() == 1) {
      // One group field (`top N service`, `count by level`): each value's count is the size of
      // its postings' intersection with the rows, counted without building it, and the rows of
      // none of its values are the rest. A built-in field has one value per row, so its values'
      // postings are disjoint and the rest is the rows less their sum (as the walk below finds).
      const uint64_t total = rows.cardinality();
      uint64_t seen = 0;
      for (const auto& [value, postings] : fields[0]) {
        if (++work > budget) return false;
        const uint64_t n = rows.and_cardinality(postings);
        if (n == 0) continue;
        found.emplace_back(std::vector<std::string>{value}, n);
        seen += n;
      }
      if (seen > total) return false;  // overlapping postings: not one value per row
      if (seen < total) found.emplace_back(std::vector<std::string>{std::string()}, total - seen);
      *out = std::move(found);
      return true;
    }
    std::function<bool(size_t, const roaring::Roaring&)> walk = [&](size_t depth,
                                                                    const roaring::Roaring& set) {
      if (depth == fields.size()) {
        found.emplace_back(values, set.cardinality());
        return true;
      }
      roaring::Roaring rest = set;
      for (const auto& [value, postings] : fields[depth]) {
        if (++work > budget) return false;
        roaring::Roaring sub = set & postings;
        if (sub.isEmpty()) continue;
        rest -= sub;
        values[depth] = value;
        if (!walk(depth + 1, sub)) return false;
      }
      if (rest.isEmpty()) return true;
      values[depth].clear();
      return walk(depth + 1, rest);
    };
    if (!walk(0, rows)) return false;
    *out = std::move(found);
    return true;
  }

  // Adds "n" matching rows that the index counted and nobody read.
  void CountFromIndex(uint64_t n, WorkerState* ws) {
    ws->agg->AddCount(static_cast<int64_t>(n));
    ws->stats.rows_matched += n;
    ws->stats.rows_counted_from_index += n;
  }

  // With an id equality in the filter (id_eq_), narrows "*selected" (block-relative rows of
  // block "b", ascending) to the rows whose id column holds the value, reading that column
  // alone and building no view of a row (SegmentReader::KeepRowsHolding: a hex id column is
  // compared as the bytes the value spells); the rows dropped count as scanned, from columns.
  // True when there is no such equality or the column was read; false when it could not be
  // (the block is reported corrupt, as a failed read of the block would be).
  bool NarrowById(const storage::SegmentHandle& h, const segment::SegmentReader& reader, uint32_t b,
                  std::vector<uint32_t>* selected, WorkerState* ws) {
    if (id_eq_.column == 0 || selected->empty()) return true;
    segment::ReadStats rs;
    const size_t before = selected->size();
    Status st = reader.KeepRowsHolding(b, id_eq_.column, id_eq_.value, selected, &rs);
    return Narrowed(h, b, st, rs, before - selected->size(), ws);
  }

  // The end of a narrowing read of block "b" (NarrowById, NarrowByText) that read "rs" and
  // dropped "dropped" rows: they count as scanned, from columns. False when it failed ("st"):
  // the block is reported corrupt.
  bool Narrowed(const storage::SegmentHandle& h, uint32_t b, const Status& st,
                const segment::ReadStats& rs, uint64_t dropped, WorkerState* ws) {
    Account(rs, ws);
    if (!st.ok()) {
      CorruptBlock(h, b, st, ws);
      return false;
    }
    ws->stats.rows_scanned += dropped;
    ws->stats.rows_from_columns += dropped;
    return true;
  }

  // With words or phrases every match holds in its message (needles_), narrows "*selected"
  // (block-relative rows of block "b", ascending) to the rows whose message holds them, reading
  // the message alone (SegmentReader::KeepRowsWithMessage); "*messages" gets the messages of the
  // rows kept (FillMessages puts them in their records). The rows dropped count as scanned, from
  // columns. False when the column could not be read (the block is reported corrupt, as a failed
  // read of the block would be).
  bool NarrowByText(const storage::SegmentHandle& h, const segment::SegmentReader& reader,
                    uint32_t b, std::vector<uint32_t>* selected, std::vector<std::string>* messages,
                    WorkerState* ws) {
    segment::ReadStats rs;
    const size_t before = selected->size();
    Status st = reader.KeepRowsWithMessage(b, *needles_, selected, messages, &rs);
    if (st.ok() && messages->size() != selected->size()) {
      st = Status::DataLoss("row count differs between columns");
    }
    return Narrowed(h, b, st, rs, before - selected->size(), ws);
  }

  // The messages NarrowByText kept, one per record, moved into the records.
  static void FillMessages(std::vector<std::string>* messages, std::vector<Record>* records) {
    for (size_t i = 0; i < records->size(); ++i) (*records)[i].message = std::move((*messages)[i]);
  }

  void Account(const segment::ReadStats& rs, WorkerState* ws) {
    ws->stats.bytes_read_compressed += rs.bytes_read_compressed;
    ws->stats.bytes_read_raw += rs.bytes_read_raw;
    bytes_read_.fetch_add(rs.bytes_read_compressed);
  }

  // A segment whose bytes are gone (NotFound) because retention deleted it after the snapshot
  // was taken: on a cluster node, another node's round, while this node's view still names it
  // (engine.h RetiredSegmentIds). Its lines expired: skipped, not a partial answer.
  // The record is read once per query, not per failing block (a retired segment fails at every
  // block a worker queued), and again only for a segment it did not name that was not asked
  // about yet (retired after the first read).
  bool Retired(const storage::SegmentHandle& h, const Status& st) {
    if (!st.IsNotFound() || options_.engine == nullptr) return false;
    MutexLock lock(&retired_mu_);
    if (retired_.count(h.info.id) > 0) return true;
    if (!retired_asked_.insert(h.info.id).second) return false;
    // Unknown (the catalog failed): not retired, and the query says it is partial.
    auto ids = options_.engine->RetiredSegmentIds();
    if (ids.ok()) retired_ = std::move(ids).value();
    return retired_.count(h.info.id) > 0;
  }

  // Segment "h"'s index ("what": a kind's postings, filters or block lists, or its per-block
  // statistics) could not be read ("st"): the segment is read "instead" (scanned, its blocks
  // read, the index asked), so the answer stays whole. Damage (DataLoss: an index block's
  // checksum, postings or a block list that do not decode) is the segment's bytes damaged,
  // reported as a damaged data block is (CorruptBlock: the segment marked corrupt, counted,
  // logged; docs/storage.md "Corruption"); a failed read (IOError, Unavailable) is named only.
  // Once per segment, index kind and code in a search: the rows, the counts per block, the
  // may-match questions and the statistics of one search may each meet the same damage (the
  // reader names the kind as the error's subject: KindDamage), while damage met after a failed
  // read of the same kind (not kept: read again) is still reported by the search that met it
  // (review23 LOW-3).
  void IndexUnreadable(const storage::SegmentHandle& h, const std::string& what, const Status& st,
                       WorkerState* ws, SegmentScan* scan,
                       std::string_view instead = "scanning instead") {
    const std::string& kind = st.subject().empty() ? st.message() : st.subject();
    if (!scan->warned.emplace(kind, st.code()).second) return;
    ReportIfDamaged(h, st);
    ws->warnings.push_back(what + " unreadable, " + std::string(instead) + ": " + st.ToString());
  }

  // Damage (DataLoss) in segment "h"'s bytes, its statistics included (minute counts, service
  // and level counts), marks it corrupt (docs/storage.md "Corruption"); a failed read is not.
  void ReportIfDamaged(const storage::SegmentHandle& h, const Status& st) {
    if (options_.engine != nullptr && st.IsDataLoss()) {
      options_.engine->ReportCorruption(h.info.id, st);
    }
  }

  void CorruptBlock(const storage::SegmentHandle& h, uint32_t block, const Status& st,
                    WorkerState* ws) {
    if (Retired(h, st)) {
      ws->plan.push_back("segment " + std::to_string(h.info.id) + " block " +
                         std::to_string(block) +
                         ": deleted by retention meanwhile (its lines expired), skipped");
      return;
    }
    // Only damage marks a segment corrupt: a failed disk or network read (IOError, Unavailable)
    // is named and skipped, and the next read may succeed.
    if (options_.engine != nullptr && st.IsDataLoss()) {
      options_.engine->ReportCorruption(h.info.id, st);
    }
    ws->partial = true;
    ws->warnings.push_back("segment " + std::to_string(h.info.id) + " block " +
                           std::to_string(block) + " is corrupt and was skipped: " + st.ToString());
  }

  ExecResult Finish(int64_t start) {
    // Every worker has merged: nobody else holds these any more; taken for the analysis.
    MutexLock lock(&mu_);
    MutexLock heap_lock(&heap_mu_);
    ExecResult out;
    out.stats = totals_;
    out.stats.cold_segments = progress_->cold_segments.load();
    out.stats.cold_segments_read = progress_->cold_segments_read.load();
    out.stats.cold_bytes = progress_->cold_bytes.load();
    out.stats.cold_bytes_fetched = progress_->cold_reads.bytes_fetched.load();
    out.stats.cold_bytes_cached = progress_->cold_reads.bytes_from_cache.load();
    out.warnings = std::move(warnings_);
    out.partial = partial_;
    StopReason reason = stop_.load();
    if (reason == StopReason::kBytes) {
      out.partial = true;
      out.warnings.push_back(
          "stopped after reading " + std::to_string(bytes_read_.load()) +
          " bytes, the per-query scan limit (" + std::to_string(options_.max_bytes_scanned) +
          " bytes): the answer is partial; narrow the time range or add filters on service, "
          "host, level or trace_id");
    } else if (reason == StopReason::kTime) {
      out.partial = true;
      out.warnings.push_back(
          "query stopped at the " +
          (options_.time_limit_ns > 0 ? FormatLimit(options_.time_limit_ns) + " " : "") +
          "time limit (query_timeout): the answer is partial; narrow the time range or the "
          "query (add filters on service, host, level or trace_id)");
    } else if (reason == StopReason::kCancelled) {
      out.partial = true;
      out.warnings.push_back(
          "query cancelled because the client closed the connection: the answer is partial");
    }
    out.stopped = reason;
    if (aggregates_) {
      out.is_pipe = true;
      if (!agg_) agg_ = std::make_unique<Aggregator>(query_.get(), options_.time_field_ts);
      if (options_.keep_groups) {
        out.groups = agg_->Export();
      } else {
        out.rows = agg_->Finish(options_.range, options_.all_time, &out.warnings);
      }
    } else {
      std::sort(heap_.begin(), heap_.end(), [&](const Record& a, const Record& b) {
        return KeyOf(a, options_.time_field_ts) > KeyOf(b, options_.time_field_ts);
      });
      out.hits = std::move(heap_);
      const Pipe* fields = nullptr;
      for (const Pipe& p : query_->pipes) {
        if (p.kind == PipeKind::kFields) fields = &p;
      }
      if (fields != nullptr) {
        out.is_pipe = true;
        out.rows = ProjectHits(out.hits, fields->fields);
      }
    }
    out.stats.elapsed_ms = static_cast<double>(clock_->MonotonicNanos() - start) / 1e6;
    std::string plan = "query: " + ToString(*query_) + "\n";
    plan += "time: [" +
            (options_.all_time ? std::string("all time")
                               : FormatRfc3339(options_.range.from_ns) + ", " +
                                     FormatRfc3339(options_.range.to_ns)) +
            ") on " + (options_.time_field_ts ? "ts" : "ingest_ts") + "\n";
    if (pinned_) plan += "partition: " + std::to_string(*pinned_) + " (service and host fixed)\n";
    plan += "indexes: " + std::string(options_.use_indexes ? "on" : "off") + "\n";
    const QueryStats& s = out.stats;
    plan += "segments: " + std::to_string(s.segments_total) + " total, " +
            std::to_string(s.segments_after_time) + " after time, " +
            std::to_string(s.segments_after_index) + " after index, " +
            std::to_string(s.segments_after_bloom) + " after blooms\n";
    plan += "tiers: " + locations_ + "\n";
    plan += "blocks: " + std::to_string(s.blocks_read) + " read of " +
            std::to_string(s.blocks_total) + "; bytes " + std::to_string(s.bytes_read_compressed) +
            " compressed, " + std::to_string(s.bytes_read_raw) + " raw\n";
    plan += "rows: " + std::to_string(s.rows_scanned) + " scanned (" +
            std::to_string(s.memtable_rows_scanned) + " in memtables), " +
            std::to_string(s.rows_matched) + " matched\n";
    for (const OpenedSegment& o : opened_) {
      const storage::SegmentHandle& h = *o.handle;
      const uint32_t skipped = o.not_needed.load();
      AddPlanLineLocked(
          "segment " + std::to_string(h.info.id) + " (partition " +
          std::to_string(h.info.partition) + ", " + std::to_string(h.info.rows) + " rows): " +
          std::to_string(o.read.load()) + " of " + std::to_string(o.blocks) + " blocks read" +
          (o.narrowed ? ", index narrowed to " + std::to_string(*o.narrowed) + " rows" : "") +
          (skipped > 0 ? ", " + std::to_string(skipped) + " not needed (newer hits found)" : ""));
    }
    std::sort(plan_lines_.begin(), plan_lines_.end());
    for (const std::string& line : plan_lines_) plan += "  " + line + "\n";
    out.plan = std::move(plan);
    return out;
  }

  std::shared_ptr<const storage::Snapshot> snapshot_;
  std::shared_ptr<const Query> query_;
  ExecOptions options_;
  Clock* clock_;
  bool aggregates_;
  bool count_only_ = false;  // a plain `count`: see Aggregator::CountsOnly
  bool minutes_ok_ = false;
  bool service_levels_ok_ = false;  // ... from the per-block (service, level) counts  // the
                                    // aggregation's keys may be counted from minute counts
  bool columnar_ = false;    // the aggregation may read columns only (ColumnAggregation::Make)
  bool has_bucket_ = false;  // with columnar_: it groups by a time bucket
  std::vector<std::string> key_names_;     // with columnar_: the other group fields, in order
  std::vector<std::string> group_fields_;  // Aggregator::GroupFields
  size_t limit_;
  bool newest_ = false;  // a search for hits: segments and blocks in one newest-first merge
  uint32_t time_col_;
  uint32_t filter_mask_;
  std::optional<uint32_t> pinned_;
  IdEquality id_eq_;  // with indexes on: an id equality every match meets (IdEqualityOf)
  // With indexes on: the words and phrases every match holds in its message, or null.
  std::unique_ptr<MessageNeedles> needles_;

  std::vector<Task> tasks_;                     // fixed after Plan()
  std::vector<PlannedSegment> merge_segments_;  // newest_: the planned segments, fixed after Plan()
  std::string locations_;        // where the planned segments are (tiers and stores), for explain
  SearchProgress own_progress_;  // when the caller wants none
  SearchProgress* progress_ = nullptr;  // options_.progress or own_progress_; counters are atomic

  Mutex mu_;
  CondVar done_cv_;
  size_t next_ GUARDED_BY(mu_) = 0;
  int in_flight_ GUARDED_BY(mu_) = 0;
  int claimed_unmerged_ GUARDED_BY(mu_) = 0;  // workers that claimed and have not merged
  QueryStats totals_ GUARDED_BY(mu_);
  std::unique_ptr<Aggregator> agg_ GUARDED_BY(mu_);
  std::vector<std::string> warnings_ GUARDED_BY(mu_);
  std::vector<std::string> plan_lines_ GUARDED_BY(mu_);
  bool partial_ GUARDED_BY(mu_) = false;
  // newest_: the next of merge_segments_ to open, the segments opened (a deque: addresses stay),
  // and their queued blocks (a max-heap on the block's newest time).
  size_t next_segment_ GUARDED_BY(mu_) = 0;
  std::deque<OpenedSegment> opened_ GUARDED_BY(mu_);
  std::vector<QueuedBlock> frontier_ GUARDED_BY(mu_);

  Mutex heap_mu_;
  std::vector<Record> heap_ GUARDED_BY(heap_mu_);  // min-heap of the best hits so far

  // Retired(): the segments retention retired as last read, and the missing ones asked about.
  Mutex retired_mu_;
  std::set<uint64_t> retired_ GUARDED_BY(retired_mu_);
  std::set<uint64_t> retired_asked_ GUARDED_BY(retired_mu_);

  std::atomic<StopReason> stop_{StopReason::kNone};
  std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace

std::string FormatLimit(int64_t ns) {
  if (ns % kNanosPerSecond == 0) return std::to_string(ns / kNanosPerSecond) + " s";
  if (ns >= kNanosPerSecond) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(ns) / 1e9);
    return text;
  }
  return std::to_string(ns / kNanosPerMilli) + " ms";
}

ExecResult Execute(std::shared_ptr<const storage::Snapshot> snapshot,
                   std::shared_ptr<const Query> query, const ExecOptions& options) {
  auto job = std::make_shared<Job>(std::move(snapshot), std::move(query), options);
  return job->Run(job);
}

ExecResult BruteForce(const std::vector<Record>& records, const Query& query,
                      const ExecOptions& options) {
  ExecResult out;
  std::vector<const Record*> matched;
  for (const Record& r : records) {
    if (InRange(r, options) && Evaluate(*query.filter, r)) matched.push_back(&r);
  }
  out.stats.rows_scanned = records.size();
  out.stats.rows_matched = matched.size();
  if (query.Aggregates()) {
    out.is_pipe = true;
    Aggregator agg(&query, options.time_field_ts);
    for (const Record* r : matched) agg.Add(*r);
    out.rows = agg.Finish(options.range, options.all_time, &out.warnings);
    return out;
  }
  std::sort(matched.begin(), matched.end(), [&](const Record* a, const Record* b) {
    return KeyOf(*a, options.time_field_ts) > KeyOf(*b, options.time_field_ts);
  });
  size_t limit = HitLimit(query, options.limit);
  for (size_t i = 0; i < matched.size() && i < limit; ++i) out.hits.push_back(*matched[i]);
  for (const Pipe& p : query.pipes) {
    if (p.kind == PipeKind::kFields) {
      out.is_pipe = true;
      out.rows = ProjectHits(out.hits, p.fields);
    }
  }
  return out;
}

}  // namespace sawmill::query
