#include "cli/record_render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sawmill::cli {
namespace {

using ::testing::HasSubstr;

constexpr char kRecord[] =
    R"({"id":"42","ts":"2026-11-30T10:01:02.123456789Z","ingest_ts":"2026-11-30T10:01:02.200000000Z",)"
    R"("service":"payments","host":"web-1","level":"ERROR","message":"card declined",)"
    R"("trace_id":"abc123","fields":{"amount":"12"}})";

TEST(RenderRecord, OneLineWithTimeServiceHostLevelMessage) {
  Result<std::string> line = RenderRecord(kRecord, {});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "2026-11-30T10:01:02.123Z payments web-1 ERROR card declined");
}

TEST(RenderRecord, MissingPartsShowAsDashesAndShortLevelsArePadded) {
  Result<std::string> line =
      RenderRecord(R"({"id":"1","ts":"2026-11-30T10:01:02Z","level":"INFO","message":"hi"})", {});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "2026-11-30T10:01:02Z - - INFO  hi");
}

TEST(RenderRecord, ColoursTheLevelOnATerminal) {
  RenderOptions color;
  color.color = true;
  Result<std::string> line = RenderRecord(kRecord, color);
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, HasSubstr("\x1b[31mERROR\x1b[0m"));
  EXPECT_FALSE(RenderRecord("not json", {}).ok());
}

TEST(RenderSearch, HitsThenTheStatsLine) {
  std::string body = std::string(R"({"hits":[)") + kRecord +
                     R"(],"stats":{"segments_total":40,)"
                     R"("segments_after_time":3,"segments_after_index":1,"segments_after_bloom":1,)"
                     R"("blocks_total":10,"blocks_read":2,"bytes_read_compressed":2048,)"
                     R"("rows_scanned":900,"memtable_rows_scanned":100,"elapsed_ms":12.34,)"
                     R"("cache_hit":false},"partial":true,"warnings":["byte limit reached"]})";
  Result<SearchOutput> out = RenderSearch(body, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->body, "2026-11-30T10:01:02.123Z payments web-1 ERROR card declined\n");
  EXPECT_EQ(out->count, 1u);
  EXPECT_EQ(out->stats,
            "1 hit in 12.3 ms · read 1 of 40 segments: the time range ruled out 37, the index 2 · "
            "blocks 2/10 read (2.0 KiB) · 900 rows scanned (100 in memtables)");
  EXPECT_TRUE(out->partial);
  EXPECT_THAT(out->warnings, ::testing::ElementsAre("byte limit reached"));
}

// Hits of a search that asked for `limit`, with these stats.
std::string Answer(size_t hits, const std::string& stats) {
  std::string body = R"({"hits":[)";
  for (size_t i = 0; i < hits; ++i) body += std::string(i > 0 ? "," : "") + kRecord;
  return body + R"(],"stats":{)" + stats + R"(},"partial":false,"warnings":[]})";
}

TEST(RenderSearch, AFullPageSaysHowManyMatchedAndHowToSeeMore) {
  RenderOptions options;
  options.limit = 3;
  Result<SearchOutput> out =
      RenderSearch(Answer(3, R"("rows_matched":4211,"elapsed_ms":2)"), options);
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats,
              ::testing::StartsWith("3 newest of at least 4,211 matches; -n 1000 or "
                                    "--all for more, '| count' to count them · in 2.0 ms"));
  // The server cannot tell whether more matched: no "at least".
  out = RenderSearch(Answer(3, R"("rows_matched":3)"), options);
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats, ::testing::StartsWith("3 newest matches (there may be more); -n 1000 or "
                                                "--all for more"));
  // Fewer hits than asked for: that is all of them.
  options.limit = 100;
  out = RenderSearch(Answer(3, R"("rows_matched":3)"), options);
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats, ::testing::StartsWith("3 hits in "));
  // -n 2000 suggests only --all; --all (the server's maximum) says to narrow the search.
  options.limit = 3;
  options.max_limit = 3;
  out = RenderSearch(Answer(3, R"("rows_matched":9)"), options);
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats,
              ::testing::StartsWith("3 newest of at least 9 matches; 3 is the most one search "
                                    "returns: narrow the time range or the query, '| count' to "
                                    "count them"));
}

TEST(RenderSearch, SegmentsReadAndWhatRuledTheOthersOut) {
  Result<SearchOutput> out = RenderSearch(
      Answer(0, R"("segments_total":28,"segments_after_time":28,"segments_after_index":0,)"
                R"("segments_after_bloom":0,"segments_pruned_by_index":28)"),
      {});
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats, HasSubstr("0 hits in 0.0 ms · read 0 of 28 segments: the index ruled "
                                    "out 28 · blocks"));
  out = RenderSearch(
      Answer(0, R"("segments_total":40,"segments_after_time":10,"segments_after_index":7,)"
                R"("segments_after_bloom":5,"segments_pruned_by_index":1,)"
                R"("segments_not_needed":2)"),
      {});
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats,
              HasSubstr("read 5 of 40 segments: the time range ruled out 30, the index 1, the "
                        "bloom filters 2, 2 older not needed (the newest hits were found) · "));
  out = RenderSearch(Answer(0, R"("segments_total":4,"segments_after_time":4,)"
                               R"("segments_after_index":4,"segments_after_bloom":4)"),
                     {});
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->stats, HasSubstr("read 4 of 4 segments · blocks"));
}

TEST(RenderSearch, PipeRowsBecomeATable) {
  Result<SearchOutput> out = RenderSearch(
      R"({"rows":[{"service":"payments","count":1200},{"service":"checkout-api","count":7}],)"
      R"("stats":{"elapsed_ms":1.0}})",
      {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->body,
            "service       count\n"
            "------------  -----\n"
            "payments       1200\n"
            "checkout-api      7\n");
  EXPECT_THAT(out->stats, HasSubstr("2 rows in 1.0 ms"));
}

TEST(RenderSearch, AnAnswerOfAnotherShapeIsAnError) {
  EXPECT_FALSE(RenderSearch(R"({"error":"x"})", {}).ok());
  EXPECT_FALSE(RenderSearch("[]", {}).ok());
}

TEST(DroppedCount, RecognisesOnlyTheDroppedMessage) {
  EXPECT_EQ(DroppedCount(R"({"dropped":12})"), 12u);
  EXPECT_EQ(DroppedCount(kRecord), std::nullopt);
  EXPECT_EQ(DroppedCount(R"({"message":"dropped","dropped":3})"), std::nullopt);
  EXPECT_EQ(DroppedNotice(12, {}), "... 12 lines dropped (this client read too slowly)");
}

TEST(NoticeText, RecognisesOnlyTheNoticeMessage) {
  EXPECT_EQ(NoticeText(R"({"notice":"lines may be missing from node b"})"),
            "lines may be missing from node b");
  EXPECT_EQ(NoticeText(kRecord), std::nullopt);
  EXPECT_EQ(NoticeText(R"({"message":"x","notice":"y"})"), std::nullopt);
  EXPECT_EQ(NoticeText(R"({"notice":3})"), std::nullopt);
}

TEST(HumanBytes, UsesBinaryUnits) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3u << 20), "3.0 MiB");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(0), "0");
}

}  // namespace
}  // namespace sawmill::cli
