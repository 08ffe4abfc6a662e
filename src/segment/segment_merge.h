// Merging segments into one without holding their records: what compaction and the warm
// re-encoding write with (src/storage/compactor.cc, tier_mover.cc). Part of the segment contract
// (segment.h); its own header so that the many users of segment.h do not depend on it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sawmill/status.h"
#include "segment/segment.h"

namespace sawmill::segment {

// What a MergeSegments call did and held.
struct MergeStats {
  uint64_t rows = 0;             // rows written
  uint64_t max_open_blocks = 0;  // input blocks decoded at the same time, at most
  uint64_t max_held_rows = 0;    // rows decoded and not yet written, at most
  int failed_input = -1;         // the input whose read failed (its index), or -1
  ReadStats read;                // what was read from the inputs
};
// Writes the rows of "inputs" (all of tenant info.tenant) as the new segment "name" of "store":
// the same bytes as WriteSegment of their records concatenated (input by input, each in its row
// order), written through the same writer, without holding them. Each input block is decoded
// when the merge reaches its first timestamp and let go once its rows are written, so a merge
// holds the input blocks whose time ranges overlap (for segments of this build, whose blocks
// are time slices: about one per input) and one slice of output rows, whatever the inputs'
// sizes (docs/storage.md, "Compaction memory"). Options that sort a segment as a whole
// (time_slice_rows 0) hold every row, as WriteSegment does. Durability and errors as
// WriteSegment; an input's read error is returned as it is ("stats->failed_input" names the
// input), DataLoss also when an input's rows are outside the time range its block list gives,
// and InvalidArgument when the inputs hold no rows or a footer's block list does not add up to
// its row count.
// "stop" (may be empty) is asked before each block of output rows is made: true abandons the
// merge (a server stopping: compaction and the warm re-encoding must not hold its stop up) and
// returns Unavailable; nothing is then visible under "name" (the uncommitted writer removes what
// it wrote) and the inputs are as they were.
Status MergeSegments(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                     const std::vector<std::shared_ptr<SegmentReader>>& inputs,
                     const WriterOptions& options, SegmentInfo* out, MergeStats* stats = nullptr,
                     const std::function<bool()>& stop = nullptr);

}  // namespace sawmill::segment
