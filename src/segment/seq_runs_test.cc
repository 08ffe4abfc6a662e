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
  FaultInjectionEnv env;
  std::mt19937_64 rng(14);
  size_t permuted_blocks = 0;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<Record> records = testdata::LoadDataset(d);
    ASSERT_FALSE(records.empty());
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].seq = i + 1;
      if (const int64_t ns = ApacheTime(records[i].message); ns != 0) records[i].ts = ns;
    }
    uint64_t seq_bytes[2] = {0, 0};
    for (const uint32_t version : {kFormatVersion, 13u}) {
      const IntColumnReadBack read = ExpectVersionReadsBack(
          &env, "/" + d.name + "-" + std::to_string(version) + ".seg", version, ColumnId::kSeq,
          kColSeq, [](const Record& r) { return static_cast<int64_t>(r.seq); }, records, &rng);
      seq_bytes[version == kFormatVersion ? 0 : 1] = read.bytes;
      const auto permuted = read.encodings.find(Encoding::kPermutedRuns);
      if (permuted != read.encodings.end()) {
        EXPECT_EQ(version, kFormatVersion);
        permuted_blocks += permuted->second;
      }
    }
    EXPECT_LE(seq_bytes[0], seq_bytes[1])
        << "version 14 " << seq_bytes[0] << ", 13 " << seq_bytes[1];
    if (d.name == "elastic_apache_access") {
      EXPECT_LE(seq_bytes[0] * 4, seq_bytes[1] * 3)
          << "version 14 " << seq_bytes[0] << ", 13 " << seq_bytes[1];
    }
  }
  EXPECT_GT(permuted_blocks, 0u);
}

}  // namespace
}  // namespace sawmill::segment
