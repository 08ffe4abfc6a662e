#include "ingest/elasticsearch_bulk.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sawmill::ingest {
namespace {

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;  // 2026-11-30T12:00:00Z

ShipperContext Context() {
  ShipperContext context;
  context.tenant = "acme";
  context.now_ns = kNow;
  return context;
}

TEST(ElasticsearchBulk, EcsDocumentMapsToRecordColumns) {
  std::string body =
      "{\"index\":{\"_index\":\"logs-app\"}}\n"
      "{\"@timestamp\":\"2026-11-30T11:28:47.5Z\",\"message\":\"payment failed\","
      "\"log\":{\"level\":\"error\"},\"service\":{\"name\":\"payments\"},"
      "\"host\":{\"name\":\"web-1\"},\"trace\":{\"id\":\"abc123\"},\"http\":{\"status\":502}}\n";
  auto batch = DecodeElasticsearchBulk(body, "", Context());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 1u);
  const Record& r = batch->records[0];
  EXPECT_EQ(r.ts, 1796038127LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(r.ingest_ts, kNow);
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(r.message, "payment failed");
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.service, "payments");
  EXPECT_EQ(r.host, "web-1");
  EXPECT_EQ(r.trace_id, "abc123");
  ASSERT_NE(r.FindField("http.status"), nullptr);
  EXPECT_EQ(*r.FindField("http.status"), "502");
  ASSERT_NE(r.FindField("_index"), nullptr);
  EXPECT_EQ(*r.FindField("_index"), "logs-app");
  EXPECT_EQ(r.FindField("log.level"), nullptr);  // became the level column
}

TEST(ElasticsearchBulk, PlainNamesAndIndexFromUrl) {
  std::string body =
      "{\"create\":{}}\n"
      "{\"ts\":1764500000000,\"msg\":\"hello\",\"level\":\"WARN\",\"service\":\"api\","
      "\"hostname\":\"h2\",\"trace_id\":\"t1\",\"user_id\":\"u9\"}\n";
  auto batch = DecodeElasticsearchBulk(body, "from-url", Context());
  ASSERT_TRUE(batch.ok());
  const Record& r = batch->records[0];
  EXPECT_EQ(r.ts, 1764500000000LL * 1'000'000);
  EXPECT_EQ(r.message, "hello");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_EQ(r.service, "api");
  EXPECT_EQ(r.host, "h2");
  EXPECT_EQ(r.user_id, "u9");
  EXPECT_EQ(*r.FindField("_index"), "from-url");
  EXPECT_EQ(batch->items[0].action, "create");
  EXPECT_EQ(batch->items[0].status, 201);
}

TEST(ElasticsearchBulk, DeleteAndUpdateAreAnsweredPerItemAsUnsupported) {
  std::string body =
      "{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n"
      "{\"update\":{\"_index\":\"a\",\"_id\":\"2\"}}\n"
      "{\"doc\":{\"x\":1}}\n"
      "{\"index\":{\"_index\":\"a\",\"_id\":\"3\"}}\n"
      "{\"message\":\"kept\"}\n";
  auto batch = DecodeElasticsearchBulk(body, "", Context());
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->items.size(), 3u);
  EXPECT_EQ(batch->items[0].status, 400);
  EXPECT_EQ(batch->items[1].status, 400);
  EXPECT_EQ(batch->items[2].status, 201);
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].message, "kept");
  EXPECT_EQ(*batch->records[0].FindField("_id"), "3");

  auto response = boost::json::parse(EncodeElasticsearchBulkResponse(batch->items, 3));
  EXPECT_EQ(response.at("errors"), true);
  const auto& items = response.at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("delete").at("status"), 400);
  EXPECT_EQ(items[0].at("delete").at("_id"), "1");
  EXPECT_TRUE(items[0].at("delete").at("error").at("type").is_string());
  EXPECT_EQ(items[2].at("index").at("status"), 201);
  EXPECT_EQ(items[2].at("index").at("result"), "created");
}

TEST(ElasticsearchBulk, DocumentWithoutMessageIsItsOwnMessage) {
  auto batch = DecodeElasticsearchBulk("{\"index\":{}}\n{\"event\":\"login\",\"user\":\"ann\"}\n",
                                       "", Context());
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->records[0].message, "{\"event\":\"login\",\"user\":\"ann\"}");
  EXPECT_EQ(*batch->records[0].FindField("user"), "ann");
  EXPECT_EQ(batch->records[0].flags & kFlagParseFailed, 0u);
}

TEST(ElasticsearchBulk, BadDocumentIsStoredRawAndFlagged) {
  std::string body = "{\"index\":{}}\n{\"message\": \"unterminated\n";
  auto batch = DecodeElasticsearchBulk(body, "x", Context());
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].message, "{\"message\": \"unterminated");
  EXPECT_TRUE(batch->records[0].flags & kFlagParseFailed);
}

TEST(ElasticsearchBulk, MalformedActionLineRejectsRequestNamingTheLine) {
  auto bad_json = DecodeElasticsearchBulk("{\"index\":{}}\n{\"a\":1}\n{oops\n", "", Context());
  ASSERT_FALSE(bad_json.ok());
  EXPECT_TRUE(bad_json.status().IsInvalidArgument());
  EXPECT_NE(bad_json.status().message().find("line [3]"), std::string::npos)
      << bad_json.status().message();

  auto unknown = DecodeElasticsearchBulk("{\"upsert\":{}}\n{}\n", "", Context());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("[upsert]"), std::string::npos);

  auto missing_doc = DecodeElasticsearchBulk("{\"index\":{}}", "", Context());
  ASSERT_FALSE(missing_doc.ok());
}

TEST(ElasticsearchBulk, SinkFailureMakesStoredItemsRetryable) {
  auto batch = DecodeElasticsearchBulk("{\"index\":{}}\n{\"message\":\"m\"}\n", "i", Context());
  ASSERT_TRUE(batch.ok());
  auto response =
      boost::json::parse(EncodeElasticsearchBulkResponse(batch->items, 1, 503, "disk full"));
  EXPECT_EQ(response.at("errors"), true);
  EXPECT_EQ(response.at("items").as_array()[0].at("index").at("status"), 503);
}

TEST(ElasticsearchBulk, DeeplyNestedDocumentIsBoundedAndKeptRaw) {
  std::string doc(10000, '[');
  auto batch = DecodeElasticsearchBulk("{\"index\":{}}\n{\"a\":" + doc + "\n", "", Context());
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->records[0].flags & kFlagParseFailed);
}

TEST(ElasticsearchBulk, ErrorBodyHasElasticsearchShape) {
  auto body = boost::json::parse(ElasticsearchErrorBody(400, "illegal_argument_exception", "bad"));
  EXPECT_EQ(body.at("status"), 400);
  EXPECT_EQ(body.at("error").at("type"), "illegal_argument_exception");
  EXPECT_EQ(body.at("error").at("root_cause").as_array()[0].at("reason"), "bad");
}

}  // namespace
}  // namespace sawmill::ingest
