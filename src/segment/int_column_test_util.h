// Shared by the segment tests of int column encodings (seq_runs_test.cc, rice_runs_test.cc,
// huffman_ids_test.cc): a block read back whole, through a row and cut short, and every
// block of a segment read back as the readers read an int column, checked against the records
// written.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
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

// The rows of several lists read from "block" of "values" (DecodeIntColumnRows: what an
// aggregation over the rows a filter's postings select reads): every row, none, the first, the
// last, a stretch in the middle (one source's rows), every seventh, and a few at random, each
// list's values exactly those rows' values, one each.
inline void ExpectListedRowsRead(const std::string& block, const std::vector<int64_t>& values,
                                 const std::string& what) {
  const uint32_t n = static_cast<uint32_t>(values.size());
  std::mt19937 rng(n);
  std::vector<std::vector<uint32_t>> lists(7);
  for (uint32_t i = 0; i < n; ++i) {
    lists[0].push_back(i);
    if (i >= n / 3 && i < n / 2 + 1) lists[4].push_back(i);
    if (i % 7 == 3) lists[5].push_back(i);
    if (rng() % 50 == 0) lists[6].push_back(i);
  }
  lists[2] = {0};
  lists[3] = {n - 1};
  for (const std::vector<uint32_t>& rows : lists) {
    std::vector<int64_t> out = {42};  // appended to
    const Status s = DecodeIntColumnRows(block, values.size(), rows, &out);
    ASSERT_TRUE(s.ok()) << what << ", " << rows.size() << " rows listed: " << s.ToString();
    ASSERT_EQ(out.size(), rows.size() + 1) << what << ", " << rows.size() << " rows listed";
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(out[i + 1], values[rows[i]])
          << what << ": row " << rows[i] << " of " << rows.size() << " listed";
    }
  }
}

// A complete int column block "block" of "values" (what an encoder wrote) read back: whole, the
// rows before three rows (DecodeIntColumnThrough: the same first values), and every strict
// prefix of it refused without a value given ("what" names the case in failures).
inline void ExpectIntBlockReadsBack(const std::string& block, const std::vector<int64_t>& values,
                                    const std::string& what) {
  std::vector<int64_t> out = {42};  // decoders append
  Status s = DecodeIntColumn(block, values.size(), &out);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  ASSERT_EQ(out.size(), values.size() + 1) << what;
  EXPECT_TRUE(std::equal(values.begin(), values.end(), out.begin() + 1)) << what;
  // A read through a row decodes at least the rows before it, the same values.
  for (size_t through : {size_t{1}, values.size() / 3 + 1, values.size()}) {
    std::vector<int64_t> prefix;
    s = DecodeIntColumnThrough(block, values.size(), through, &prefix);
    ASSERT_TRUE(s.ok()) << what << " through " << through << ": " << s.ToString();
    ASSERT_GE(prefix.size(), std::min(through, values.size())) << what;
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), values.begin())) << what;
  }
  ExpectListedRowsRead(block, values, what);
  // Every strict prefix of a whole block is refused, never read past.
  for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
    std::vector<int64_t> partial;
    EXPECT_FALSE(DecodeIntColumn(block.substr(0, cut), values.size(), &partial).ok())
        << what << " cut at " << cut;
    EXPECT_TRUE(partial.empty());
  }
}

struct IntColumnReadBack {
  std::map<Encoding, size_t> encodings;  // blocks of the column by their encoding
  uint64_t bytes = 0;                    // the column's stored bytes
  size_t rows = 0;                       // rows read
};

// Reads every block of "reader" whole (ReadBlock, every column), and the int column "column"
// (mask bit "bit", a record's value "value") of the first, the last and five random rows of
// each (ReadRows), of every row (ReadColumnValues) and of the rows before a random one
// (ReadIntColumnsThrough): each row's value and message must be those of the record written
// with its seq ("records[seq - 1]"; seqs 1, 2, ...), and each read must give ReadBlock's value.
inline IntColumnReadBack ExpectIntColumnReadsBack(
    const SegmentFileReader& reader, ColumnId column, uint32_t bit,
    const std::function<int64_t(const Record&)>& value, const std::vector<Record>& records,
    std::mt19937_64* rng) {
  IntColumnReadBack out;
  const Footer& f = reader.footer();
  const ColumnMeta& meta = f.columns[static_cast<size_t>(column)];
  const size_t slot = static_cast<size_t>(column);
  for (uint32_t b = 0; b < f.blocks.size(); ++b) {
    SCOPED_TRACE("block " + std::to_string(b));
    out.bytes += meta.blocks[b].size;
    std::string raw;
    EXPECT_TRUE(reader.ReadPhysical(meta.blocks[b], "column", &raw, nullptr).ok());
    if (!raw.empty()) ++out.encodings[static_cast<Encoding>(raw[0])];
    std::vector<Record> block;
    Status s = reader.ReadBlock(b, kColAll, &block, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok() || block.empty()) return out;
    for (const Record& r : block) {
      EXPECT_TRUE(r.seq >= 1 && r.seq <= records.size()) << r.seq;
      if (r.seq < 1 || r.seq > records.size()) return out;
      EXPECT_EQ(value(r), value(records[r.seq - 1])) << "seq " << r.seq;
      EXPECT_EQ(r.message, records[r.seq - 1].message) << "seq " << r.seq;
    }
    out.rows += block.size();
    std::vector<uint32_t> rows = {0, static_cast<uint32_t>(block.size() - 1)};
    for (int i = 0; i < 5; ++i) rows.push_back(static_cast<uint32_t>((*rng)() % block.size()));
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    std::vector<Record> some;
    s = reader.ReadRows(b, bit | kColMessage, rows, &some, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(some.size(), rows.size());
    for (size_t i = 0; i < rows.size() && i < some.size(); ++i) {
      EXPECT_EQ(value(some[i]), value(block[rows[i]])) << "row " << rows[i];
    }
    // ReadIntColumnRows of the same rows and of a stretch in the middle: those rows' values.
    for (const std::vector<uint32_t>& listed :
         {rows, std::vector<uint32_t>{static_cast<uint32_t>(block.size() / 2)}}) {
      BlockColumns values;
      s = reader.ReadIntColumnRows(b, bit, listed, &values, nullptr);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(values.rows, listed.size());
      EXPECT_EQ(values.ints[slot].size(), listed.size());
      for (size_t i = 0; i < listed.size() && i < values.ints[slot].size(); ++i) {
        EXPECT_EQ(values.ints[slot][i], value(block[listed[i]])) << "row " << listed[i];
      }
    }
    BlockColumns columns;
    s = reader.ReadColumnValues(b, bit, &columns, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(columns.ints[slot].size(), block.size());
    for (size_t i = 0; i < columns.ints[slot].size() && i < block.size(); ++i) {
      EXPECT_EQ(columns.ints[slot][i], value(block[i])) << "row " << i;
    }
    const uint32_t through = 1 + static_cast<uint32_t>((*rng)() % block.size());
    BlockColumns keys;
    s = reader.ReadIntColumnsThrough(b, bit, through, &keys, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_GE(keys.ints[slot].size(), through);
    for (size_t i = 0; i < through && i < keys.ints[slot].size(); ++i) {
      EXPECT_EQ(keys.ints[slot][i], value(block[i])) << "row " << i;
    }
  }
  return out;
}

// Writes "records" (seqs 1, 2, ...) at "path" of "env" as a segment of format "version", checks
// that its footer says that version and that `sawmill segment verify` finds nothing, and reads
// the int column back as ExpectIntColumnReadsBack does: every row of "records" must be read.
inline IntColumnReadBack ExpectVersionReadsBack(Env* env, const std::string& path, uint32_t version,
                                                ColumnId column, uint32_t bit,
                                                const std::function<int64_t(const Record&)>& value,
                                                const std::vector<Record>& records,
                                                std::mt19937_64* rng) {
  SCOPED_TRACE("version " + std::to_string(version));
  WriterOptions options;
  options.format_version = version;
  SegmentInfo info;
  info.id = 1;
  info.tenant = "t";
  EXPECT_TRUE(WriteSegment(env, path, info, records, options, nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(env, path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return {};
  EXPECT_EQ((*reader)->footer().version, version);
  IntColumnReadBack read = ExpectIntColumnReadsBack(**reader, column, bit, value, records, rng);
  EXPECT_EQ(read.rows, records.size());
  VerifyReport report;
  EXPECT_TRUE(VerifySegment(env, path, &report).ok());
  EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
  return read;
}

// One real dataset's int column bytes written at kFormatVersion ("now") and at an older version.
struct DatasetColumnBytes {
  std::string name;
  uint64_t now = 0;
  uint64_t older = 0;
};

// Every real dataset, each line's seq its arrival order (1, 2, ...) and then changed by "adjust",
// written at kFormatVersion and at "older" and read back as ExpectVersionReadsBack does; no
// block of the "older" segment may use "encoding". Returns each dataset's column bytes in both
// versions, and adds to "*blocks" the blocks of the kFormatVersion segments that use "encoding".
inline std::vector<DatasetColumnBytes> ExpectRealDatasetsReadBackInTwoVersions(
    uint32_t older, ColumnId column, uint32_t bit,
    const std::function<int64_t(const Record&)>& value, const std::function<void(Record*)>& adjust,
    Encoding encoding, size_t* blocks, std::mt19937_64* rng) {
  FaultInjectionEnv env;
  std::vector<DatasetColumnBytes> out;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<Record> records = testdata::LoadDataset(d);
    EXPECT_FALSE(records.empty());
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].seq = i + 1;
      adjust(&records[i]);
    }
    DatasetColumnBytes bytes{d.name};
    for (const uint32_t version : {kFormatVersion, older}) {
      const IntColumnReadBack read =
          ExpectVersionReadsBack(&env, "/" + d.name + "-" + std::to_string(version) + ".seg",
                                 version, column, bit, value, records, rng);
      (version == kFormatVersion ? bytes.now : bytes.older) = read.bytes;
      const auto used = read.encodings.find(encoding);
      if (used != read.encodings.end()) {
        EXPECT_EQ(version, kFormatVersion);
        *blocks += used->second;
      }
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace sawmill::segment
