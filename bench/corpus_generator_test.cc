#include "corpus_generator.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sawmill::bench {
namespace {

std::string SharedData() {
  const char* shared = std::getenv("SAWMILL_SHARED_DIR");
  return std::string(shared && *shared ? shared : SAWMILL_SHARED_DIR) + "/data/real";
}

// Generates "lines" lines into memory.
std::string Generate(const MessagePool& pool, uint64_t lines, CorpusFacts* facts) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&data, &size);
  auto result = GenerateCorpus(pool, lines, f);
  std::fclose(f);
  std::string out(data, size);
  std::free(data);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (result.ok()) *facts = *result;
  return out;
}

class CorpusGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pool = LoadMessagePool(SharedData());
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = new MessagePool(std::move(*pool));
  }
  static void TearDownTestSuite() { delete pool_; }
  static MessagePool* pool_;
};
MessagePool* CorpusGeneratorTest::pool_ = nullptr;

TEST_F(CorpusGeneratorTest, SameLineCountTwiceGivesSameBytes) {
  CorpusFacts a, b;
  std::string first = Generate(*pool_, 20000, &a);
  std::string second = Generate(*pool_, 20000, &b);
  EXPECT_EQ(first, second);
  EXPECT_EQ(a.xxh3, b.xxh3);
  EXPECT_EQ(a.bytes, first.size());
  EXPECT_EQ(a.needle_trace_id, b.needle_trace_id);
  EXPECT_EQ(a.rare_word, b.rare_word);
}

TEST_F(CorpusGeneratorTest, WritesTheRequestedNumberOfJsonLines) {
  CorpusFacts facts;
  std::string out = Generate(*pool_, 5000, &facts);
  size_t lines = 0;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "last line has no newline";
    std::string_view line(out.data() + start, end - start);
    ASSERT_TRUE(line.starts_with("{\"ts\":\"2026-11-") && line.ends_with("\"}")) << line;
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, 5000u);
}

TEST_F(CorpusGeneratorTest, LevelMixIsTheDocumentedOne) {
  CorpusFacts facts;
  std::string out = Generate(*pool_, 100000, &facts);
  // Counted in the output itself, not trusted from the facts.
  const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  const double expected[] = {0.50, 0.35, 0.10, 0.05};
  for (int level = 0; level < 4; ++level) {
    std::string needle = std::string("\"level\":\"") + names[level] + "\"";
    size_t count = 0;
    for (size_t pos = out.find(needle); pos != std::string::npos; pos = out.find(needle, pos + 1)) {
      ++count;
    }
    EXPECT_EQ(count, facts.level_counts[level]) << names[level];
    EXPECT_NEAR(static_cast<double>(count) / 100000.0, expected[level], 0.01) << names[level];
  }
}

TEST_F(CorpusGeneratorTest, AboutOneTraceInTenIsSharedWithTheNeighbour) {
  CorpusFacts facts;
  Generate(*pool_, 100000, &facts);
  EXPECT_NEAR(static_cast<double>(facts.shared_trace_ids) / 100000.0, 0.10, 0.01);
  EXPECT_EQ(facts.needle_trace_id.size(), 32u);
  EXPECT_FALSE(facts.rare_word.empty());
  EXPECT_GT(facts.common_word_lines, 5000u);
  EXPECT_LT(facts.rare_word_lines, 100u);
}

TEST_F(CorpusGeneratorTest, MaxLineBytesCapsEveryLineAndKeepsItWhole) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&data, &size);
  auto result = GenerateCorpus(*pool_, 20000, f, 220);
  std::fclose(f);
  std::string out(data, size);
  std::free(data);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  size_t start = 0, lines = 0, at_cap = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    std::string_view line(out.data() + start, end - start);
    EXPECT_LE(line.size() + 1, 220u) << line;
    EXPECT_TRUE(line.ends_with("\"}")) << line;
    // No escape or UTF-8 sequence cut in half: the message ends on a whole character.
    EXPECT_FALSE(line.ends_with("\\\"}") && !line.ends_with("\\\\\"}")) << line;
    at_cap += line.size() + 1 >= 214;
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, 20000u);
  EXPECT_GT(at_cap, 10000u);  // most real messages are longer than the room left
}

TEST(CorpusGenerator, MissingDataDirectoryIsNotFound) {
  auto pool = LoadMessagePool("/nonexistent/sawmill-bench-data");
  ASSERT_FALSE(pool.ok());
  EXPECT_TRUE(pool.status().IsNotFound());
  EXPECT_NE(pool.status().message().find("/nonexistent/sawmill-bench-data"), std::string::npos);
}

}  // namespace
}  // namespace sawmill::bench
