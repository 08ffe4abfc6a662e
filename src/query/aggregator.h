// The pipe stages: count, count by (fields and time buckets), top, uniq, then sort / head /
// fields on the resulting rows; and fields / head on hits. Memory is bounded by kMaxGroups.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "query/ast.h"
#include "query/query_engine.h"

namespace sawmill::query {

// Distinct groups (count by, top, uniq) one query may hold; past it new groups are dropped and
// the answer says so.
inline constexpr size_t kMaxGroups = 100'000;
// Time buckets one "count by bucket(...)" may produce.
inline constexpr int64_t kMaxBuckets = 10'000;

// Checks what can be checked before running: the bucket count of "range". Errors:
// InvalidArgument naming the bucket width and the range.
Status ValidatePipes(const Query& query, const TimeRange& range, bool all_time);

// Accumulates the aggregating pipe of a query over matching records. Not thread-safe: one per
// worker, combined with Merge().
class Aggregator {
 public:
  // REQUIRES: query.Aggregates(). "query" must outlive the Aggregator.
  Aggregator(const Query* query, bool time_field_ts);

  void Add(const Record& record);
  // True for a plain `count` (no group, no top or uniq): each matching record adds 1 whatever
  // it holds, so AddCount may count rows without reading them.
  bool CountsOnly() const;
  // As "n" calls of Add. REQUIRES: CountsOnly().
  void AddCount(int64_t n);
  // The fields a `count by` (without a time bucket), `top` or `uniq` groups by, in order; empty
  // for a plain count, a count with a bucket, and bytes (they read the messages).
  std::vector<std::string> GroupFields() const;
  // As "n" calls of Add with records whose group values (GroupValue of GroupFields()) are
  // "values". REQUIRES: GroupFields() is not empty and has the size of "values".
  void AddGroupCount(const std::vector<std::string>& values, int64_t n);
  void Merge(const Aggregator& other);
  // Cluster fan-out (docs/cluster.md "Read path"): the groups counted so far, unfinished, to be
  // sent to another node; and the other way, such groups added in (as Merge does).
  AggregateState Export() const;
  void Import(const AggregateState& state);

  // --- Column-only aggregation (the executor's path that builds no Record; docs/performance.md
  // "Counts and aggregations without records") ---
  // What a group key is read from: the bucket of the time column, or a built-in column whose
  // value GroupValue reads (its ColumnBit).
  struct ColumnKey {
    bool bucket = false;
    uint32_t column = 0;      // when !bucket: the ColumnBit (a text column or the level)
    const std::string* name;  // when !bucket: the field name as the query spells it
  };
  // The group keys in the order of the bucket and then Key::values, when every one is a
  // bucket of the query's time field or a built-in text or level column (service, host, level,
  // trace_id, span_id, user_id); nullopt for bytes, the message (a JSON line's may be rendered
  // from its shape), dynamic fields, tenant, ts/seq as values and a second bucket: such
  // aggregations read records.
  std::optional<std::vector<ColumnKey>> ColumnKeys() const;
  // The bucket "t" (on the query's time field) falls in. REQUIRES: the query has a bucket.
  int64_t BucketOf(int64_t t) const;
  int64_t BucketWidth() const { return bucket_ns_; }
  // The first time that falls in "bucket" (a value of BucketOf): the bucket holds the times
  // [BucketFirstTime(bucket), BucketFirstTime(bucket) + BucketWidth()).
  int64_t BucketFirstTime(int64_t bucket) const {
    return bucket_end_ ? static_cast<int64_t>(static_cast<uint64_t>(bucket) -
                                              static_cast<uint64_t>(bucket_ns_) + 1)
                       : bucket;
  }
  // As "n" calls of Add with records in bucket "bucket" (ignored without a bucket) whose
  // GroupValues are "values" (in Key::values order).
  void AddBucketCount(int64_t bucket, const std::vector<std::string>& values, int64_t n);

  // The answer rows after the row stages (sort, head, fields). "range" gives the empty
  // buckets; with "all_time" the buckets span the matching records. Adds a warning when
  // groups were dropped.
  std::vector<Row> Finish(const TimeRange& range, bool all_time,
                          std::vector<std::string>* warnings) const;

  // The segment columns the aggregation reads.
  uint32_t columns() const;

 private:
  struct Key {
    int64_t bucket = 0;
    std::vector<std::string> values;
    auto operator<=>(const Key&) const = default;
  };

  // Adds "by" to the group "key" (copied only when the group is new).
  void Bump(const Key& key, int64_t by);
  // Bump of the key {bucket, values}, built in scratch_ (no allocation for an existing group).
  void BumpValues(int64_t bucket, const std::vector<std::string>& values, int64_t by);

  const Query* query_;
  const Pipe* agg_ = nullptr;
  bool time_field_ts_;
  int bucket_index_ = -1;  // position of bucket(...) in agg_->group_by, or -1
  int64_t bucket_ns_ = 0;
  bool bucket_end_ = false;
  std::vector<FieldId> ids_;  // of the group fields, in Key::values order
  std::vector<const std::string*> names_;
  Key scratch_;  // reused by Add() and BumpValues so that an existing group costs no allocation
  std::map<Key, int64_t> counts_;
  bool dropped_ = false;
  int64_t min_bucket_ = INT64_MAX, max_bucket_ = INT64_MIN;
};

// Rows of "fields a, b" for hits; values as in an aggregation's rows (ts as RFC 3339).
std::vector<Row> ProjectHits(const std::vector<Record>& hits,
                             const std::vector<std::string>& fields);

// The hit limit a query implies: the smallest "head N" before any aggregation, or "limit".
size_t HitLimit(const Query& query, size_t limit);

// The text value of a group field ("" when the record lacks it).
std::string GroupValue(const Record& record, std::string_view field);

}  // namespace sawmill::query
