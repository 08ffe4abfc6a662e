// The registry of index kinds: one line per kind. The writer builds every kind listed here into
// each new segment, in this order; readers look kinds up by name and layout.
#include "index/index_kind.h"

namespace sawmill::index {

extern const IndexKind kInvertedIndexKind;  // inverted_index_kind.cc
extern const IndexKind kBloomKind;          // bloom_kind.cc
extern const IndexKind kTimeRangeKind;      // time_range_kind.cc
extern const IndexKind kNumericRangeIndex;  // numeric_range_index.cc
extern const IndexKind kWordPostingsKind;   // word_postings_kind.cc
extern const IndexKind kMinuteCountsKind;   // minute_counts_kind.cc

namespace {

const IndexKind* const kKinds[] = {
    &kInvertedIndexKind, &kBloomKind,        &kTimeRangeKind,
    &kNumericRangeIndex, &kWordPostingsKind, &kMinuteCountsKind,
};

// One kKindBlock block held in memory, as OpenKindBlock serves it.
class MemorySource final : public IndexSource {
 public:
  MemorySource(uint32_t version, std::string data, uint32_t block_count)
      : data_(std::move(data)), block_count_(block_count) {
    parts_.push_back(Part{{}, 0, version, 1});
  }
  uint32_t block_count() const override { return block_count_; }
  uint64_t row_count() const override { return 0; }
  const std::vector<Part>& parts() const override { return parts_; }
  Status Read(size_t /*part*/, size_t /*blob*/, std::string* out) const override {
    *out = data_;
    return Status::OK();
  }
  std::string Where(size_t /*part*/, size_t /*blob*/) const override { return "index block"; }
  BlockTimes Times(uint32_t /*block*/) const override { return {}; }

 private:
  std::string data_;
  uint32_t block_count_;
  std::vector<Part> parts_;
};

}  // namespace

std::span<const IndexKind* const> RegisteredIndexKinds() { return kKinds; }

const IndexKind* FindIndexKind(std::string_view name) {
  for (const IndexKind* kind : kKinds) {
    if (kind->name == name) return kind;
  }
  return nullptr;
}

std::string_view BuiltinValue(const Record& r, const IndexedField& field) {
  return field.text != nullptr ? std::string_view(r.*field.text) : LevelName(r.level);
}

Result<std::unique_ptr<IndexView>> OpenKindBlock(const IndexKind& kind, uint32_t version,
                                                 std::string serialized, uint32_t block_count) {
  return kind.open(std::make_shared<MemorySource>(version, std::move(serialized), block_count));
}

}  // namespace sawmill::index
