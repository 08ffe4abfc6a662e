#include "index/flat_id_table.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/coding.h"
#include "index/bloom.h"
#include "index/inverted_index.h"

namespace sawmill::index {
namespace {

// Keys kept by the caller, as the builders keep them; ids are indexes into "keys". Once the table
// says kCrowded, every key is kept in an ordered map instead (as InvertedIndexBuilder does).
struct Owner {
  FlatIdTable table;
  std::vector<std::string> keys;
  std::map<std::string, uint32_t> crowded;
  bool left_table = false;

  // The key's id, added when new.
  uint32_t IdOf(const std::string& key, uint64_t hash) {
    if (!left_table) {
      uint32_t id = table.Find(hash, [&](uint32_t i) { return keys[i] == key; });
      if (id == FlatIdTable::kNone) {
        id = static_cast<uint32_t>(keys.size());
        table.Insert(hash, id);
        keys.push_back(key);
        return id;
      }
      if (id != FlatIdTable::kCrowded) return id;
      left_table = true;
      for (uint32_t i = 0; i < keys.size(); ++i) crowded.emplace(keys[i], i);
      table.Release();
    }
    auto [it, added] = crowded.try_emplace(key, static_cast<uint32_t>(keys.size()));
    if (added) keys.push_back(key);
    return it->second;
  }
  uint32_t Find(const std::string& key, uint64_t hash) {
    if (left_table) {
      auto it = crowded.find(key);
      return it == crowded.end() ? FlatIdTable::kNone : it->second;
    }
    return table.Find(hash, [&](uint32_t i) { return keys[i] == key; });
  }
};

TEST(FlatIdTable, AnEmptyTableFindsNothing) {
  Owner o;
  EXPECT_EQ(o.table.size(), 0u);
  EXPECT_EQ(o.Find("", 0), FlatIdTable::kNone);
  EXPECT_EQ(o.Find("a", BloomHash("a")), FlatIdTable::kNone);
  EXPECT_EQ(o.table.size(), 0u);
}

// Keys of one hash (and keys whose hashes agree in the 32 bits the slots keep) are told apart by
// their bytes, whatever the order they came in, across the table's growth: up to
// kMaxSameTagProbes of one hash in the table, and past that by the owner's fallback.
TEST(FlatIdTable, KeysOfTheSameHashAreToldApartByTheirBytes) {
  Owner few;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    const uint64_t hash = i % 63 == 0 ? 42 : BloomHash(key);  // 16 keys of hash 42
    ASSERT_EQ(few.IdOf(key, hash), static_cast<uint32_t>(i));
  }
  EXPECT_FALSE(few.left_table);
  EXPECT_EQ(few.table.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    const uint64_t hash = i % 63 == 0 ? 42 : BloomHash(key);
    EXPECT_EQ(few.Find(key, hash), static_cast<uint32_t>(i)) << i;
    EXPECT_EQ(few.Find(key + "x", hash), FlatIdTable::kNone);
  }
  Owner o;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t hash = i % 3 == 0 ? 42 : (uint64_t{static_cast<uint32_t>(i % 5)} << 32) | 7;
    ASSERT_EQ(o.IdOf("k" + std::to_string(i), hash), static_cast<uint32_t>(i));
  }
  EXPECT_TRUE(o.left_table) << "334 keys of one hash";
  EXPECT_EQ(o.keys.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t hash = i % 3 == 0 ? 42 : (uint64_t{static_cast<uint32_t>(i % 5)} << 32) | 7;
    EXPECT_EQ(o.IdOf("k" + std::to_string(i), hash), static_cast<uint32_t>(i)) << i;
    EXPECT_EQ(o.Find("k" + std::to_string(i) + "x", hash), FlatIdTable::kNone);
  }
  // The empty key is a key like any other.
  EXPECT_EQ(o.IdOf("", 42), 1000u);
  EXPECT_EQ(o.IdOf("", 42), 1000u);
  EXPECT_EQ(o.keys.size(), 1001u);
}

// Keys crafted to share a full 64-bit hash (so one tag under every seed): a Find compares the
// bytes of at most kMaxSameTagProbes + 1 of them and then answers kCrowded, instead of every one
// (before: the n-th such key compared n - 1 others, 2,000 keys ~2 million compares).
TEST(FlatIdTable, AFindComparesAtMostALimitOfKeysSharingItsHash) {
  FlatIdTable table;
  std::vector<std::string> keys;
  size_t most = 0;
  bool crowded = false;
  for (int i = 0; i < 2000 && !crowded; ++i) {
    const std::string key = "crafted-" + std::to_string(i);
    size_t compares = 0;
    const uint32_t id = table.Find(42, [&](uint32_t k) {
      ++compares;
      return keys[k] == key;
    });
    most = std::max(most, compares);
    if (id == FlatIdTable::kCrowded) {
      crowded = true;
      EXPECT_EQ(keys.size(), size_t{FlatIdTable::kMaxSameTagProbes} + 1);
      break;
    }
    ASSERT_EQ(id, FlatIdTable::kNone) << i;
    table.Insert(42, static_cast<uint32_t>(keys.size()));
    keys.push_back(key);
  }
  EXPECT_TRUE(crowded) << "2,000 keys of one hash never made a Find give up";
  EXPECT_LE(most, size_t{FlatIdTable::kMaxSameTagProbes} + 1);
  // The keys in it are still found (each within the limit of its run).
  for (uint32_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(table.Find(42, [&](uint32_t k) { return keys[k] == keys[i]; }), i);
  }
}

TEST(FlatIdTable, ManyKeysAreEachFoundOnce) {
  Owner o;
  constexpr uint32_t kKeys = 300'000;
  for (uint32_t i = 0; i < kKeys; ++i) {
    const std::string key = "user-" + std::to_string(i * 2654435761u);
    ASSERT_EQ(o.IdOf(key, BloomHash(key)), i);
  }
  EXPECT_EQ(o.table.size(), kKeys);
  // At most half full: 8 bytes a slot, at most 4 slots a key once grown.
  EXPECT_LE(o.table.memory_bytes(), size_t{kKeys} * 4 * 8);
  for (uint32_t i = 0; i < kKeys; ++i) {
    const std::string key = "user-" + std::to_string(i * 2654435761u);
    ASSERT_EQ(o.Find(key, BloomHash(key)), i);
    const std::string other = "user-" + std::to_string(i * 2654435761u) + "-";
    ASSERT_EQ(o.Find(other, BloomHash(other)), FlatIdTable::kNone);
  }
}

// The serialized index as the format says (inverted_index.h), written here from a std::map of
// each value's rows, the way nothing in the builder is: the builder's bytes must be these.
std::string ReferenceIndex(const std::vector<std::pair<std::string, uint32_t>>& adds) {
  std::map<std::string, std::vector<uint32_t>> rows;
  for (const auto& [value, row] : adds) {
    auto& r = rows[value];
    if (r.empty() || r.back() != row) r.push_back(row);
  }
  std::string out;
  out.push_back(static_cast<char>(kInvertedIndexVersion));
  PutVarint64(&out, rows.size());
  for (const auto& [value, list] : rows) {
    std::string runs;
    uint32_t prev_end = 0;
    for (size_t i = 0; i < list.size();) {
      size_t j = i + 1;
      while (j < list.size() && list[j] == list[j - 1] + 1) ++j;
      PutVarint32(&runs, list[i] - prev_end);
      PutVarint32(&runs, static_cast<uint32_t>(j - i - 1));
      prev_end = list[j - 1] + 1;
      i = j;
    }
    PutLengthPrefixed(&out, value);
    PutVarint64(&out, runs.size());
    out.append(runs);
  }
  return out;
}

// The inverted index builder, its values all of one hash (its test hook): past the limit it keeps
// them in an ordered map, and the index it writes is the format's, byte for byte.
TEST(FlatIdTable, AnIndexOfValuesCraftedToShareAHashIsStillTheFormatsBytes) {
  std::vector<std::pair<std::string, uint32_t>> adds;
  for (uint32_t row = 0; row < 40'000; ++row) {
    adds.emplace_back("crafted-" + std::to_string(row % 3 == 0 ? row / 3 : row * 7919u), row);
  }
  InvertedIndexBuilder builder;
  builder.SetHashForTest([](std::string_view) -> uint64_t { return 0x5eed; });
  for (const auto& [value, r] : adds) builder.Add(value, r);
  EXPECT_TRUE(builder.left_table());
  std::string got;
  builder.Finish(&got);
  EXPECT_EQ(got, ReferenceIndex(adds));
  // Real values keep to the table.
  InvertedIndexBuilder usual;
  for (const auto& [value, r] : adds) usual.Add(value, r);
  EXPECT_FALSE(usual.left_table());
  std::string usual_bytes;
  usual.Finish(&usual_bytes);
  EXPECT_EQ(usual_bytes, got);
}

// Ids (every row its own value), repeated values in runs and scattered, the empty value: the
// builder's index is the format's, byte for byte.
TEST(FlatIdTable, TheInvertedIndexOfManyValuesIsTheFormatsBytes) {
  std::vector<std::pair<std::string, uint32_t>> adds;
  uint32_t row = 0;
  for (; row < 50'000; ++row) adds.emplace_back("trace-" + std::to_string(row * 7919u), row);
  for (; row < 60'000; ++row) {
    adds.emplace_back(row % 3 == 0 ? std::string() : "svc" + std::to_string(row / 700), row);
    if (row % 11 == 0) adds.emplace_back("svc" + std::to_string(row / 700), row);  // same row
  }
  for (; row < 80'000; ++row) adds.emplace_back("v" + std::to_string((row * 31) % 997), row);
  InvertedIndexBuilder builder;
  for (const auto& [value, r] : adds) builder.Add(value, r);
  std::string got;
  builder.Finish(&got);
  EXPECT_EQ(got, ReferenceIndex(adds));
  std::set<std::string> distinct;
  for (const auto& add : adds) distinct.insert(add.first);
  EXPECT_EQ(builder.distinct_values(), distinct.size());
}

// The slot seed of the tables made within: "seed", then the process's again.
class WithSlotSeed {
 public:
  explicit WithSlotSeed(uint64_t seed) : saved_(FlatIdTable::SlotSeed().exchange(seed)) {}
  ~WithSlotSeed() { FlatIdTable::SlotSeed().store(saved_); }

 private:
  uint64_t saved_;
};

// Values whose format hashes (BloomHash, public) share their low 10 bits: before, they all went
// to one slot of a table of 1,024 (300 values: ~45,000 probes to add them, a flush quadratic in
// such values). With the per-process seed mixed in, the slots a value is looked for in differ
// between two seeds and the crafted values spread; the index written is the same, byte for byte,
// whatever the seed.
TEST(FlatIdTable, TheSlotsDependOnTheSeedTheWrittenBytesDoNot) {
  std::vector<std::string> crafted;
  for (uint64_t i = 0; crafted.size() < 300; ++i) {
    std::string v = "trace-" + std::to_string(i);
    if ((BloomHash(v) & 1023) == 0) crafted.push_back(std::move(v));
  }
  std::vector<std::pair<std::string, uint32_t>> adds;
  for (uint32_t row = 0; row < 3000; ++row) adds.emplace_back(crafted[(row * 7) % 300], row);
  std::string written[2];
  std::vector<size_t> slots[2];
  for (int s = 0; s < 2; ++s) {
    WithSlotSeed seed(s == 0 ? 0x243f6a8885a308d3ULL : 0x13198a2e03707344ULL);
    FlatIdTable table;
    std::set<size_t> distinct;
    for (const std::string& v : crafted) {
      slots[s].push_back(table.HomeSlot(BloomHash(v), 1024));
      distinct.insert(slots[s].back());
    }
    EXPECT_GT(distinct.size(), 200u) << "seed " << s << ": crafted values share slots";
    InvertedIndexBuilder builder;
    for (const auto& [value, r] : adds) builder.Add(value, r);
    builder.Finish(&written[s]);
  }
  size_t moved = 0;
  for (size_t i = 0; i < crafted.size(); ++i) moved += slots[0][i] != slots[1][i];
  EXPECT_GT(moved, 290u) << "values whose slot differs between the two seeds";
  EXPECT_EQ(written[0], written[1]);
  EXPECT_EQ(written[0], ReferenceIndex(adds));
}

}  // namespace
}  // namespace sawmill::index
