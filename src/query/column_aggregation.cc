#include "query/column_aggregation.h"

#include <bit>

#include "segment/builtin_fields.h"

namespace sawmill::query {

namespace {

// Combinations of one block's values counted in a flat table up to this many; a hash map
// beyond; past kMaxCells the block is read as records.
constexpr uint64_t kMaxTableCells = 1u << 16;
constexpr uint64_t kMaxCells = 1ull << 40;

}  // namespace

std::optional<ColumnAggregation> ColumnAggregation::Make(const Aggregator& agg,
                                                         bool time_field_ts) {
  std::optional<std::vector<Aggregator::ColumnKey>> keys = agg.ColumnKeys();
  if (!keys) return std::nullopt;
  ColumnAggregation out;
  out.keys_ = std::move(*keys);
  const uint32_t time_col = time_field_ts ? segment::kColTs : segment::kColIngestTs;
  out.time_slot_ = std::countr_zero(time_col);
  out.values_.resize(out.keys_.size());
  for (size_t k = 0; k < out.keys_.size(); ++k) {
    const Aggregator::ColumnKey& key = out.keys_[k];
    out.columns_ |= key.bucket ? time_col : key.column;
    if (!key.bucket && key.column == segment::kColLevel) {
      // A level's code is its value: the same values in every block.
      for (int l = 0; l < kLevelCount; ++l) {
        Record r;
        r.level = static_cast<Level>(l);
        out.values_[k].push_back(GroupValue(r, *key.name));
      }
    }
  }
  return out;
}

bool ColumnAggregation::Add(const segment::BlockColumns& cols, const std::vector<uint32_t>& rows,
                            Aggregator* agg) {
  const size_t n = rows.size();
  if (n == 0) return true;
  // Per key: how many codes it has and (bucket) the first bucket; values_[k] has the value of
  // each code of a level or text key.
  struct Dim {
    uint64_t card = 1;
    int64_t first_bucket = 0;
    int64_t width = 0;
  };
  std::vector<Dim> dims(keys_.size());
  cell_.assign(n, 0);
  uint64_t radix = 1;
  for (size_t k = 0; k < keys_.size(); ++k) {
    const Aggregator::ColumnKey& key = keys_[k];
    Dim& dim = dims[k];
    if (key.bucket) {
      const std::vector<int64_t>& t = cols.ints[time_slot_];
      buckets_.resize(n);
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (size_t i = 0; i < n; ++i) {
        const int64_t b = agg->BucketOf(t[rows[i]]);
        buckets_[i] = b;
        lo = std::min(lo, b);
        hi = std::max(hi, b);
      }
      // Buckets are multiples of the width (bucket_end's are too).
      dim.first_bucket = lo;
      const int64_t width = agg->BucketWidth();
      const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
      dim.width = width;
      dim.card = span / static_cast<uint64_t>(width) + 1;
      if (dim.card > kMaxCells) return false;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t code = (static_cast<uint64_t>(buckets_[i]) - static_cast<uint64_t>(lo)) /
                              static_cast<uint64_t>(width);
        cell_[i] += code * radix;
      }
    } else if (key.column == segment::kColLevel) {
      const std::vector<int64_t>& levels = cols.ints[std::countr_zero(key.column)];
      dim.card = kLevelCount;
      for (size_t i = 0; i < n; ++i) {
        cell_[i] += static_cast<uint64_t>(levels[rows[i]]) * radix;
      }
    } else {
      const std::vector<std::string_view>& text = cols.text[std::countr_zero(key.column)];
      const segment::BuiltinField* f = segment::FindBuiltinField(*key.name, /*with_alias=*/true);
      intern_.clear();
      distinct_.clear();
      for (size_t i = 0; i < n; ++i) {
        auto [it, added] =
            intern_.try_emplace(text[rows[i]], static_cast<uint32_t>(distinct_.size()));
        if (added) distinct_.push_back(text[rows[i]]);
        cell_[i] += it->second * radix;
      }
      dim.card = distinct_.size();
      values_[k].clear();
      Record r;
      for (std::string_view v : distinct_) {
        (r.*f->text).assign(v);
        values_[k].push_back(GroupValue(r, *key.name));
      }
    }
    if (dim.card > kMaxCells / radix) return false;
    radix *= dim.card;
  }

  std::vector<std::string> values(keys_.size() - (keys_.empty() || !keys_[0].bucket ? 0 : 1));
  auto emit = [&](uint64_t cell, int64_t count) {
    int64_t bucket = 0;
    size_t v = 0;
    for (size_t k = 0; k < keys_.size(); ++k) {
      const uint64_t code = cell % dims[k].card;
      cell /= dims[k].card;
      if (keys_[k].bucket) {
        bucket = dims[k].first_bucket + static_cast<int64_t>(code) * dims[k].width;
      } else {
        values[v++] = values_[k][code];
      }
    }
    agg->AddBucketCount(bucket, values, count);
  };
  if (radix <= kMaxTableCells) {
    table_.assign(radix, 0);
    for (uint64_t c : cell_) ++table_[c];
    for (uint64_t c = 0; c < radix; ++c) {
      if (table_[c] != 0) emit(c, table_[c]);
    }
  } else {
    sparse_.clear();
    for (uint64_t c : cell_) ++sparse_[c];
    for (const auto& [c, count] : sparse_) emit(c, count);
  }
  return true;
}

}  // namespace sawmill::query
