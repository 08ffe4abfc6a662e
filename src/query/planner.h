// Index-first pruning of one segment: which rows the inverted index allows, whether the blooms
// allow the segment or a block at all, and which partition a filter pins. Every answer is a
// superset of the rows that match: pruning never changes a result, only the work.
#pragma once

#include <cstdint>
#include <optional>
#include <roaring/roaring.hh>
#include <string>

#include "query/ast.h"
#include "segment/segment.h"

namespace sawmill::query {

struct IndexAnswer {
  // nullopt: the index cannot narrow the filter (every row is a candidate).
  std::optional<roaring::Roaring> rows;
  // rows is exactly the set of matching rows (not only a superset).
  bool exact = false;
};

// Errors: DataLoss from the reader's index.
Result<IndexAnswer> EvaluateIndex(const Node& filter, const segment::SegmentReader& reader);

// False only when the blooms prove no row of the segment (block < 0) or of "block" can match,
// or, for a block, when a registered index kind does (index/index_kind.h: the numeric range of
// dynamic fields answers `status>=500`). Only conditions every match must meet are checked:
// nothing under a NOT.
bool BloomsMayMatch(const Node& filter, const segment::SegmentReader& reader, int64_t block);

// The one partition every matching record lives in, when the filter fixes both service and
// host with equality at its top level; nullopt otherwise or when "partitions" is 0.
std::optional<uint32_t> PinnedPartition(const Node& filter, uint32_t partitions);

}  // namespace sawmill::query
