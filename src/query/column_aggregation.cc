#include "query/column_aggregation.h"

#include <algorithm>
#include <bit>

#include "segment/builtin_fields.h"

namespace sawmill::query {

namespace {

// Combinations of one block's values counted in a flat table up to this many; a hash map
// beyond; past kMaxCells the block is read as records.
constexpr uint64_t kMaxTableCells = 1u << 16;
constexpr uint64_t kMaxCells = 1ull << 40;
// Counts kept across blocks (every key the bucket or a level): a bucket's table has 7^L cells
// for L level keys, kept only up to two level keys, and every bucket's tables together up to
// 2^20 cells (8 MiB a worker); past either the Aggregator is asked, which bounds its groups.
// (A query may name a level key many times: 7^10 cells a bucket would be 2.3 GB.)
constexpr uint64_t kMaxKeptCard = uint64_t{kLevelCount} * kLevelCount;
constexpr uint64_t kMaxKeptCells = 1u << 20;

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
  out.keep_ = true;
  for (size_t k = 0; k < out.keys_.size(); ++k) {
    const Aggregator::ColumnKey& key = out.keys_[k];
    out.columns_ |= key.bucket ? time_col : key.column;
    if (!key.bucket && key.column != segment::kColLevel) {
      out.keep_ = false;
      out.bucket_and_levels_ = false;
    }
    if (!key.bucket && key.column == segment::kColLevel) {
      out.kept_card_ *= kLevelCount;
      // A level's code is its value: the same values in every block.
      for (int l = 0; l < kLevelCount; ++l) {
        Record r;
        r.level = static_cast<Level>(l);
        out.values_[k].push_back(GroupValue(r, *key.name));
      }
    }
  }
  if (out.kept_card_ > kMaxKeptCard) out.keep_ = false;
  return out;
}

bool ColumnAggregation::Add(const segment::BlockColumns& cols, const std::vector<uint32_t>* rows,
                            Aggregator* agg) {
  if (rows == nullptr)
    return AddRows(
        cols, cols.rows, [](size_t i) { return i; }, agg);
  const uint32_t* at = rows->data();
  return AddRows(
      cols, rows->size(), [at](size_t i) { return at[i]; }, agg);
}

template <typename RowAt>
bool ColumnAggregation::AddRows(const segment::BlockColumns& cols, size_t n, RowAt row,
                                Aggregator* agg) {
  if (n == 0) return true;
  // Per key: how many codes it has and (bucket) the first bucket; values_[k] has the value of
  // each code of a level or text key.
  struct Dim {
    uint64_t card = 1;
    int64_t first_bucket = 0;
    int64_t width = 0;
  };
  std::vector<Dim> dims(keys_.size());
  cell_.resize(n);
  uint64_t* const cell = cell_.data();  // (a local: the loops below need not reload it)
  uint64_t radix = 1;
  for (size_t k = 0; k < keys_.size(); ++k) {
    const Aggregator::ColumnKey& key = keys_[k];
    const bool first = k == 0;  // the first key sets cell_, the others add to it
    Dim& dim = dims[k];
    if (key.bucket) {
      if (!first) return false;  // (ColumnKeys puts the bucket first)
      // A bucket's number is its first time divided by the width (buckets are multiples of the
      // width). The times of a block are ascending runs (one per service and host), so a row's
      // bucket is mostly the row before's: a division only where a row leaves the bucket.
      const int64_t* t = cols.ints[time_slot_].data();
      const int64_t width = agg->BucketWidth();
      const uint64_t uwidth = static_cast<uint64_t>(width);
      uint64_t start = static_cast<uint64_t>(t[row(0)]) + 1;  // the current bucket's first time
      int64_t index = 0;
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (size_t i = 0; i < n; ++i) {
        const int64_t ti = t[row(i)];
        if (static_cast<uint64_t>(ti) - start >= uwidth) {
          const int64_t bucket = agg->BucketOf(ti);
          start = static_cast<uint64_t>(agg->BucketFirstTime(bucket));
          index = bucket / width;
          lo = std::min(lo, index);
          hi = std::max(hi, index);
        }
        cell[i] = static_cast<uint64_t>(index);
      }
      dim.first_bucket = lo * width;
      dim.width = width;
      dim.card = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
      if (dim.card > kMaxCells) return false;
      const uint64_t ulo = static_cast<uint64_t>(lo);
      for (size_t i = 0; i < n; ++i) cell[i] -= ulo;
    } else if (key.column == segment::kColLevel) {
      const int64_t* levels = cols.ints[std::countr_zero(key.column)].data();
      dim.card = kLevelCount;
      uint64_t out_of_range = 0;
      if (first) {
        for (size_t i = 0; i < n; ++i) {
          const uint64_t l = static_cast<uint64_t>(levels[row(i)]);
          out_of_range |= l >= kLevelCount;
          cell[i] = l;
        }
      } else {
        for (size_t i = 0; i < n; ++i) {
          const uint64_t l = static_cast<uint64_t>(levels[row(i)]);
          out_of_range |= l >= kLevelCount;
          cell[i] += l * radix;
        }
      }
      if (out_of_range != 0) return false;
    } else {
      const std::vector<std::string_view>& text = cols.text[std::countr_zero(key.column)];
      const segment::BuiltinField* f = segment::FindBuiltinField(*key.name, /*with_alias=*/true);
      intern_.clear();
      distinct_.clear();
      for (size_t i = 0; i < n; ++i) {
        const std::string_view v = text[row(i)];
        auto [it, added] = intern_.try_emplace(v, static_cast<uint32_t>(distinct_.size()));
        if (added) distinct_.push_back(v);
        cell[i] = (first ? 0 : cell[i]) + it->second * radix;
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
  if (keys_.empty()) std::fill(cell_.begin(), cell_.end(), 0);

  std::vector<std::string> values(keys_.size() - (keys_.empty() || !keys_[0].bucket ? 0 : 1));
  const bool bucket_first = !keys_.empty() && keys_[0].bucket;
  auto emit = [&](uint64_t cell, int64_t count) {
    if (keep_) {
      // The bucket is the first key (its code the lowest digit); the levels' codes the rest.
      const int64_t bucket =
          bucket_first
              ? dims[0].first_bucket + static_cast<int64_t>(cell % dims[0].card) * dims[0].width
              : 0;
      if (Keep(bucket, bucket_first ? cell / dims[0].card : cell, count)) return;
    }
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
    // Neighbouring rows mostly share their combination: four tables, taken in turn, so that
    // an increment does not wait for the one before it to be stored.
    const uint64_t copies = radix <= kMaxTableCells / 4 ? 4 : 1;
    table_.assign(radix * copies, 0);
    int64_t* table = table_.data();
    const uint64_t* cell = cell_.data();
    size_t i = 0;
    if (copies == 4) {
      for (; i + 4 <= n; i += 4) {
        ++table[cell[i] * 4];
        ++table[cell[i + 1] * 4 + 1];
        ++table[cell[i + 2] * 4 + 2];
        ++table[cell[i + 3] * 4 + 3];
      }
    }
    for (; i < n; ++i) ++table[cell[i] * copies];
    for (uint64_t c = 0; c < radix; ++c) {
      int64_t count = 0;
      for (uint64_t j = 0; j < copies; ++j) count += table[c * copies + j];
      if (count != 0) emit(c, count);
    }
  } else {
    sparse_.clear();
    for (uint64_t c : cell_) ++sparse_[c];
    for (const auto& [c, count] : sparse_) emit(c, count);
  }
  return true;
}

bool ColumnAggregation::Keep(int64_t bucket, uint64_t code, int64_t count) {
  // Past kMaxGroups buckets or kMaxKeptCells the Aggregator is asked (and drops new groups,
  // saying so).
  auto at = kept_at_.find(bucket);
  if (at == kept_at_.end() && kept_at_.size() < kMaxGroups &&
      kept_.size() + kept_card_ <= kMaxKeptCells) {
    at = kept_at_.emplace(bucket, kept_.size()).first;
    kept_.resize(kept_.size() + kept_card_, 0);
  }
  if (at == kept_at_.end()) return false;
  kept_[at->second + code] += count;
  return true;
}

void ColumnAggregation::AddCount(int64_t bucket, uint32_t level, int64_t count, Aggregator* agg) {
  if (keep_) {
    uint64_t code = 0, radix = 1;
    for (const Aggregator::ColumnKey& key : keys_) {
      if (key.bucket) continue;
      code += level * radix;
      radix *= kLevelCount;
    }
    if (Keep(bucket, code, count)) return;
  }
  std::vector<std::string>& values = count_values_;
  values.clear();
  for (size_t k = 0; k < keys_.size(); ++k) {
    if (!keys_[k].bucket) values.push_back(values_[k][level]);
  }
  agg->AddBucketCount(bucket, values, count);
}

void ColumnAggregation::HandOver(Aggregator* agg) {
  // In bucket order: past the Aggregator's group limit, which groups it keeps does not depend
  // on the hash map's order.
  std::vector<std::pair<int64_t, size_t>> kept(kept_at_.begin(), kept_at_.end());
  std::sort(kept.begin(), kept.end());
  std::vector<std::string> values;
  for (const auto& [bucket, at] : kept) {
    for (uint64_t cell = 0; cell < kept_card_; ++cell) {
      const int64_t count = kept_[at + cell];
      if (count == 0) continue;
      values.clear();
      uint64_t rest = cell;
      for (size_t k = 0; k < keys_.size(); ++k) {
        if (keys_[k].bucket) continue;
        values.push_back(values_[k][rest % kLevelCount]);
        rest /= kLevelCount;
      }
      agg->AddBucketCount(bucket, values, count);
    }
  }
  kept_at_.clear();
  kept_.clear();
}

}  // namespace sawmill::query
