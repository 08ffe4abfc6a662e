#include "http/json_writer.h"

#include <gtest/gtest.h>

namespace sawmill::http {
namespace {

TEST(FormatRfc3339Nanos, AlwaysNineDigitsInUtc) {
  EXPECT_EQ(FormatRfc3339Nanos(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339Nanos(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(FormatRfc3339Nanos(951'782'400'000'000'001), "2000-02-29T00:00:00.000000001Z");
}

TEST(FormatRfc3339Nanos, BeforeTheEpoch) {
  EXPECT_EQ(FormatRfc3339Nanos(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(RecordJson, EmptyPartsAreLeftOut) {
  Record record;
  record.seq = 42;
  record.ts = 0;
  record.ingest_ts = 1'000'000'000;
  record.message = "hello";
  EXPECT_EQ(RecordToJson(record),
            R"({"id":"42","ts":"1970-01-01T00:00:00.000000000Z",)"
            R"("ingest_ts":"1970-01-01T00:00:01.000000000Z","message":"hello"})");
}

TEST(RecordJson, EveryPartWhenPresent) {
  Record record;
  record.seq = 7;
  record.service = "checkout";
  record.host = "web-1";
  record.level = Level::kError;
  record.message = "tab\there \"quoted\" \x01";
  record.trace_id = "abc";
  record.span_id = "def";
  record.user_id = "u1";
  record.fields = {{"http.status", "500"}, {"path", "/pay"}};
  record.flags = kFlagParseFailed | kFlagTruncated;
  std::string json = RecordToJson(record);
  EXPECT_NE(json.find(R"("service":"checkout","host":"web-1","level":"ERROR")"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("message":"tab\there \"quoted\" \u0001")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("trace_id":"abc","span_id":"def","user_id":"u1")"), std::string::npos);
  EXPECT_NE(json.find(R"("fields":{"http.status":"500","path":"/pay"})"), std::string::npos);
  EXPECT_NE(json.find(R"("flags":["parse_failed","truncated"]})"), std::string::npos) << json;
}

TEST(RowJson, NumbersStayNumbers) {
  query::Row row = {{"service", std::string("api")}, {"count", int64_t{12}}};
  std::string json;
  AppendRowJson(row, &json);
  EXPECT_EQ(json, R"({"service":"api","count":12})");
}

}  // namespace
}  // namespace sawmill::http
