// Format version 14: the seq column of rows that arrived out of time order as kPermutedRuns
// (permuted_runs_encoding.cc), read back through a segment.
#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "segment/column_encoding.h"
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

Status WriteVersion(Env* env, const std::string& path, const std::vector<Record>& records,
                    uint32_t version) {
  WriterOptions options;
  options.format_version = version;
  SegmentInfo info;
  info.id = 1;
  info.tenant = "t";
  return WriteSegment(env, path, info, records, options, nullptr);
}

// Every real dataset, each line's seq its arrival order (1, 2, ...), written as a version 14
// segment and as version 13: every row's seq comes back with its own message through ReadBlock,
// ReadRows and ReadColumnValues, and `sawmill segment verify` finds nothing. The rows' ts: the
// Apache access log's own times (its lines are shuffled within each minute, so the rows sorted
// by time hold their seq in permuted runs), the loader's elsewhere (one a millisecond, some
// going backwards). Version 14's seq column is never larger than version 13's, and the Apache
// log's is at most three quarters of it.
TEST(PermutedRuns, EveryRealDatasetReadsBackItsArrivalOrderFromAVersion14Segment) {
  FaultInjectionEnv env;
  std::mt19937 rng(14);
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
      SCOPED_TRACE(version);
      const std::string path = "/" + d.name + "-" + std::to_string(version) + ".seg";
      ASSERT_TRUE(WriteVersion(&env, path, records, version).ok());
      auto reader = SegmentFileReader::OpenFile(&env, path);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      const Footer& f = (*reader)->footer();
      ASSERT_EQ(f.version, version);
      const ColumnMeta& seq = f.columns[static_cast<size_t>(ColumnId::kSeq)];
      size_t rows_read = 0;
      for (uint32_t b = 0; b < f.blocks.size(); ++b) {
        seq_bytes[version == kFormatVersion ? 0 : 1] += seq.blocks[b].size;
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(seq.blocks[b], "seq", &raw, nullptr).ok());
        if (static_cast<Encoding>(raw[0]) == Encoding::kPermutedRuns) {
          EXPECT_EQ(version, kFormatVersion);
          ++permuted_blocks;
        }
        std::vector<Record> block;
        Status s = (*reader)->ReadBlock(b, kColAll, &block, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        for (const Record& r : block) {
          ASSERT_TRUE(r.seq >= 1 && r.seq <= records.size()) << r.seq;
          ASSERT_EQ(r.message, records[r.seq - 1].message) << "block " << b << " seq " << r.seq;
        }
        rows_read += block.size();
        std::vector<uint32_t> rows = {0, static_cast<uint32_t>(block.size() - 1)};
        for (int i = 0; i < 5; ++i) rows.push_back(static_cast<uint32_t>(rng() % block.size()));
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        std::vector<Record> some;
        s = (*reader)->ReadRows(b, kColSeq | kColMessage, rows, &some, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(some.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          EXPECT_EQ(some[i].seq, block[rows[i]].seq) << "block " << b << " row " << rows[i];
        }
        BlockColumns columns;
        s = (*reader)->ReadColumnValues(b, kColSeq, &columns, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        const std::vector<int64_t>& values = columns.ints[static_cast<size_t>(ColumnId::kSeq)];
        ASSERT_EQ(values.size(), block.size());
        for (size_t i = 0; i < values.size(); ++i) {
          ASSERT_EQ(static_cast<uint64_t>(values[i]), block[i].seq) << "block " << b << " " << i;
        }
      }
      EXPECT_EQ(rows_read, records.size());
      VerifyReport report;
      ASSERT_TRUE(VerifySegment(&env, path, &report).ok());
      EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
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
