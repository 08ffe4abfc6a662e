// The column-only path of an aggregation (issue 19): `count`, `count by bucket(...), level`,
// `count by service`, `top N field` and `uniq field` over the columns of a row block, building
// no Record. The group columns become small codes per block (the level's value, each distinct
// text value numbered as it is met, the bucket's number from the block's first bucket), the
// selected rows are counted per combination of codes, and each combination goes to the
// Aggregator once per block. docs/performance.md "Counts and aggregations without records".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "query/aggregator.h"
#include "segment/segment.h"

namespace sawmill::query {

class ColumnAggregation {
 public:
  // nullopt when "agg"'s groups are not all columns (Aggregator::ColumnKeys).
  static std::optional<ColumnAggregation> Make(const Aggregator& agg, bool time_field_ts);

  // The columns Add reads (the group columns, and the time column for a bucket).
  uint32_t columns() const { return columns_; }

  // Adds the rows "rows" (numbers within the block, ascending; null: every row of the block)
  // of "cols" to "*agg", as Aggregator::Add of each row's record would. False, having added
  // nothing, when the combinations of the block's values are too many to count in a table or a
  // level value is out of range (the caller then reads records).
  // When every key is the bucket or a level (the same codes in every block), the counts are
  // kept here across blocks and go to "*agg" at HandOver, not a group lookup per block and value.
  bool Add(const segment::BlockColumns& cols, const std::vector<uint32_t>* rows, Aggregator* agg);
  // Every key is the bucket or a level: counts per (bucket, level) can be added (AddCount).
  bool BucketAndLevels() const { return bucket_and_levels_; }
  // As "count" rows of level "level" (a Level value) in bucket "bucket" (ignored without a
  // bucket) given to Add: per-block statistics (index/index_kind.h MinuteCounts).
  // REQUIRES: BucketAndLevels(), level < kLevelCount.
  void AddCount(int64_t bucket, uint32_t level, int64_t count, Aggregator* agg);
  // Adds the counts Add kept back to "*agg" (the worker's Aggregator, before it is merged).
  void HandOver(Aggregator* agg);
  // Bytes of the counts kept across blocks now (bounded: column_aggregation.cc kMaxKeptCells).
  size_t KeptBytes() const { return kept_.size() * sizeof(int64_t); }

 private:
  ColumnAggregation() = default;

  // Add over "n" rows, the i-th at block row "row(i)".
  template <typename RowAt>
  bool AddRows(const segment::BlockColumns& cols, size_t n, RowAt row, Aggregator* agg);

  std::vector<Aggregator::ColumnKey> keys_;
  int time_slot_ = 0;  // the BlockColumns slot of the time field
  uint32_t columns_ = 0;

  // Per key: the value (GroupValue) of each code; a level key's are set by Make, a text key's
  // per block.
  std::vector<std::vector<std::string>> values_;

  // Kept here (keep_) when the bucket is new and within the bounds or known: false, the caller
  // asks the Aggregator. "code": the levels' codes, the first key's the lowest digit.
  bool Keep(int64_t bucket, uint64_t code, int64_t count);

  bool bucket_and_levels_ = true;
  // Every key is the bucket or a level: counts kept across blocks, per bucket the counts of
  // each combination of the levels' codes (kept_card_ of them) from kept_at_[bucket] on.
  bool keep_ = false;
  uint64_t kept_card_ = 1;
  std::unordered_map<int64_t, size_t> kept_at_;
  std::vector<int64_t> kept_;

  // Scratch reused from block to block.
  std::vector<uint64_t> cell_;  // per selected row: its combination's number
  std::vector<int64_t> table_;
  std::unordered_map<uint64_t, int64_t> sparse_;
  std::unordered_map<std::string_view, uint32_t> intern_;
  std::vector<std::string_view> distinct_;
  std::vector<std::string> count_values_;
};

}  // namespace sawmill::query
