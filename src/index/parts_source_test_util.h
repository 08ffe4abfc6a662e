// Test helper shared by the index tests (inverted_index_test.cc, block_map_test.cc).
#pragma once

#include <string>
#include <vector>

#include "index/index_kind.h"

namespace sawmill::index {

// A segment's stored parts of one kind held in memory, as the segment reader hands them over.
class PartsSource final : public IndexSource {
 public:
  PartsSource(const std::vector<IndexPart>& parts, uint32_t blocks, uint64_t rows)
      : stored_(parts), blocks_(blocks), rows_(rows) {
    for (const IndexPart& p : parts) parts_.push_back(Part{p.field, p.count, 0, p.blobs.size()});
  }
  uint32_t block_count() const override { return blocks_; }
  uint64_t row_count() const override { return rows_; }
  const std::vector<Part>& parts() const override { return parts_; }
  Status Read(size_t part, size_t blob, std::string* out) const override {
    *out = stored_[part].blobs[blob];
    return Status::OK();
  }
  std::string Where(size_t part, size_t) const override {
    return "segment /s.seg: index '" + parts_[part].field.name + "'";
  }
  BlockTimes Times(uint32_t) const override { return {}; }

 private:
  std::vector<IndexPart> stored_;
  std::vector<Part> parts_;
  uint32_t blocks_;
  uint64_t rows_;
};

}  // namespace sawmill::index
