#include "index/bloom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/hash.h"
#include "index/tokenizer.h"
#include "index/word_hash.h"

namespace sawmill::index {
namespace {

TEST(Bloom, NeverGivesAFalseNegative) {
  BloomBuilder builder;
  for (int i = 0; i < 20000; ++i) builder.Add("key" + std::to_string(i));
  std::string filter;
  size_t distinct = 0;
  builder.Finish(&filter, &distinct);
  EXPECT_EQ(distinct, 20000u);
  BloomView view(filter);
  ASSERT_TRUE(view.valid());
  for (int i = 0; i < 20000; ++i) EXPECT_TRUE(view.MayContain("key" + std::to_string(i))) << i;
}

TEST(Bloom, FalsePositiveRateIsAboutOnePercent) {
  BloomBuilder builder;
  for (int i = 0; i < 10000; ++i) builder.Add("in" + std::to_string(i));
  std::string filter;
  builder.Finish(&filter);
  BloomView view(filter);
  int hits = 0;
  const int probes = 100000;
  for (int i = 0; i < probes; ++i) hits += view.MayContain("out" + std::to_string(i));
  double rate = static_cast<double>(hits) / probes;
  EXPECT_LT(rate, 0.02) << rate;
  // Size: kBitsPerKey bits per key, rounded up to 32-byte blocks.
  EXPECT_LT(filter.size(), 10000 * kBitsPerKey / 8 + 64);
}

// The filters of ids (kIdBitsPerKey): about 0.13 % false positives, in about 16 bits a key.
TEST(Bloom, IdFiltersHaveASeventhOfTheFalsePositives) {
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 10000; ++i) hashes.push_back(BloomHash("in" + std::to_string(i)));
  std::string plain, id;
  WriteBloom(hashes, &plain);
  WriteBloom(hashes, &id, kIdBitsPerKey);
  BloomView plain_view(plain), id_view(id);
  int plain_hits = 0, id_hits = 0;
  const int probes = 400000;
  for (int i = 0; i < probes; ++i) {
    const uint64_t h = BloomHash("out" + std::to_string(i));
    plain_hits += plain_view.MayContainHash(h);
    id_hits += id_view.MayContainHash(h);
  }
  for (uint64_t h : hashes) ASSERT_TRUE(id_view.MayContainHash(h));
  const double plain_rate = static_cast<double>(plain_hits) / probes;
  const double id_rate = static_cast<double>(id_hits) / probes;
  EXPECT_LT(id_rate, 0.0025) << id_rate;
  EXPECT_LT(id_rate * 4, plain_rate) << id_rate << " vs " << plain_rate;
  EXPECT_LT(id.size(), 10000 * kIdBitsPerKey / 8 + 64);
  EXPECT_GT(id.size(), 10000 * kIdBitsPerKey / 8);
}

// Id filters (version 2, segment format version 11): every key found, the false positives of
// the 16-bit id blooms (about 0.1 %), in about three quarters of their bytes (12.2 bits a key);
// empty, truncated, padded or damaged filters never read out of bounds, and a malformed one says
// "maybe".
TEST(Bloom, IdFiltersHoldIdsInThreeQuartersOfTheBloomBits) {
  std::mt19937_64 rng(2);
  for (size_t keys : {1, 2, 63, 64, 65, 130, 1000, 8192, 50000}) {
    std::vector<uint64_t> hashes;
    for (size_t i = 0; i < keys; ++i) hashes.push_back(BloomHash("in" + std::to_string(i)));
    std::vector<uint64_t> scratch;
    SortUniqueHashes(&hashes, &scratch);
    std::string filter, bloom;
    WriteIdFilter(hashes, &filter);
    WriteBloom(hashes, &bloom, kIdBitsPerKey);
    BloomView view(filter), bloom_view(bloom);
    ASSERT_TRUE(view.valid()) << keys;
    for (uint64_t h : hashes) ASSERT_TRUE(view.MayContainHash(h)) << keys;
    int hits = 0, bloom_hits = 0;
    const int probes = 400000;
    for (int i = 0; i < probes; ++i) {
      const uint64_t h = rng();
      hits += view.MayContainHash(h);
      bloom_hits += bloom_view.MayContainHash(h);
    }
    const double rate = static_cast<double>(hits) / probes;
    EXPECT_LT(rate, 0.0016) << keys;
    if (keys < 1000) continue;
    EXPECT_LT(rate, static_cast<double>(bloom_hits) / probes * 1.3) << keys;
    // 10 low bits + 2 high bits + the directory: about 12.2 bits a key against 16.
    EXPECT_LT(filter.size() * 8, keys * 12.5) << keys;
    EXPECT_LT(filter.size() * 100, bloom.size() * 78) << keys;
  }
  // Exactly the documented set (docs/format/index.md "Id filters"): a probe is "maybe" if and
  // only if some key has its v = (h * (keys << 10)) >> 64, whichever bucket and word it is in.
  for (size_t keys : {3, 64, 129, 4096, 20000}) {
    std::vector<uint64_t> hashes(keys);
    for (uint64_t& h : hashes) h = rng();
    std::vector<uint64_t> scratch;
    SortUniqueHashes(&hashes, &scratch);
    std::string filter;
    WriteIdFilter(hashes, &filter);
    BloomView view(filter);
    const uint64_t range = static_cast<uint64_t>(hashes.size()) << kIdLowBits;
    auto v_of = [range](uint64_t h) {
      return static_cast<uint64_t>((static_cast<unsigned __int128>(h) * range) >> 64);
    };
    std::set<uint64_t> values;
    for (uint64_t h : hashes) values.insert(v_of(h));
    for (int i = 0; i < 100000; ++i) {
      const uint64_t h = rng();
      ASSERT_EQ(view.MayContainHash(h), values.count(v_of(h)) == 1) << keys << " " << h;
    }
  }
  std::string empty;
  WriteIdFilter({}, &empty);
  EXPECT_TRUE(BloomView(empty).valid());
  EXPECT_FALSE(BloomView(empty).MayContain("x"));
  // Malformed: truncated or padded sections, low bits of 0 or 33: "maybe".
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 500; ++i) hashes.push_back(BloomHash("k" + std::to_string(i)));
  std::vector<uint64_t> scratch;
  SortUniqueHashes(&hashes, &scratch);
  std::string filter;
  WriteIdFilter(hashes, &filter);
  for (const std::string& bad : {filter.substr(0, filter.size() - 1), filter + "x",
                                 filter.substr(0, 3), std::string("\x02", 1)}) {
    EXPECT_FALSE(BloomView(bad).valid());
    EXPECT_TRUE(BloomView(bad).MayContain("x"));
  }
  for (char low_bits : {0, 33}) {
    std::string bad = filter;
    bad[3] = low_bits;  // version, keys (two varint bytes), low bits
    EXPECT_FALSE(BloomView(bad).valid());
  }
  // Damaged bytes (a CRC would catch them first): any answer, never a read out of bounds.
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = filter;
    for (int flips = 0; flips < 4; ++flips) {
      damaged[4 + rng() % (damaged.size() - 4)] = static_cast<char>(rng());
    }
    BloomView view(damaged);
    for (int probe = 0; probe < 20; ++probe) view.MayContainHash(rng());
  }
}

TEST(Bloom, EmptyFilterHoldsNothingAndGarbageSaysMaybe) {
  BloomBuilder builder;
  std::string filter;
  builder.Finish(&filter);
  EXPECT_FALSE(BloomView(filter).MayContain("x"));
  EXPECT_TRUE(BloomView("").MayContain("x"));
  EXPECT_TRUE(BloomView(std::string("\x07", 1)).MayContain("x"));  // unknown version
  EXPECT_TRUE(BloomView(std::string("\x01"
                                    "abc",
                                    4))
                  .MayContain("x"));  // not whole blocks
}

TEST(WordHash, AgreesWithTheTokenizer) {
  const std::string texts[] = {
      "Connection REFUSED to 10.0.0.1:5432 (errno=111)",
      "",
      "   ",
      "naïve Ünïcode café ERROR_42\r",
      "trailingWord",
  };
  for (const std::string& text : texts) {
    std::vector<uint64_t> got;
    std::string scratch;
    ForEachFoldedWord(text, &scratch, [&](std::string_view w) { got.push_back(BloomHash(w)); });
    std::vector<uint64_t> want;
    ForEachWord(text, [&](std::string_view w) { want.push_back(BloomHash(w)); });
    EXPECT_EQ(got, want) << text;
  }
  EXPECT_TRUE(IsNumberWord("12345"));
  EXPECT_TRUE(IsNumberWord("10ms"));
  EXPECT_TRUE(IsNumberWord("0513221z"));
  EXPECT_FALSE(IsNumberWord("3d0481c2e7939b31"));
  EXPECT_FALSE(IsNumberWord("e1234"));
  EXPECT_FALSE(IsNumberWord("12345abcd"));
  EXPECT_FALSE(IsNumberWord("27t19"));
  // A message bloom's keys leave the numbers out.
  struct Row {
    std::string message;
  } row{"took 10ms for 42 rows of 3d0481c2"};
  BlockWords words;
  words.Fill(&row, 1);
  std::vector<uint64_t> without(words.bloom_hashes);
  std::vector<uint64_t> want = {BloomHash("took"), BloomHash("for"), BloomHash("rows"),
                                BloomHash("of"), BloomHash("3d0481c2")};
  std::sort(without.begin(), without.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(without, want);
  EXPECT_TRUE(IsSingleFoldedWord("refused"));
  EXPECT_FALSE(IsSingleFoldedWord("Refused"));
  EXPECT_FALSE(IsSingleFoldedWord("two words"));
  EXPECT_FALSE(IsSingleFoldedWord(""));
}

// SortUniqueHashes gives what std::sort and std::unique give: on both sides of the size where it
// turns to a radix sort, with many repeats, and with digits all hashes share (skipped passes).
// BloomHash compiles XXH3 in from the header; it must stay the library's Hash64 with its seed
// (every stored bloom and word postings block was written with it), at every length XXH3 treats
// apart (0, 1-3, 4-8, 9-16, 17-128, 129-240, longer).
TEST(Bloom, BloomHashIsHash64WithItsSeed) {
  std::mt19937_64 rng(7);
  std::string text;
  for (size_t length = 0; length <= 1100; ++length) {
    text.resize(length);
    for (char& c : text) c = static_cast<char>(rng());
    EXPECT_EQ(BloomHash(text), Hash64(text, 0x5eed5a11ULL)) << "length " << length;
  }
  EXPECT_EQ(BloomHash("timeout"), Hash64("timeout", 0x5eed5a11ULL));
}

TEST(Bloom, SortUniqueHashesSortsAndDropsRepeats) {
  std::mt19937_64 rng(19);
  std::vector<uint64_t> scratch;
  for (size_t n : {0, 1, 2, 100, 4095, 4096, 4097, 20000, 150000}) {
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<uint64_t> hashes(n);
      for (uint64_t& h : hashes) {
        h = rng();
        if (shape == 1) h %= 1000;                              // many repeats, high digits 0
        if (shape == 2) h = (h & 0xffff) | 0xabcd000000000000;  // middle digits shared
        if (shape == 3) h = ~uint64_t{0} - (h % 5000);          // high digits all ones
      }
      std::vector<uint64_t> want = hashes;
      std::sort(want.begin(), want.end());
      want.erase(std::unique(want.begin(), want.end()), want.end());
      SortUniqueHashes(&hashes, &scratch);
      EXPECT_EQ(hashes, want) << n << " hashes, shape " << shape;
    }
  }
}

}  // namespace
}  // namespace sawmill::index
