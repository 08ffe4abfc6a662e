#include "segment/column_encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/time_format.h"
#include "segment/block_codec.h"
#include "segment/int_column_test_util.h"
#include "segment/rows_test_util.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

// The bytes a hot segment stores for a non-text column block (zstd 3).
size_t ZstdSize(const std::string& raw) {
  BlockCodec codec;
  std::string out;
  codec.Compress(raw, CodecChoice{Codec::kZstd, 3}, &out);
  return out.size();
}

std::vector<int64_t> RoundTripInts(const std::vector<int64_t>& values, Encoding enc) {
  std::string block;
  if (enc == Encoding::kDeltaOfDelta) EncodeDeltaOfDelta(values.data(), values.size(), &block);
  if (enc == Encoding::kDelta) EncodeDelta(values.data(), values.size(), &block);
  if (enc == Encoding::kRle) {
    std::vector<uint64_t> u(values.begin(), values.end());
    EncodeRle(u.data(), u.size(), &block);
  }
  EXPECT_EQ(static_cast<Encoding>(block[0]), enc);
  std::vector<int64_t> out;
  Status s = DecodeIntColumn(block, values.size(), &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Every strict prefix of the block is rejected, never read past.
  for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
    std::vector<int64_t> partial;
    EXPECT_FALSE(DecodeIntColumn(block.substr(0, cut), values.size(), &partial).ok()) << cut;
  }
  return out;
}

TEST(ColumnEncoding, IntegersRoundTripIncludingExtremesAndDisorder) {
  std::mt19937_64 rng(3);
  std::vector<std::vector<int64_t>> cases = {
      {},
      {0},
      {INT64_MIN, INT64_MAX, 0, -1, INT64_MAX, INT64_MIN},
      {1'700'000'000'000'000'000, 1'700'000'000'001'000'000, 1'700'000'000'000'500'000},
  };
  std::vector<int64_t> regular, random;
  for (int i = 0; i < 5000; ++i) {
    regular.push_back(1'700'000'000'000'000'000 + i * 1'000'000LL - (i % 97 == 0 ? 3'000'000 : 0));
    random.push_back(static_cast<int64_t>(rng()));
  }
  cases.push_back(regular);
  cases.push_back(random);
  for (const auto& values : cases) {
    EXPECT_EQ(RoundTripInts(values, Encoding::kDeltaOfDelta), values);
    EXPECT_EQ(RoundTripInts(values, Encoding::kDelta), values);
    EXPECT_EQ(RoundTripInts(values, Encoding::kRle), values);
  }
  // Regular timestamps cost about a byte each.
  std::string block;
  EncodeDeltaOfDelta(regular.data(), regular.size(), &block);
  EXPECT_LT(block.size(), regular.size() * 2);
}

std::vector<std::string> RoundTripStrings(const std::vector<std::string>& values, bool dict) {
  std::vector<std::string_view> views(values.begin(), values.end());
  std::string block;
  if (dict) {
    StringEncodeScratch scratch;
    EncodeStringColumn(views.data(), views.size(), &scratch, &block);
  } else {
    EncodePlain(views.data(), views.size(), &block);
  }
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringColumn(block, values.size(), &out, &arena);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string_view> partial;
  if (!block.empty()) {
    EXPECT_FALSE(
        DecodeStringColumn(block.substr(0, block.size() - 1), values.size(), &partial, &arena)
            .ok());
  }
  return std::vector<std::string>(out.begin(), out.end());
}

TEST(ColumnEncoding, StringsRoundTripPlainAndDictionary) {
  std::vector<std::string> lowcard, edge;
  for (int i = 0; i < 3000; ++i) lowcard.push_back(i % 3 == 0 ? "" : "svc" + std::to_string(i % 4));
  edge = {"",
          "\r",
          "a\r\nb",
          std::string(25000, 'x'),
          "naïve 日本語 \xF0\x9F\x94\xA5",
          std::string("nul\0byte", 8)};
  for (const auto& values : {lowcard, edge}) {
    EXPECT_EQ(RoundTripStrings(values, false), values);
    EXPECT_EQ(RoundTripStrings(values, true), values);
  }
  // The chooser picks the dictionary for repeated values.
  std::vector<std::string_view> views(lowcard.begin(), lowcard.end());
  std::string block;
  StringEncodeScratch scratch;
  EncodeStringColumn(views.data(), views.size(), &scratch, &block);
  EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kDict);
  std::string plain;
  EncodePlain(views.data(), views.size(), &plain);
  EXPECT_LT(block.size(), plain.size() / 2);
}

TEST(ColumnEncoding, NumbersKeptAsStringsRoundTripAsIntegers) {
  std::vector<std::string> epoch, mixed, almost;
  for (int i = 0; i < 2000; ++i) {
    epoch.push_back(std::to_string(1674982348243675358LL + i * 1'000'003LL));
    mixed.push_back(std::to_string((i * 7919) % 100000 - 50000));
  }
  mixed.push_back("0");
  mixed.push_back("-9223372036854775808");
  mixed.push_back("9223372036854775807");
  almost = epoch;
  almost[1000] = "007";  // not canonical: must stay text
  for (const auto& values : {epoch, mixed, almost}) {
    EXPECT_EQ(RoundTripStrings(values, true), values);
  }
  std::vector<std::string_view> views(epoch.begin(), epoch.end());
  std::string block;
  StringEncodeScratch scratch;
  EncodeStringColumn(views.data(), views.size(), &scratch, &block);
  EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kDecimal);
  EXPECT_LT(block.size(), epoch.size() * 5);
  views.assign(almost.begin(), almost.end());
  block.clear();
  EncodeStringColumn(views.data(), views.size(), &scratch, &block);
  EXPECT_NE(static_cast<Encoding>(block[0]), Encoding::kDecimal);
  for (std::string bad : {"-0", "+5", "01", "", " 5", "5 ", "99999999999999999999", "1e5"}) {
    std::string_view v = bad;
    std::vector<int64_t> ints;
    std::string out;
    EXPECT_FALSE(EncodeDecimal(&v, 1, &ints, &out)) << bad;
  }
}

TEST(ColumnEncoding, TimestampTextRoundTripsByteForByte) {
  std::vector<std::string> iso = {"2023-01-29T08:52:28.243675358Z", "2023-01-29T08:52:28.2429083Z",
                                  "1969-12-31T23:59:59.5Z",         "2000-02-29T00:00:00Z",
                                  "2023-01-29T08:52:28.000000000Z", "2261-12-31T23:59:59.9Z"};
  for (int i = 0; i < 500; ++i)
    iso.push_back("2024-03-0" + std::to_string(1 + i % 9) + "T10:00:00.1Z");
  std::vector<std::string_view> views(iso.begin(), iso.end());
  std::string block;
  std::vector<int64_t> scratch;
  for (std::string_view v : views) {
    std::string one;
    EXPECT_TRUE(EncodeIsoTime(&v, 1, &scratch, &one)) << v;
  }
  ASSERT_TRUE(EncodeIsoTime(views.data(), views.size(), &scratch, &block));
  std::vector<std::string_view> out;
  std::string arena;
  ASSERT_TRUE(DecodeStringColumn(block, views.size(), &out, &arena).ok());
  EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), iso);
  EXPECT_EQ(RoundTripStrings(iso, true), iso);
  for (std::string bad :
       {"2023-02-30T00:00:00Z", "2023-01-29T08:52:28.Z", "2023-01-29 08:52:28Z",
        "2023-01-29T08:52:28+01:00", "2023-01-29T24:00:00Z", "", "9999-12-31T23:59:59Z"}) {
    std::string_view v = bad;
    std::string o;
    EXPECT_FALSE(EncodeIsoTime(&v, 1, &scratch, &o)) << bad;
  }
}

TEST(ColumnEncoding, RealMessagesAndFieldsRoundTrip) {
  for (const std::string& rel : testdata::RealFiles()) {
    std::vector<Record> records =
        testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 3000);
    std::vector<std::string> messages, values;
    for (const Record& r : records) {
      messages.push_back(r.message);
      for (const auto& kv : r.fields) values.push_back(kv.second);
    }
    EXPECT_EQ(RoundTripStrings(messages, true), messages) << rel;
    EXPECT_EQ(RoundTripStrings(values, true), values) << rel;
    // The warm tier's text layouts, each forced where it applies, and as chosen.
    for (const auto* column : {&messages, &values}) {
      std::vector<std::string_view> views(column->begin(), column->end());
      std::string lines, split, chosen;
      std::vector<std::string_view> out;
      std::string arena;
      if (EncodeLines(views.data(), views.size(), &lines)) {
        ASSERT_TRUE(DecodeStringColumn(lines, views.size(), &out, &arena).ok()) << rel;
        EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), *column) << rel;
      }
      if (EncodeDigitSplit(views.data(), views.size(), &split)) {
        out.clear();
        ASSERT_TRUE(DecodeStringColumn(split, views.size(), &out, &arena).ok()) << rel;
        EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), *column) << rel;
      }
      for (bool with_separators : {false, true}) {
        split.clear();
        if (EncodePrefixSplit(views.data(), views.size(), with_separators, &split)) {
          out.clear();
          ASSERT_TRUE(DecodeStringColumn(split, views.size(), &out, &arena).ok()) << rel;
          EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), *column) << rel;
        }
      }
      StringEncodeScratch scratch;
      scratch.text_layouts = true;
      scratch.prefix_split = true;
      EncodeStringColumn(views.data(), views.size(), &scratch, &chosen);
      out.clear();
      ASSERT_TRUE(DecodeStringColumn(chosen, views.size(), &out, &arena).ok()) << rel;
      EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), *column) << rel;
    }
  }
}

// Decodes "block" and checks it gives "values". Damaged copies (every strict prefix; a byte
// changed at many places) may decode (a layout joined by newlines holds no lengths: the block's
// CRC is what tells a damaged one) but only to "values.size()" views inside the block or the
// arena, never out of bounds.
void ExpectTextLayoutDecodes(const std::string& block, const std::vector<std::string>& values) {
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringColumn(block, values.size(), &out, &arena);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), values);
  std::vector<std::string> damaged;
  for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 40) {
    damaged.push_back(block.substr(0, cut));
  }
  for (size_t at = 1; at < block.size(); at += 1 + block.size() / 60) {
    for (char c : {'\n', '\x11', ' ', '7', 'x'}) {
      damaged.push_back(block);
      damaged.back()[at] = c;
    }
  }
  for (const std::string& bad : damaged) {
    std::vector<std::string_view> got;
    if (!DecodeStringColumn(bad, values.size(), &got, &arena).ok()) continue;
    EXPECT_EQ(got.size(), values.size());
    for (std::string_view v : got) {
      bool in_block = v.data() >= bad.data() && v.data() + v.size() <= bad.data() + bad.size();
      bool in_arena =
          v.data() >= arena.data() && v.data() + v.size() <= arena.data() + arena.size();
      EXPECT_TRUE(in_block || in_arena);
    }
  }
}

TEST(ColumnEncoding, TextLayoutsRoundTripByteForByte) {
  std::vector<std::vector<std::string>> cases = {
      {""},
      {"", ""},
      {"0"},
      {"12", "", "a1b22c333", "007 at 00:01:02.5", "no digits here", "9"},
      {"naïve 日本語 ٣٤ \xF0\x9F\x94\xA5 42", "\r", "a\r 1\r", std::string("nul\0 5", 7)},
      {std::string(30000, '8'), "x" + std::string(20000, '1') + "y"},
  };
  std::vector<std::string> log;
  for (int i = 0; i < 3000; ++i) {
    log.push_back("2023-01-29T08:52:" + std::to_string(10 + i % 50) + "." +
                  std::to_string(1000000 + i) + "Z pid[" + std::to_string(4000 + i % 7) + "] " +
                  (i % 3 == 0 ? "accepted key for user" + std::to_string(i % 11)
                              : "connection closed after " + std::to_string(i) + " ms"));
  }
  cases.push_back(log);
  for (const auto& values : cases) {
    SCOPED_TRACE(values.size() > 0 ? values[0].substr(0, 40) : "");
    std::vector<std::string_view> views(values.begin(), values.end());
    std::string lines, split;
    ASSERT_TRUE(EncodeLines(views.data(), views.size(), &lines));
    EXPECT_EQ(static_cast<Encoding>(lines[0]), Encoding::kLines);
    ExpectTextLayoutDecodes(lines, values);
    bool digits = false;
    for (const std::string& v : values) digits |= v.find_first_of("0123456789") != v.npos;
    ASSERT_EQ(EncodeDigitSplit(views.data(), views.size(), &split), digits);
    if (digits) {
      EXPECT_EQ(static_cast<Encoding>(split[0]), Encoding::kDigitSplit);
      ExpectTextLayoutDecodes(split, values);
    }
    // The prefix split applies where at least 32 rows share the text before a run.
    for (bool with_separators : {false, true}) {
      split.clear();
      const bool made = EncodePrefixSplit(views.data(), views.size(), with_separators, &split);
      EXPECT_EQ(made, values.size() >= 32 && digits);
      if (made) {
        EXPECT_EQ(static_cast<Encoding>(split[0]), Encoding::kPrefixSplit);
        ExpectTextLayoutDecodes(split, values);
      }
    }
    // The chooser with the text layouts on picks one of them and decodes the same values.
    for (bool prefix_split : {false, true}) {
      StringEncodeScratch scratch;
      scratch.text_layouts = true;
      scratch.prefix_split = prefix_split;
      std::string chosen;
      EncodeStringColumn(views.data(), views.size(), &scratch, &chosen);
      if (!prefix_split) {
        EXPECT_NE(static_cast<Encoding>(chosen[0]), Encoding::kPrefixSplit);
      }
      ExpectTextLayoutDecodes(chosen, values);
    }
  }
  // Lines of one template with changing numbers: the runs grouped by template and position
  // compress far better than the lines (the reason the layout exists).
  std::vector<std::string_view> views(log.begin(), log.end());
  std::string lines, split;
  ASSERT_TRUE(EncodeLines(views.data(), views.size(), &lines));
  ASSERT_TRUE(EncodeDigitSplit(views.data(), views.size(), &split));
  BlockCodec codec;
  std::string zl, zs;
  codec.Compress(lines, {Codec::kZstd, 19}, &zl);
  codec.Compress(split, {Codec::kZstd, 19}, &zs);
  EXPECT_LT(zs.size(), zl.size() * 9 / 10) << zs.size() << " vs " << zl.size();
  StringEncodeScratch scratch;
  scratch.text_layouts = true;
  std::string chosen;
  EncodeStringColumn(views.data(), views.size(), &scratch, &chosen);
  EXPECT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kDigitSplit);
}

// Lines whose start (address, time) is shared by every row and whose rest is unique (an access
// log): no two rows have one skeleton, so kDigitSplit groups nothing, while kPrefixSplit makes
// columns of the leading fields; the chooser (format version 6) takes it, and only its runs
// before the first unshared text are split out.
TEST(ColumnEncoding, PrefixSplitMakesColumnsOfTheSharedStartOfUniqueLines) {
  std::mt19937 rng(6);
  std::vector<std::string> log;
  for (int i = 0; i < 4000; ++i) {
    const int second = i / 3;
    char start[96];
    const unsigned client = static_cast<unsigned>(rng() % 40);
    std::snprintf(start, sizeof start, "10.0.%u.%u - - [17/May/2015:%02d:%02d:%02d +0000] ",
                  client % 4, client * 6, 10 + second / 3600, second / 60 % 60, second % 60);
    // Three of 40 words: hardly two rows share a skeleton.
    static const char* const kWords[] = {
        "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
        "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
        "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
        "yankee", "zulu",   "red",     "green", "blue",    "cyan",     "magenta", "yellow",
        "black",  "white",  "north",   "south", "east",    "west",     "up",      "down"};
    const std::string page =
        std::string(kWords[rng() % 40]) + "-" + kWords[rng() % 40] + "-" + kWords[rng() % 40];
    log.push_back(std::string(start) + "\"GET /img/" + page + ".png HTTP/1.1\" " +
                  (rng() % 9 == 0 ? "404" : "200") + " " + std::to_string(rng() % 90000));
  }
  std::vector<std::string_view> views(log.begin(), log.end());
  for (bool with_separators : {false, true}) {
    std::string split;
    ASSERT_TRUE(EncodePrefixSplit(views.data(), views.size(), with_separators, &split));
    ExpectTextLayoutDecodes(split, log);
    // The unique request path ends what is shared: the status and size stay in the skeleton.
    const std::string_view body = std::string_view(split).substr(1);
    EXPECT_NE(body.find(" 404 "), std::string_view::npos);
  }
  std::string lines, digit, prefix;
  ASSERT_TRUE(EncodeLines(views.data(), views.size(), &lines));
  ASSERT_TRUE(EncodeDigitSplit(views.data(), views.size(), &digit));
  ASSERT_TRUE(EncodePrefixSplit(views.data(), views.size(), true, &prefix));
  BlockCodec codec;
  std::string zl, zd, zp;
  codec.Compress(lines, {Codec::kZstd, 19}, &zl);
  codec.Compress(digit, {Codec::kZstd, 19}, &zd);
  codec.Compress(prefix, {Codec::kZstd, 19}, &zp);
  EXPECT_LT(zp.size(), zl.size()) << zp.size() << " vs " << zl.size();
  EXPECT_LT(zp.size(), zd.size()) << zp.size() << " vs " << zd.size();
  StringEncodeScratch scratch;
  scratch.text_layouts = true;
  scratch.prefix_split = true;
  std::string chosen;
  EncodeStringColumn(views.data(), views.size(), &scratch, &chosen);
  EXPECT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kPrefixSplit);
  ExpectTextLayoutDecodes(chosen, log);
  // A damaged run section is DataLoss: a run cut short, a separator gone, bytes left over.
  std::vector<std::string_view> out;
  std::string arena;
  EXPECT_TRUE(DecodeStringColumn(prefix.substr(0, prefix.size() - 1), log.size(), &out, &arena)
                  .IsDataLoss());
  EXPECT_TRUE(DecodeStringColumn(prefix + "7 ", log.size(), &out, &arena).IsDataLoss());
  std::string doubled = prefix;
  doubled.insert(doubled.size() - 1, " ");  // an empty run
  EXPECT_TRUE(DecodeStringColumn(doubled, log.size(), &out, &arena).IsDataLoss());
}

// kScaled: times of microsecond (or coarser) precision kept in nanoseconds are stored divided
// by their common divisor, and come back exactly; what it cannot hold is refused, and a damaged
// block is DataLoss.
// The bytes of "values" in "layout" at zstd "level", or SIZE_MAX when the layout cannot hold them.
size_t LayoutBytes(TextLayout layout, const std::vector<std::string_view>& values, int level) {
  std::string block;
  bool made = false;
  switch (layout) {
    case TextLayout::kLines: made = EncodeLines(values.data(), values.size(), &block); break;
    case TextLayout::kDigitSplit:
      made = EncodeDigitSplit(values.data(), values.size(), &block);
      break;
    case TextLayout::kPrefixSplit:
    case TextLayout::kPrefixSplitSeparators:
      made = EncodePrefixSplit(values.data(), values.size(),
                               layout == TextLayout::kPrefixSplitSeparators, &block);
      break;
  }
  return made ? ZstdBytes(block, level) : SIZE_MAX;
}

// Message blocks of 8,192 rows (compaction's) cut from every real dataset, each dataset's last
// block shorter.
std::vector<std::pair<std::string, std::vector<std::string>>> RealMessageBlocks() {
  std::vector<std::pair<std::string, std::vector<std::string>>> blocks;
  for (const testdata::Dataset& set : testdata::RealDatasets()) {
    std::vector<std::string> block;
    for (const std::string& file : set.files) {
      for (Record& r : testdata::LoadRecords(file)) {
        block.push_back(std::move(r.message));
        if (block.size() == 8192) blocks.emplace_back(set.name, std::move(block)), block.clear();
      }
    }
    if (!block.empty()) blocks.emplace_back(set.name, std::move(block));
  }
  return blocks;
}

// Compaction picks each block's text layout by a probe (scratch.layout_probe): every row of
// every real dataset, in blocks of 8,192 rows, decodes to the same bytes whatever it picks,
// messages and field values alike.
TEST(ColumnEncoding, ProbedTextLayoutsRoundTripEveryRealDatasetByteForByte) {
  StringEncodeScratch scratch;
  scratch.text_layouts = scratch.prefix_split = scratch.layout_probe = true;
  scratch.hex = scratch.iso_prefix = scratch.prefixed_number = true;
  std::map<Encoding, int> picked;
  size_t rows = 0;
  for (const testdata::Dataset& set : testdata::RealDatasets()) {
    std::vector<std::string> messages, values;
    for (const std::string& file : set.files) {
      for (Record& r : testdata::LoadRecords(file)) {
        messages.push_back(std::move(r.message));
        for (auto& kv : r.fields) values.push_back(std::move(kv.second));
      }
    }
    for (const std::vector<std::string>* column : {&messages, &values}) {
      for (size_t first = 0; first < column->size(); first += 8192) {
        const size_t n = std::min<size_t>(8192, column->size() - first);
        std::vector<std::string_view> views(column->begin() + static_cast<ptrdiff_t>(first),
                                            column->begin() + static_cast<ptrdiff_t>(first + n));
        std::string block, arena;
        EncodeStringColumn(views.data(), n, &scratch, &block);
        ++picked[static_cast<Encoding>(block[0])];
        std::vector<std::string_view> out;
        ASSERT_TRUE(DecodeStringColumn(block, n, &out, &arena).ok()) << set.name;
        ASSERT_EQ(out.size(), n) << set.name;
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(out[i], views[i]) << set.name << " row " << first + i;
        }
        rows += n;
      }
    }
  }
  EXPECT_GT(rows, 100000u);
  // The probe did choose: more than one text layout was taken.
  EXPECT_GE(
      picked[Encoding::kLines] + picked[Encoding::kDigitSplit] + picked[Encoding::kPrefixSplit],
      10);
  EXPECT_GT(picked[Encoding::kPrefixSplit] + picked[Encoding::kDigitSplit], 0);
}

// The probe compresses a sample of each candidate, not the whole block: on every real
// dataset's message blocks and on blocks made to favour each layout, what it picks is never
// more than 10 % larger (zstd 3 of the whole block, the full chooser's measure) than the
// smallest layout, and all its picks together at most 1 % larger than the smallest of each
// block (0.38 % when written). The blocks include layouts 20 % apart both ways (lines the
// smallest, a split the smallest), so a probe that always answered one layout fails.
TEST(ColumnEncoding, TheProbePicksTheSmallerLayoutWhereTheyDifferMuch) {
  std::vector<std::pair<std::string, std::vector<std::string>>> blocks = RealMessageBlocks();
  // One template with changing numbers (digit-split far smaller), access-log lines with unique
  // paths (prefix-split), and numbers inside random words, where splitting them out only costs
  // (lines).
  std::mt19937 rng(19);
  std::vector<std::string> templated, access, words;
  for (int i = 0; i < 8192; ++i) {
    templated.push_back("worker " + std::to_string(i % 13) + " finished job " +
                        std::to_string(100000 + i * 7) + " in " + std::to_string(rng() % 900) +
                        " ms, queue depth " + std::to_string(rng() % 40));
    char start[96];
    std::snprintf(start, sizeof start, "10.1.%u.%u - - [06/Dec/2026:%02d:%02d:%02d +0000] ",
                  static_cast<unsigned>(rng() % 4), static_cast<unsigned>(rng() % 250),
                  10 + i / 3600, i / 60 % 60, i % 60);
    std::string path;
    for (int k = 0; k < 3; ++k) path += "/" + std::string(1, 'a' + rng() % 26) + "xyz"[rng() % 3];
    access.push_back(std::string(start) + "\"GET " + path + " HTTP/1.1\" 200 " +
                     std::to_string(rng() % 90000));
    std::string w;
    for (int k = 0; k < 6; ++k) {
      w += std::string(1, 'a' + rng() % 26) + std::to_string(rng() % 10) +
           std::string(1, 'a' + rng() % 26) + " ";
    }
    words.push_back(w);
  }
  blocks.emplace_back("templated", templated);
  blocks.emplace_back("access", access);
  blocks.emplace_back("words", words);
  StringEncodeScratch scratch;
  std::map<std::string, int> large_differences;
  size_t total_best = 0, total_pick = 0;
  for (const auto& [name, values] : blocks) {
    std::vector<std::string_view> views(values.begin(), values.end());
    size_t best = SIZE_MAX, worst = 0;
    std::map<TextLayout, size_t> bytes;
    for (TextLayout layout : {TextLayout::kLines, TextLayout::kDigitSplit, TextLayout::kPrefixSplit,
                              TextLayout::kPrefixSplitSeparators}) {
      bytes[layout] = LayoutBytes(layout, views, 3);
      if (bytes[layout] == SIZE_MAX) continue;
      best = std::min(best, bytes[layout]);
      worst = std::max(worst, bytes[layout]);
    }
    if (bytes[TextLayout::kLines] == SIZE_MAX) continue;  // no layout holds a newline
    const TextLayout pick = ProbeTextLayout(views.data(), views.size(), true, &scratch);
    ASSERT_NE(bytes[pick], SIZE_MAX) << name;
    total_best += best;
    total_pick += bytes[pick];
    EXPECT_LE(bytes[pick], best + best / 10)
        << name << ": picked " << static_cast<int>(pick) << " of " << bytes[pick]
        << " bytes, lines " << bytes[TextLayout::kLines] << ", digit-split "
        << bytes[TextLayout::kDigitSplit] << ", prefix-split " << bytes[TextLayout::kPrefixSplit]
        << ", with separators " << bytes[TextLayout::kPrefixSplitSeparators];
    if (worst >= best + best / 5) {
      ++large_differences[bytes[TextLayout::kLines] == best ? "lines best" : "a split best"];
    }
  }
  EXPECT_LE(total_pick, total_best + total_best / 100) << total_pick << " vs " << total_best;
  // The blocks hold large differences both ways: a probe that always answered one layout fails.
  EXPECT_GT(large_differences["lines best"], 0);
  EXPECT_GT(large_differences["a split best"], 0);
}

TEST(ColumnEncoding, ScaledIntsRoundTripAndRefuseWhatTheyCannotHold) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> micros;
  int64_t t = 1'764'374'400'000'000'000;
  for (int i = 0; i < 5000; ++i) {
    t += static_cast<int64_t>(rng() % 5'000'000) * 1000;
    micros.push_back(t - (i % 17 == 0 ? 3'000'000'000 : 0));  // some out of order
  }
  // The smallest divisor taken is 2.
  const std::vector<std::vector<int64_t>> cases = {
      micros, {-4000, 0, 6000, 2000}, {INT64_MAX - INT64_MAX % 7, 7, -14}, {10}, {2, -6, 4}};
  for (const auto& values : cases) {
    std::string block;
    ASSERT_TRUE(EncodeScaled(values.data(), values.size(), &block));
    EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kScaled);
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeIntColumn(block, values.size(), &out).ok());
    EXPECT_EQ(out, values);
    for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
      std::vector<int64_t> partial;
      EXPECT_FALSE(DecodeIntColumn(block.substr(0, cut), values.size(), &partial).ok()) << cut;
    }
  }
  // The time column chooser takes it where it is smaller, never without "scaled".
  std::string chosen, plain;
  EncodeTimeColumn(micros.data(), micros.size(), true, &chosen);
  EncodeTimeColumn(micros.data(), micros.size(), false, &plain);
  EXPECT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kScaled);
  EXPECT_EQ(static_cast<Encoding>(plain[0]), Encoding::kDeltaOfDelta);
  EXPECT_LT(chosen.size(), plain.size() * 3 / 4);
  // No common divisor above 1, or INT64_MIN: refused, nothing appended.
  std::string none;
  const std::vector<int64_t> coprime = {6, 10, 15}, smallest = {INT64_MIN, 0}, zeros = {0, 0};
  EXPECT_FALSE(EncodeScaled(coprime.data(), coprime.size(), &none));
  EXPECT_FALSE(EncodeScaled(smallest.data(), smallest.size(), &none));
  EXPECT_FALSE(EncodeScaled(zeros.data(), zeros.size(), &none));
  EXPECT_TRUE(none.empty());
  // Damage: a divisor of 1, a scaled block inside a scaled one, a product past int64.
  auto block_of = [](uint64_t divisor, const std::string& inner) {
    std::string b(1, static_cast<char>(Encoding::kScaled));
    PutVarint64(&b, 1);
    PutVarint64(&b, divisor);
    return b + inner;
  };
  std::string inner;
  const int64_t big = INT64_MAX / 2;
  EncodeDelta(&big, 1, &inner);
  std::vector<int64_t> out;
  EXPECT_TRUE(DecodeIntColumn(block_of(1, inner), 1, &out).IsDataLoss());
  EXPECT_TRUE(DecodeIntColumn(block_of(2, block_of(2, inner)), 1, &out).IsDataLoss());
  EXPECT_TRUE(DecodeIntColumn(block_of(3, inner), 1, &out).IsDataLoss());
  ASSERT_TRUE(DecodeIntColumn(block_of(2, inner), 1, &out).ok());
  EXPECT_EQ(out, std::vector<int64_t>{big * 2});
}

// kIntDict (format version 10): a time of one value per request (ingest_ts, rows sorted by
// source and time step through the requests) and levels that change from row to row are stored
// as distinct values and ids, chosen only where zstd makes them smaller, and come back exactly;
// a near-unique column is refused; a damaged block is DataLoss.
TEST(ColumnEncoding, IntDictHoldsRepeatedIntsInFewerBytes) {
  std::mt19937_64 rng(11);
  // 8,192 rows of 30 sources, each source's rows in time order, its requests' times shared
  // with the other sources' rows of the same request (the server's ingest_ts).
  std::vector<int64_t> requests;
  int64_t t = 1'796'538'583'185'902'604;
  for (int i = 0; i < 130; ++i) requests.push_back(t += 1'000'000 + rng() % 3'000'000);
  std::vector<int64_t> ingest;
  for (int source = 0; source < 30; ++source) {
    size_t at = 0;
    for (int row = 0; row < 273; ++row) {
      at = std::min(requests.size() - 1, at + rng() % 2);
      ingest.push_back(requests[at]);
    }
  }
  std::vector<uint64_t> levels;
  for (size_t i = 0; i < ingest.size(); ++i) {
    const uint64_t draw = rng() % 100;
    levels.push_back(draw < 50 ? 0 : draw < 85 ? 1 : draw < 95 ? 2 : 3);
  }
  std::vector<int64_t> level_ints(levels.begin(), levels.end());
  std::vector<int64_t> scratch;
  const std::vector<std::vector<int64_t>> cases = {
      ingest,
      level_ints,
      {5, 5, 5, 5},
      {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX, 0, 0, 0, 0, 0, 0, 0, 0}};
  for (const auto& values : cases) {
    for (bool steps : {false, true}) {
      std::string block;
      ASSERT_TRUE(EncodeIntDict(values.data(), values.size(), steps, &scratch, &block));
      EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kIntDict);
      std::vector<int64_t> out;
      ASSERT_TRUE(DecodeIntColumn(block, values.size(), &out).ok());
      EXPECT_EQ(out, values);
      for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
        std::vector<int64_t> partial;
        EXPECT_FALSE(DecodeIntColumn(block.substr(0, cut), values.size(), &partial).ok()) << cut;
        EXPECT_TRUE(partial.empty());
      }
    }
  }
  // The choosers take it only with "int_dict" (format version 10), where zstd says smaller.
  std::string chosen, before;
  EncodeTimeColumn(ingest.data(), ingest.size(), true, &chosen, true);
  EncodeTimeColumn(ingest.data(), ingest.size(), true, &before, false);
  EXPECT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kIntDict);
  EXPECT_NE(static_cast<Encoding>(before[0]), Encoding::kIntDict);
  EXPECT_LT(ZstdSize(chosen), ZstdSize(before) / 2);
  std::string level_chosen, level_before;
  EncodeLevelColumn(levels.data(), levels.size(), true, &level_chosen);
  EncodeLevelColumn(levels.data(), levels.size(), false, &level_before);
  EXPECT_EQ(static_cast<Encoding>(level_chosen[0]), Encoding::kIntDict);
  EXPECT_EQ(static_cast<Encoding>(level_before[0]), Encoding::kRle);
  EXPECT_LT(ZstdSize(level_chosen), ZstdSize(level_before) * 7 / 8);
  std::vector<int64_t> back;
  ASSERT_TRUE(DecodeIntColumn(level_chosen, levels.size(), &back).ok());
  EXPECT_EQ(back, level_ints);
  // Long runs of one level stay runs.
  const std::vector<uint64_t> runs(8192, 1);
  std::string run_block;
  EncodeLevelColumn(runs.data(), runs.size(), true, &run_block);
  EXPECT_EQ(static_cast<Encoding>(run_block[0]), Encoding::kRle);
  // Near-unique (a time in microseconds): refused, nothing appended.
  std::vector<int64_t> unique;
  for (int i = 0; i < 8192; ++i) unique.push_back(t += 1 + static_cast<int64_t>(rng() % 1000));
  std::string none;
  EXPECT_FALSE(EncodeIntDict(unique.data(), unique.size(), true, &scratch, &none));
  EXPECT_TRUE(none.empty());
  std::string unique_chosen;
  EncodeTimeColumn(unique.data(), unique.size(), true, &unique_chosen, true);
  EXPECT_NE(static_cast<Encoding>(unique_chosen[0]), Encoding::kIntDict);
  // Damage: an id past the values, values not ascending, an unknown ids mode, bytes after the
  // ids, values that are not a delta block.
  auto block_of = [](const std::vector<int64_t>& values, int mode, const std::string& ids,
                     bool delta = true) {
    std::string inner;
    if (delta) {
      EncodeDelta(values.data(), values.size(), &inner);
    } else {
      EncodeDeltaOfDelta(values.data(), values.size(), &inner);
    }
    std::string b(1, static_cast<char>(Encoding::kIntDict));
    PutVarint64(&b, ids.size());  // one byte per id below
    PutVarint64(&b, inner.size());
    return b + inner + std::string(1, static_cast<char>(mode)) + ids;
  };
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeIntColumn(block_of({10, 20}, 0, std::string("\x01\x00", 2)), 2, &out).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{20, 10}));
  EXPECT_TRUE(
      DecodeIntColumn(block_of({10, 20}, 0, std::string("\x02\x00", 2)), 2, &out).IsDataLoss());
  EXPECT_TRUE(
      DecodeIntColumn(block_of({20, 10}, 0, std::string("\x01\x00", 2)), 2, &out).IsDataLoss());
  EXPECT_TRUE(
      DecodeIntColumn(block_of({10, 10}, 0, std::string("\x01\x00", 2)), 2, &out).IsDataLoss());
  EXPECT_TRUE(
      DecodeIntColumn(block_of({10, 20}, 2, std::string("\x01\x00", 2)), 2, &out).IsDataLoss());
  EXPECT_TRUE(DecodeIntColumn(block_of({10, 20}, 1, std::string("\x03\x00", 2)), 2, &out)
                  .IsDataLoss());  // a step below id 0
  EXPECT_TRUE(DecodeIntColumn(block_of({10, 20}, 0, std::string("\x01\x00", 2), false), 2, &out)
                  .IsDataLoss());
  std::string trailing = block_of({10, 20}, 0, std::string("\x01\x00", 2)) + "x";
  EXPECT_TRUE(DecodeIntColumn(trailing, 2, &out).IsDataLoss());
}

// kPrefixedNumber (format version 11): ids spelled as one prefix and a fixed-width number are
// stored as the numbers (distinct values and ids in byte planes when they repeat, deltas when
// they count up) and rendered back byte for byte; anything else is refused; damage is DataLoss.
TEST(ColumnEncoding, PrefixedNumbersRoundTripAndTakeFewerBytes) {
  std::mt19937_64 rng(15);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // 8,192 user ids from 100,000 with a skew (the corpus's Zipf users), and a counter.
  std::vector<std::string> users, counter;
  for (int i = 0; i < 8192; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "u%06d",
                  static_cast<int>(100000 * std::pow(uniform(rng), 4.0)) % 100000);
    users.push_back(buf);
    std::snprintf(buf, sizeof(buf), "ORD-%08d", 41000 + i * 3);
    counter.push_back(buf);
  }
  auto views_of = [](const std::vector<std::string>& v) {
    return std::vector<std::string_view>(v.begin(), v.end());
  };
  auto round_trip = [&](const std::vector<std::string>& values) {
    const std::vector<std::string_view> views = views_of(values);
    std::vector<int64_t> scratch;
    std::string block;
    EXPECT_TRUE(EncodePrefixedNumber(views.data(), views.size(), &scratch, &block));
    EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kPrefixedNumber);
    std::vector<std::string_view> out;
    std::string arena;
    Status s = DecodeStringColumn(block, views.size(), &out, &arena);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, views);
    const std::vector<uint32_t> rows = {0, static_cast<uint32_t>(views.size() - 1)};
    std::vector<std::string_view> some;
    std::string some_arena;
    EXPECT_TRUE(DecodeStringRows(block, views.size(), rows, &some, &some_arena).ok());
    EXPECT_EQ(some, (std::vector<std::string_view>{views.front(), views.back()}));
    for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
      std::vector<std::string_view> partial;
      std::string partial_arena;
      EXPECT_FALSE(
          DecodeStringColumn(block.substr(0, cut), views.size(), &partial, &partial_arena).ok())
          << cut;
    }
    return block;
  };
  const std::string user_block = round_trip(users);
  round_trip(counter);
  round_trip({"000123", "999999", "000000"});                  // no prefix: zero-padded numbers
  round_trip({"a1b-0042", "a1b-0043"});                        // digits inside the prefix
  round_trip({"x999999999999999999", "x000000000000000000"});  // 18 digits
  round_trip({"u7"});
  // The repeated users as distinct values and ids in byte planes; the counter as deltas.
  std::vector<int64_t> scratch;
  std::string counter_block;
  const std::vector<std::string_view> counter_views = views_of(counter);
  ASSERT_TRUE(EncodePrefixedNumber(counter_views.data(), counter.size(), &scratch, &counter_block));
  std::string_view inner(user_block);
  inner.remove_prefix(1 + 2 + 2 + 1);  // encoding, count (2 bytes), prefix "u" (lp), width
  EXPECT_EQ(static_cast<Encoding>(inner[0]), Encoding::kIntDict);
  inner = counter_block;
  inner.remove_prefix(1 + 2 + 5 + 1);
  EXPECT_NE(static_cast<Encoding>(inner[0]), Encoding::kIntDict);
  // The chooser takes it only with "prefixed_number" (format version 11), where it is smaller.
  const std::vector<std::string_view> user_views = views_of(users);
  StringEncodeScratch with, without;
  with.hex = without.hex = with.iso_prefix = without.iso_prefix = true;
  with.prefixed_number = true;
  std::string chosen, before;
  EncodeStringColumn(user_views.data(), user_views.size(), &with, &chosen);
  EncodeStringColumn(user_views.data(), user_views.size(), &without, &before);
  EXPECT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kPrefixedNumber);
  EXPECT_NE(static_cast<Encoding>(before[0]), Encoding::kPrefixedNumber);
  EXPECT_LT(ZstdSize(chosen) * 8, ZstdSize(before) * 7)  // 18,426 vs 22,716 bytes
      << ZstdSize(chosen) << " vs " << ZstdSize(before);
  // Refused, nothing appended: widths that differ, a value without the prefix or digits, more
  // than 18 digits, no digits at all, an empty value, no values.
  for (const std::vector<std::string>& refused :
       std::vector<std::vector<std::string>>{{"u1", "u22"},
                                             {"u001", "v001"},
                                             {"u001", "u0x1"},
                                             {"x1234567890123456789"},
                                             {"abc"},
                                             {""},
                                             {}}) {
    const std::vector<std::string_view> views = views_of(refused);
    std::string none;
    EXPECT_FALSE(EncodePrefixedNumber(views.data(), views.size(), &scratch, &none))
        << (refused.empty() ? "(none)" : refused[0]);
    EXPECT_TRUE(none.empty());
  }
  // Damage: a width of 0 or 19, a number past the width, a negative number, an int block of too
  // few numbers, ids past the values, a plane of the wrong size or an id width of 5.
  auto block_of = [](uint8_t width, const std::string& ints, size_t count) {
    std::string b(1, static_cast<char>(Encoding::kPrefixedNumber));
    PutVarint64(&b, count);
    PutLengthPrefixed(&b, "u");
    b.push_back(static_cast<char>(width));
    return b + ints;
  };
  auto delta_of = [](std::vector<int64_t> v) {
    std::string b;
    EncodeDelta(v.data(), v.size(), &b);
    return b;
  };
  auto planes_of = [](std::vector<int64_t> values, uint8_t mode, std::string ids) {
    std::string inner;
    EncodeDelta(values.data(), values.size(), &inner);
    std::string b(1, static_cast<char>(Encoding::kIntDict));
    PutVarint64(&b, 2);
    PutVarint64(&b, inner.size());
    return b + inner + std::string(1, static_cast<char>(mode)) + ids;
  };
  std::vector<std::string_view> out;
  std::string arena;
  ASSERT_TRUE(DecodeStringColumn(block_of(3, delta_of({7, 999}), 2), 2, &out, &arena).ok());
  EXPECT_EQ(out, (std::vector<std::string_view>{"u007", "u999"}));
  ASSERT_TRUE(
      DecodeStringColumn(block_of(3, planes_of({5, 9}, 2, std::string("\x01\x01\x00", 3)), 2), 2,
                         &out, &arena)
          .ok());
  for (const std::string& bad :
       {block_of(0, delta_of({7, 9}), 2), block_of(19, delta_of({7, 9}), 2),
        block_of(3, delta_of({7, 1000}), 2), block_of(3, delta_of({-1, 9}), 2),
        block_of(3, delta_of({7}), 2),
        block_of(3, planes_of({5, 9}, 2, std::string("\x01\x02\x00", 3)), 2),
        block_of(3, planes_of({5, 9}, 2, std::string("\x01\x01", 2)), 2),
        block_of(3, planes_of({5, 9}, 2, std::string("\x05\x01\x00", 3)), 2),
        block_of(3, planes_of({5, 9}, 3, std::string("\x01\x01\x00", 3)), 2)}) {
    std::vector<std::string_view> views;
    std::string a;
    Status s = DecodeStringColumn(bad, 2, &views, &a);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  }
}

// kHex: lower-case hex ids of one even length are stored as their bytes and rendered back
// byte for byte; anything else is refused; a damaged block is DataLoss.
// A few-rows read is given its rows ascending: rows out of order are a clear error, the same in
// every encoding (before, a hex block rendered {7, 1} as asked and a plain block answered
// DataLoss "holds no row 1", as if the block were damaged).
TEST(ColumnEncoding, RowsOutOfOrderAreAnErrorInEveryFewRowsDecoder) {
  std::vector<std::string> hex, words, dict;
  for (int i = 0; i < 300; ++i) {
    char id[17];
    std::snprintf(id, sizeof(id), "%016x", i * 2654435761u);
    hex.emplace_back(id);
    words.push_back("line " + std::to_string(i) + " of the block");
    dict.push_back(i % 3 == 0 ? "GET" : "POST");
  }
  auto encode = [](const std::vector<std::string>& values, bool marked) {
    std::vector<std::string_view> views(values.begin(), values.end());
    std::string block;
    StringEncodeScratch scratch;
    scratch.hex = true;
    scratch.marked_lines = marked;
    EncodeStringColumn(views.data(), views.size(), &scratch, &block);
    return block;
  };
  for (const auto& [values, marked, encoding] :
       std::vector<std::tuple<std::vector<std::string>, bool, Encoding>>{
           {hex, false, Encoding::kHex},
           {words, false, Encoding::kPlain},
           {words, true, Encoding::kMarkedLines},
           {dict, false, Encoding::kDict}}) {
    const std::string block = encode(values, marked);
    ASSERT_EQ(static_cast<Encoding>(block[0]), encoding);
    std::vector<std::string_view> out;
    std::string arena;
    const Status ok = DecodeStringRows(block, values.size(), {1, 7}, &out, &arena);
    ASSERT_TRUE(ok.ok()) << static_cast<int>(encoding) << ": " << ok.ToString();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], values[7]);
    for (const std::vector<uint32_t>& rows :
         std::vector<std::vector<uint32_t>>{{7, 1}, {3, 3, 2}, {0, 299, 5}}) {
      const Status s = DecodeStringRows(block, values.size(), rows, &out, &arena);
      EXPECT_TRUE(s.IsInvalidArgument()) << static_cast<int>(encoding) << ": " << s.ToString();
      EXPECT_NE(s.message().find("ascending"), std::string::npos) << s.ToString();
    }
    // A row past the block, even listed first: DataLoss naming it.
    const Status past = DecodeStringRows(block, values.size(), {300, 1}, &out, &arena);
    EXPECT_TRUE(past.IsDataLoss()) << past.ToString();
    EXPECT_NE(past.message().find("row 300"), std::string::npos) << past.ToString();
  }
  // The hex decoder on its own (its body after the encoding byte and count) says so too.
  const std::string block = encode(hex, false);
  std::string_view body(block);
  body.remove_prefix(1);
  uint64_t n;
  ASSERT_TRUE(GetVarint64(&body, &n));
  std::vector<std::string_view> out;
  std::string arena;
  EXPECT_TRUE(DecodeHexRows(body, n, {7, 1}, &out, &arena).IsInvalidArgument());
  EXPECT_TRUE(DecodeHexRows(body, n, {300}, &out, &arena).IsDataLoss());
}

TEST(ColumnEncoding, HexIdsRoundTripAsBytes) {
  std::mt19937_64 rng(12);
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) {
    std::string id;
    for (int k = 0; k < 32; ++k) id.push_back("0123456789abcdef"[rng() % 16]);
    ids.push_back(i % 5 == 0 && i > 0 ? ids[i - 1] : id);  // some repeat
  }
  std::vector<std::string_view> views(ids.begin(), ids.end());
  std::string block;
  ASSERT_TRUE(EncodeHex(views.data(), views.size(), &block));
  EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kHex);
  EXPECT_LT(block.size(), ids.size() * 16 + 8);
  std::vector<std::string_view> out;
  std::string arena;
  ASSERT_TRUE(DecodeStringColumn(block, ids.size(), &out, &arena).ok());
  EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), ids);
  for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 50) {
    std::vector<std::string_view> partial;
    EXPECT_FALSE(DecodeStringColumn(block.substr(0, cut), ids.size(), &partial, &arena).ok());
  }
  EXPECT_TRUE(DecodeStringColumn(block + "x", ids.size(), &out, &arena).IsDataLoss());
  // A read of a few rows (a trace id sub-block's one row a search returns) renders those rows
  // only: the arena holds their text, not the block's (before: every row's, 3000 x 32 digits).
  for (const std::vector<uint32_t>& rows :
       std::vector<std::vector<uint32_t>>{{0}, {1, 5, 6}, {2999}, {7, 1500, 2998, 2999}}) {
    std::string few_arena;
    ASSERT_TRUE(DecodeStringRows(block, ids.size(), rows, &out, &few_arena).ok());
    ASSERT_EQ(out.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(out[i], ids[rows[i]]) << rows[i];
    EXPECT_EQ(few_arena.size(), rows.size() * 32);
  }
  EXPECT_TRUE(DecodeStringRows(block, ids.size(), {3000}, &out, &arena).IsDataLoss());
  // Rows out of order (against the contract) past the block: DataLoss, not a read past it.
  EXPECT_TRUE(DecodeStringRows(block, ids.size(), {3001, 1}, &out, &arena).IsDataLoss());
  EXPECT_TRUE(DecodeStringRows(block.substr(0, block.size() - 1), ids.size(), {0}, &out, &arena)
                  .IsDataLoss());
  // The chooser takes it only with scratch.hex (format version 7, warm).
  for (bool hex : {false, true}) {
    StringEncodeScratch scratch;
    scratch.text_layouts = true;
    scratch.hex = hex;
    std::string chosen;
    EncodeStringColumn(views.data(), views.size(), &scratch, &chosen);
    EXPECT_EQ(static_cast<Encoding>(chosen[0]) == Encoding::kHex, hex);
  }
  // Refused: upper case, odd or mixed lengths, empty values, no values.
  const std::vector<std::vector<std::string>> refused = {
      {"abcDEF"},
      {"abc"},
      {"abcd", "abcdef"},
      {"", ""},
      {"abcd", ""},
      {"0x12"},
      // The bytes next to the digits' ranges, a high byte and a zero byte, also after a valid id.
      {"0g"},
      {"/0"},
      {":0"},
      {"`0"},
      {"a\xff"},
      {"ab", std::string("a\0", 2)}};
  for (const auto& values : refused) {
    std::vector<std::string_view> v(values.begin(), values.end());
    std::string none;
    EXPECT_FALSE(EncodeHex(v.data(), v.size(), &none)) << values[0];
    EXPECT_TRUE(none.empty());
  }
  std::string none;
  EXPECT_FALSE(EncodeHex(nullptr, 0, &none));
  // The widest value the encoder takes is the widest the decoder reads; one byte more is refused.
  const std::string widest(2 * kMaxHexBytes, 'e');
  const std::vector<std::string> wide = {widest, std::string(2 * kMaxHexBytes, '0')};
  std::vector<std::string_view> wv(wide.begin(), wide.end());
  std::string wide_block;
  ASSERT_TRUE(EncodeHex(wv.data(), wv.size(), &wide_block));
  out.clear();
  ASSERT_TRUE(DecodeStringColumn(wide_block, wide.size(), &out, &arena).ok());
  EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), wide);
  const std::string too_wide = widest + "ab";
  const std::string_view too_wide_view = too_wide;
  EXPECT_FALSE(EncodeHex(&too_wide_view, 1, &none));
  EXPECT_TRUE(none.empty());
}

TEST(ColumnEncoding, TextLayoutsRefuseWhatTheyCannotHold) {
  std::vector<std::string> newline = {"a", "b\nc"}, mark = {"a1", "b\x11 2"};
  std::vector<std::string_view> nv(newline.begin(), newline.end()), mv(mark.begin(), mark.end());
  std::string out;
  EXPECT_FALSE(EncodeLines(nv.data(), nv.size(), &out));
  EXPECT_FALSE(EncodeDigitSplit(nv.data(), nv.size(), &out));
  EXPECT_FALSE(EncodeDigitSplit(mv.data(), mv.size(), &out));
  for (bool with_separators : {false, true}) {
    EXPECT_FALSE(EncodePrefixSplit(nv.data(), nv.size(), with_separators, &out));
    EXPECT_FALSE(EncodePrefixSplit(mv.data(), mv.size(), with_separators, &out));
  }
  EXPECT_TRUE(out.empty());
  // The chooser then falls back to plain, and the values still round-trip.
  StringEncodeScratch scratch;
  scratch.text_layouts = true;
  for (const auto* values : {&newline, &mark}) {
    std::vector<std::string_view> v(values->begin(), values->end());
    std::string block;
    EncodeStringColumn(v.data(), v.size(), &scratch, &block);
    std::vector<std::string_view> got;
    std::string arena;
    ASSERT_TRUE(DecodeStringColumn(block, v.size(), &got, &arena).ok());
    EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), *values);
  }
  // Without text_layouts (hot segments, format version 3 and older) they are never chosen.
  std::vector<std::string> log = {"user 1 logged in", "user 2 logged in", "user 3 logged in"};
  std::vector<std::string_view> lv(log.begin(), log.end());
  StringEncodeScratch hot;
  std::string block;
  EncodeStringColumn(lv.data(), lv.size(), &hot, &block);
  EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kPlain);
}

TEST(ColumnEncoding, GarbageNeverDecodesOutOfBounds) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (!junk.empty()) junk[0] = static_cast<char>(1 + rng() % 16);
    std::vector<int64_t> ints;
    std::vector<std::string_view> strs;
    DecodeIntColumn(junk, 1000, &ints).IgnoreError();
    std::string arena;
    DecodeStringColumn(junk, 1000, &strs, &arena).IgnoreError();
    for (std::string_view v : strs) {
      bool in_junk = v.data() >= junk.data() && v.data() + v.size() <= junk.data() + junk.size();
      bool in_arena =
          v.data() >= arena.data() && v.data() + v.size() <= arena.data() + arena.size();
      EXPECT_TRUE(in_junk || in_arena);
    }
  }
}

// A read of a block's first rows (ReadRows of a few rows; a newest-first search's keys through its
// last candidate row: ingest_ts, the level, ids in planes) decodes an int-dict block only through
// the last row: the ids of the rows before it and the distinct values up to the largest of them.
// Before, every row's value was decoded (and the executor used one).
TEST(ColumnEncoding, IntDictBlocksDecodeOnlyThroughTheLastRowRead) {
  std::mt19937 rng(24);
  const size_t count = 5000;
  std::vector<int64_t> level(count), ingest(count), users(count);
  int64_t t = 1'700'000'000'000'000'000;
  for (size_t i = 0; i < count; ++i) {
    level[i] = static_cast<int64_t>(rng() % 6);
    if (rng() % 20 == 0) t += 1000 + static_cast<int64_t>(rng() % 1000);
    ingest[i] = t;
    users[i] = static_cast<int64_t>(rng() % 3000) * 7;
  }
  std::vector<int64_t> scratch;
  std::string by_level, by_step, in_planes;
  ASSERT_TRUE(EncodeIntDict(level.data(), count, false, &scratch, &by_level));
  ASSERT_TRUE(EncodeIntDict(ingest.data(), count, true, &scratch, &by_step));
  ASSERT_TRUE(EncodeIntDictPlanes(users.data(), count, &scratch, &in_planes));
  const std::vector<std::pair<const std::string*, const std::vector<int64_t>*>> blocks = {
      {&by_level, &level}, {&by_step, &ingest}, {&in_planes, &users}};
  for (const auto& [block, values] : blocks) {
    ASSERT_EQ(static_cast<Encoding>((*block)[0]), Encoding::kIntDict);
    for (size_t through : {1, 2, 77, 2500, 4999, 5000, 6000}) {
      std::vector<int64_t> out;
      const Status s = DecodeIntColumnThrough(*block, count, through, &out);
      ASSERT_TRUE(s.ok()) << through << ": " << s.ToString();
      ASSERT_EQ(out.size(), std::min(through, count)) << through;
      EXPECT_TRUE(std::equal(out.begin(), out.end(), values->begin())) << through;
    }
    // The listed rows of a block whose ids are in planes: those rows alone, as before.
    std::vector<int64_t> rows_out;
    const std::vector<uint32_t> rows = {3, 2000, 4999};
    const Status s = DecodeIntRows(*block, count, rows, &rows_out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(rows_out, (std::vector<int64_t>{(*values)[3], (*values)[2000], (*values)[4999]}));
    // A damaged block is still DataLoss read whole, and a prefix of it short of the ids a read
    // needs is DataLoss too.
    std::vector<int64_t> out;
    EXPECT_TRUE(DecodeIntColumn(*block + "x", count, &out).IsDataLoss());
    out.clear();
    EXPECT_TRUE(DecodeIntColumnThrough(block->substr(0, block->size() / 2), count, count, &out)
                    .IsDataLoss());
  }
}

// kIntDict ids mode 3 (format version 17): the corpus's levels, drawn at random from row to row,
// as 2-bit ids: every row back (whole, through a row, listed rows), fewer bytes at zstd 3 than
// mode 0 (what version 18 and before chose), taken by the level chooser only when told; every
// width from 1 to 8; damage is DataLoss.
TEST(ColumnEncoding, PackedLevelIdsRoundTripInFewerBytes) {
  std::mt19937 rng(19);
  const size_t count = 8192;
  std::vector<uint64_t> levels(count);
  std::vector<int64_t> level_ints(count);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t d = rng() % 100;
    levels[i] = d < 50 ? 2 : d < 85 ? 3 : d < 95 ? 4 : 5;  // DEBUG, INFO, WARN, ERROR
    level_ints[i] = static_cast<int64_t>(levels[i]);
  }
  std::string packed, before;
  EncodeLevelColumn(levels.data(), count, true, &packed, true);
  EncodeLevelColumn(levels.data(), count, true, &before, false);
  ASSERT_EQ(static_cast<Encoding>(packed[0]), Encoding::kIntDict);
  ASSERT_EQ(static_cast<Encoding>(before[0]), Encoding::kIntDict);
  // About 1.7 bits a row (entropy 1.58) against about 2.3.
  EXPECT_LT(ZstdSize(packed) * 10, ZstdSize(before) * 8)
      << ZstdSize(packed) << " " << ZstdSize(before);
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeIntColumn(packed, count, &out).ok());
  EXPECT_EQ(out, level_ints);
  for (size_t through : {1, 3, 4, 5, 4097, 8191, 8192}) {
    out.clear();
    ASSERT_TRUE(DecodeIntColumnThrough(packed, count, through, &out).ok()) << through;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), level_ints.begin())) << through;
    EXPECT_EQ(out.size(), through);
  }
  out.clear();
  ASSERT_TRUE(DecodeIntRows(packed, count, {0, 3, 4, 8191}, &out).ok());
  EXPECT_EQ(out,
            (std::vector<int64_t>{level_ints[0], level_ints[3], level_ints[4], level_ints[8191]}));
  // Every width, odd counts (the last byte's unused bits).
  std::vector<int64_t> scratch;
  for (size_t distinct : {1, 2, 3, 5, 17, 100, 129, 256}) {
    for (size_t n : {1, 7, 9, 1001}) {
      std::vector<int64_t> values(n);
      for (size_t i = 0; i < n; ++i) values[i] = -50 + static_cast<int64_t>(rng() % distinct) * 3;
      std::string block;
      ASSERT_TRUE(EncodeIntDictPacked(values.data(), n, &scratch, &block));
      out.clear();
      const Status st = DecodeIntColumn(block, n, &out);
      ASSERT_TRUE(st.ok()) << distinct << " " << n << ": " << st.ToString();
      EXPECT_EQ(out, values);
      ExpectListedRowsRead(block, values,
                           std::to_string(distinct) + " values, " + std::to_string(n) + " rows");
      for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 30) {
        std::vector<int64_t> partial;
        EXPECT_TRUE(DecodeIntColumn(block.substr(0, cut), n, &partial).IsDataLoss()) << cut;
      }
      EXPECT_TRUE(DecodeIntColumn(block + "x", n, &out).IsDataLoss());
    }
  }
  std::vector<int64_t> many(1000);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<int64_t>(i % 257);
  std::string none;
  EXPECT_FALSE(EncodeIntDictPacked(many.data(), many.size(), &scratch, &none));
  EXPECT_TRUE(none.empty());
  // Damage: a width of 0 or 9, a set bit past the last id, an id past the values.
  const std::vector<int64_t> three = {10, 20, 30, 10, 20};  // 2-bit ids 0 1 2 0 1: 10 bits
  std::string block;
  ASSERT_TRUE(EncodeIntDictPacked(three.data(), three.size(), &scratch, &block));
  const size_t width_at = block.size() - 3;
  ASSERT_EQ(block[width_at], 2);
  for (char width : {0, 9}) {
    std::string bad = block;
    bad[width_at] = width;
    const Status st = DecodeIntColumn(bad, three.size(), &out);
    EXPECT_TRUE(st.IsDataLoss());
    EXPECT_NE(st.message().find("packed id width"), std::string::npos) << st.message();
  }
  std::string bad = block;
  bad.back() = static_cast<char>(bad.back() | 0x80);
  Status st = DecodeIntColumn(bad, three.size(), &out);
  EXPECT_NE(st.message().find("set bits after the last packed id"), std::string::npos)
      << st.message();
  bad = block;
  bad[width_at + 1] = static_cast<char>(bad[width_at + 1] | 0x03);  // row 0's id 3 of 3 values
  st = DecodeIntColumn(bad, three.size(), &out);
  EXPECT_NE(st.message().find("row 0 has id 3 of 3"), std::string::npos) << st.message();
}

// kPermutedRuns (format version 14): seq of rows sorted by time that arrived in another order
// (elastic_apache_access: each minute's lines shuffled) as the values ascending and the
// permutation within each run of rows holding consecutive ranks.
std::vector<int64_t> ShuffledRuns(std::mt19937* rng, size_t count, size_t max_run, int64_t first,
                                  int64_t step) {
  std::vector<int64_t> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = first + static_cast<int64_t>(i) * step;
  for (size_t at = 0; at < count;) {
    const size_t run = std::min(count - at, 1 + (*rng)() % max_run);
    std::shuffle(values.begin() + static_cast<long>(at),
                 values.begin() + static_cast<long>(at + run), *rng);
    at += run;
  }
  return values;
}

TEST(ColumnEncoding, PermutedRunsRoundTripAndRefuseWhatTheyCannotHold) {
  std::mt19937 rng(19);
  for (size_t count : {2, 3, 17, 1000, 8192}) {
    for (size_t max_run : {1, 2, 3, 64, 136, 5000, 8192}) {
      const std::vector<int64_t> values =
          ShuffledRuns(&rng, count, max_run, 1 + rng() % 1000, 1 + static_cast<int64_t>(rng() % 3));
      std::string block;
      if (!EncodePermutedRuns(values.data(), values.size(), &block)) {
        // Refused only where most rows would be runs of one row (kDelta's case): runs of a
        // few rows, or shuffled over more rows than the writer looks ahead for a run's end.
        EXPECT_TRUE(max_run <= 3 || count <= 3 || max_run > 1024) << count << " " << max_run;
        EXPECT_TRUE(block.empty());
        continue;
      }
      EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kPermutedRuns);
      std::vector<int64_t> out;
      const Status s = DecodeIntColumn(block, count, &out);
      ASSERT_TRUE(s.ok()) << count << " " << max_run << ": " << s.ToString();
      EXPECT_EQ(out, values) << count << " " << max_run;
      std::vector<uint32_t> rows = {0, static_cast<uint32_t>(count - 1)};
      out.clear();
      ASSERT_TRUE(DecodeIntRows(block, count, rows, &out).ok());
      EXPECT_EQ(out, (std::vector<int64_t>{values.front(), values.back()}));
      // Every strict prefix is refused, never read past.
      for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 40) {
        std::vector<int64_t> partial;
        EXPECT_FALSE(DecodeIntColumn(block.substr(0, cut), count, &partial).ok()) << cut;
      }
    }
  }
  // Any order of distinct extremes; a whole block one run.
  std::vector<int64_t> extremes = {INT64_MAX, INT64_MIN, 0, -1, 1, INT64_MAX - 1, INT64_MIN + 1};
  std::string block;
  ASSERT_TRUE(EncodePermutedRuns(extremes.data(), extremes.size(), &block));
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeIntColumn(block, extremes.size(), &out).ok());
  EXPECT_EQ(out, extremes);
  // Equal values (no permutation holds them) and fewer than two are refused.
  std::vector<int64_t> equal = {5, 3, 5};
  std::string none;
  EXPECT_FALSE(EncodePermutedRuns(equal.data(), equal.size(), &none));
  EXPECT_FALSE(EncodePermutedRuns(equal.data(), 1, &none));
  EXPECT_TRUE(none.empty());
}

TEST(ColumnEncoding, PermutedRunsTakeTheSeqOfShuffledMinutesInFewerBytes) {
  // Rows sorted by time whose arrival order was shuffled within runs of about 120 (apache's
  // minutes): the chooser keeps kPermutedRuns, in at most three quarters of kDelta's bytes.
  std::mt19937 rng(7);
  const std::vector<int64_t> shuffled = ShuffledRuns(&rng, 8192, 240, 1, 1);
  std::string delta, chosen, before;
  EncodeDelta(shuffled.data(), shuffled.size(), &delta);
  EncodeSeqColumn(shuffled.data(), shuffled.size(), true, &chosen);
  EncodeSeqColumn(shuffled.data(), shuffled.size(), false, &before);
  EXPECT_EQ(before, delta);
  ASSERT_EQ(static_cast<Encoding>(chosen[0]), Encoding::kPermutedRuns);
  EXPECT_LT(ZstdSize(chosen), ZstdSize(delta) * 3 / 4)
      << ZstdSize(chosen) << " vs " << ZstdSize(delta);
  // Rows in seq order (nearly every source), or rising with gaps (several sources' rows
  // interleaved by time): kDelta, as before.
  std::vector<int64_t> rising(8192);
  for (size_t i = 0; i < rising.size(); ++i) rising[i] = 100 + 3 * static_cast<int64_t>(i);
  std::string kept;
  EncodeSeqColumn(rising.data(), rising.size(), true, &kept);
  EXPECT_EQ(static_cast<Encoding>(kept[0]), Encoding::kDelta);
}

TEST(ColumnEncoding, DamagedPermutedRunsAreDataLoss) {
  const std::vector<int64_t> values = {3, 1, 2, 4, 6, 5};  // two runs of 3 rows
  std::string good;
  ASSERT_TRUE(EncodePermutedRuns(values.data(), values.size(), &good));
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeIntColumn(good, values.size(), &out).ok());
  ASSERT_EQ(out, values);
  // Hand-made bodies: a values block, runs (length, start), digit bytes.
  auto make = [](const std::vector<int64_t>& sorted,
                 const std::vector<std::pair<uint64_t, int64_t>>& runs, const std::string& digits) {
    std::string b(1, static_cast<char>(Encoding::kPermutedRuns));
    PutVarint64(&b, sorted.size());
    std::string v;
    EncodeDelta(sorted.data(), sorted.size(), &v);
    PutVarint64(&b, v.size());
    b += v;
    PutVarint64(&b, runs.size());
    for (const auto& [k, start] : runs) {
      PutVarint64(&b, k);
      PutVarint64(&b, ZigZagEncode(start));
    }
    return b + digits;
  };
  // The same rows by hand: run 1 (ranks 2, 0, 1) digits 2, 0 = 2 x 2 + 0 = 4 in 3 bits; run 2
  // (ranks 3, 5, 4: 0, 2, 1 from its start) digits 0, 1 = 0 x 2 + 1 = 1 in 3 bits: bits 0..2 =
  // 4 (001 from the low bit), bits 3..5 = 1 -> 0b1100.
  const std::vector<int64_t> sorted = {1, 2, 3, 4, 5, 6};
  ASSERT_EQ(make(sorted, {{3, 0}, {3, 0}}, std::string(1, '\x0c')), good);
  // A run may start anywhere its ranks are free: the second run first.
  std::string swapped = make(sorted, {{3, 3}, {3, -6}}, std::string(1, '\x0c'));
  out.clear();
  ASSERT_TRUE(DecodeIntColumn(swapped, values.size(), &out).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{6, 4, 5, 1, 3, 2}));
  struct Case {
    std::string block;
    std::string says;
  };
  const Case cases[] = {
      {make({1, 2, 2, 4, 5, 6}, {{3, 0}, {3, 0}}, "\x0c"), "not ascending"},
      {make(sorted, {{3, 0}, {2, 0}}, "\x0c"), "runs hold 5 of 6"},
      {make(sorted, {{3, 0}, {0, 0}, {3, 0}}, "\x0c"), "bad run length"},
      {make(sorted, {{3, 0}, {3, -1}}, "\x0c"), "holds rank 2 of an earlier run"},
      {make(sorted, {{3, 0}, {3, 1}}, "\x0c"), "holds ranks past the 6 values"},
      {make(sorted, {{3, 0}, {3, 0}}, ""), "ends in the run at row 0"},
      {make(sorted, {{3, 0}, {3, 0}}, "\x06"), "ends in the run at row 0"},  // 6 >= 3 x 2
      {make(sorted, {{3, 0}, {3, 0}}, "\x4c"), "bytes after"},               // a padding bit
      {make(sorted, {{3, 0}, {3, 0}}, std::string("\x0c\x00", 2)), "bytes after"},
  };
  for (const Case& c : cases) {
    out.clear();
    const Status s = DecodeIntColumn(c.block, values.size(), &out);
    EXPECT_TRUE(s.IsDataLoss()) << c.says;
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
    EXPECT_TRUE(out.empty()) << c.says;
  }
}

TEST(ColumnEncodingRegistry, EveryEncodingByteHasExactlyOneDecoder) {
  for (int id = 1; id <= 19; ++id) {
    if (id == 17) continue;  // not yet given
    const ColumnEncoding* e = FindColumnEncoding(static_cast<Encoding>(id));
    ASSERT_NE(e, nullptr) << id;
    EXPECT_EQ(static_cast<int>(e->id), id);
    EXPECT_FALSE(e->name.empty());
    EXPECT_NE(e->decode_ints == nullptr, e->decode_strings == nullptr) << e->name;
  }
  EXPECT_EQ(FindColumnEncoding(static_cast<Encoding>(0)), nullptr);
  EXPECT_EQ(FindColumnEncoding(static_cast<Encoding>(17)), nullptr);
  EXPECT_EQ(FindColumnEncoding(static_cast<Encoding>(20)), nullptr);
  // An integer block is refused as strings and the other way round, naming the encoding.
  std::string block;
  int64_t values[] = {1, 2, 3};
  EncodeDelta(values, 3, &block);
  std::vector<std::string_view> views;
  std::string arena;
  Status s = DecodeStringColumn(block, 3, &views, &arena);
  EXPECT_TRUE(s.IsDataLoss());
  EXPECT_NE(s.message().find("encoding 2 is not a string encoding"), std::string::npos)
      << s.message();
}

TEST(BlockCodecRegistry, EveryCodecRoundTripsAndMarksItsBlocks) {
  std::string raw;
  for (int i = 0; i < 2000; ++i) raw += "GET /item/" + std::to_string(i % 50) + " 200\n";
  for (Codec id : {Codec::kNone, Codec::kLz4, Codec::kZstd}) {
    const BlockCodecKind* kind = FindBlockCodec(id);
    ASSERT_NE(kind, nullptr) << static_cast<int>(id);
    SCOPED_TRACE(std::string(kind->name));
    BlockCodec codec;
    std::string stored;
    codec.Compress(raw, CodecChoice{id, 3}, &stored);
    // The codec byte says which codec wrote the payload; a compressing codec shrank it.
    EXPECT_EQ(static_cast<Codec>(stored[stored.size() - kBlockTrailerSize]), id);
    if (id != Codec::kNone) {
      EXPECT_LT(stored.size(), raw.size() / 4);
    }
    std::string back;
    ASSERT_TRUE(codec.Decompress(stored, raw.size(), &back).ok());
    EXPECT_EQ(back, raw);
  }
  // Incompressible or tiny payloads are stored raw whatever the choice.
  BlockCodec codec;
  std::string stored;
  codec.Compress("tiny", CodecChoice{Codec::kZstd, 3}, &stored);
  EXPECT_EQ(static_cast<Codec>(stored[stored.size() - kBlockTrailerSize]), Codec::kNone);
  EXPECT_EQ(FindBlockCodec(static_cast<Codec>(3)), nullptr);
}

TEST(BlockCodecRegistry, AnUnknownCodecByteIsDataLoss) {
  BlockCodec codec;
  std::string stored;
  codec.Compress("payload", CodecChoice{Codec::kNone, 0}, &stored);
  // Rewrite the codec byte and its CRC so that only the codec is wrong.
  stored.resize(stored.size() - 4);
  stored.back() = 7;
  uint32_t crc = crc32c::Value(stored.data(), stored.size());
  PutFixed32(&stored, crc32c::Mask(crc));
  std::string raw;
  Status s = codec.Decompress(stored, 7, &raw);
  EXPECT_TRUE(s.IsDataLoss());
  EXPECT_NE(s.message().find("unknown codec 7"), std::string::npos) << s.message();
}

// A writer keeps its zstd context between blocks, and two flushes run at once: the hot tier's
// level 9 on a message block of 1.5 MiB (8,192 rows of 190 bytes) must not keep the 2^22-slot
// table zstd would size for it (a 14 MiB context), only 2^20 slots (docs/performance.md "The
// flush's memory"). The block still round-trips, at about the same size.
TEST(BlockCodecRegistry, AHotTextBlockKeepsASmallZstdContext) {
  std::string raw;
  uint64_t x = 88172645463325252ull;
  while (raw.size() < (3u << 19)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    raw += "2026-12-06T04:00:00Z svc-" + std::to_string(x % 40) + " request " +
           std::to_string(x % 100000) + " from 10.0." + std::to_string((x >> 20) % 256) + "." +
           std::to_string((x >> 28) % 256) + " took " + std::to_string((x >> 36) % 3000) +
           " ms user u" + std::to_string((x >> 12) % 50000) + " path /api/v1/items/" +
           std::to_string((x >> 40) % 9000) + "\n";
  }
  BlockCodec codec;
  std::string stored;
  codec.Compress(raw, CodecChoice{Codec::kZstd, 9}, &stored);
  EXPECT_LT(stored.size(), raw.size() / 3);
  EXPECT_LE(codec.StateBytes(), 8u << 20) << "context of " << codec.StateBytes() << " bytes";
  std::string back;
  ASSERT_TRUE(codec.Decompress(stored, raw.size(), &back).ok());
  EXPECT_EQ(back, raw);
}

// Format version 10: text rows that begin with an RFC 3339 UTC time keep it as nanoseconds
// (kIsoPrefix). Every value comes back byte for byte, whether or not its prefix renders back,
// and a read of a few rows from the front of the block (ReadRows) gives the same values.
TEST(ColumnEncoding, TimePrefixedTextRoundTripsByteForByteAndReadsAFewRows) {
  std::vector<std::string> values = {
      "2022-04-11T16:10:29.4428832Z Requested labels: ubuntu-latest",
      "2022-08-22T05:18:16.154660034Z,1661145496154660034,33.33.33.167,frontend",
      "2022-08-22T05:18:16.154660034Z,1661145496154660035,another time after it",
      "2022-08-22T05:18:16.154660034Z,1661145496154660034",
      "2022-08-22T05:18:16.154660034Z,16611454961546600341 longer number",
      "2023-01-29T08:52:28Z whole second",
      "2023-01-29T08:52:28.5Zno space after",
      "2023-01-29T08:52:28.000000000Z zeros kept",
      "2023-02-30T00:00:00Z February 30th is text",
      "2023-01-29T08:52:28.1234567890Z ten digits is text",
      "2023-01-29T08:52:28+01:00 an offset is text",
      "2023-01-29T08:52:28.Z no digits",
      "",
      "plain line",
      "2023-01-29T08:52:28Z",
      "1969-12-31T23:59:59.9Z before the epoch"};
  for (int i = 0; i < 300; ++i) {
    values.push_back("2022-04-11T16:10:" + std::to_string(10 + i % 50) + "." +
                     std::to_string(1000000 + i * 7919) + "Z ##[group]step " + std::to_string(i));
  }
  // Random times over the whole range (1678 to 2261, before and after the epoch), runs of rows
  // in one second and jumps, every fraction width: rendered back as AppendRfc3339 renders them.
  std::mt19937_64 rng(10);
  int64_t t = -9'000'000'000'000'000'000;
  for (int i = 0; i < 3000; ++i) {
    t = rng() % 4 == 0 ? static_cast<int64_t>(rng() % 18'000'000'000'000'000'000ull) -
                             9'000'000'000'000'000'000
                       : t + static_cast<int64_t>(rng() % 3'000'000);
    const int digits = static_cast<int>(rng() % 10);
    int64_t unit = 1;
    for (int d = digits; d < 9; ++d) unit *= 10;
    std::string v;
    AppendRfc3339(t - ((t % unit) + unit) % unit, digits, &v);
    values.push_back(v + " row " + std::to_string(i));
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  std::string block;
  ASSERT_TRUE(EncodeIsoPrefix(views.data(), views.size(), &block));
  EXPECT_EQ(static_cast<Encoding>(block[0]), Encoding::kIsoPrefix);
  ASSERT_NE(FindColumnEncoding(Encoding::kIsoPrefix), nullptr);
  std::vector<std::string_view> out;
  std::string arena;
  Status s = DecodeStringColumn(block, values.size(), &out, &arena);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(std::vector<std::string>(out.begin(), out.end()), values);
  // Every strict prefix of the block is refused as a whole block.
  for (size_t cut = 0; cut < block.size(); cut += 1 + block.size() / 40) {
    std::vector<std::string_view> partial;
    EXPECT_FALSE(DecodeStringColumn(block.substr(0, cut), values.size(), &partial, &arena).ok())
        << cut;
  }
  // A few rows: the bytes through the last one, then only those rows.
  for (std::vector<uint32_t> rows : {std::vector<uint32_t>{0},
                                     {1, 5, 9, 12},
                                     {3, 200},
                                     {static_cast<uint32_t>(values.size() - 1)}}) {
    ExpectRowsRead(block, views, rows);
  }
  EXPECT_EQ(IsoPrefixBytesThrough(block.substr(0, 3), values.size(), 0), 0u);  // too short
  // Fewer than half of the rows with a time: not this encoding.
  std::vector<std::string_view> few = {views[0], views[9], views[10]};
  std::string none;
  EXPECT_FALSE(EncodeIsoPrefix(few.data(), few.size(), &none));
  EXPECT_TRUE(none.empty());
}

// What the encoding is for: the lines of a CI job log (cidiff_gha_build_logs), each stamped with
// its RFC 3339 time to 100 ns. Chosen by the string chooser (with scratch.iso_prefix, as the
// writer sets it from format version 10), a block of 8,192 of them compressed as a hot message
// column (zstd 9) is far smaller than as plain text, where zstd spends most of the block on the
// stamps' fraction digits.
// Kubernetes container logs (nezha_k8s_microservice_logs) repeat the time as decimal
// nanoseconds right after it, which the encoding leaves out too (kEcho).
class StampedLines : public testing::TestWithParam<std::pair<const char*, double>> {};

TEST_P(StampedLines, CompressSmallerWithTheirTimesAsNanoseconds) {
  const auto [dataset, most] = GetParam();
  std::vector<std::string> lines;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    if (d.name != dataset) continue;
    for (const std::string& file : d.files) {
      const std::string text = testdata::RawText(file);
      for (size_t at = 0; at < text.size() && lines.size() < 8192;) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
      }
    }
  }
  if (lines.size() < 8192) GTEST_SKIP() << dataset << " not found";
  // In time order, as the writer sorts a block's rows (these lines' times are their records').
  std::sort(lines.begin(), lines.end());
  std::vector<std::string_view> views(lines.begin(), lines.end());
  auto stored = [&](bool iso_prefix, Encoding* enc) {
    StringEncodeScratch scratch;
    scratch.iso_prefix = iso_prefix;
    std::string block, out;
    EncodeStringColumn(views.data(), views.size(), &scratch, &block);
    *enc = static_cast<Encoding>(block[0]);
    std::vector<std::string_view> back;
    std::string arena;
    EXPECT_TRUE(DecodeStringColumn(block, views.size(), &back, &arena).ok());
    EXPECT_TRUE(std::equal(back.begin(), back.end(), views.begin(), views.end()));
    BlockCodec().Compress(block, CodecChoice{Codec::kZstd, 9}, &out);
    return out.size();
  };
  Encoding before, after;
  const size_t text = stored(false, &before);
  const size_t ns = stored(true, &after);
  EXPECT_EQ(before, Encoding::kPlain);
  EXPECT_EQ(after, Encoding::kIsoPrefix);
  EXPECT_LT(static_cast<double>(ns), most * static_cast<double>(text))
      << dataset << ": plain " << text << " bytes, times as nanoseconds " << ns;
}

INSTANTIATE_TEST_SUITE_P(RealData, StampedLines,
                         testing::Values(std::make_pair("cidiff_gha_build_logs", 0.7),
                                         std::make_pair("nezha_k8s_microservice_logs", 0.95)));

}  // namespace
}  // namespace sawmill::segment
