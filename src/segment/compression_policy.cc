#include "segment/compression_policy.h"

#include <optional>

namespace sawmill::segment {

namespace {
std::optional<CodecChoice> text_override;
}  // namespace

void OverrideTextCodecForBenchmark(const CodecChoice* choice) {
  text_override = choice == nullptr ? std::nullopt : std::optional<CodecChoice>(*choice);
}

CodecChoice CodecFor(ColumnId id) {
  switch (id) {
    case ColumnId::kMessage:
    case ColumnId::kDynamic:
    case ColumnId::kFieldOverflow:
    case ColumnId::kMessageShape:
    case ColumnId::kMessageExtra:
      // Text: zstd 9. On the real datasets it stores 8-15% less than zstd 3 for about 40% less
      // write throughput; LZ4 stores 1.6-2.4x more (docs/format/segment.md has the table).
      if (text_override) return *text_override;
      return {Codec::kZstd, 9};
    default: return {Codec::kZstd, 3};
  }
}

}  // namespace sawmill::segment
