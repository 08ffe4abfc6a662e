// Which codec each kind of physical block gets. The choice comes from measurements on the real
// datasets (bench/segment_bench.cc; the table is in docs/format/segment.md).
#pragma once

#include "segment/block_codec.h"
#include "segment/format.h"

namespace sawmill::segment {

// The codec for a column block of column "id" (kDynamic for dynamic field columns).
CodecChoice CodecFor(ColumnId id);

// Benchmarks only: makes CodecFor return "choice" for message and field columns (or the
// measured default again when "choice" is null). Not thread-safe with concurrent writers.
void OverrideTextCodecForBenchmark(const CodecChoice* choice);

// Index blocks and the footer.
inline constexpr CodecChoice kMetadataCodec{Codec::kZstd, 3};

}  // namespace sawmill::segment
