#include "cli/ingest_batch.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace sawmill::cli {
namespace {

// Reads "data" through a LineReader backed by a memory stream.
std::vector<std::string> ReadAll(const std::string& data, size_t max_line, size_t* clipped) {
  FILE* f = fmemopen(const_cast<char*>(data.data()), data.size(), "rb");
  EXPECT_NE(f, nullptr);
  LineReader reader(f, max_line);
  std::vector<std::string> lines;
  std::string line;
  bool was_clipped = false;
  *clipped = 0;
  while (reader.Next(&line, &was_clipped)) {
    lines.push_back(line);
    *clipped += was_clipped;
  }
  EXPECT_EQ(reader.error(), 0);
  std::fclose(f);
  return lines;
}

TEST(LineReader, SplitsOnNewlinesAndKeepsALastLineWithoutOne) {
  size_t clipped;
  EXPECT_EQ(ReadAll("a\r\nb\n\nc", 100, &clipped), (std::vector<std::string>{"a\r", "b", "", "c"}));
  EXPECT_EQ(ReadAll("", 100, &clipped), std::vector<std::string>{});
  EXPECT_EQ(ReadAll("x\n", 100, &clipped), std::vector<std::string>{"x"});
}

TEST(LineReader, ALineLongerThanTheLimitIsCutAndTheRestSkipped) {
  std::string big(200000, 'x');  // spans several 64 KiB reads
  size_t clipped;
  std::vector<std::string> lines = ReadAll("first\n" + big + "\nlast\n", 1000, &clipped);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], std::string(1000, 'x'));
  EXPECT_EQ(lines[2], "last");
  EXPECT_EQ(clipped, 1u);
}

TEST(LineBatcher, CutsBatchesByLinesAndByBytes) {
  LineBatcher by_lines(3, 1 << 20);
  std::vector<std::string> bodies;
  for (int i = 0; i < 7; ++i) {
    std::string line = "l" + std::to_string(i);
    if (by_lines.WouldOverflow(line)) bodies.push_back(by_lines.Take());
    by_lines.Add(line);
  }
  bodies.push_back(by_lines.Take());
  EXPECT_EQ(bodies, (std::vector<std::string>{"l0\nl1\nl2\n", "l3\nl4\nl5\n", "l6\n"}));
  EXPECT_TRUE(by_lines.empty());

  LineBatcher by_bytes(1000, 10);
  EXPECT_FALSE(by_bytes.WouldOverflow("0123456789abcdef"));  // alone, a long line still goes
  by_bytes.Add("0123456789abcdef");
  EXPECT_TRUE(by_bytes.WouldOverflow("x"));
}

}  // namespace
}  // namespace sawmill::cli
