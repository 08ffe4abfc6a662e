// Index kind "numeric_range": per row block, the smallest and largest numeric value of each
// dynamic field, so that `status>=500` or `duration_ms>1000` skip the blocks whose range cannot
// satisfy them. A value is numeric by index::ParseNumber, the rule the query's comparisons use.
//
// Serialized block, version 1 (integers are varints, doubles IEEE 754 little-endian):
//   numeric_range := field_count field*
//   field         := name(lp) entry_count entry*
//   entry         := block_gap min(fixed64) max(fixed64)
// block_gap is the entry's block minus the previous entry's block minus 1 (the first entry's
// block for the first), so blocks strictly increase. A field is listed when some value of it
// in the segment is numeric; a block without an entry holds no numeric value of that field.
// At most kMaxFields fields, the first met; other fields are not indexed (never pruned).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "common/coding.h"
#include "index/index_kind.h"
#include "index/numeric_value.h"

namespace sawmill::index {

namespace {

constexpr uint32_t kVersion = 1;
constexpr size_t kMaxFields = 1024;

struct Entry {
  uint32_t block = 0;
  double min = 0, max = 0;
};

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

double FromBits(uint64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Conditions on dynamic fields: equality with a number and comparisons.
bool Answers(const FieldPredicate& p) {
  using Op = FieldPredicate::Op;
  return !p.builtin && (p.op == Op::kEquals || p.op == Op::kLess || p.op == Op::kLessEqual ||
                        p.op == Op::kGreater || p.op == Op::kGreaterEqual);
}

class NumericRangeBuilder final : public IndexBuilder {
 public:
  void AddBlock(const Record* rows, uint32_t count) override {
    for (uint32_t row = 0; row < count; ++row) {
      for (const auto& [key, value] : rows[row].fields) {
        std::optional<double> v = ParseNumber(value);
        if (!v) continue;
        auto it = by_name_.find(key);
        if (it == by_name_.end()) {
          if (fields_.size() >= kMaxFields) continue;
          it = by_name_.emplace(key, fields_.size()).first;
          fields_.push_back(Field{key, {}});
        }
        std::vector<Entry>& entries = fields_[it->second].entries;
        if (entries.empty() || entries.back().block != block_) {
          entries.push_back(Entry{block_, *v, *v});
        } else {
          entries.back().min = std::min(entries.back().min, *v);
          entries.back().max = std::max(entries.back().max, *v);
        }
      }
    }
    ++block_;
  }

  void Finish(std::vector<IndexPart>* parts) override {
    if (fields_.empty()) return;
    parts->emplace_back();
    parts->back().blobs.emplace_back();
    std::string* out = &parts->back().blobs.back();
    PutVarint64(out, fields_.size());
    for (const Field& f : fields_) {
      PutLengthPrefixed(out, f.name);
      PutVarint64(out, f.entries.size());
      uint32_t next = 0;
      for (const Entry& e : f.entries) {
        PutVarint32(out, e.block - next);
        PutFixed64(out, Bits(e.min));
        PutFixed64(out, Bits(e.max));
        next = e.block + 1;
      }
    }
  }

 private:
  struct Field {
    std::string name;
    std::vector<Entry> entries;  // by increasing block
  };
  uint32_t block_ = 0;
  std::vector<Field> fields_;
  std::unordered_map<std::string, size_t> by_name_;
};

class NumericRangeView final : public IndexView {
 public:
  Result<bool> BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    if (!Answers(p)) return true;
    std::optional<double> bound = p.number;
    if (p.op == FieldPredicate::Op::kEquals) bound = ParseNumber(p.value);
    if (!bound) return true;  // a text comparison or a non-numeric value: not this index's
    auto it = fields_.find(p.field);
    if (it == fields_.end()) return true;  // not indexed here
    const std::vector<Entry>& entries = it->second;
    auto e = std::lower_bound(entries.begin(), entries.end(), block,
                              [](const Entry& x, uint32_t b) { return x.block < b; });
    // No numeric value in the block: a numeric comparison cannot hold for any row.
    if (e == entries.end() || e->block != block) return false;
    const double x = *bound;
    switch (p.op) {
      case FieldPredicate::Op::kEquals: return e->min <= x && x <= e->max;
      case FieldPredicate::Op::kLess: return e->min < x;
      case FieldPredicate::Op::kLessEqual: return e->min <= x;
      case FieldPredicate::Op::kGreater: return e->max > x;
      case FieldPredicate::Op::kGreaterEqual: return e->max >= x;
      case FieldPredicate::Op::kWord:
      case FieldPredicate::Op::kTimeWithin: return true;
    }
    return true;
  }

  std::map<std::string, std::vector<Entry>, std::less<>> fields_;
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& /*options*/) {
  return std::make_unique<NumericRangeBuilder>();
}

Result<std::unique_ptr<IndexView>> Parse(uint32_t version, std::string serialized,
                                         uint32_t block_count) {
  if (version != kVersion) {
    return Status::DataLoss("numeric_range version " + std::to_string(version) +
                            " is not readable by this build");
  }
  auto view = std::make_unique<NumericRangeView>();
  std::string_view in(serialized);
  uint64_t field_count;
  if (!GetVarint64(&in, &field_count) || field_count > in.size()) {
    return Status::DataLoss("numeric_range: bad field count");
  }
  for (uint64_t f = 0; f < field_count; ++f) {
    std::string_view name;
    uint64_t entry_count;
    if (!GetLengthPrefixed(&in, &name) || !GetVarint64(&in, &entry_count) ||
        entry_count > block_count || entry_count * 17 > in.size()) {
      return Status::DataLoss("numeric_range: truncated field " + std::to_string(f));
    }
    std::vector<Entry> entries(entry_count);
    uint64_t next = 0;
    for (Entry& e : entries) {
      uint32_t gap;
      uint64_t min_bits, max_bits;
      if (!GetVarint32(&in, &gap) || !GetFixed64(&in, &min_bits) || !GetFixed64(&in, &max_bits)) {
        return Status::DataLoss("numeric_range: truncated entries of '" + std::string(name) + "'");
      }
      next += gap;
      e.min = FromBits(min_bits);
      e.max = FromBits(max_bits);
      if (next >= block_count || std::isnan(e.min) || std::isnan(e.max) || e.min > e.max) {
        return Status::DataLoss("numeric_range: bad entry for block " + std::to_string(next) +
                                " of '" + std::string(name) + "'");
      }
      e.block = static_cast<uint32_t>(next++);
    }
    if (!view->fields_.emplace(std::string(name), std::move(entries)).second) {
      return Status::DataLoss("numeric_range: field '" + std::string(name) + "' listed twice");
    }
  }
  if (!in.empty()) return Status::DataLoss("numeric_range: trailing bytes");
  return std::unique_ptr<IndexView>(std::move(view));
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  if (source->parts().size() != 1) return Status::DataLoss("numeric_range: not one block");
  std::string raw;
  RETURN_IF_ERROR(source->Read(0, 0, &raw));
  return Parse(source->parts()[0].version, std::move(raw), source->block_count());
}

}  // namespace

extern const IndexKind kNumericRangeIndex;
const IndexKind kNumericRangeIndex{
    "numeric_range", kVersion, IndexLayout::kKindBlock, false, &Answers, &NewBuilder, &Open};

}  // namespace sawmill::index
