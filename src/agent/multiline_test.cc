#include "agent/multiline.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

std::unique_ptr<MultilineJoiner> Make(std::string start = "") {
  MultilineOptions options;
  options.enabled = true;
  options.start_pattern = std::move(start);
  return std::move(MultilineJoiner::Create(options)).value();
}

TEST(Multiline, JavaStackTraceIsOneRecord) {
  auto joiner = Make();
  std::vector<JoinedLine> out;
  const char* lines[] = {
      "2024-01-01 ERROR request failed",       "java.lang.IllegalStateException: boom",
      "\tat com.example.Foo.bar(Foo.java:10)", "\tat com.example.Main.main(Main.java:3)",
      "Caused by: java.io.IOException: disk",  "\t... 2 more",
      "2024-01-01 INFO next request",
  };
  uint64_t offset = 0;
  for (const char* line : lines) joiner->Add(line, offset += 10, false, 0, &out);
  joiner->Flush(0, true, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text,
            "2024-01-01 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat "
            "com.example.Foo.bar(Foo.java:10)\n\tat "
            "com.example.Main.main(Main.java:3)\nCaused by: java.io.IOException: disk\n\t... 2 "
            "more");
  EXPECT_EQ(out[0].end_offset, 60u);
  EXPECT_EQ(out[1].text, "2024-01-01 INFO next request");
}

TEST(Multiline, StartPatternJoinsEverythingElse) {
  auto joiner = Make(R"(^\d{4}-\d{2}-\d{2} )");
  std::vector<JoinedLine> out;
  joiner->Add("2024-01-01 ERROR failed", 1, false, 0, &out);
  joiner->Add("java.lang.RuntimeException: x", 2, false, 0, &out);
  joiner->Add("\tat a.b(C.java:1)", 3, false, 0, &out);
  joiner->Add("2024-01-01 INFO ok", 4, false, 0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text,
            "2024-01-01 ERROR failed\njava.lang.RuntimeException: x\n\tat a.b(C.java:1)");
  EXPECT_EQ(out[0].end_offset, 3u);
  EXPECT_TRUE(joiner->HasPending());
}

TEST(Multiline, PendingRecordIsFlushedAfterTheTimeout) {
  auto joiner = Make();
  std::vector<JoinedLine> out;
  joiner->Add("ERROR x", 1, false, 0, &out);
  joiner->Flush(500'000'000, false, &out);
  EXPECT_TRUE(out.empty());
  joiner->Flush(1'000'000'000, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(joiner->HasPending());
}

TEST(Multiline, DisabledPassesLinesThrough) {
  auto joiner = std::move(MultilineJoiner::Create({})).value();
  std::vector<JoinedLine> out;
  joiner->Add("\tat indented", 5, false, 0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(joiner->HasPending());
}

}  // namespace
}  // namespace sawmill::agent
