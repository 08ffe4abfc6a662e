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
            "1 hit in 12.3 ms · segments 40 → 3 by time → 1 by index → 1 by bloom · blocks 2/10 "
            "read (2.0 KiB) · 900 rows scanned (100 in memtables)");
  EXPECT_TRUE(out->partial);
  EXPECT_THAT(out->warnings, ::testing::ElementsAre("byte limit reached"));
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

TEST(HumanBytes, UsesBinaryUnits) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3u << 20), "3.0 MiB");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(0), "0");
}

}  // namespace
}  // namespace sawmill::cli
