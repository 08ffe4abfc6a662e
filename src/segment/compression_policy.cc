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
      if (text_override) return *text_override;
      return {Codec::kZstd, 3};
    default: return {Codec::kZstd, 3};
  }
}

}  // namespace sawmill::segment
