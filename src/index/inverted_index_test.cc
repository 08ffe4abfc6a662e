#include "index/inverted_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sawmill::index {
namespace {

TEST(InvertedIndex, PostingsEqualBruteForce) {
  std::mt19937 rng(7);
  std::vector<std::string> values;
  const uint32_t rows = 5000;
  for (uint32_t row = 0; row < rows; ++row) {
    // Runs (sorted columns) and scattered values both appear.
    values.push_back(row < 2000 ? "run" + std::to_string(row / 500)
                                : "v" + std::to_string(rng() % 37));
  }
  InvertedIndexBuilder builder;
  for (uint32_t row = 0; row < rows; ++row) builder.Add(values[row], row);
  std::string data;
  builder.Finish(&data);
  auto reader = InvertedIndexReader::Parse(data, rows);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<std::string, roaring::Roaring> want;
  for (uint32_t row = 0; row < rows; ++row) want[values[row]].add(row);
  EXPECT_EQ((*reader)->size(), want.size());
  for (const auto& [value, bitmap] : want) {
    auto got = (*reader)->Lookup(value);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, bitmap) << value;
  }
  auto missing = (*reader)->Lookup("absent");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->isEmpty());
  std::vector<std::string> sorted_values;
  for (const auto& [value, bitmap] : want) sorted_values.push_back(value);
  EXPECT_EQ((*reader)->Values(), sorted_values);
}

TEST(InvertedIndex, MalformedBytesGiveDataLoss) {
  InvertedIndexBuilder builder;
  for (uint32_t row = 0; row < 100; ++row) builder.Add(row % 2 ? "a" : "b", row);
  std::string data;
  builder.Finish(&data);
  EXPECT_FALSE(InvertedIndexReader::Parse(data.substr(0, data.size() - 1), 100).ok());
  EXPECT_FALSE(InvertedIndexReader::Parse("", 100).ok());
  EXPECT_FALSE(InvertedIndexReader::Parse("\x09", 100).ok());
  // Postings naming rows beyond the segment are rejected when looked up.
  auto reader = InvertedIndexReader::Parse(data, 10);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->Lookup("a").ok());
  // Random corruption never crashes.
  std::mt19937 rng(1);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = data;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = InvertedIndexReader::Parse(bad, 100);
    if (r.ok()) {
      for (const std::string& v : (*r)->Values()) (*r)->Lookup(v).status().IgnoreError();
    }
  }
}

}  // namespace
}  // namespace sawmill::index
