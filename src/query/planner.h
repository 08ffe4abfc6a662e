// The query planner. From a storage snapshot's metadata alone (nothing is opened): which
// segments a query reads, where they are (tier and store), newest first. Then, per segment,
// index-first pruning through the segment's index kinds (index/index_kind.h): which rows the
// kinds that give rows allow, whether the kinds allow the segment or a block at all, and which
// partition a filter pins. The planner knows the query language, not the kinds. Every answer is a
// superset of the rows that match: pruning never changes a result, only the work.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <roaring/roaring.hh>
#include <string>
#include <utility>
#include <vector>

#include "query/ast.h"
#include "query/query_engine.h"
#include "segment/segment.h"
#include "storage/engine.h"

namespace sawmill::query {

struct SegmentPlanOptions {
  TimeRange range;
  bool time_field_ts = false;  // "range" is on ts; false: on ingest_ts
  // Segments of other partitions are skipped (see PinnedPartition); nullopt: no such pruning.
  std::optional<uint32_t> partition;
};

struct PlannedSegment {
  const storage::SegmentHandle* segment = nullptr;  // points into the snapshot
  int64_t max_time = 0;                             // its newest time on the query's time field
};

struct SegmentPlan {
  std::vector<PlannedSegment> segments;       // to read, newest first
  uint64_t total = 0;                         // segments in the snapshot
  std::vector<uint64_t> pruned_by_partition;  // ids of segments skipped for their partition
  // How many planned segments are in each (tier, store): where the plan's reads go.
  std::map<std::pair<std::string, std::string>, uint64_t> locations;
};

// The segments of "snapshot" of its tenant, with rows, whose time range meets options.range,
// in options.partition if set; newest first, so that early termination stops as soon as it can.
// The plan points into "snapshot", which must outlive it.
SegmentPlan PlanSegments(const storage::Snapshot& snapshot, const SegmentPlanOptions& options);

// "hot 12 in store local" for each location of "plan" ("cold 3 in store archive, hot 12 in store
// local"), or "none": for explain.
std::string DescribeLocations(const SegmentPlan& plan);

struct IndexAnswer {
  // nullopt: the index cannot narrow the filter (every row is a candidate).
  std::optional<roaring::Roaring> rows;
  // rows is exactly the set of matching rows (not only a superset), time aside: a plain
  // `count` is then the rows' cardinality over blocks inside the time range.
  bool exact = false;
  // The first error a condition's question met (DataLoss from a damaged index, or a failed
  // read), for the caller to report; that condition then cannot tell.
  Status damage;
};

// The rows the index kinds that give rows (the inverted index, the word postings) allow for
// "filter": a field's `=` from its postings, its other conditions by testing each indexed value;
// a bare word from its word postings (exact), a phrase from the intersection of its words'
// postings (a superset: the scan checks adjacency); AND, OR and NOT of exact answers combined.
// A condition whose question fails (IndexAnswer::damage) cannot tell: an AND's other conditions
// still narrow its rows (session 23); an OR or a NOT of it cannot tell.
IndexAnswer EvaluateIndex(const Node& filter, const segment::SegmentReader& reader);

// How many rows of each block of the segment match "filter", exactly, when it is one bare word
// that the segment does not post for being too frequent but counts per block (the word postings'
// counts, docs/format/index.md "Word postings"), or `field=value` of a built-in field the segment
// stores as block lists (format version 16: user ids, docs/format/index.md "Block lists");
// nullopt for any other filter, or when the segment has no counts for the word or the field (an
// older segment: the blocks are read). A plain `count` is
// the sum over the blocks inside the time range. Errors: DataLoss from the reader's index.
Result<std::optional<std::vector<uint32_t>>> BlockCounts(const Node& filter,
                                                         const segment::SegmentReader& reader);

// False only when the segment's index kinds prove that no row of the segment (block < 0) or
// of "block" can match: each condition every match must meet (nothing under a NOT) goes to the
// kinds as an index::FieldPredicate (`field op value` for =, <, <=, >, >=; a word or each word
// of a phrase as a message word), and the kinds that answer it say (index/index_kind.h: blooms,
// numeric ranges, and any kind registered later). A condition whose question fails (DataLoss
// naming the segment, the kind and where, when the index part it reads is damaged: a block
// list, a bloom, the word postings; or a failed read) is "maybe", so an AND's other conditions
// still prune (session 23); the first such error goes to "*damage" (left as it is when none),
// for the caller to report.
bool KindsMayMatch(const Node& filter, const segment::SegmentReader& reader, int64_t block,
                   Status* damage);

// The query's time range as a predicate for the kinds (the per-block time ranges answer it).
index::FieldPredicate TimePredicate(const TimeRange& range, bool time_field_ts);

// The one partition every matching record lives in, when the filter fixes both service and
// host with equality at its top level; nullopt otherwise or when "partitions" is 0.
std::optional<uint32_t> PinnedPartition(const Node& filter, uint32_t partitions);

}  // namespace sawmill::query
