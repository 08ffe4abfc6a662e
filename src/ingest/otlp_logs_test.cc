#include "ingest/otlp_logs.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "rpc_status.pb.h"

namespace sawmill::ingest {
namespace {

namespace v1 = opentelemetry::proto;
constexpr int64_t kNow = 1796040000LL * 1'000'000'000;

ShipperContext Context() {
  ShipperContext context;
  context.now_ns = kNow;
  return context;
}

constexpr const char* kJson = R"({"resourceLogs":[{
  "resource":{"attributes":[
    {"key":"service.name","value":{"stringValue":"cart"}},
    {"key":"host.name","value":{"stringValue":"node-7"}},
    {"key":"service.version","value":{"stringValue":"1.2.3"}}]},
  "scopeLogs":[{"scope":{"name":"cart.logger","version":"0.1"},"logRecords":[
    {"timeUnixNano":"1796038127000000123","observedTimeUnixNano":"1796038128000000000",
     "severityNumber":17,"severityText":"ERROR",
     "body":{"stringValue":"checkout failed"},
     "traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7",
     "attributes":[{"key":"http.status_code","value":{"intValue":"502"}},
                   {"key":"retry","value":{"boolValue":true}},
                   {"key":"ratio","value":{"doubleValue":0.5}},
                   {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":2}]}}},
                   {"key":"user.id","value":{"stringValue":"u-42"}}]},
    {"observedTimeUnixNano":"1796038129000000000","severityText":"warning",
     "body":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"slow"}},
                                       {"key":"db","value":{"kvlistValue":{"values":[
                                          {"key":"ms","value":{"intValue":812}}]}}}]}}}
  ]}]}]})";

TEST(OtlpLogsJson, MapsResourceScopeSeverityBodyIdsAndAttributes) {
  auto batch = DecodeOtlpLogsJson(kJson, Context());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 2u);
  EXPECT_EQ(batch->rejected, 0);
  const Record& r = batch->records[0];
  EXPECT_EQ(r.service, "cart");
  EXPECT_EQ(r.host, "node-7");
  EXPECT_EQ(r.ts, 1796038127000000123LL);
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.message, "checkout failed");
  EXPECT_EQ(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(r.span_id, "00f067aa0ba902b7");
  EXPECT_EQ(r.user_id, "u-42");
  EXPECT_EQ(*r.FindField("service.version"), "1.2.3");
  EXPECT_EQ(*r.FindField("scope.name"), "cart.logger");
  EXPECT_EQ(*r.FindField("http.status_code"), "502");
  EXPECT_EQ(*r.FindField("retry"), "true");
  EXPECT_EQ(*r.FindField("ratio"), "0.5");
  EXPECT_EQ(*r.FindField("tags"), "[\"a\",2]");
  EXPECT_EQ(r.FindField("service.name"), nullptr);

  const Record& s = batch->records[1];
  EXPECT_EQ(s.ts, 1796038129000000000LL);  // observed time when time is absent
  EXPECT_EQ(s.level, Level::kWarn);        // from severityText
  EXPECT_EQ(s.message, "slow");
  EXPECT_EQ(*s.FindField("db.ms"), "812");
}

TEST(OtlpLogsJson, SnakeCaseNamesAndEnumNamesAreAccepted) {
  auto batch = DecodeOtlpLogsJson(
      R"({"resource_logs":[{"scope_logs":[{"log_records":[
          {"time_unix_nano":1796038127000000000,"severity_number":"SEVERITY_NUMBER_DEBUG2",
           "body":{"string_value":"x"}}]}]}]})",
      Context());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].level, Level::kDebug);
  EXPECT_EQ(batch->records[0].ts, 1796038127000000000LL);
}

TEST(OtlpLogsJson, BadRecordsAreRejectedAsPartialSuccess) {
  auto batch = DecodeOtlpLogsJson(
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
          {"body":{"stringValue":"good"},"traceId":"not-hex"},
          {"timeUnixNano":"soon","body":{"stringValue":"bad"}},
          7]}]}]})",
      Context());
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].message, "good");
  EXPECT_EQ(batch->records[0].trace_id, "");
  EXPECT_EQ(batch->rejected, 2);
  EXPECT_NE(batch->error_message.find("logRecords[1].timeUnixNano"), std::string::npos)
      << batch->error_message;
  EXPECT_NE(batch->error_message.find("traceId"), std::string::npos);

  auto json = boost::json::parse(EncodeOtlpResponse(*batch, true));
  EXPECT_EQ(json.at("partialSuccess").at("rejectedLogRecords"), "2");

  v1::collector::logs::v1::ExportLogsServiceResponse proto;
  ASSERT_TRUE(proto.ParseFromString(EncodeOtlpResponse(*batch, false)));
  EXPECT_EQ(proto.partial_success().rejected_log_records(), 2);
}

// A bytes attribute arrives as base64 (either alphabet) and is stored as standard base64; a value
// that is not base64 rejects its record, saying where.
TEST(OtlpLogsJson, BytesValuesAreBase64BothWays) {
  auto batch = DecodeOtlpLogsJson(
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
          {"body":{"stringValue":"a"},"attributes":[{"key":"b","value":{"bytesValue":"AAE="}},
                                                    {"key":"c","value":{"bytesValue":"-_8"}}]},
          {"body":{"stringValue":"b"},"attributes":[{"key":"d","value":{"bytesValue":"A*E="}}]}
        ]}]}]})",
      Context());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(*batch->records[0].FindField("b"), "AAE=");
  EXPECT_EQ(*batch->records[0].FindField("c"), "+/8=");
  EXPECT_EQ(batch->rejected, 1);
  EXPECT_NE(batch->error_message.find("bytesValue is not base64"), std::string::npos)
      << batch->error_message;
}

TEST(OtlpLogsJson, FullSuccessAnswersEmptyObject) {
  OtlpBatch batch;
  EXPECT_EQ(EncodeOtlpResponse(batch, true), "{}");
  EXPECT_EQ(EncodeOtlpResponse(batch, false), "");
}

TEST(OtlpLogsJson, MalformedBodyIsInvalidArgument) {
  EXPECT_TRUE(DecodeOtlpLogsJson("{\"resourceLogs\":", Context()).status().IsInvalidArgument());
  auto wrong_type = DecodeOtlpLogsJson(R"({"resourceLogs":{}})", Context());
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("resourceLogs"), std::string::npos);
}

TEST(OtlpLogsProtobuf, DecodesExportRequestWithBinaryIds) {
  v1::collector::logs::v1::ExportLogsServiceRequest request;
  auto* rl = request.add_resource_logs();
  auto* attr = rl->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("inventory");
  auto* lr = rl->add_scope_logs()->add_log_records();
  lr->set_time_unix_nano(1796038127000000000ULL);
  lr->set_severity_number(13);
  lr->mutable_body()->set_string_value("stock low");
  lr->set_trace_id(
      std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16));
  lr->set_span_id(std::string(8, '\0'));  // all zeros: no span
  auto batch = DecodeOtlpLogsProtobuf(request.SerializeAsString(), Context());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 1u);
  const Record& r = batch->records[0];
  EXPECT_EQ(r.service, "inventory");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_EQ(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(r.span_id, "");
  EXPECT_EQ(r.message, "stock low");
}

TEST(OtlpLogsProtobuf, GarbageIsInvalidArgument) {
  auto batch = DecodeOtlpLogsProtobuf("\x0a\xff\xff\xff\xff\x0f garbage", Context());
  ASSERT_FALSE(batch.ok());
  EXPECT_TRUE(batch.status().IsInvalidArgument());
}

TEST(OtlpLogsProtobuf, DeepNestingIsRefused) {
  // 200 nested kvlists exceed protobuf's recursion limit: refused, not a stack overflow.
  v1::common::v1::AnyValue value;
  v1::common::v1::AnyValue* cursor = &value;
  for (int depth = 0; depth < 200; ++depth) {
    auto* kv = cursor->mutable_kvlist_value()->add_values();
    kv->set_key("k");
    cursor = kv->mutable_value();
  }
  v1::collector::logs::v1::ExportLogsServiceRequest request;
  *request.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body() = value;
  std::string bytes;
  ASSERT_TRUE(request.SerializeToString(&bytes));
  EXPECT_FALSE(DecodeOtlpLogsProtobuf(bytes, Context()).ok());
}

// A length-delimited protobuf field, encoded by hand (tag, varint length, payload).
std::string Field(int number, const std::string& payload) {
  std::string out(1, static_cast<char>((number << 3) | 2));
  uint64_t n = payload.size();
  do {
    char byte = static_cast<char>(n & 0x7F);
    n >>= 7;
    if (n != 0) byte = static_cast<char>(byte | 0x80);
    out += byte;
  } while (n != 0);
  return out + payload;
}

// An ExportLogsServiceRequest of "records" empty log records: 2 bytes each on the wire, an
// object of about a hundred bytes each once parsed.
std::string RecordBomb(size_t records) {
  std::string scope;
  for (size_t i = 0; i < records; ++i) scope += Field(2, "");
  return Field(1, Field(2, scope));
}

TEST(OtlpLogsProtobuf, ARecordBombIsRefusedBeforeItIsParsed) {
  EXPECT_EQ(CountProtobufFields(RecordBomb(5), {1, 2, 2}, 100), 5u);
  EXPECT_EQ(CountProtobufFields(RecordBomb(500), {1, 2, 2}, 100), 101u);  // stops past the limit
  EXPECT_EQ(CountProtobufFields("\x0a\xff", {1, 2, 2}, 100), 0u);         // bad wire data
  // Two resources with two scopes each: every record is counted.
  std::string two = Field(2, Field(2, "") + Field(2, ""));
  EXPECT_EQ(CountProtobufFields(Field(1, two + two) + Field(1, two), {1, 2, 2}, 100), 6u);

  ShipperContext context = Context();
  context.max_records = 1000;
  Result<OtlpBatch> over = DecodeOtlpLogsProtobuf(RecordBomb(1001), context);
  ASSERT_FALSE(over.ok());
  EXPECT_TRUE(over.status().IsInvalidArgument());
  EXPECT_NE(over.status().message().find("too many log records in one request (limit 1000)"),
            std::string::npos)
      << over.status().ToString();
  EXPECT_TRUE(DecodeOtlpLogsProtobuf(RecordBomb(1000), context).ok());
}

TEST(OtlpStatus, EncodesGoogleRpcStatus) {
  auto json = boost::json::parse(EncodeOtlpStatus(3, "bad body", true));
  EXPECT_EQ(json.at("code"), 3);
  EXPECT_EQ(json.at("message"), "bad body");
  google::rpc::Status status;
  ASSERT_TRUE(status.ParseFromString(EncodeOtlpStatus(14, "later", false)));
  EXPECT_EQ(status.code(), 14);
  EXPECT_EQ(status.message(), "later");
}

}  // namespace
}  // namespace sawmill::ingest
