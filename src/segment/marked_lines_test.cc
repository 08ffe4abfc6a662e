// Encoding::kMarkedLines (format version 12): the message of hot and compacted segments as lines
// with the offset of every 64th row, read row by row from a block decompressed only so far.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/coding.h"
#include "common/fault_env.h"
#include "segment/column_encoding.h"
#include "segment/format.h"
#include "segment/rows_test_util.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

// DecodeStringColumn; the views point into "block" or into a rendering arena kept until the next
// call on this thread.
std::vector<std::string_view> Decode(const std::string& block, size_t count, Status* s) {
  std::vector<std::string_view> out;
  thread_local std::string arena;
  *s = DecodeStringColumn(block, count, &out, &arena);
  return out;
}

// Every real dataset's messages (all of its files, as LoadRecords makes records of them), in
// blocks of 8,192 rows as the writer cuts them, through the string chooser as a version 12 writer
// sets it for the message: each block comes back byte for byte whole, and its first, last, the
// rows around the 64-row marks and single rows read from the prefix a read of them decompresses.
// A block with a newline in a message (Windows events) is refused by kMarkedLines and stays plain.
TEST(MarkedLinesEncoding, EveryRealDatasetsMessagesRoundTripByteForByte) {
  size_t blocks = 0, marked = 0, stamped = 0, with_newline = 0;
  std::mt19937 rng(12);
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<std::string> messages;
    for (const std::string& file : d.files) {
      for (Record& r : testdata::LoadRecords(file)) messages.push_back(std::move(r.message));
    }
    ASSERT_FALSE(messages.empty());
    for (size_t first = 0; first < messages.size(); first += 8192) {
      const size_t n = std::min<size_t>(8192, messages.size() - first);
      std::vector<std::string_view> values(messages.begin() + static_cast<ptrdiff_t>(first),
                                           messages.begin() + static_cast<ptrdiff_t>(first + n));
      const bool newline = std::any_of(values.begin(), values.end(), [](std::string_view v) {
        return v.find('\n') != std::string_view::npos;
      });
      StringEncodeScratch scratch;
      scratch.marked_lines = scratch.iso_prefix = scratch.hex = scratch.prefixed_number = true;
      std::string block;
      EncodeStringColumn(values.data(), values.size(), &scratch, &block);
      ++blocks;
      with_newline += newline;
      Status s;
      const std::vector<std::string_view> back = Decode(block, n, &s);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_TRUE(std::equal(back.begin(), back.end(), values.begin(), values.end()))
          << "block at row " << first;
      // The marked lines block itself, whatever the chooser picked.
      std::string lines;
      ASSERT_EQ(EncodeMarkedLines(values.data(), n, &lines), !newline);
      if (newline) {
        EXPECT_NE(static_cast<Encoding>(block[0]), Encoding::kMarkedLines);
        continue;
      }
      marked += static_cast<Encoding>(block[0]) == Encoding::kMarkedLines;
      stamped += static_cast<Encoding>(block[0]) == Encoding::kIsoPrefix;
      const std::vector<std::string_view> again = Decode(lines, n, &s);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_TRUE(std::equal(again.begin(), again.end(), values.begin(), values.end()));
      const auto last = static_cast<uint32_t>(n - 1);
      std::vector<std::vector<uint32_t>> subsets = {
          {0}, {last}, {0, last}, {63}, {64}, {63, 64}, {62, 63, 64, 65}, {127, 128, 129}};
      for (int i = 0; i < 8; ++i) subsets.push_back({static_cast<uint32_t>(rng() % n)});
      std::vector<uint32_t> spread;  // rows spread over the block, as a newest-first page reads
      for (uint32_t r = static_cast<uint32_t>(rng() % 50); r < n; r += 50 + rng() % 400) {
        spread.push_back(r);
      }
      subsets.push_back(spread);
      for (std::vector<uint32_t> rows : subsets) {
        rows.erase(std::remove_if(rows.begin(), rows.end(), [&](uint32_t r) { return r >= n; }),
                   rows.end());
        if (rows.empty()) continue;
        const uint64_t cut = ExpectRowsRead(lines, values, rows);
        // A read stops after the group of 64 rows holding its last row.
        if (rows.back() / kLineMarkRows + 1 < (n + kLineMarkRows - 1) / kLineMarkRows) {
          EXPECT_LT(cut, lines.size());
          if (rows.back() < kLineMarkRows) {
            size_t group = 0, text = 0;
            for (uint32_t r = 0; r < kLineMarkRows; ++r) group += values[r].size() + 1;
            for (std::string_view v : values) text += v.size() + 1;
            EXPECT_EQ(cut, lines.size() - (text - 1) + group) << "the header and group 0 only";
          }
        } else {
          EXPECT_EQ(cut, lines.size()) << "the last group ends at the block's end";
        }
        if (static_cast<Encoding>(block[0]) != Encoding::kMarkedLines) {
          // What the chooser picked (kIsoPrefix around marked lines, a dictionary) reads the same.
          std::vector<std::string_view> got;
          std::string arena;
          s = DecodeStringRows(block, n, rows, &got, &arena);
          ASSERT_TRUE(s.ok()) << s.ToString();
          for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(got[i], values[rows[i]]);
        }
      }
    }
  }
  EXPECT_GE(blocks, 50u);
  EXPECT_GT(with_newline, 0u) << "mordor's Windows events hold newlines";
  EXPECT_GE(marked * 3, blocks * 2) << "most real blocks are marked lines";
  EXPECT_GT(stamped, 0u) << "cidiff and nezha's stamped lines";
}

// kIsoPrefix's text after the times is a marked lines block too (version 12), and a few rows of
// it read from the prefix the read decompresses.
TEST(MarkedLinesEncoding, TimePrefixedTextAfterTheTimesIsMarkedLines) {
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    lines.push_back("2022-04-11T16:10:" + std::to_string(10 + i % 50) + "." +
                    std::to_string(1000000 + i * 7919) + "Z ##[group]step " + std::to_string(i));
  }
  std::vector<std::string_view> values(lines.begin(), lines.end());
  std::string plain, marked;
  ASSERT_TRUE(EncodeIsoPrefix(values.data(), values.size(), &plain, false));
  ASSERT_TRUE(EncodeIsoPrefix(values.data(), values.size(), &marked, true));
  EXPECT_NE(plain, marked);
  Status s;
  const std::vector<std::string_view> back = Decode(marked, values.size(), &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(std::equal(back.begin(), back.end(), values.begin(), values.end()));
  for (std::vector<uint32_t> rows : {std::vector<uint32_t>{0}, {63, 64}, {500}, {999}}) {
    const uint64_t cut = ExpectRowsRead(marked, values, rows);
    if (rows.back() < 900) {
      EXPECT_LT(cut, marked.size());
    }
  }
}

// Row subsets of blocks of every size around the marks and of other steps: each single row, the
// first and last, pairs across each mark, all rows; values of every length, empty ones included.
TEST(MarkedLinesEncoding, RowSubsetsAcrossTheMarks) {
  std::mt19937 rng(64);
  for (uint32_t step : {1u, 3u, 64u}) {
    for (size_t n : {1, 2, 63, 64, 65, 127, 128, 129, 700}) {
      SCOPED_TRACE(std::to_string(step) + " " + std::to_string(n));
      std::vector<std::string> owned(n);
      for (std::string& v : owned) v.assign(rng() % 5 == 0 ? 0 : rng() % 300, 'a' + rng() % 26);
      std::vector<std::string_view> values(owned.begin(), owned.end());
      std::string block;
      ASSERT_TRUE(EncodeMarkedLines(values.data(), n, &block, step));
      Status s;
      const std::vector<std::string_view> back = Decode(block, n, &s);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_TRUE(std::equal(back.begin(), back.end(), values.begin(), values.end()));
      for (uint32_t r = 0; r < n; ++r) ExpectRowsRead(block, values, {r});
      for (uint32_t mark = step; mark < n; mark += step)
        ExpectRowsRead(block, values, {mark - 1, mark});
      ExpectRowsRead(block, values, {0, static_cast<uint32_t>(n - 1)});
      std::vector<uint32_t> all(n);
      for (uint32_t r = 0; r < n; ++r) all[r] = r;
      ExpectRowsRead(block, values, all);
      // A prefix that stops before a listed row's group ends is refused, not read past.
      if (n > step) {
        const uint64_t through = MarkedLinesBytesThrough(block, n, 0);
        ASSERT_NE(through, UINT64_MAX);
        std::vector<std::string_view> got;
        s = DecodeMarkedLinesRows(std::string_view(block).substr(0, through - 1), block.size(), n,
                                  {0}, &got);
        EXPECT_TRUE(s.IsDataLoss());
        s = DecodeMarkedLinesRows(std::string_view(block).substr(0, through), block.size(), n,
                                  {static_cast<uint32_t>(n - 1)}, &got);
        EXPECT_TRUE(s.IsDataLoss());
        EXPECT_NE(s.message().find("past the bytes decompressed"), std::string::npos)
            << s.message();
      }
      // Too short to tell: ask for more.
      EXPECT_EQ(MarkedLinesBytesThrough(block.substr(0, 2), n, 0), 0u);
    }
  }
  std::string refused;
  std::vector<std::string_view> two = {"one", "two\nthree"};
  EXPECT_FALSE(EncodeMarkedLines(two.data(), two.size(), &refused));
  EXPECT_TRUE(refused.empty());
}

// A marked lines block made by hand: "sizes" as its row offsets.
std::string HandBlock(size_t count, uint64_t step, const std::vector<uint64_t>& sizes,
                      std::string_view text) {
  std::string block;
  block.push_back(static_cast<char>(Encoding::kMarkedLines));
  PutVarint64(&block, count);
  PutVarint64(&block, step);
  for (uint64_t size : sizes) PutVarint64(&block, size);
  block.append(text);
  return block;
}

// Offsets that do not match the text are DataLoss naming the rows and bytes, whether the block
// is decoded whole or a few rows are read from it: an offset moved by a row (which lands on a
// line start and would give the neighbouring row), one before the rows it follows could end,
// one past the text, a step of 0. A read of a few rows looks only at their group: damage in
// another group is found by the whole decode (and, on disk, by the block's checksum first).
TEST(MarkedLinesEncoding, CorruptOffsetsAreDataLossNamingTheRows) {
  std::vector<std::string> owned;
  for (int i = 0; i < 200; ++i) owned.push_back("line " + std::to_string(i));
  std::vector<std::string_view> values(owned.begin(), owned.end());
  std::string text;
  std::vector<uint64_t> sizes(3, 0);  // groups 0, 1 and 2 of 64 rows; group 3 holds 8
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text.push_back('\n');
    text.append(values[i]);
    if (i < 192) sizes[i / 64] += values[i].size() + 1;
  }
  std::string good;
  ASSERT_TRUE(EncodeMarkedLines(values.data(), values.size(), &good));
  ASSERT_EQ(HandBlock(200, 64, sizes, text), good);
  auto expect_loss = [&](const std::string& block, std::vector<uint32_t> rows,
                         const std::string& says) {
    SCOPED_TRACE(says);
    std::vector<std::string_view> got;
    Status s = DecodeMarkedLinesRows(block, block.size(), values.size(), rows, &got);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
    Decode(block, values.size(), &s);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    EXPECT_NE(s.message().find("marked lines block"), std::string::npos) << s.message();
  };
  // Group 1 said to begin a row late: group 0 then holds 65 line ends, group 1 63.
  std::vector<uint64_t> moved = sizes;
  moved[0] += values[64].size() + 1;
  moved[1] -= values[64].size() + 1;
  const std::string late = HandBlock(200, 64, moved, text);
  expect_loss(late, {5}, "rows 0..63 at bytes 0..");
  expect_loss(late, {70}, "rows 64..127");
  expect_loss(late, {70}, "holds 63 line ends, expected 64");
  // A row early.
  moved = sizes;
  moved[1] -= values[127].size() + 1;
  moved[2] += values[127].size() + 1;
  expect_loss(HandBlock(200, 64, moved, text), {130}, "rows 128..191");
  // Inside a line: the right count of line ends, not ending at the group's end.
  moved = sizes;
  moved[0] += 2;
  moved[1] -= 2;
  expect_loss(HandBlock(200, 64, moved, text), {1}, "ending at its end");
  // Fewer bytes than rows.
  moved = sizes;
  moved[2] = 10;
  expect_loss(HandBlock(200, 64, moved, text), {199}, "the 64 rows before it take 10 bytes");
  // Past the text.
  moved = sizes;
  moved[2] = text.size();
  expect_loss(HandBlock(200, 64, moved, text), {199}, "lie past the");
  // A step of 0, and offsets cut off.
  expect_loss(HandBlock(200, 0, {}, text), {0}, "row step 0 is not in 1..");
  // The last group of 8 holding a line end too many (a value with a newline).
  std::string extra = text;
  extra[extra.size() - 2] = '\n';
  expect_loss(HandBlock(200, 64, sizes, extra), {199}, "rows 192..199");
  // A few rows are read from their own group only: damage in group 0 is not seen by a read of
  // row 150 (it is by the whole decode).
  std::string damaged = text;
  damaged[values[0].size()] = 'x';  // row 0 and row 1 run together
  const std::string block = HandBlock(200, 64, sizes, damaged);
  std::vector<std::string_view> got;
  Status s = DecodeMarkedLinesRows(block, block.size(), values.size(), {150}, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got[0], "line 150");
  expect_loss(block, {0}, "rows 0..63");
}

// Junk after the encoding byte, and every cut of a good block, read as a few rows of a block
// decompressed so far: an error or rows inside the bytes given, never a read past them.
TEST(MarkedLinesEncoding, GarbageAndCutsNeverReadPastThePrefix) {
  std::mt19937 rng(16);
  auto inside = [](std::string_view v, std::string_view in) {
    return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
  };
  std::vector<std::string> owned;
  for (int i = 0; i < 300; ++i) owned.push_back(std::string(rng() % 40, 'x') + std::to_string(i));
  std::vector<std::string_view> values(owned.begin(), owned.end());
  std::string good;
  ASSERT_TRUE(EncodeMarkedLines(values.data(), values.size(), &good, 16));
  for (int trial = 0; trial < 4000; ++trial) {
    std::string block;
    size_t count;
    if (trial % 2 == 0) {
      block.assign(1 + rng() % 80, '\0');
      for (char& c : block) c = rng() % 3 == 0 ? '\n' : static_cast<char>(rng());
      block[0] = static_cast<char>(Encoding::kMarkedLines);
      count = 1 + rng() % 40;
    } else {
      block = good.substr(0, rng() % (good.size() + 1));
      count = values.size();
    }
    std::vector<uint32_t> rows;
    for (uint32_t r = static_cast<uint32_t>(rng() % 4); r < count; r += 1 + rng() % 50) {
      rows.push_back(r);
    }
    if (rows.empty()) continue;
    TextBytesThrough(block, count, rows.back());
    std::vector<std::string_view> got;
    const uint64_t raw_size = block.size() + (trial % 3 == 0 ? 0 : rng() % 100);
    if (DecodeTextRows(block, raw_size, count, rows, &got).ok()) {
      ASSERT_EQ(got.size(), rows.size());
      for (std::string_view v : got) EXPECT_TRUE(inside(v, block)) << trial;
    }
    std::string arena;
    got.clear();
    if (DecodeStringColumn(block, count, &got, &arena).ok()) {
      for (std::string_view v : got) EXPECT_TRUE(inside(v, block)) << trial;
    }
  }
}

// The split 32 bytes at a time (AVX2, where the CPU has it) and the memchr a row it falls back
// to give the same rows, wherever the newlines fall (runs of them, none, at either end, past
// the count asked for).
TEST(MarkedLinesEncoding, BothSplitsFindTheSameRows) {
  std::mt19937 rng(32);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text(rng() % 300, 'a');
    const uint32_t density = 1 + rng() % 40;
    for (char& c : text) c = rng() % density == 0 ? '\n' : static_cast<char>('a' + rng() % 26);
    const size_t begin = text.empty() ? 0 : rng() % (text.size() + 1);
    const size_t end = begin + rng() % (text.size() - begin + 1);
    const uint64_t newlines = rng() % 64;
    std::vector<std::string_view> a(newlines), b(newlines);
    size_t at_a = 0, at_b = 0;
    const uint64_t found_a = SplitNewlineRows(text, begin, end, newlines, a.data(), &at_a, true);
    const uint64_t found_b = SplitNewlineRows(text, begin, end, newlines, b.data(), &at_b, false);
    ASSERT_EQ(found_a, found_b) << trial;
    ASSERT_EQ(at_a, at_b) << trial;
    size_t expect_at = begin;
    for (uint64_t i = 0; i < found_a; ++i) {
      ASSERT_EQ(a[i].data(), b[i].data()) << trial << " row " << i;
      ASSERT_EQ(a[i].size(), b[i].size()) << trial << " row " << i;
      ASSERT_EQ(a[i].data(), text.data() + expect_at);
      expect_at += a[i].size() + 1;
      ASSERT_EQ(text[expect_at - 1], '\n');
    }
    const auto all =
        static_cast<uint64_t>(std::count(text.begin() + static_cast<ptrdiff_t>(begin),
                                         text.begin() + static_cast<ptrdiff_t>(end), '\n'));
    EXPECT_EQ(found_a, std::min(all, newlines)) << trial;
  }
}

// Format version 12 stores the message column of a hot segment as marked lines, smaller than
// version 11's plain; every record reads back the same; ReadRows of a few rows decompresses the
// block only as far as their group and gives ReadBlock's rows. The same binary still writes
// version 11 (plain messages, no block of encoding 16) when asked, and reads it.
TEST(Segment, Version12StoresMessagesAsMarkedLinesAndReadsAFewRows) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (const std::string& rel : testdata::RealFiles()) {
    for (Record& r : testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 4000)) {
      if (r.message.find('\n') == std::string::npos) records.push_back(std::move(r));
    }
  }
  ASSERT_GE(records.size(), 16384u);
  std::mt19937 rng(12);
  std::shuffle(records.begin(), records.end(), rng);
  records.resize(16384);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].ts = records[i].ingest_ts = 1'000'000'000 + static_cast<int64_t>(i) * 1000;
    records[i].seq = i;
  }
  uint64_t bytes[2] = {0, 0};
  for (uint32_t version : {12u, 11u}) {
    SCOPED_TRACE(version);
    WriterOptions options;
    options.format_version = version;
    options.json_shapes = false;  // every message as text
    const std::string path = "/marked-" + std::to_string(version) + ".seg";
    SegmentInfo info;
    info.id = 7;
    info.tenant = "acme";
    SegmentInfo out;
    ASSERT_TRUE(WriteSegment(&env, path, info, records, options, &out).ok());
    bytes[version == 12 ? 0 : 1] = out.file_bytes;
    auto reader = SegmentFileReader::OpenFile(&env, path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->format_version(), version);
    const Footer& f = (*reader)->footer();
    const ColumnMeta& message = f.columns[static_cast<size_t>(ColumnId::kMessage)];
    // No column of a version 11 file holds an encoding it did not have.
    for (const ColumnMeta& c : f.columns) {
      for (const BlockRef& ref : c.blocks) {
        if (!ref.present() || ref.is_split() || ref.packed) continue;
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(ref, c.name, &raw, nullptr).ok());
        if (version == 11) {
          EXPECT_NE(static_cast<Encoding>(raw[0]), Encoding::kMarkedLines) << c.name;
        }
      }
    }
    std::vector<std::string> got_all;
    for (uint32_t b = 0; b < f.blocks.size(); ++b) {
      std::string raw;
      ASSERT_TRUE((*reader)->ReadPhysical(message.blocks[b], "message", &raw, nullptr).ok());
      ASSERT_FALSE(raw.empty());
      EXPECT_EQ(static_cast<Encoding>(raw[0]),
                version == 12 ? Encoding::kMarkedLines : Encoding::kPlain);
      std::vector<Record> block;
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &block, nullptr).ok());
      const auto n = static_cast<uint32_t>(block.size());
      for (const std::vector<uint32_t>& rows : {std::vector<uint32_t>{0},
                                                {3, 40, 63, 64, 300},
                                                {n / 2},
                                                {n - 65, n - 64},
                                                {n - 2},
                                                {5, n - 1}}) {
        ReadStats stats;
        std::vector<Record> got;
        ASSERT_TRUE((*reader)->ReadRows(b, kColMessage, rows, &got, &stats).ok());
        ASSERT_EQ(got.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(got[i].message, block[rows[i]].message);
        if (rows.back() < 1000) {  // zstd decompresses 128 KiB at a time
          EXPECT_LT(stats.bytes_read_raw * 2, message.blocks[b].raw_size)
              << "decompressed " << stats.bytes_read_raw << " for rows through " << rows.back();
        }
      }
      for (Record& r : block) got_all.push_back(std::move(r.message));
    }
    std::vector<std::string> want;
    for (const Record& r : records) want.push_back(r.message);
    std::sort(got_all.begin(), got_all.end());
    std::sort(want.begin(), want.end());
    EXPECT_TRUE(got_all == want);
  }
  EXPECT_LT(bytes[0] * 100, bytes[1] * 98)
      << "version 12 " << bytes[0] << ", version 11 " << bytes[1];
}

}  // namespace
}  // namespace sawmill::segment
