// Format version 14: the seq column of rows that arrived out of time order as kPermutedRuns
// (permuted_runs_encoding.cc), read back through a segment.
#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "segment/column_encoding.h"
#include "segment/int_column_test_util.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

// The time of an Apache access line ("... [17/May/2015:10:05:03 +0000] ...") as a server parses
// it, in ns; 0 when the line holds none.
int64_t ApacheTime(const std::string& line) {
  const size_t at = line.find(" [");
  if (at == std::string::npos || at > 48 || line.size() < at + 22) return 0;
  tm parts{};
  if (strptime(line.c_str() + at + 2, "%d/%b/%Y:%H:%M:%S", &parts) == nullptr) return 0;
  return static_cast<int64_t>(timegm(&parts)) * 1'000'000'000;
}

// Every real dataset, each line's seq its arrival order (1, 2, ...), written as a version 14
// (or later) segment and as version 13: every row's seq comes back with its own message through
// ReadBlock, ReadRows, ReadColumnValues and ReadIntColumnsThrough, and `sawmill segment verify`
// finds nothing. The rows' ts: the Apache access log's own times (its lines are shuffled within
// each minute, so the rows sorted by time hold their seq in permuted runs), the loader's elsewhere
// (one a millisecond, some going backwards). Version 14's seq column is never larger than version
// 13's, and the Apache log's is at most three quarters of it.
TEST(PermutedRuns, EveryRealDatasetReadsBackItsArrivalOrderFromAVersion14Segment) {
  std::mt19937_64 rng(14);
  size_t permuted_blocks = 0;
  const std::vector<DatasetColumnBytes> bytes = ExpectRealDatasetsReadBackInTwoVersions(
      13, ColumnId::kSeq, kColSeq, [](const Record& r) { return static_cast<int64_t>(r.seq); },
      [](Record* r) {
        if (const int64_t ns = ApacheTime(r->message); ns != 0) r->ts = ns;
      },
      Encoding::kPermutedRuns, &permuted_blocks, &rng);
  for (const DatasetColumnBytes& d : bytes) {
    EXPECT_LE(d.now, d.older) << d.name << ": version 14 " << d.now << ", 13 " << d.older;
    if (d.name == "elastic_apache_access") {
      EXPECT_LE(d.now * 4, d.older * 3) << "version 14 " << d.now << ", 13 " << d.older;
    }
  }
  EXPECT_GT(permuted_blocks, 0u);
}

}  // namespace
}  // namespace sawmill::segment
