// An index kind: how one kind of skip index is built from the rows of a segment, stored as one
// versioned serialized block, and asked whether a row block may hold a match. A new kind is one
// file implementing IndexKind plus one line in index_kinds.cc (docs/extending.md walks through
// numeric_range_index.cc as the example).
//
// Every kind answers "may match": false is a proof that no row of the block satisfies the
// predicate, true means "read the block". A kind that cannot decide, or whose block is damaged,
// says true, so a query over a segment without the index (an older file, an unknown kind) still
// gives the right answer, only with more reading.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::index {

// One condition of a filter on one field, in terms an index kind can check without knowing the
// query language. The query planner makes them from the filters it can prune with; only
// conditions a record must satisfy to match are passed (never one under a NOT).
struct FieldPredicate {
  enum class Op : uint8_t { kEquals, kLess, kLessEqual, kGreater, kGreaterEqual };
  std::string_view field;  // a dynamic field name
  Op op = Op::kEquals;
  std::string_view value;        // kEquals: the exact value
  std::optional<double> number;  // comparisons: the bound as a number, when it is one
};

// Builds one kind's index for one segment. Not thread-safe; one per segment being written.
class IndexBuilder {
 public:
  virtual ~IndexBuilder() = default;
  // Called once per row block, in block order (the first call is block 0).
  virtual void AddBlock(const Record* rows, uint32_t count) = 0;
  // Appends the serialized index to "*out". Appending nothing means "nothing worth storing":
  // the writer then leaves the kind out of the segment.
  virtual void Finish(std::string* out) = 0;
};

// A parsed index of one segment. Immutable; safe to use from many threads.
class IndexView {
 public:
  virtual ~IndexView() = default;
  // False only when no row of "block" can satisfy "predicate".
  virtual bool BlockMayMatch(uint32_t block, const FieldPredicate& predicate) const = 0;
};

struct IndexKind {
  // Stored in the segment footer to say which kind a block is: never rename a kind.
  std::string_view name;
  // The version of the serialized block this build writes; Open reads every version up to it.
  uint32_t version = 1;
  std::unique_ptr<IndexBuilder> (*new_builder)() = nullptr;
  // Parses "serialized" (written by "version") for a segment of "block_count" row blocks.
  // Errors: DataLoss saying what is wrong (the caller adds which segment and offset).
  Result<std::unique_ptr<IndexView>> (*open)(uint32_t version, std::string serialized,
                                             uint32_t block_count) = nullptr;
};

// Every kind the segment writer builds, in registration order (index_kinds.cc).
std::span<const IndexKind* const> RegisteredIndexKinds();

// The registered kind called "name", or nullptr (a segment written by a newer build).
const IndexKind* FindIndexKind(std::string_view name);

}  // namespace sawmill::index
