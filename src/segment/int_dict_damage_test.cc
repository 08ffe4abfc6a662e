// Damaged int-dict blocks read partially: a read of the rows before a row (DecodeIntColumnThrough,
// ReadIntColumnsThrough) and a few rows' read of ids in planes (DecodeIntRows) decode the ids only
// through the last row read and the distinct values only through the largest id among them
// (docs/format/segment.md, encoding 13). Damage before or at the last row read is DataLoss naming
// the row (or the part of the block) it is found in; damage after it is not looked at, and the
// rows read are the undamaged block's. Any damage: DataLoss or the rows asked for, never a crash
// or a read outside the block (session 19: this file built with g++ -fsanitize=address,undefined
// with common/{coding,status,time_format}.cc and the segment/*_encoding.cc files, -lzstd: clean).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {
namespace {

constexpr size_t kRows = 5000;
constexpr size_t kDamaged = 2000;  // the row whose id (or the value it names) is damaged

// Where the parts of an int-dict block begin: encoding(u8) count(varint) values_size(varint)
// values(a delta block: encoding(u8) count(varint) zigzag varints) mode(u8) ids.
struct Layout {
  size_t values = 0;             // the values' delta block
  std::vector<size_t> value_at;  // each value's varint in it
  size_t mode = 0;
  size_t ids = 0;  // mode 2: the width byte
};

Layout Parse(const std::string& block) {
  Layout at;
  std::string_view in = block;
  in.remove_prefix(1);  // the encoding
  uint64_t count, values_size;
  EXPECT_TRUE(GetVarint64(&in, &count));
  EXPECT_TRUE(GetVarint64(&in, &values_size));
  at.values = block.size() - in.size();
  at.mode = at.values + values_size;
  at.ids = at.mode + 1;
  std::string_view values = in.substr(0, values_size);
  values.remove_prefix(1);  // kDelta
  uint64_t n, z;
  EXPECT_TRUE(GetVarint64(&values, &n));
  for (uint64_t i = 0; i < n; ++i) {
    at.value_at.push_back(at.mode - values.size());
    EXPECT_TRUE(GetVarint64(&values, &z)) << i;
  }
  EXPECT_TRUE(values.empty());
  return at;
}

// The three kinds the writer makes: a level (mode 0), an ingest time (mode 1: ids that step
// through requests, so row r's id is at most r), user ids in planes (mode 2).
struct Kind {
  const char* name;
  std::vector<int64_t> values;
  std::string block;
};

std::vector<Kind> Kinds() {
  std::mt19937 rng(19);
  std::vector<int64_t> level(kRows), ingest(kRows), users(kRows);
  int64_t t = 1'700'000'000'000'000'000;
  for (size_t i = 0; i < kRows; ++i) {
    level[i] = static_cast<int64_t>(rng() % 6);
    if (rng() % 20 == 0) t += 1 + static_cast<int64_t>(rng() % 50);  // one-byte value deltas
    ingest[i] = t;
    users[i] = static_cast<int64_t>(rng() % 3000) * 7;
  }
  std::vector<Kind> kinds = {{"level", level, {}}, {"ingest_ts", ingest, {}}, {"users", users, {}}};
  std::vector<int64_t> scratch;
  EXPECT_TRUE(EncodeIntDict(level.data(), kRows, false, &scratch, &kinds[0].block));
  EXPECT_TRUE(EncodeIntDict(ingest.data(), kRows, true, &scratch, &kinds[1].block));
  EXPECT_TRUE(EncodeIntDictPlanes(users.data(), kRows, &scratch, &kinds[2].block));
  for (const Kind& k : kinds) EXPECT_EQ(static_cast<Encoding>(k.block[0]), Encoding::kIntDict);
  return kinds;
}

// DecodeIntColumnThrough of "block": ok with the first "through" of "values", or the error.
Status ReadThrough(const std::string& block, size_t through, const std::vector<int64_t>& values) {
  std::vector<int64_t> out;
  Status s = DecodeIntColumnThrough(block, kRows, through, &out);
  if (!s.ok()) return s;
  const size_t n = std::min(through, kRows);
  if (out.size() != n || !std::equal(out.begin(), out.end(), values.begin())) {
    return Status::Internal("read " + std::to_string(out.size()) + " rows, not the " +
                            std::to_string(n) + " of the undamaged block");
  }
  return Status::OK();
}

Status ReadRows(const std::string& block, const std::vector<uint32_t>& rows,
                const std::vector<int64_t>& values) {
  std::vector<int64_t> out;
  Status s = DecodeIntRows(block, kRows, rows, &out);
  if (!s.ok()) return s;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (out.size() != rows.size() || out[i] != values[rows[i]]) {
      return Status::Internal("row " + std::to_string(rows[i]) + " read wrong");
    }
  }
  return Status::OK();
}

// "s" is DataLoss and its message holds "where".
::testing::AssertionResult DataLossAt(const Status& s, const std::string& where) {
  if (s.IsDataLoss() && s.message().find(where) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not DataLoss naming '" << where << "': " << s.ToString();
}

// Row kDamaged's id made past the distinct values (modes 0 and 1: ten bytes of varint where
// its id was, a value no id can have; mode 2: the id's high byte 0xff, past the 3,000 values).
std::string DamageId(const Kind& k) {
  std::string damaged = k.block;
  const Layout at = Parse(k.block);
  const uint8_t mode = static_cast<uint8_t>(k.block[at.mode]);
  if (mode == 2) {
    const size_t width = static_cast<uint8_t>(k.block[at.ids]);
    EXPECT_EQ(width, 2u);
    damaged[at.ids + 1 + (width - 1) * kRows + kDamaged] = static_cast<char>(0xff);
    return damaged;
  }
  // Every id of these blocks is one byte (fewer than 128 distinct values or steps of 0 and 1).
  EXPECT_EQ(k.block.size() - at.ids, kRows) << k.name;
  damaged.replace(at.ids + kDamaged, 10, std::string(9, '\xff') + '\x01');
  return damaged;
}

TEST(IntDictDamage, AnIdDamagedAtARowIsDataLossNamingItOnlyForReadsThatReachIt) {
  for (const Kind& k : Kinds()) {
    SCOPED_TRACE(k.name);
    const std::string damaged = DamageId(k);
    // Before the damaged row: the rows read are the undamaged block's.
    for (size_t through : {size_t{1}, size_t{77}, kDamaged}) {
      EXPECT_TRUE(ReadThrough(damaged, through, k.values).ok())
          << through << ": " << ReadThrough(damaged, through, k.values).ToString();
    }
    // At it (the last row read) and after it: DataLoss naming the row.
    const std::string where = "row " + std::to_string(kDamaged);
    for (size_t through : {kDamaged + 1, kDamaged + 2, size_t{4999}, kRows}) {
      EXPECT_TRUE(DataLossAt(ReadThrough(damaged, through, k.values), where)) << through;
    }
    if (k.block[Parse(k.block).mode] != 2) continue;
    // A few rows of ids in planes: only the listed rows' ids are read.
    EXPECT_TRUE(ReadRows(damaged, {3, 1999, 2001, 4999}, k.values).ok());
    EXPECT_TRUE(DataLossAt(ReadRows(damaged, {kDamaged}, k.values), where));
    EXPECT_TRUE(DataLossAt(ReadRows(damaged, {3, kDamaged, 4999}, k.values), where));
  }
}

TEST(IntDictDamage, IdsEndingEarlyAreDataLossAtTheFirstRowMissingForReadsThatReachIt) {
  for (const Kind& k : Kinds()) {
    SCOPED_TRACE(k.name);
    const Layout at = Parse(k.block);
    const bool planes = k.block[at.mode] == 2;
    // The block cut inside its ids, at row kDamaged's id (modes 0 and 1: one byte each).
    const std::string cut = k.block.substr(0, at.ids + kDamaged);
    if (!planes) {
      EXPECT_TRUE(ReadThrough(cut, kDamaged, k.values).ok())
          << ReadThrough(cut, kDamaged, k.values).ToString();
      EXPECT_TRUE(DataLossAt(ReadThrough(cut, kDamaged + 1, k.values),
                             "ids end at row " + std::to_string(kDamaged)));
      EXPECT_TRUE(DataLossAt(ReadThrough(cut, kRows, k.values), "ids end at row"));
      continue;
    }
    // Planes must hold width x count bytes whatever is read: one byte short is DataLoss for a
    // read of the first row and of one listed row.
    const std::string short_planes = k.block.substr(0, k.block.size() - 1);
    const std::string where = "bytes of ids for 5000 rows of 2 bytes";
    EXPECT_TRUE(DataLossAt(ReadThrough(short_planes, 1, k.values), where));
    EXPECT_TRUE(DataLossAt(ReadRows(short_planes, {3}, k.values), where));
    EXPECT_TRUE(DataLossAt(ReadThrough(cut, 1, k.values), "bytes of ids"));
  }
}

TEST(IntDictDamage, ValuesOutOfOrderAreDataLossForReadsOfRowsWhoseIdsReachThem) {
  for (const Kind& k : Kinds()) {
    SCOPED_TRACE(k.name);
    const Layout at = Parse(k.block);
    std::vector<int64_t> distinct = k.values;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    // The value of row kDamaged's id (the second value if that is the first) made equal to the
    // one before it: its delta 0.
    const size_t v =
        std::max<size_t>(1, std::lower_bound(distinct.begin(), distinct.end(), k.values[kDamaged]) -
                                distinct.begin());
    ASSERT_LT(static_cast<uint8_t>(k.block[at.value_at[v]]), 0x80) << "a one-byte delta";
    std::string damaged = k.block;
    damaged[at.value_at[v]] = 0;
    const std::string where = "values not ascending at " + std::to_string(v);
    // Rows before the first row whose id is v or more read only the values before v.
    size_t first = 0;
    while (first < kRows && k.values[first] < distinct[v]) ++first;
    if (first > 0) {
      EXPECT_TRUE(ReadThrough(damaged, first, k.values).ok())
          << first << ": " << ReadThrough(damaged, first, k.values).ToString();
    }
    EXPECT_TRUE(DataLossAt(ReadThrough(damaged, first + 1, k.values), where)) << first;
    EXPECT_TRUE(DataLossAt(ReadThrough(damaged, kRows, k.values), where));
    if (k.block[at.mode] != 2) continue;
    // Ids in planes: a few rows whose ids are all below v read; one that names v or more is
    // DataLoss.
    std::vector<uint32_t> below;
    for (uint32_t row = 0; row < kRows && below.size() < 5; ++row) {
      if (k.values[row] < distinct[v]) below.push_back(row);
    }
    EXPECT_TRUE(ReadRows(damaged, below, k.values).ok());
    EXPECT_TRUE(DataLossAt(ReadRows(damaged, {static_cast<uint32_t>(first)}, k.values), where));
  }
}

TEST(IntDictDamage, ADamagedHeadIsDataLossForEveryRead) {
  for (const Kind& k : Kinds()) {
    SCOPED_TRACE(k.name);
    const Layout at = Parse(k.block);
    const bool planes = k.block[at.mode] == 2;
    std::string bad_mode = k.block;
    bad_mode[at.mode] = 4;  // (3 is the packed ids of format version 17)
    std::string not_delta = k.block;
    not_delta[at.values] = static_cast<char>(Encoding::kRle);
    // values_size past the block: the count's varint and then a size larger than what follows.
    std::string bad_size = k.block.substr(0, 1);
    PutVarint64(&bad_size, kRows);
    PutVarint64(&bad_size, k.block.size());
    bad_size += k.block.substr(at.values);
    const std::vector<std::pair<std::string, std::string>> heads = {
        {bad_mode, "ids mode 4"},
        {not_delta, "the values are not a delta block"},
        {bad_size, "bad values size"}};
    for (const auto& [block, where] : heads) {
      EXPECT_TRUE(DataLossAt(ReadThrough(block, 1, k.values), where));
      EXPECT_TRUE(DataLossAt(ReadThrough(block, kRows, k.values), where));
    }
    if (!planes) continue;
    std::string bad_width = k.block;
    bad_width[at.ids] = 5;
    EXPECT_TRUE(DataLossAt(ReadThrough(bad_width, 1, k.values), "id width 5"));
    EXPECT_TRUE(DataLossAt(ReadRows(bad_width, {3}, k.values), "id width 5"));
    EXPECT_TRUE(DataLossAt(ReadRows(not_delta, {3}, k.values), "not a delta block"));
    EXPECT_TRUE(DataLossAt(ReadRows(k.block, {kRows}, k.values), "holds no row 5000"));
  }
}

// Random damage (bytes overwritten, flipped, cut, added) read through a random row and by a few
// random rows: DataLoss, or exactly the rows asked for; damage past what a read reaches leaves
// its rows the undamaged block's.
TEST(IntDictDamage, AnyDamageReadPartiallyIsDataLossOrTheRowsAsked) {
  std::mt19937 rng(7);
  size_t loss = 0, read = 0, unreached = 0;
  for (const Kind& k : Kinds()) {
    SCOPED_TRACE(k.name);
    const Layout at = Parse(k.block);
    const bool planes = k.block[at.mode] == 2;
    for (int trial = 0; trial < 3000; ++trial) {
      std::string damaged = k.block;
      const size_t pos = rng() % damaged.size();
      switch (trial % 4) {
        case 0: damaged[pos] = static_cast<char>(rng()); break;
        case 1: damaged[pos] = static_cast<char>(damaged[pos] ^ (1u << (rng() % 8))); break;
        case 2: damaged.resize(pos); break;
        default: damaged.insert(pos, 1 + rng() % 4, static_cast<char>(rng())); break;
      }
      const size_t through = 1 + rng() % kRows;
      std::vector<int64_t> out;
      const Status s = DecodeIntColumnThrough(damaged, kRows, through, &out);
      ASSERT_TRUE(s.ok() || s.IsDataLoss()) << s.ToString();
      // Modes 0 and 1 keep one byte an id: damage past the last id read is not reached, and the
      // rows read are the undamaged block's.
      if (!planes && pos >= at.ids + through) {
        ++unreached;
        ASSERT_TRUE(s.ok()) << pos << " " << through << ": " << s.ToString();
        EXPECT_TRUE(std::equal(out.begin(), out.end(), k.values.begin())) << pos;
      }
      if (s.ok()) {
        ASSERT_EQ(out.size(), through);
        ++read;
      } else {
        ++loss;
      }
      if (!planes) continue;
      std::vector<uint32_t> rows;
      for (uint32_t row = rng() % 50; row < kRows; row += 1 + rng() % 1500) rows.push_back(row);
      out.clear();
      const Status r = DecodeIntRows(damaged, kRows, rows, &out);
      ASSERT_TRUE(r.ok() || r.IsDataLoss()) << r.ToString();
      if (r.ok()) {
        ASSERT_EQ(out.size(), rows.size());
      }
    }
  }
  std::printf("partial reads of damaged blocks: %zu DataLoss, %zu read (%zu past the damage)\n",
              loss, read, unreached);
  EXPECT_GT(loss, 0u);
  EXPECT_GT(unreached, 0u);
}

}  // namespace
}  // namespace sawmill::segment
