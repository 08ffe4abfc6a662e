// `sawmill segment verify` and `sawmill segment dump`, as library functions (the command line
// only parses arguments and prints).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::segment {

struct VerifyReport {
  uint64_t blocks_checked = 0;  // physical blocks read and verified
  // One line per problem, naming the column (or index / bloom) and block and the byte offset:
  // "column 'message' block 3 at offset 81234 (5120 bytes): checksum mismatch".
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Reads every physical block of the segment at "path", checks its CRC and decodes it, and
// checks that the columns of each row block agree. A file that cannot be opened at all (bad
// footer, torn) is one problem. Returns non-OK only for I/O errors other than corruption.
Status VerifySegment(Env* env, const std::string& path, VerifyReport* report);

// A human-readable description: footer, blocks, columns with sizes, index and bloom summary,
// and the first "rows" rows. Errors: as SegmentReader::Open, and DataLoss from reading rows.
Status DumpSegment(Env* env, const std::string& path, size_t rows, std::string* out);

}  // namespace sawmill::segment
