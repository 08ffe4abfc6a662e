// Encoding::kTimeText (format version 13): text rows holding a time in a common log form near
// their start keep it as a number (time_text_encoding.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <set>

#include "common/coding.h"
#include "common/fault_env.h"
#include "common/time_format.h"
#include "index/tokenizer.h"
#include "segment/block_codec.h"
#include "segment/column_encoding.h"
#include "segment/format.h"
#include "segment/rows_test_util.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

std::vector<std::string> Strings(const std::vector<std::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

// The block decoded whole, and the rows "rows" read as ReadRows reads them (the prefix the block
// is decompressed through, then those rows only): both must give the values.
void ExpectBlockHolds(const std::string& block, const std::vector<std::string_view>& values,
                      const std::vector<std::vector<uint32_t>>& row_sets) {
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringColumn(block, values.size(), &out, &arena);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(out[i], values[i]) << "row " << i;
  for (const std::vector<uint32_t>& rows : row_sets) ExpectRowsRead(block, values, rows);
}

// The form each row of a kTimeText block is stored in: 0 (as text) or 1 + the index of its
// time's form.
std::vector<int64_t> RowForms(const std::string& block) {
  std::string_view in(block);
  in.remove_prefix(1);  // encoding
  uint64_t count = 0;
  std::string_view forms_block;
  std::vector<int64_t> forms;
  EXPECT_TRUE(GetVarint64(&in, &count) && !in.empty());
  in.remove_prefix(1);  // reference
  EXPECT_TRUE(GetLengthPrefixed(&in, &forms_block));
  EXPECT_TRUE(DecodeIntColumn(forms_block, count, &forms).ok());
  EXPECT_EQ(forms.size(), count);
  return forms;
}

// Each form, its near misses (which must stay text and still come back), times inside the
// line, and rows without one.
TEST(TimeTextEncoding, EveryFormAndItsNearMissesRoundTripByteForByte) {
  std::vector<std::string> values = {
      "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.",
      "Mar  7 13:06:56 padded day",
      "Nov 9 12:01:01 unpadded day",
      "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 203023",
      "2015-10-18 18:01:47,978 INFO [main] log4j",
      "2017-05-16 00:00:00.008 25746 INFO nova",
      "2017-05-16 00:00:00.123456 micro",
      "2016-09-28 04:30:30, Info CBS",
      "x 2016-09-28T04:30:30.123456789 nine digits inside",
      "2016-09-28T04:30:30.123456+02:00 six with an offset after",
      "2016-09-28T04:30:30.123 three",
      "2016-09-28T04:30:30",
      "17/06/09 20:10:40 INFO spark",
      "081109 203615 148 INFO dfs.DataNode",
      "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 RAS",
      "03-17 16:13:38.811  1702  2395 D WindowManager",
      "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
      "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
      "[10.30 16:49:06] chrome.exe - proxy",
      "Dec 10, 2020 06:55:46 comma form",
      "Feb 29 00:00:00 a leap day in the year without one (2000)",
      // Near misses: each stays text.
      "Mar 32 13:06:56 no such day",
      "Mar 27 24:06:56 no such hour",
      "Mar 27 13:60:56 no such minute",
      "Mar 27 13:06:60 a leap second",
      "Mon Dec 04 04:47:44 2005 the wrong weekday",
      "Mar 07 13:06:56 zero-padded day (the padded form pads with a space)",
      "2015-13-18 18:01:47,978 no such month",
      "2015-02-30 18:01:47 February 30th",
      "1969-12-31 23:59:59 before 1970",
      "12015-10-18 18:01:47 a digit before it",
      "2015-10-18 18:01:478 a digit after it",
      "jan 27 13:06:56 lower case",
      "",
      "no time at all",
      "Mar",
      "2015-10-18 18:01",
      "a time past the first 64 bytes ................................... Mar 27 13:06:56",
      "two times: Mar 27 13:06:56 and Mar 28 13:06:56",
      "9999-12-31 23:59:59 the last second",
      "2099-12-31T23:59:59.999999999 nine digits late",
      "2262-01-01T00:00:00.000000000 nine digits past int64 stay text",
  };
  // Runs of rows in time order (as a sorted block holds them), with jumps.
  std::mt19937_64 rng(13);
  int64_t t = 1'600'000'000;
  for (int i = 0; i < 3000; ++i) {
    t +=
        rng() % 8 == 0 ? static_cast<int64_t>(rng() % 10'000'000) : static_cast<int64_t>(rng() % 3);
    const time_t tt = static_cast<time_t>(t);
    tm parts{};
    gmtime_r(&tt, &parts);
    char buf[64];
    switch (i % 4) {
      case 0: strftime(buf, sizeof buf, "%b %e %H:%M:%S", &parts); break;
      case 1: strftime(buf, sizeof buf, "1.2.3.4 - - [%d/%b/%Y:%H:%M:%S +0000]", &parts); break;
      case 2: strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &parts); break;
      default: strftime(buf, sizeof buf, "%y%m%d %H%M%S", &parts); break;
    }
    values.push_back(std::string(buf) +
                     (i % 4 == 2 ? "," + std::to_string(rng() % 1000 + 1000).substr(1) : "") +
                     " row " + std::to_string(i));
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  for (bool marked : {false, true}) {
    SCOPED_TRACE(marked ? "marked lines" : "plain");
    std::string block;
    ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &block, marked));
    ASSERT_EQ(static_cast<Encoding>(block[0]), Encoding::kTimeText);
    ASSERT_NE(FindColumnEncoding(Encoding::kTimeText), nullptr);
    // Each form's row holds its time as a number; each near miss is stored as text (form 0).
    const std::vector<int64_t> forms = RowForms(block);
    ASSERT_EQ(forms.size(), values.size());
    auto at = [&](std::string_view v) {
      return static_cast<size_t>(std::find(values.begin(), values.end(), v) - values.begin());
    };
    const size_t first_miss = at("Mar 32 13:06:56 no such day");
    for (size_t i = 0; i < first_miss; ++i) EXPECT_NE(forms[i], 0) << values[i];
    std::vector<size_t> misses;
    for (size_t i = first_miss; i <= at("2015-10-18 18:01"); ++i) misses.push_back(i);
    misses.push_back(
        at("a time past the first 64 bytes ................................... Mar 27 13:06:56"));
    for (size_t i : misses) {
      ASSERT_LT(i, values.size());
      EXPECT_EQ(forms[i], 0) << values[i];
    }
    // Nine digits past int64's nanoseconds: the seconds alone are a number ("Y-M-DTh:m:s", form
    // 11), the digits stay text.
    EXPECT_EQ(forms[at("2262-01-01T00:00:00.000000000 nine digits past int64 stay text")], 11);
    ExpectBlockHolds(block, views,
                     {{0}, {1, 5, 9, 12, 30}, {3, 200}, {static_cast<uint32_t>(views.size() - 1)}});
    // Every strict prefix of the block is refused as a whole block.
    for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
      std::vector<std::string_view> partial;
      std::string arena;
      EXPECT_FALSE(DecodeStringColumn(block.substr(0, cut), views.size(), &partial, &arena).ok())
          << cut;
    }
    EXPECT_EQ(TimeTextBytesThrough(block.substr(0, 3), views.size(), 0), 0u);  // too short
  }
  // The forms' times are numbers: zstd makes the block far smaller than the text.
  std::string plain, timed, a, b;
  EncodePlain(views.data(), views.size(), &plain);
  ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &timed));
  BlockCodec().Compress(plain, CodecChoice{Codec::kZstd, 9}, &a);
  BlockCodec().Compress(timed, CodecChoice{Codec::kZstd, 9}, &b);
  EXPECT_LT(b.size() * 10, a.size() * 7)
      << "plain " << a.size() << ", times as numbers " << b.size();
  // Fewer than half of the rows with a time: not this encoding.
  std::vector<std::string_view> few = {"no time", "Mar 27 13:06:56 one", "none", "none again"};
  std::string none;
  EXPECT_FALSE(EncodeTimeText(few.data(), few.size(), &none));
  EXPECT_TRUE(none.empty());
}

// A damaged block is DataLoss naming what is wrong and where, never a crash or a wrong value.
TEST(TimeTextEncoding, DamagedBlocksAreDataLossSayingWhere) {
  std::vector<std::string_view> values = {"Mar 27 13:06:56 a", "b Mar 27 13:06:57", "none"};
  auto make = [&](const std::vector<uint64_t>& forms, const std::vector<uint64_t>& offsets,
                  const std::vector<int64_t>& times, const std::vector<std::string_view>& rest) {
    std::string block(1, static_cast<char>(Encoding::kTimeText));
    PutVarint64(&block, values.size());
    block.push_back(0);  // the times themselves, not against the rows'
    std::string part;
    EncodeRle(forms.data(), forms.size(), &part);
    PutLengthPrefixed(&block, part);
    part.clear();
    EncodeRle(offsets.data(), offsets.size(), &part);
    PutLengthPrefixed(&block, part);
    part.clear();
    EncodeIntsSmallest(times.data(), times.size(), &part);
    PutLengthPrefixed(&block, part);
    EncodePlain(rest.data(), rest.size(), &block);
    return block;
  };
  auto error = [&](const std::string& block) {
    std::vector<std::string_view> out;
    std::string arena;
    Status s = DecodeStringColumn(block, values.size(), &out, &arena);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    std::vector<std::string_view> rows;
    Status r = DecodeStringRows(block, values.size(), {0, 1, 2}, &rows, &arena);
    EXPECT_TRUE(r.IsDataLoss()) << r.ToString();
    return s.message();
  };
  // The encoder's own block reads back; the hand-made one of the same parts too.
  std::string good;
  ASSERT_TRUE(EncodeTimeText(values.data(), values.size(), &good));
  const int64_t t0 = (DaysFromCivil(2000, 3, 27) * 86400) + 13 * 3600 + 6 * 60 + 56;
  const std::string same = make({1, 1, 0}, {0, 2}, {t0, t0 + 1}, {" a", "b ", "none"});
  for (const std::string& block : {good, same}) {
    std::vector<std::string_view> out;
    std::string arena;
    ASSERT_TRUE(DecodeStringColumn(block, values.size(), &out, &arena).ok());
    EXPECT_EQ(Strings(out), Strings(values));
  }
  EXPECT_NE(error(make({1, 99, 0}, {0, 2}, {t0, t0 + 1}, {" a", "b ", "none"}))
                .find("row 1 has time form 99"),
            std::string::npos);
  EXPECT_NE(error(make({1, 1, 0}, {0, 7}, {t0, t0 + 1}, {" a", "b ", "none"}))
                .find("row 1 has its time at byte 7 of a 2-byte text"),
            std::string::npos);
  EXPECT_NE(error(make({1, 1, 0}, {0, 2}, {t0, -5}, {" a", "b ", "none"}))
                .find("row 1 has time value -5, out of range"),
            std::string::npos);
  EXPECT_NE(error(make({1, 1, 1}, {0, 2}, {t0, t0 + 1}, {" a", "b ", "none"})).find("3 rows"),
            std::string::npos);
  // A reference byte other than 0 and 1.
  std::string bad_reference = same;
  bad_reference[2] = 7;
  EXPECT_NE(error(bad_reference).find("reference 7"), std::string::npos);
  // The text after the times must be a plain or marked lines block.
  std::string nested = make({1, 1, 0}, {0, 2}, {t0, t0 + 1}, {});
  nested.resize(nested.size() - 2);  // the empty plain block: its encoding byte and count
  nested.append(good);
  EXPECT_NE(error(nested).find("not a plain or marked lines block"), std::string::npos);
  // Cut anywhere: refused.
  for (size_t cut = 1; cut < good.size(); ++cut) {
    std::vector<std::string_view> out;
    std::string arena;
    EXPECT_TRUE(DecodeStringColumn(good.substr(0, cut), values.size(), &out, &arena).IsDataLoss())
        << cut;
  }
}

// kIsoPrefix (format version 10), the encoding kTimeText generalises, damaged in each of the ways
// above that it can be (its times are nanoseconds: any value renders, and it has no reference
// byte): DataLoss naming the row where one is to blame, read whole and a few rows at a time, as
// kTimeText.
TEST(TimeTextEncoding, DamagedIsoPrefixBlocksAreDataLossSayingWhereAsTimeTextBlocksAre) {
  std::vector<std::string_view> values = {"2023-01-29T08:52:28Z a", "2023-01-29T08:52:29.5Z b",
                                          "none"};
  auto make = [&](const std::vector<uint64_t>& digits, const std::vector<int64_t>& ns,
                  const std::vector<std::string_view>& rest) {
    std::string block(1, static_cast<char>(Encoding::kIsoPrefix));
    PutVarint64(&block, values.size());
    std::string part;
    EncodeRle(digits.data(), digits.size(), &part);
    PutLengthPrefixed(&block, part);
    part.clear();
    EncodeIntsSmallest(ns.data(), ns.size(), &part);
    PutLengthPrefixed(&block, part);
    EncodePlain(rest.data(), rest.size(), &block);
    return block;
  };
  // Read whole and as rows (ReadRows's way: the bytes through the last row, then those rows):
  // both DataLoss; the message of the whole read.
  auto error = [&](const std::string& block) {
    std::vector<std::string_view> out;
    std::string arena;
    Status s = DecodeStringColumn(block, values.size(), &out, &arena);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    // (Rows that include row 1, the row damaged where one is.)
    for (const std::vector<uint32_t>& rows : {std::vector<uint32_t>{0, 1, 2}, {1}, {1, 2}}) {
      std::vector<std::string_view> got;
      Status r = DecodeStringRows(block, values.size(), rows, &got, &arena);
      EXPECT_TRUE(r.IsDataLoss()) << r.ToString() << " rows through " << rows.back();
      const uint64_t through = IsoPrefixBytesThrough(block, values.size(), rows.back());
      if (through != 0 && through != UINT64_MAX && through <= block.size()) {
        r = DecodeIsoPrefixRows(std::string_view(block).substr(0, through), block.size(),
                                values.size(), rows, &got, &arena);
        EXPECT_TRUE(r.IsDataLoss()) << r.ToString() << " rows through " << rows.back();
      }
    }
    return s.message();
  };
  std::string good;
  ASSERT_TRUE(EncodeIsoPrefix(values.data(), values.size(), &good));
  int64_t t0 = 0;
  ASSERT_TRUE(ParseIsoTimestamp("2023-01-29T08:52:28Z", &t0));
  const int64_t t1 = t0 + 1'500'000'000;
  const std::string same = make({0, 1, 10}, {t0, t1}, {" a", " b", "none"});
  for (const std::string& block : {good, same}) {
    std::vector<std::string_view> out;
    std::string arena;
    ASSERT_TRUE(DecodeStringColumn(block, values.size(), &out, &arena).ok());
    EXPECT_EQ(Strings(out), Strings(values));
  }
  // A row's fraction digit count that is none of 0-9, 10 (no time) and those with kEcho (16).
  EXPECT_NE(error(make({0, 12, 10}, {t0, t1}, {" a", " b", "none"}))
                .find("row 1 has fraction digit code 12"),
            std::string::npos);
  // A row repeating its time after a byte its text lacks (kEcho on an empty rest).
  EXPECT_NE(error(make({0, 1 | 16, 10}, {t0, t1}, {" a", "", "none"}))
                .find("row 1 repeats its time after a byte it lacks"),
            std::string::npos);
  // More rows with a time than times.
  EXPECT_NE(error(make({0, 1, 0}, {t0, t1}, {" a", " b", "none"})).find("3 rows with a time"),
            std::string::npos);
  // A text block of fewer rows than the block.
  EXPECT_NE(error(make({0, 1, 10}, {t0, t1}, {" a", " b"})).find("time-prefixed text"),
            std::string::npos);
  // The text after the times must be a plain or marked lines block, read whole or as rows.
  std::string nested = make({0, 1, 10}, {t0, t1}, {});
  nested.resize(nested.size() - 2);  // the empty plain block: its encoding byte and count
  nested.append(good);
  EXPECT_NE(error(nested).find("not a plain or marked lines block"), std::string::npos);
  // Cut anywhere: refused.
  for (size_t cut = 1; cut < good.size(); ++cut) {
    std::vector<std::string_view> out;
    std::string arena;
    EXPECT_TRUE(DecodeStringColumn(good.substr(0, cut), values.size(), &out, &arena).IsDataLoss())
        << cut;
  }
}

// The lines of every real dataset, in blocks of 8,192 rows as the writer cuts them (and sorted,
// as the writer's time order puts stamped lines), through the string chooser as a version 13
// writer sets it for the message: each block comes back byte for byte, whole and a few rows at
// a time. On the datasets whose lines carry syslog, Apache or log4j times (elastic_auth_log,
// elastic_apache_access, loghub_2k) the chooser takes kTimeText, and zstd 9 of their blocks is
// smaller than without it by the margin below.
TEST(TimeTextEncoding, EveryRealDatasetRoundTripsByteForByteAndTheStampedOnesShrink) {
  std::mt19937 rng(19);
  size_t timed_blocks = 0;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<std::string> lines;
    for (const std::string& file : d.files) {
      const std::string text = testdata::RawText(file);
      for (size_t at = 0; at < text.size();) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
      }
    }
    ASSERT_FALSE(lines.empty());
    size_t with = 0, without = 0;
    for (size_t first = 0; first < lines.size(); first += 8192) {
      const size_t n = std::min<size_t>(8192, lines.size() - first);
      std::vector<std::string> sorted(lines.begin() + static_cast<ptrdiff_t>(first),
                                      lines.begin() + static_cast<ptrdiff_t>(first + n));
      for (bool sort : {false, true}) {
        if (sort) std::sort(sorted.begin(), sorted.end());
        std::vector<std::string_view> values(sorted.begin(), sorted.end());
        auto stored = [&](bool time_text, Encoding* enc, std::string* block) {
          StringEncodeScratch scratch;
          scratch.marked_lines = scratch.iso_prefix = scratch.hex = scratch.prefixed_number = true;
          scratch.time_text = time_text;
          block->clear();
          EncodeStringColumn(values.data(), values.size(), &scratch, block);
          *enc = static_cast<Encoding>((*block)[0]);
          std::string out;
          BlockCodec().Compress(*block, CodecChoice{Codec::kZstd, 9}, &out);
          return out.size();
        };
        Encoding before, after;
        std::string plain_block, block;
        const size_t a = stored(false, &before, &plain_block);
        const size_t b = stored(true, &after, &block);
        if (sort) {
          without += a;
          with += b;
        }
        std::vector<std::vector<uint32_t>> row_sets = {
            {0}, {static_cast<uint32_t>(n - 1)}, {static_cast<uint32_t>(rng() % n)}};
        std::vector<uint32_t> some;
        for (uint32_t r = 0; r < n; ++r) {
          if (rng() % 97 == 0) some.push_back(r);
        }
        if (!some.empty()) row_sets.push_back(some);
        if (after == Encoding::kTimeText) {
          ++timed_blocks;
          ExpectBlockHolds(block, values, row_sets);
        } else {
          std::vector<std::string_view> out;
          std::string arena;
          ASSERT_TRUE(DecodeStringColumn(block, values.size(), &out, &arena).ok());
          ASSERT_EQ(Strings(out), Strings(values));
        }
        // Whatever the encoder makes of the whole block (when it takes it) reads back too.
        std::string forced;
        if (EncodeTimeText(values.data(), values.size(), &forced, true)) {
          ExpectBlockHolds(forced, values, row_sets);
        }
      }
    }
    // (Sorted as text here, not by time: the times' deltas jump, so this is the least they save.)
    const double most = d.name == "elastic_auth_log"                                 ? 0.85
                        : d.name == "elastic_apache_access" || d.name == "loghub_2k" ? 0.95
                                                                                     : 0;
    if (most > 0) {
      EXPECT_LT(static_cast<double>(with), most * static_cast<double>(without))
          << "zstd 9 without the times as numbers " << without << ", with " << with;
    } else {
      EXPECT_LE(with, without);
    }
  }
  EXPECT_GT(timed_blocks, 0u);
}

// Format version 13's message: the times a line's text holds stored against the rows' `ts` (the
// time the server parsed from the same text), so that the two copies cost one. Such a block
// decodes only with its rows' times (RowTimesScope, which the segment reader sets); without them,
// or with another count of them, it is DataLoss, never wrong text; with any times at all (here
// also times unrelated to the text) every value comes back byte for byte.
TEST(TimeTextEncoding, TimesStoredAgainstTheRowsTimesDecodeOnlyWithThem) {
  std::vector<std::string> values;
  std::vector<int64_t> parsed, unrelated;
  std::mt19937_64 rng(7);
  int64_t t = 1'774'616'816;
  for (int i = 0; i < 4000; ++i) {
    t += static_cast<int64_t>(rng() % 30);
    const time_t tt = static_cast<time_t>(t);
    tm parts{};
    gmtime_r(&tt, &parts);
    char buf[64];
    strftime(buf, sizeof buf, "%b %e %H:%M:%S", &parts);
    values.push_back(std::string(buf) + " ip-10-77-20-248 sshd[" + std::to_string(1000 + i % 7) +
                     "]: Invalid user admin from 1.2.3." + std::to_string(i % 250));
    parsed.push_back(t * 1'000'000'000);  // the server's ts: the same time, in its own year
    unrelated.push_back(static_cast<int64_t>(rng()));
  }
  values.push_back("no time in this row");
  parsed.push_back(0);
  unrelated.push_back(-1);
  std::vector<std::string_view> views(values.begin(), values.end());
  std::string absolute, against;
  ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &absolute, true));
  ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &against, true, parsed.data()));
  EXPECT_FALSE(TimeTextNeedsRowTimes(absolute));
  EXPECT_TRUE(TimeTextNeedsRowTimes(against));
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringColumn(against, views.size(), &out, &arena);
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_NE(
      s.message().find("stored against its rows' times, which were not given for its 4001 rows"),
      std::string::npos)
      << s.ToString();
  {
    RowTimesScope fewer(parsed.data(), parsed.size() - 1);
    s = DecodeStringColumn(against, views.size(), &out, &arena);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    EXPECT_NE(s.message().find("(4000 given)"), std::string::npos) << s.ToString();
  }
  {
    RowTimesScope scope(parsed.data(), parsed.size());
    ExpectBlockHolds(against, views, {{0}, {5, 77, 3999}, {4000}});
  }
  // Times that have nothing to do with the text: still byte for byte (only larger).
  std::string noisy;
  ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &noisy, true, unrelated.data()));
  {
    RowTimesScope scope(unrelated.data(), unrelated.size());
    ExpectBlockHolds(noisy, views, {{1, 2, 3}});
  }
  // The point: the times the rows' ts already hold cost next to nothing more.
  std::string a, b;
  BlockCodec().Compress(absolute, CodecChoice{Codec::kZstd, 9}, &a);
  BlockCodec().Compress(against, CodecChoice{Codec::kZstd, 9}, &b);
  EXPECT_LT(b.size() + 1000, a.size()) << "times " << a.size() << ", against ts " << b.size();
}

// The time of an auth.log or Apache access line as a server parses it (in 2026 when the line
// names no year), in ns; 0 when the line holds neither form.
int64_t ServerTime(const std::string& line) {
  tm parts{};
  const char* end = nullptr;
  if (line.size() > 15 && line[3] == ' ') {
    end = strptime(line.c_str(), "%b %d %H:%M:%S", &parts);
    parts.tm_year = 2026 - 1900;
  } else if (const size_t at = line.find(" [");
             at != std::string::npos && at < 48 && line.size() > at + 22) {
    end = strptime(line.c_str() + at + 2, "%d/%b/%Y:%H:%M:%S", &parts);
  }
  return end == nullptr ? 0 : static_cast<int64_t>(timegm(&parts)) * 1'000'000'000;
}

// Every real dataset written as a version 13 segment (its rows' ts: a server's parse of the line
// where the test knows the form, the loader's times elsewhere, which have nothing to do with the
// text) and as version 12, and as version 13 with every message block split in sub-blocks (each
// stored against its own rows' ts): every message comes back byte for byte through ReadBlock,
// ReadRows of a few rows and `sawmill segment verify`; on auth.log and the Apache access log,
// whose ts the server parses from the line, version 13's message column is smaller by a quarter
// and by 8 % (auth.log's times stored on their own, not against ts, leave it at 0.79 of version
// 12's).
TEST(TimeTextEncoding, EveryRealDatasetReadsBackFromAVersion13Segment) {
  FaultInjectionEnv env;
  std::mt19937 rng(130);
  size_t referenced_blocks = 0;
  size_t referenced_split_blocks = 0;  // split message blocks stored against their rows' ts
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<Record> records;
    for (const std::string& file : d.files) {
      for (Record& r : testdata::LoadRecords(file)) {
        if (const int64_t ns = ServerTime(r.message); ns != 0) r.ts = ns;
        records.push_back(std::move(r));
      }
    }
    ASSERT_FALSE(records.empty());
    uint64_t message_bytes[2] = {0, 0};
    struct Pass {
      uint32_t version;
      bool split;
    };
    for (const Pass pass :
         {Pass{kFormatVersion, false}, Pass{12u, false}, Pass{kFormatVersion, true}}) {
      const uint32_t version = pass.version;
      SCOPED_TRACE(std::to_string(version) + (pass.split ? " split" : ""));
      WriterOptions options;
      options.format_version = version;
      options.json_shapes = false;  // every message as text
      if (pass.split) {
        // Every message block in sub-blocks, each stored against its own rows' times.
        options.subblock_always = true;
        options.subblock_bytes = 4096;
      }
      const std::string path =
          "/" + d.name + "-" + std::to_string(version) + (pass.split ? "-split" : "") + ".seg";
      SegmentInfo info;
      info.id = 1;
      info.tenant = "t";
      ASSERT_TRUE(WriteSegment(&env, path, info, records, options, nullptr).ok());
      auto reader = SegmentFileReader::OpenFile(&env, path);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      const Footer& f = (*reader)->footer();
      const ColumnMeta& message = f.columns[static_cast<size_t>(ColumnId::kMessage)];
      std::vector<std::string> got;
      for (uint32_t b = 0; b < f.blocks.size(); ++b) {
        if (!pass.split) message_bytes[version == kFormatVersion ? 0 : 1] += message.blocks[b].size;
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(message.blocks[b], "message", &raw, nullptr).ok());
        // (A split block's raw: its sub-blocks' column blocks, the first one's at the front.)
        if (pass.split && message.blocks[b].is_split()) {
          referenced_split_blocks += TimeTextNeedsRowTimes(raw);
        } else {
          referenced_blocks += TimeTextNeedsRowTimes(raw);
        }
        if (version != kFormatVersion) {
          EXPECT_NE(static_cast<Encoding>(raw[0]), Encoding::kTimeText);
        }
        std::vector<Record> block;
        Status s = (*reader)->ReadBlock(b, kColAll, &block, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        std::vector<uint32_t> rows = {0, static_cast<uint32_t>(block.size() - 1)};
        for (int i = 0; i < 5; ++i) rows.push_back(static_cast<uint32_t>(rng() % block.size()));
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        std::vector<Record> few;
        s = (*reader)->ReadRows(b, kColMessage, rows, &few, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(few.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(few[i].message, block[rows[i]].message);
        for (Record& r : block) got.push_back(std::move(r.message));
      }
      std::vector<std::string> want;
      for (const Record& r : records) want.push_back(r.message);
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      ASSERT_TRUE(got == want);
      VerifyReport report;
      ASSERT_TRUE(VerifySegment(&env, path, &report).ok());
      EXPECT_TRUE(report.problems.empty()) << report.problems.front();
    }
    if (d.name == "elastic_auth_log" || d.name == "elastic_apache_access") {
      EXPECT_LT(message_bytes[0] * 100, message_bytes[1] * (d.name == "elastic_auth_log" ? 75 : 92))
          << "message column: version 13 " << message_bytes[0] << ", version 12 "
          << message_bytes[1];
    }
  }
  EXPECT_GT(referenced_blocks, 0u);
  EXPECT_GT(referenced_split_blocks, 0u);
}

// "blocks" blocks of 3000 auth.log lines each, each row's ts the time its line holds (as a server
// parses it), written as a version 13 segment at "path": every message block kTimeText, stored
// against its rows' ts (with "against_ts" false, WriterOptions::time_text_against_ts: not).
void WriteTimedSegment(FaultInjectionEnv* env, const std::string& path, uint32_t blocks,
                       bool against_ts = true) {
  std::vector<Record> records;
  int64_t t = 1'774'616'816;
  for (uint32_t i = 0; i < blocks * 3000; ++i) {
    t += 1 + static_cast<int64_t>(i % 7);
    const time_t tt = static_cast<time_t>(t);
    tm parts{};
    gmtime_r(&tt, &parts);
    char buf[64];
    strftime(buf, sizeof buf, "%b %e %H:%M:%S", &parts);
    Record r;
    r.seq = i;
    r.ts = r.ingest_ts = t * 1'000'000'000;
    r.service = "sshd";
    r.message = std::string(buf) + " ip-10-77-20-248 sshd[" + std::to_string(1000 + i % 7) +
                "]: Invalid user admin from 1.2.3." + std::to_string(i % 250);
    records.push_back(std::move(r));
  }
  WriterOptions options;
  options.block_rows = 3000;
  options.json_shapes = false;
  options.time_text_against_ts = against_ts;
  ASSERT_TRUE(WriteSegment(env, path, SegmentInfo{}, records, options, nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(env, path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Footer& f = (*reader)->footer();
  ASSERT_EQ(f.blocks.size(), blocks);
  for (uint32_t b = 0; b < blocks; ++b) {
    std::string raw;
    const BlockRef& message = f.columns[static_cast<size_t>(ColumnId::kMessage)].blocks[b];
    ASSERT_FALSE(message.packed);
    ASSERT_TRUE((*reader)->ReadPhysical(message, "message", &raw, nullptr).ok());
    ASSERT_EQ(static_cast<Encoding>(raw[0]), Encoding::kTimeText) << "block " << b;
    ASSERT_EQ(TimeTextNeedsRowTimes(raw), against_ts) << "block " << b;
  }
}

// A two-block segment of WriteTimedSegment, opened, and its block 1 read whole (3000 rows).
void OpenTimedBlock1(FaultInjectionEnv* env, const std::string& path,
                     std::shared_ptr<SegmentFileReader>* reader, std::vector<Record>* block1) {
  WriteTimedSegment(env, path, 2);
  auto opened = SegmentFileReader::OpenFile(env, path);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  *reader = *opened;
  ASSERT_TRUE((*reader)->ReadBlock(1, kColAll, block1, nullptr).ok());
  ASSERT_EQ(block1->size(), 3000u);
}

// bench_recode's "timeref=0" (WriterOptions::time_text_against_ts = false): the message's times
// stored themselves, not against the rows' ts, and read back the same.
TEST(TimeTextEncoding, TimesStoredThemselvesWhenTheWriterIsToldSo) {
  FaultInjectionEnv env;
  WriteTimedSegment(&env, "/against.seg", 1);
  WriteTimedSegment(&env, "/themselves.seg", 1, false);
  std::vector<Record> against, themselves;
  auto a = SegmentFileReader::OpenFile(&env, "/against.seg");
  auto t = SegmentFileReader::OpenFile(&env, "/themselves.seg");
  ASSERT_TRUE(a.ok() && t.ok());
  ASSERT_TRUE((*a)->ReadBlock(0, kColAll, &against, nullptr).ok());
  ASSERT_TRUE((*t)->ReadBlock(0, kColAll, &themselves, nullptr).ok());
  ASSERT_EQ(against.size(), themselves.size());
  for (size_t i = 0; i < against.size(); ++i) ASSERT_EQ(against[i].message, themselves[i].message);
}

// `sawmill segment verify` on a segment whose ts block is damaged names the ts block only: the
// intact message stored against those times is not reported broken for want of them.
TEST(TimeTextEncoding, VerifyNamesADamagedTsBlockWithoutBlamingTheMessageStoredAgainstIt) {
  FaultInjectionEnv env;
  const std::string path = "/timed.seg";
  WriteTimedSegment(&env, path, 1);
  auto reader = SegmentFileReader::OpenFile(&env, path);
  ASSERT_TRUE(reader.ok());
  const BlockRef ts = (*reader)->footer().columns[static_cast<size_t>(ColumnId::kTs)].blocks[0];
  ASSERT_FALSE(ts.packed);
  std::string bytes;
  ASSERT_TRUE(env.GetContents(path, &bytes).ok());
  bytes[ts.offset + ts.size / 2] = static_cast<char>(bytes[ts.offset + ts.size / 2] ^ 0x5a);
  ASSERT_TRUE(env.SetContents(path, bytes).ok());
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env, path, &report).ok());
  ASSERT_FALSE(report.problems.empty());
  for (const std::string& problem : report.problems) {
    EXPECT_NE(problem.find("column 'ts' block 0"), std::string::npos) << problem;
    EXPECT_EQ(problem.find("message"), std::string::npos) << problem;
  }
}

// A reader trusts an enclosing RowTimesScope only when it opened it for the same block: a scope
// of as many rows left open for another block (here: block 0's times around a read of block 1)
// is not taken for block 1's times, which would give wrong text without an error.
TEST(TimeTextEncoding, AScopeOpenForAnotherBlockOfAsManyRowsIsNotTaken) {
  FaultInjectionEnv env;
  const std::string path = "/timed2.seg";
  WriteTimedSegment(&env, path, 2);
  auto reader = SegmentFileReader::OpenFile(&env, path);
  ASSERT_TRUE(reader.ok());
  std::vector<Record> block0, block1, read;
  ASSERT_TRUE((*reader)->ReadBlock(0, kColAll, &block0, nullptr).ok());
  ASSERT_TRUE((*reader)->ReadBlock(1, kColAll, &block1, nullptr).ok());
  ASSERT_EQ(block0.size(), block1.size());
  std::vector<int64_t> times0;
  for (const Record& r : block0) times0.push_back(r.ts);
  RowTimesScope other(times0.data(), times0.size());
  Status s = (*reader)->ReadBlock(1, kColMessage, &read, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(read.size(), block1.size());
  for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i].message, block1[i].message) << i;
  read.clear();
  s = (*reader)->ReadRows(1, kColMessage, {0, 1, 2999}, &read, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[2].message, block1[2999].message);
}

// A newest-first search reads a block's keys only as far as its last candidate row
// (ReadIntColumnsThrough: ts, ingest_ts and seq decoded no further where their encoding allows)
// and gives the message read that prefix of ts: a read of the rows before row N of a message
// stored against the rows' times needs only the first N times, taken from the caller's scope.
// Before, the keys were decoded for every row of the block (a rare word's one row: the whole
// block: 3000 values here, whatever the row), and a partial scope was not taken (the reader
// decoded the block's ts again; the decoder alone: the next test).
TEST(TimeTextEncoding, AReadOfTheRowsBeforeARowNeedsOnlyTheirTimes) {
  FaultInjectionEnv env;
  std::shared_ptr<SegmentFileReader> reader;
  std::vector<Record> block1;
  ASSERT_NO_FATAL_FAILURE(OpenTimedBlock1(&env, "/timed-through.seg", &reader, &block1));
  for (uint32_t through : {1u, 2u, 78u, 1500u, 2999u, 3000u}) {
    BlockColumns keys;
    Status s =
        reader->ReadIntColumnsThrough(1, kColTs | kColIngestTs | kColSeq, through, &keys, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(keys.rows, 3000u);
    const std::vector<int64_t>& ts = keys.ints[0];
    const std::vector<int64_t>& ingest = keys.ints[1];
    // ts and ingest_ts (delta-coded) stop at the row; seq is read whole or as far.
    EXPECT_EQ(ts.size(), through);
    EXPECT_EQ(ingest.size(), through);
    ASSERT_GE(keys.ints[2].size(), through);
    for (uint32_t r = 0; r < through; ++r) {
      ASSERT_EQ(ts[r], block1[r].ts) << r;
      ASSERT_EQ(ingest[r], block1[r].ingest_ts) << r;
      ASSERT_EQ(keys.ints[2][r], static_cast<int64_t>(block1[r].seq)) << r;
    }
    // The message of the last row and of a few before it, read with only those times held.
    const SegmentReader* as_reader = reader.get();
    RowTimesScope held(ts.data(), ts.size(), as_reader, 1);
    std::vector<uint32_t> rows{through - 1};
    if (through > 40) rows.insert(rows.begin(), {0, through / 2});
    std::vector<Record> read;
    s = reader->ReadRows(1, kColMessage, rows, &read, nullptr);
    ASSERT_TRUE(s.ok()) << through << ": " << s.ToString();
    ASSERT_EQ(read.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(read[i].message, block1[rows[i]].message) << "row " << rows[i];
    }
  }
  BlockColumns keys;
  EXPECT_TRUE(reader->ReadIntColumnsThrough(1, kColTs, 3001, &keys, nullptr).IsInvalidArgument());
  EXPECT_TRUE(reader->ReadIntColumnsThrough(1, kColTs, 0, &keys, nullptr).IsInvalidArgument());
  EXPECT_TRUE(reader->ReadIntColumnsThrough(1, kColMessage, 5, &keys, nullptr).IsInvalidArgument());
  // A scope of fewer times than a row read needs is not taken: the reader reads them itself.
  std::vector<int64_t> few{block1[0].ts};
  RowTimesScope short_scope(few.data(), few.size(), reader.get(), 1);
  std::vector<Record> read;
  Status s = reader->ReadRows(1, kColMessage, {0, 2999}, &read, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[1].message, block1[2999].message);
}

// A search by ingest_ts (the search API's default time field) holds no ts of a block itself: it
// reads the rows' ts with their other columns (every column but its keys, for the rows it
// returns). The message, stored against the rows' times, is decoded with the ts just read
// through the last row; before, the reader decoded the block's ts a second time for it (one
// more column block read: the search's bytes read said so).
TEST(TimeTextEncoding, AFewRowsReadWithTheirTsDecodeTheTsOnceForTheirMessages) {
  FaultInjectionEnv env;
  std::shared_ptr<SegmentFileReader> reader;
  std::vector<Record> block1;
  ASSERT_NO_FATAL_FAILURE(OpenTimedBlock1(&env, "/ts-once.seg", &reader, &block1));
  const uint32_t rest = kColAll & ~(kColIngestTs | kColSeq);
  for (const std::vector<uint32_t>& rows :
       std::vector<std::vector<uint32_t>>{{0}, {1500}, {2999}, {3, 1700}, {0, 1, 2998, 2999}}) {
    ReadStats message_only, with_ts;
    std::vector<Record> without, with;
    Status s = reader->ReadRows(1, rest & ~kColTs, rows, &without, &message_only);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = reader->ReadRows(1, rest, rows, &with, &with_ts);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // ts is read once either way: for the messages' times alone, or as the rows' ts too.
    EXPECT_EQ(with_ts.blocks_read, message_only.blocks_read) << rows.back();
    EXPECT_EQ(with_ts.bytes_read_compressed, message_only.bytes_read_compressed) << rows.back();
    ASSERT_EQ(with.size(), rows.size());
    ASSERT_EQ(without.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(with[i].message, block1[rows[i]].message) << rows[i];
      EXPECT_EQ(with[i].ts, block1[rows[i]].ts) << rows[i];
      EXPECT_EQ(without[i].message, block1[rows[i]].message) << rows[i];
    }
  }
}

// The decoder alone: a few rows' values from a block stored against its rows' times, with the
// times of the rows through the last one read (and no more); a whole block still wants all.
TEST(TimeTextEncoding, TheRowsBeforeARowDecodeWithTheTimesOfThoseRowsOnly) {
  std::vector<std::string> values;
  std::vector<int64_t> parsed;
  int64_t t = 1'774'616'816;
  for (int i = 0; i < 4000; ++i) {
    t += 1 + i % 13;
    const time_t tt = static_cast<time_t>(t);
    tm parts{};
    gmtime_r(&tt, &parts);
    char buf[64];
    strftime(buf, sizeof buf, "%b %e %H:%M:%S", &parts);
    values.push_back(i % 11 == 5 ? "no time here " + std::to_string(i)
                                 : std::string(buf) + " host sshd[" + std::to_string(i) + "]: x");
    parsed.push_back(t * 1'000'000'000);
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  std::string against;
  ASSERT_TRUE(EncodeTimeText(views.data(), views.size(), &against, true, parsed.data()));
  ASSERT_TRUE(TimeTextNeedsRowTimes(against));
  for (const std::vector<uint32_t>& rows :
       std::vector<std::vector<uint32_t>>{{0}, {5}, {4, 5, 6}, {77}, {100, 1999}, {3999}}) {
    RowTimesScope scope(parsed.data(), rows.back() + size_t{1});
    ExpectRowsRead(against, views, rows);
  }
  RowTimesScope fewer(parsed.data(), 77);
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringRows(against, views.size(), {77}, &out, &arena);
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_NE(s.message().find("not given for its 78 first rows (77 given)"), std::string::npos)
      << s.ToString();
  s = DecodeStringColumn(against, views.size(), &out, &arena);
  EXPECT_NE(s.message().find("not given for its 4000 rows (77 given)"), std::string::npos)
      << s.ToString();
}

// A TextTest of one word (or word prefix) as a search's: whether a line's words, as the
// tokenizer gives them, hold it. It counts the rows the reader asked about their parts.
class OneWord final : public TextTest {
 public:
  OneWord(std::string word, bool prefix) : word_(std::move(word)), prefix_(prefix) {}
  bool Passes(std::string_view text) const override {
    bool found = false;
    index::ForEachWord(text, [&](std::string_view w) {
      found = found || w == word_ || (prefix_ && w.substr(0, word_.size()) == word_);
    });
    return found;
  }
  bool AvoidsTimes() const override { return !WordMayBeInTime(word_, prefix_); }
  bool PassesAround(std::string_view before, std::string_view after) const override {
    ++around_;
    return Passes(before) || Passes(after);
  }
  mutable size_t around_ = 0;

 private:
  std::string word_;
  bool prefix_;
};

// KeepRowsWithMessage on a version 13 segment whose messages hold times in every form the
// encoding knows (each form's line, lines with a word or punctuation right against the time,
// lines of the stamped real datasets): for every word among the first words of the lines (the
// times' own words: digits, month and weekday names, words glued to a time) and prefixes of
// them, the rows kept are exactly those whose line holds the word, and their messages are the
// lines. Words that cannot be in a time are tested on the text without its times (PassesAround)
// for most rows.
TEST(TimeTextEncoding, RowsKeptForAWordAreThoseWhoseLineHoldsItWhateverTheTimesAround) {
  const std::vector<std::string> forms = {
      "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.",
      "Mar  7 13:06:56 padded day",
      "Nov 9 12:01:01 unpadded day",
      "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 203023",
      "2015-10-18 18:01:47,978 INFO [main] log4j",
      "2017-05-16 00:00:00.008 25746 INFO nova",
      "2017-05-16 00:00:00.123456 micro",
      "x 2016-09-28T04:30:30.123456789 nine digits inside",
      "2016-09-28T04:30:30.123 three",
      "17/06/09 20:10:40 INFO spark",
      "081109 203615 148 INFO dfs.DataNode",
      "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 RAS",
      "03-17 16:13:38.811  1702  2395 D WindowManager",
      "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
      "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
      "[10.30 16:49:06] chrome.exe - proxy",
      "Dec 10, 2020 06:55:46 comma form",
      // Words right against the time, before and after it, and a phrase's words across it.
      "xMar 27 13:06:56 glued before",
      "Mar 27 13:06:56abc glued after",
      "user Mar 27 13:06:56 opened session",
      "at=2015-10-18 18:01:47,978 ok",
      "pre_2015-10-18 18:01:47,978_post underscores",
      "Sun Dec 04 04:47:44 2005x",
      "éMar 27 13:06:56é unicode around",
  };
  std::vector<Record> records;
  for (int copy = 0; copy < 40; ++copy) {
    for (const std::string& line : forms) {
      Record r;
      r.message = line + " copy " + std::to_string(copy);  // (no dictionary of 24 lines)
      records.push_back(std::move(r));
    }
  }
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    if (d.name != "elastic_auth_log" && d.name != "elastic_apache_access" &&
        d.name != "loghub_2k") {
      continue;
    }
    for (const std::string& file : d.files) {
      for (Record& r : testdata::LoadRecords(file, 800)) {
        if (const int64_t ns = ServerTime(r.message); ns != 0) r.ts = ns;
        records.push_back(std::move(r));
      }
    }
  }
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].seq = i;
    if (records[i].ts == 0) records[i].ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(i);
    records[i].ingest_ts = records[i].ts;
  }
  FaultInjectionEnv env;
  WriterOptions options;
  options.json_shapes = false;
  options.block_rows = 2048;
  ASSERT_TRUE(WriteSegment(&env, "/words.seg", SegmentInfo{}, records, options, nullptr).ok());
  auto opened = SegmentFileReader::OpenFile(&env, "/words.seg");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const SegmentFileReader& reader = **opened;
  const Footer& f = reader.footer();
  // Each block's lines, and the words to look for: the first words of the lines, prefixes of
  // some, the month and weekday names.
  std::vector<std::vector<std::string>> lines(f.blocks.size());
  size_t timed_blocks = 0;
  std::set<std::pair<std::string, bool>> words = {{"mar", false}, {"dec", false}, {"sun", false},
                                                  {"ma", true},   {"d", true},    {"s", true},
                                                  {"1", true},    {"20", true},   {"x", true}};
  for (uint32_t b = 0; b < f.blocks.size(); ++b) {
    std::string raw;
    const BlockRef& ref = f.columns[static_cast<size_t>(ColumnId::kMessage)].blocks[b];
    ASSERT_TRUE(reader.ReadPhysical(ref, "message", &raw, nullptr).ok());
    timed_blocks += static_cast<Encoding>(raw[0]) == Encoding::kTimeText;
    std::vector<Record> block;
    ASSERT_TRUE(reader.ReadBlock(b, kColMessage, &block, nullptr).ok());
    for (size_t i = 0; i < block.size(); ++i) {
      lines[b].push_back(block[i].message);
      const bool form = block[i].message.find(" copy ") != std::string::npos;
      // The forms' lines are in kTimeText blocks.
      if (form) {
        ASSERT_EQ(static_cast<Encoding>(raw[0]), Encoding::kTimeText) << "block " << b;
      }
      if (i % 97 != 0 && !form) continue;
      std::vector<std::string> first = index::Tokenize(block[i].message);
      first.resize(std::min<size_t>(first.size(), 9));
      for (const std::string& w : first) {
        words.emplace(w, false);
        if (w.size() > 2) words.emplace(w.substr(0, 2), true);
      }
    }
  }
  EXPECT_GE(timed_blocks, 3u);
  size_t around = 0, avoiding = 0, tried = 0;
  for (const auto& [word, prefix] : words) {
    ++tried;
    SCOPED_TRACE(word + (prefix ? "*" : ""));
    const OneWord test(word, prefix);
    avoiding += test.AvoidsTimes();
    for (uint32_t b = 0; b < f.blocks.size(); ++b) {
      std::vector<uint32_t> rows(lines[b].size()), want;
      for (uint32_t i = 0; i < rows.size(); ++i) {
        rows[i] = i;
        if (test.Passes(lines[b][i])) want.push_back(i);
      }
      // Every row, (for one word in four) every third one, and a few rows before the block's
      // end (a read of a hit's rows: only they are split out of the text).
      const std::vector<uint32_t> few = {1, static_cast<uint32_t>(rows.size() / 2),
                                         static_cast<uint32_t>(rows.size() / 2 + 1)};
      for (int pick = 0; pick < 3; ++pick) {
        if (pick == 1 && tried % 4 != 0) continue;
        auto listed = [&](uint32_t i) {
          return pick == 0 || (pick == 1 && i % 3 == 0) ||
                 (pick == 2 && std::count(few.begin(), few.end(), i) > 0);
        };
        std::vector<uint32_t> kept, want_here;
        for (uint32_t i = 0; i < rows.size(); ++i) {
          if (listed(i)) kept.push_back(i);
        }
        for (uint32_t i : want) {
          if (listed(i)) want_here.push_back(i);
        }
        std::vector<std::string> messages;
        Status s = reader.KeepRowsWithMessage(b, test, &kept, &messages, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(kept, want_here) << "block " << b;
        ASSERT_EQ(messages.size(), kept.size());
        for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(messages[i], lines[b][kept[i]]);
      }
    }
    around += test.around_;
  }
  EXPECT_GT(avoiding, 20u);
  EXPECT_GT(around, 5000u);
}

}  // namespace
}  // namespace sawmill::segment
