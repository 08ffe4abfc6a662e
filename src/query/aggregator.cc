#include "query/aggregator.h"

#include <algorithm>

#include "query/evaluator.h"
#include "query/time_range.h"
#include "segment/builtin_fields.h"
#include "segment/segment.h"

namespace sawmill::query {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int CompareValues(const Value& a, const Value& b) {
  if (a.index() != b.index()) return a.index() == 1 ? -1 : 1;  // numbers before text
  if (a.index() == 1) {
    int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  int c = std::get<std::string>(a).compare(std::get<std::string>(b));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

const Value* Find(const Row& row, std::string_view name) {
  for (const auto& [k, v] : row) {
    if (k == name) return &v;
  }
  return nullptr;
}

void ApplyRowStages(const Query& q, std::vector<Row>* rows) {
  bool after = false;
  for (const Pipe& p : q.pipes) {
    if (p.kind == PipeKind::kCount || p.kind == PipeKind::kTop || p.kind == PipeKind::kUniq) {
      after = true;
      continue;
    }
    if (!after) continue;
    switch (p.kind) {
      case PipeKind::kSort:
        std::stable_sort(rows->begin(), rows->end(), [&](const Row& a, const Row& b) {
          for (const SortKey& key : p.sort) {
            const Value* x = Find(a, key.column);
            const Value* y = Find(b, key.column);
            if (!x || !y) continue;
            int c = CompareValues(*x, *y);
            if (c != 0) return key.descending ? c > 0 : c < 0;
          }
          return false;
        });
        break;
      case PipeKind::kHead:
        if (rows->size() > static_cast<size_t>(p.n)) rows->resize(static_cast<size_t>(p.n));
        break;
      case PipeKind::kFields:
        for (Row& row : *rows) {
          Row out;
          for (const std::string& f : p.fields) {
            const Value* v = Find(row, f);
            out.emplace_back(f, v ? *v : Value(std::string()));
          }
          row = std::move(out);
        }
        break;
      default: break;
    }
  }
}

}  // namespace

std::string GroupValue(const Record& record, std::string_view field) {
  std::string out;
  if (!FieldText(record, field, &out)) out.clear();
  return out;
}

Status ValidatePipes(const Query& query, const TimeRange& range, bool all_time) {
  if (all_time) return Status::OK();
  for (const Pipe& p : query.pipes) {
    for (const GroupKey& k : p.group_by) {
      if (k.bucket_ns <= 0) continue;
      // bucket_end buckets are (t - W, t]: the same count over the range shifted by 1 ns.
      const int64_t shift = k.bucket_end ? 1 : 0;
      int64_t buckets = FloorDiv(range.to_ns - 1 - shift, k.bucket_ns) -
                        FloorDiv(range.from_ns - shift, k.bucket_ns) + 1;
      if (buckets > kMaxBuckets) {
        return Status::InvalidArgument(
            std::string(k.bucket_end ? "bucket_end(" : "bucket(") + FormatDuration(k.bucket_ns) +
            ") over " + FormatDuration(range.to_ns - range.from_ns) + " makes " +
            std::to_string(buckets) + " buckets, more than " + std::to_string(kMaxBuckets) +
            ": use a wider bucket or a shorter time range");
      }
    }
  }
  return Status::OK();
}

Aggregator::Aggregator(const Query* query, bool time_field_ts)
    : query_(query), time_field_ts_(time_field_ts) {
  for (const Pipe& p : query->pipes) {
    if (p.kind == PipeKind::kCount || p.kind == PipeKind::kTop || p.kind == PipeKind::kUniq) {
      agg_ = &p;
      break;
    }
  }
  if (agg_ != nullptr) {
    for (size_t i = 0; i < agg_->group_by.size(); ++i) {
      if (agg_->group_by[i].bucket_ns > 0 && bucket_index_ < 0) {
        bucket_index_ = static_cast<int>(i);
        bucket_ns_ = agg_->group_by[i].bucket_ns;
        bucket_end_ = agg_->group_by[i].bucket_end;
      }
    }
    // Key::values holds every group field except the (first) bucket, in order.
    if (agg_->kind == PipeKind::kCount) {
      for (size_t i = 0; i < agg_->group_by.size(); ++i) {
        if (static_cast<int>(i) == bucket_index_) continue;
        const GroupKey& k = agg_->group_by[i];
        ids_.push_back(FieldIdOf(k.name));
        names_.push_back(k.bucket_ns > 0 ? nullptr : &k.name);  // a second bucket groups as ""
      }
    } else {
      for (const std::string& f : agg_->fields) {
        ids_.push_back(FieldIdOf(f));
        names_.push_back(&f);
      }
    }
    scratch_.values.resize(ids_.size());
  }
}

uint32_t Aggregator::columns() const {
  uint32_t mask = 0;
  if (agg_ == nullptr) return mask;
  for (const GroupKey& k : agg_->group_by) {
    mask |= k.bucket_ns > 0 ? (time_field_ts_ ? segment::kColTs : segment::kColIngestTs)
                            : ColumnOfField(k.name);
  }
  for (const std::string& f : agg_->fields) mask |= ColumnOfField(f);
  if (agg_->bytes) mask |= segment::kColMessage;
  return mask;
}

void Aggregator::Bump(const Key& key, int64_t by) {
  auto it = counts_.find(key);
  if (it != counts_.end()) {
    it->second += by;
    return;
  }
  if (counts_.size() >= kMaxGroups) {
    dropped_ = true;
    return;
  }
  counts_.emplace(key, by);
}

void Aggregator::BumpValues(int64_t bucket, const std::vector<std::string>& values, int64_t by) {
  scratch_.bucket = bucket;
  scratch_.values = values;  // reuses scratch_'s vector and strings
  Bump(scratch_, by);
}

int64_t Aggregator::BucketOf(int64_t t) const {
  return bucket_end_ ? FloorDiv(t - 1, bucket_ns_) * bucket_ns_ + bucket_ns_
                     : FloorDiv(t, bucket_ns_) * bucket_ns_;
}

std::optional<std::vector<Aggregator::ColumnKey>> Aggregator::ColumnKeys() const {
  if (agg_ == nullptr || agg_->bytes) return std::nullopt;
  std::vector<ColumnKey> keys;
  if (bucket_index_ >= 0) keys.push_back(ColumnKey{true, 0, nullptr});
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (names_[i] == nullptr) return std::nullopt;  // a second bucket
    const segment::BuiltinField* f = segment::FindBuiltinField(*names_[i], /*with_alias=*/true);
    if (ids_[i] == FieldId::kDynamic || ids_[i] == FieldId::kTenant || f == nullptr ||
        (f->type != segment::FieldType::kString && f->type != segment::FieldType::kLevel) ||
        f->column_bit == segment::kColMessage) {
      return std::nullopt;
    }
    keys.push_back(ColumnKey{false, f->column_bit, names_[i]});
  }
  return keys;
}

void Aggregator::AddBucketCount(int64_t bucket, const std::vector<std::string>& values, int64_t n) {
  if (n <= 0) return;
  if (bucket_index_ < 0) {
    bucket = 0;
  } else {
    min_bucket_ = std::min(min_bucket_, bucket);
    max_bucket_ = std::max(max_bucket_, bucket);
  }
  BumpValues(bucket, values, n);
}

void Aggregator::Add(const Record& record) {
  if (agg_ == nullptr) return;
  if (bucket_index_ >= 0) {
    scratch_.bucket = BucketOf(time_field_ts_ ? record.ts : record.ingest_ts);
    min_bucket_ = std::min(min_bucket_, scratch_.bucket);
    max_bucket_ = std::max(max_bucket_, scratch_.bucket);
  }
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (names_[i] == nullptr || !FieldText(record, ids_[i], *names_[i], &scratch_.values[i])) {
      scratch_.values[i].clear();
    }
  }
  const int64_t by = agg_->bytes ? static_cast<int64_t>(record.message.size()) : 1;
  Bump(scratch_, by);
}

bool Aggregator::CountsOnly() const {
  return agg_ != nullptr && agg_->kind == PipeKind::kCount && !agg_->bytes &&
         agg_->group_by.empty();
}

void Aggregator::AddCount(int64_t n) {
  if (n > 0) Bump(Key{}, n);
}

std::vector<std::string> Aggregator::GroupFields() const {
  std::vector<std::string> out;
  // Bytes must read the messages: never counted from postings.
  if (agg_ == nullptr || bucket_index_ >= 0 || agg_->bytes) return out;
  for (const std::string* name : names_) out.push_back(*name);
  return out;
}

void Aggregator::AddGroupCount(const std::vector<std::string>& values, int64_t n) {
  if (n > 0) BumpValues(0, values, n);
}

void Aggregator::Merge(const Aggregator& other) {
  for (const auto& [key, n] : other.counts_) Bump(key, n);
  dropped_ = dropped_ || other.dropped_;
  min_bucket_ = std::min(min_bucket_, other.min_bucket_);
  max_bucket_ = std::max(max_bucket_, other.max_bucket_);
}

AggregateState Aggregator::Export() const {
  AggregateState out;
  out.groups.reserve(counts_.size());
  for (const auto& [key, n] : counts_) out.groups.push_back({key.bucket, key.values, n});
  out.dropped = dropped_;
  out.min_bucket = min_bucket_;
  out.max_bucket = max_bucket_;
  return out;
}

void Aggregator::Import(const AggregateState& state) {
  for (const GroupCount& g : state.groups) {
    // A group of another shape (another query) cannot be this query's: ignored.
    if (g.values.size() != ids_.size()) continue;
    BumpValues(g.bucket, g.values, g.count);
  }
  dropped_ = dropped_ || state.dropped;
  min_bucket_ = std::min(min_bucket_, state.min_bucket);
  max_bucket_ = std::max(max_bucket_, state.max_bucket);
}

std::vector<Row> Aggregator::Finish(const TimeRange& range, bool all_time,
                                    std::vector<std::string>* warnings) const {
  std::vector<Row> rows;
  if (agg_ == nullptr) return rows;
  if (dropped_) {
    warnings->push_back("more than " + std::to_string(kMaxGroups) +
                        " distinct groups: the counts are partial; group by fewer or "
                        "lower-cardinality fields, or add filters");
  }
  auto make_row = [&](const Key& key, int64_t count, bool with_count) {
    Row row;
    size_t v = 0;
    if (agg_->kind == PipeKind::kCount) {
      for (size_t i = 0; i < agg_->group_by.size(); ++i) {
        if (static_cast<int>(i) == bucket_index_) {
          row.emplace_back("bucket", FormatRfc3339(key.bucket));
        } else {
          row.emplace_back(agg_->group_by[i].name, key.values[v++]);
        }
      }
    } else {
      for (const std::string& f : agg_->fields) row.emplace_back(f, key.values[v++]);
    }
    if (with_count) row.emplace_back(agg_->bytes ? "bytes" : "count", count);
    return row;
  };
  switch (agg_->kind) {
    case PipeKind::kCount: {
      if (bucket_index_ >= 0) {
        // Every series (combination of the other group fields) gets every bucket.
        std::set<std::vector<std::string>> series;
        for (const auto& [key, n] : counts_) series.insert(key.values);
        if (agg_->group_by.size() == 1) series.insert({});
        int64_t first, last;
        if (all_time) {
          first = min_bucket_;
          last = max_bucket_;
        } else {
          // The buckets holding from_ns and to_ns - 1.
          const int64_t shift = bucket_end_ ? 1 : 0;
          first = FloorDiv(range.from_ns - shift, bucket_ns_) * bucket_ns_ + shift * bucket_ns_;
          last = FloorDiv(range.to_ns - 1 - shift, bucket_ns_) * bucket_ns_ + shift * bucket_ns_;
        }
        if (first <= last && (last - first) / bucket_ns_ < kMaxBuckets) {
          size_t budget = kMaxGroups * 4;
          for (int64_t b = first; b <= last; b += bucket_ns_) {
            for (const auto& s : series) {
              Key key{b, s};
              auto it = counts_.find(key);
              rows.push_back(make_row(key, it == counts_.end() ? 0 : it->second, true));
              if (--budget == 0) break;
            }
            if (budget == 0) {
              warnings->push_back("too many bucket rows: the answer is cut; use a wider bucket");
              break;
            }
          }
        } else if (first <= last) {
          // Only reachable with all_time=1 over data spanning more than kMaxBuckets buckets.
          warnings->push_back("the matching lines span more than " + std::to_string(kMaxBuckets) +
                              " buckets of " + FormatDuration(bucket_ns_) +
                              ": empty buckets are left out; use a wider bucket or a time range");
          for (const auto& [key, n] : counts_) rows.push_back(make_row(key, n, true));
        }
      } else {
        for (const auto& [key, n] : counts_) rows.push_back(make_row(key, n, true));
        if (agg_->group_by.empty() && rows.empty()) {
          rows.push_back({{agg_->bytes ? "bytes" : "count", int64_t{0}}});
        }
        if (!agg_->group_by.empty()) {
          std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
            return std::get<int64_t>(a.back().second) > std::get<int64_t>(b.back().second);
          });
        }
      }
      break;
    }
    case PipeKind::kTop: {
      for (const auto& [key, n] : counts_) rows.push_back(make_row(key, n, true));
      std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return std::get<int64_t>(a.back().second) > std::get<int64_t>(b.back().second);
      });
      if (rows.size() > static_cast<size_t>(agg_->n)) rows.resize(static_cast<size_t>(agg_->n));
      break;
    }
    case PipeKind::kUniq:
      for (const auto& [key, n] : counts_) rows.push_back(make_row(key, n, false));
      break;
    default: break;
  }
  ApplyRowStages(*query_, &rows);
  return rows;
}

std::vector<Row> ProjectHits(const std::vector<Record>& hits,
                             const std::vector<std::string>& fields) {
  std::vector<Row> rows;
  rows.reserve(hits.size());
  for (const Record& r : hits) {
    Row row;
    for (const std::string& f : fields) {
      FieldId id = FieldIdOf(f);
      if (id == FieldId::kTs || id == FieldId::kIngestTs) {
        row.emplace_back(f, FormatRfc3339(id == FieldId::kTs ? r.ts : r.ingest_ts));
      } else if (id == FieldId::kSeq) {
        row.emplace_back(f, static_cast<int64_t>(r.seq));
      } else {
        row.emplace_back(f, GroupValue(r, f));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

size_t HitLimit(const Query& query, size_t limit) {
  for (const Pipe& p : query.pipes) {
    if (p.kind == PipeKind::kCount || p.kind == PipeKind::kTop || p.kind == PipeKind::kUniq) break;
    if (p.kind == PipeKind::kHead) limit = std::min(limit, static_cast<size_t>(p.n));
  }
  return limit;
}

}  // namespace sawmill::query
