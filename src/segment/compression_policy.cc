#include "segment/compression_policy.h"

namespace sawmill::segment {

CodecChoice CodecFor(ColumnId id) {
  switch (id) {
    case ColumnId::kMessage:
    case ColumnId::kDynamic:
    case ColumnId::kFieldOverflow: return {Codec::kZstd, 3};
    default: return {Codec::kZstd, 3};
  }
}

}  // namespace sawmill::segment
