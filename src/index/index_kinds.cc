// The registry of index kinds: one line per kind. The writer builds every kind listed here into
// each new segment; readers look kinds up by the name stored in the footer.
#include "index/index_kind.h"

namespace sawmill::index {

extern const IndexKind kNumericRangeIndex;  // numeric_range_index.cc

namespace {

const IndexKind* const kKinds[] = {
    &kNumericRangeIndex,
};

}  // namespace

std::span<const IndexKind* const> RegisteredIndexKinds() { return kKinds; }

const IndexKind* FindIndexKind(std::string_view name) {
  for (const IndexKind* kind : kKinds) {
    if (kind->name == name) return kind;
  }
  return nullptr;
}

}  // namespace sawmill::index
