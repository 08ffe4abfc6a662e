// Tests only: a planted encoder fault. The segment writer hands each encoded column block (before
// compression and its checksum) to the hook, which may change it: a block that then does not
// decode, or decodes to other values, as an encoder's bug would write it. The flush's read-back
// must catch it (storage/segment_files.h VerifyWritten), not a search.
#pragma once

#include <cstdint>
#include <string>

#include "segment/format.h"

namespace sawmill::segment {

// "column": the block's column (ColumnId::kDynamic for a field column); "encoded": its bytes.
using EncodedBlockHook = void (*)(ColumnId column, std::string* encoded);

// Sets the hook of every writer in the process (nullptr: none, the default). Set it only while
// no segment is being written.
void SetEncodedBlockHookForTest(EncodedBlockHook hook);

}  // namespace sawmill::segment
