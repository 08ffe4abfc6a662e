// The wire form of cluster query parts: what goes out comes back the same, and a damaged or
// foreign body is refused with a message, never misread.
#include "cluster/part_codec.h"

#include <gtest/gtest.h>

namespace sawmill::cluster {
namespace {

query::PartAnswer Sample() {
  query::PartAnswer a;
  a.partial = true;
  a.warnings = {"query stopped at the 2 s time limit", "second"};
  a.stats.rows_scanned = 1234;
  a.stats.rows_matched = 56;
  a.stats.memtable_rows_scanned = 1234;
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.tenant = "acme";
    r.seq = 1'000'000'000'000ull + static_cast<uint64_t>(i) * 7;
    r.ts = 1'796'032'800'000'000'000 - i;
    r.ingest_ts = r.ts + 5;
    r.service = "payments";
    r.host = "web-" + std::to_string(i);
    r.level = Level::kError;
    r.trace_id = "abc";
    r.message = std::string("card declined \xe2\x82\xac ") + std::to_string(i);
    r.fields = {{"status", "502"}, {"user.id", ""}};
    r.flags = kFlagTruncated;
    a.hits.push_back(r);
  }
  a.groups.groups = {{0, {"payments", "ERROR"}, 12}, {-60, {"", ""}, 1}, {5, {"x", "y"}, 1 << 30}};
  a.groups.dropped = true;
  a.groups.min_bucket = -60;
  a.groups.max_bucket = 5;
  a.cuts = {{"",
             9'000'000'001,
             {17, 1ull << 40},
             {true, 7, 1'500'000'000, true, {{"node-a", 3}, {"node-b", 1}}}}};
  return a;
}

TEST(PartCodec, AnswerRoundTrips) {
  const query::PartAnswer a = Sample();
  auto back = DecodePartAnswer(EncodePartAnswer(a));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->hits, a.hits);
  EXPECT_EQ(back->groups.groups, a.groups.groups);
  EXPECT_EQ(back->groups.dropped, a.groups.dropped);
  EXPECT_EQ(back->groups.min_bucket, a.groups.min_bucket);
  EXPECT_EQ(back->groups.max_bucket, a.groups.max_bucket);
  EXPECT_EQ(back->partial, a.partial);
  EXPECT_EQ(back->warnings, a.warnings);
  EXPECT_EQ(back->stats.rows_scanned, 1234u);
  EXPECT_EQ(back->stats.rows_matched, 56u);
  EXPECT_EQ(back->cuts, a.cuts);

  auto empty = DecodePartAnswer(EncodePartAnswer({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->hits.empty());
  EXPECT_FALSE(empty->partial);
  EXPECT_EQ(empty->groups.min_bucket, INT64_MAX);
}

// A node of an older build answers version 1, without a cut: read as a part that claims none of
// its segments (docs/format/cluster.md).
TEST(PartCodec, AVersionOneAnswerIsReadWithoutACut) {
  query::PartAnswer a = Sample();
  a.cuts.clear();
  std::string body = EncodePartAnswer(a);
  body[3] = '\x01';
  body.pop_back();  // its cut count (0), which version 1 does not have
  auto back = DecodePartAnswer(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->hits, a.hits);
  EXPECT_EQ(back->groups.groups, a.groups.groups);
  EXPECT_TRUE(back->cuts.empty());
}

// A node of the build before the fence answers version 2: its cut is read without a fence, and
// the asking node does not check it (docs/format/cluster.md).
TEST(PartCodec, AVersionTwoAnswerIsReadWithItsCutAndNoFence) {
  query::PartAnswer a = Sample();
  a.cuts[0].fence = {};
  std::string body = EncodePartAnswer(a);
  body[3] = '\x02';
  // The unset fence, which version 2 does not have: flag 0, generation 0, INT64_MAX zigzagged
  // (10 bytes), knows 0 and no known takeovers.
  body.resize(body.size() - 14);
  auto back = DecodePartAnswer(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->hits, a.hits);
  EXPECT_EQ(back->cuts, a.cuts);
  EXPECT_FALSE(back->cuts[0].fence.set);
}

// How a node of the build before this one reads an answer: only "SWP\x01" or "SWP\x02", and
// then the layout of that version (docs/format/cluster.md). Any other header was refused, so a
// version 3 answer made its node's part fail (the answer partial) during a rolling upgrade.
bool OldBuildReads(std::string_view body) {
  if (body.substr(0, 4) != std::string_view("SWP\x01", 4) &&
      body.substr(0, 4) != std::string_view("SWP\x02", 4)) {
    return false;
  }
  return DecodePartAnswer(body).ok();
}

// A request from a node of an older build (no "answer_version") is answered in version 2, which
// that build reads: the cut without the fence. A request of this build is answered in version 3,
// fence and all. Before, every answer was version 3, which the older build refused.
TEST(PartCodec, AnAnswerIsInTheHighestVersionTheAskingNodeReads) {
  const query::PartAnswer a = Sample();
  auto old_request = DecodePartRequest(
      R"({"tenant":"a","q":"x","from_ns":0,"to_ns":1,"all_time":false,"time_field":"ts","limit":1,"timeout_ms":5})");
  ASSERT_TRUE(old_request.ok()) << old_request.status().ToString();
  EXPECT_EQ(old_request->answer_version, 0u);
  ASSERT_EQ(PartAnswerVersionFor(*old_request), 2u);
  const std::string for_old = EncodePartAnswer(a, PartAnswerVersionFor(*old_request));
  EXPECT_TRUE(OldBuildReads(for_old)) << "an older build cannot read the answer it asked for";
  auto old_read = DecodePartAnswer(for_old);
  ASSERT_TRUE(old_read.ok()) << old_read.status().ToString();
  EXPECT_EQ(old_read->hits, a.hits);
  EXPECT_EQ(old_read->groups.groups, a.groups.groups);
  ASSERT_EQ(old_read->cuts.size(), 1u);
  EXPECT_EQ(old_read->cuts[0].registered_through, a.cuts[0].registered_through);
  EXPECT_EQ(old_read->cuts[0].registering, a.cuts[0].registering);
  EXPECT_FALSE(old_read->cuts[0].fence.set) << "a version 2 answer carries no fence";

  query::PartRequest mine;
  mine.tenant = "a";
  mine.q = "x";
  mine.timeout_ns = 5'000'000;
  auto new_request = DecodePartRequest(EncodePartRequest(mine));
  ASSERT_TRUE(new_request.ok()) << new_request.status().ToString();
  EXPECT_EQ(new_request->answer_version, kPartAnswerVersion);
  ASSERT_EQ(PartAnswerVersionFor(*new_request), 3u);
  const std::string for_new = EncodePartAnswer(a, PartAnswerVersionFor(*new_request));
  EXPECT_EQ(for_new.substr(0, 4), std::string_view("SWP\x03", 4));
  EXPECT_FALSE(OldBuildReads(for_new));
  auto new_read = DecodePartAnswer(for_new);
  ASSERT_TRUE(new_read.ok()) << new_read.status().ToString();
  EXPECT_EQ(new_read->cuts, a.cuts) << "the fence is lost on the way";

  // A later build that reads more is answered in the highest this one writes; one that reads
  // only version 1 gets no cut; a version below 1 is refused.
  new_request->answer_version = 9;
  EXPECT_EQ(PartAnswerVersionFor(*new_request), 3u);
  new_request->answer_version = 1;
  auto v1 = DecodePartAnswer(EncodePartAnswer(a, PartAnswerVersionFor(*new_request)));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_TRUE(v1->cuts.empty());
  EXPECT_EQ(v1->hits, a.hits);
  auto zero = DecodePartRequest(
      R"({"tenant":"a","q":"x","from_ns":0,"to_ns":1,"all_time":false,"time_field":"ts","limit":1,"timeout_ms":5,"answer_version":0})");
  EXPECT_TRUE(zero.status().IsInvalidArgument());
}

TEST(PartCodec, DamagedAnswersAreRefused) {
  const std::string body = EncodePartAnswer(Sample());
  // Every truncation fails (none decodes to a shorter answer).
  for (size_t n = 0; n < body.size(); ++n) {
    auto cut = DecodePartAnswer(std::string_view(body).substr(0, n));
    EXPECT_TRUE(cut.status().IsDataLoss()) << "cut at " << n;
  }
  auto trailing = DecodePartAnswer(body + "x");
  EXPECT_TRUE(trailing.status().IsDataLoss());
  auto foreign = DecodePartAnswer("{\"error\":\"nope\"}");
  ASSERT_TRUE(foreign.status().IsDataLoss());
  EXPECT_NE(foreign.status().message().find("not a part answer"), std::string::npos);
}

TEST(PartCodec, RequestRoundTripsAndBadRequestsNameTheField) {
  query::PartRequest r;
  r.tenant = "acme";
  r.q = "service=\"pay ments\" error | count by bucket(1m)";
  r.range = {INT64_MIN, INT64_MAX, false};
  r.all_time = true;
  r.time_field_ts = true;
  r.limit = 250;
  r.timeout_ns = 2'500'000'000;
  auto back = DecodePartRequest(EncodePartRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->tenant, r.tenant);
  EXPECT_EQ(back->q, r.q);
  EXPECT_EQ(back->range.from_ns, INT64_MIN);
  EXPECT_EQ(back->range.to_ns, INT64_MAX);
  EXPECT_TRUE(back->all_time);
  EXPECT_TRUE(back->time_field_ts);
  EXPECT_EQ(back->limit, 250u);
  EXPECT_EQ(back->timeout_ns, 2'500'000'000);

  auto not_json = DecodePartRequest("q=error");
  EXPECT_TRUE(not_json.status().IsInvalidArgument());
  auto no_q = DecodePartRequest(
      R"({"tenant":"a","from_ns":0,"to_ns":1,"all_time":false,"time_field":"ts","limit":1,"timeout_ms":5})");
  ASSERT_TRUE(no_q.status().IsInvalidArgument());
  EXPECT_NE(no_q.status().message().find("\"q\""), std::string::npos) << no_q.status().message();
  auto bad_field = DecodePartRequest(
      R"({"tenant":"a","q":"x","from_ns":0,"to_ns":1,"all_time":false,"time_field":"when","limit":1,"timeout_ms":5})");
  ASSERT_TRUE(bad_field.status().IsInvalidArgument());
  EXPECT_NE(bad_field.status().message().find("time_field"), std::string::npos);
  auto no_timeout = DecodePartRequest(
      R"({"tenant":"a","q":"x","from_ns":0,"to_ns":1,"all_time":false,"time_field":"ts","limit":1,"timeout_ms":0})");
  EXPECT_TRUE(no_timeout.status().IsInvalidArgument());
}

// POST /internal/v1/memtable-context's body: with and without the hit; the cap on before and
// after holds on the asked node too, and a bad field is named.
TEST(PartCodec, AContextRequestRoundTripsAndKeepsTheCap) {
  query::ContextPartRequest r;
  r.tenant = "acme";
  r.id = 18'000'000'000'000'000'001u;
  r.before = 1000;
  r.after = 7;
  r.timeout_ns = 2'500'000'000;
  auto back = DecodeContextPartRequest(EncodeContextPartRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->tenant, "acme");
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->before, 1000u);
  EXPECT_EQ(back->after, 7u);
  EXPECT_EQ(back->timeout_ns, 2'500'000'000);
  EXPECT_FALSE(back->around.has_value());
  EXPECT_TRUE(back->memtables_only);
  EXPECT_EQ(PartAnswerVersionFor(*back), kPartAnswerVersion);
  r.around = query::ContextAnchor{"pay \"ments\"", "web-1", -5, 3'000'001};
  back = DecodeContextPartRequest(EncodeContextPartRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->around.has_value());
  EXPECT_EQ(*back->around, *r.around);

  auto over =
      DecodeContextPartRequest(R"({"tenant":"a","id":1,"before":1001,"after":0,"timeout_ms":5})");
  ASSERT_TRUE(over.status().IsInvalidArgument());
  EXPECT_EQ(over.status().message(),
            "memtable-context: before and after must be at most 1000, timeout_ms > 0");
  auto bad_id =
      DecodeContextPartRequest(R"({"tenant":"a","id":"12","before":1,"after":0,"timeout_ms":5})");
  ASSERT_TRUE(bad_id.status().IsInvalidArgument());
  EXPECT_EQ(bad_id.status().message(), "memtable-context: \"id\" must be an integer >= 0");
  auto bad_anchor = DecodeContextPartRequest(
      R"({"tenant":"a","id":1,"before":1,"after":0,"timeout_ms":5,"around":{"service":"s"}})");
  ASSERT_TRUE(bad_anchor.status().IsInvalidArgument());
  EXPECT_EQ(bad_anchor.status().message(), "memtable-context: around: \"host\" must be a string");
}

}  // namespace
}  // namespace sawmill::cluster
