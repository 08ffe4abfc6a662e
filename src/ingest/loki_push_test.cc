#include "ingest/loki_push.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include "loki/push.pb.h"

namespace sawmill::ingest {
namespace {

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;

ShipperContext Context() {
  ShipperContext context;
  context.now_ns = kNow;
  return context;
}

std::string Snappy(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

TEST(PrometheusLabels, ParsesQuotedValuesWithEscapes) {
  auto labels = ParsePrometheusLabels(R"({job="varlogs", msg="say \"hi\"\n", a_b="x"})");
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  ASSERT_EQ(labels->size(), 3u);
  EXPECT_EQ((*labels)[0], (std::pair<std::string, std::string>{"job", "varlogs"}));
  EXPECT_EQ((*labels)[1].second, "say \"hi\"\n");
  EXPECT_TRUE(ParsePrometheusLabels("{}").ok());
}

TEST(PrometheusLabels, ErrorsSayWhere) {
  auto unquoted = ParsePrometheusLabels("{job=varlogs}");
  ASSERT_FALSE(unquoted.ok());
  EXPECT_NE(unquoted.status().message().find("at byte 5"), std::string::npos)
      << unquoted.status().message();
  EXPECT_FALSE(ParsePrometheusLabels("{job=\"x\"").ok());
  EXPECT_FALSE(ParsePrometheusLabels("job=\"x\"}").ok());
  EXPECT_FALSE(ParsePrometheusLabels("{job=\"unterminated}").ok());
}

TEST(LokiPushJson, LabelsBecomeFieldsAndServiceHostLevel) {
  std::string body = R"({"streams":[{"stream":{"job":"nginx","host":"web-3","level":"warn"},
    "values":[["1796038127000000001","GET /health 200"],
              ["1796038128000000000","second",{"trace_id":"0af7651916cd43dd","user":"u1"}]]}]})";
  auto records = DecodeLokiPushJson(body, Context());
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 2u);
  const Record& r = (*records)[0];
  EXPECT_EQ(r.ts, 1796038127000000001LL);
  EXPECT_EQ(r.ingest_ts, kNow);
  EXPECT_EQ(r.message, "GET /health 200");
  EXPECT_EQ(r.service, "nginx");
  EXPECT_EQ(r.host, "web-3");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_EQ(*r.FindField("job"), "nginx");
  EXPECT_EQ((*records)[1].trace_id, "0af7651916cd43dd");
  EXPECT_EQ(*(*records)[1].FindField("user"), "u1");
}

TEST(LokiPushJson, ServiceNameWinsOverJobAndLevelIsSniffedFromLine) {
  std::string body = R"({"streams":[{"stream":{"job":"j","service_name":"checkout"},
    "values":[["1796038127000000000","ERROR card declined"]]}]})";
  auto records = DecodeLokiPushJson(body, Context());
  ASSERT_TRUE(records.ok());
  EXPECT_EQ((*records)[0].service, "checkout");
  EXPECT_EQ((*records)[0].level, Level::kError);
}

TEST(LokiPushJson, BadInputIsRejectedSayingWhere) {
  EXPECT_FALSE(DecodeLokiPushJson("{\"streams\":[", Context()).ok());
  EXPECT_FALSE(DecodeLokiPushJson("[]", Context()).ok());
  auto bad_ts = DecodeLokiPushJson(
      R"({"streams":[{"stream":{},"values":[["1","ok"],["yesterday","x"]]}]})", Context());
  ASSERT_FALSE(bad_ts.ok());
  EXPECT_NE(bad_ts.status().message().find("streams[0].values[1]"), std::string::npos)
      << bad_ts.status().message();
  auto bad_label = DecodeLokiPushJson(R"({"streams":[{"stream":{"a":1},"values":[]}]})", Context());
  EXPECT_FALSE(bad_label.ok());
}

TEST(LokiPushProtobuf, DecodesSnappyPushRequest) {
  logproto::PushRequest request;
  auto* stream = request.add_streams();
  stream->set_labels(R"({app="billing", instance="10.0.0.7:9100", level="error"})");
  auto* entry = stream->add_entries();
  entry->mutable_timestamp()->set_seconds(1796038127);
  entry->mutable_timestamp()->set_nanos(42);
  entry->set_line("invoice 7 failed");
  auto* meta = entry->add_structuredmetadata();
  meta->set_name("traceID");
  meta->set_value("4bf92f3577b34da6a3ce929d0e0e4736");
  auto records = DecodeLokiPushProtobuf(Snappy(request.SerializeAsString()), Context(), 1 << 20);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 1u);
  const Record& r = (*records)[0];
  EXPECT_EQ(r.ts, 1796038127LL * 1'000'000'000 + 42);
  EXPECT_EQ(r.service, "billing");
  EXPECT_EQ(r.host, "10.0.0.7:9100");
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(r.message, "invoice 7 failed");
}

TEST(LokiPushProtobuf, InvalidUtf8LineIsRepairedAndFlagged) {
  logproto::PushRequest request;
  auto* stream = request.add_streams();
  stream->set_labels("{job=\"x\"}");
  stream->add_entries()->set_line("bad \xff byte");
  auto records = DecodeLokiPushProtobuf(Snappy(request.SerializeAsString()), Context(), 1 << 20);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE((*records)[0].flags & kFlagInvalidUtf8);
  EXPECT_EQ((*records)[0].message, "bad \xEF\xBF\xBD byte");
  EXPECT_EQ((*records)[0].ts, kNow);  // no timestamp: ingest time
}

TEST(LokiPushProtobuf, AnEntryBombIsRefusedBeforeItIsParsed) {
  logproto::PushRequest request;
  auto* stream = request.add_streams();
  stream->set_labels("{job=\"bomb\"}");
  for (int i = 0; i < 1001; ++i) stream->add_entries();
  ShipperContext context = Context();
  context.max_records = 1000;
  auto records = DecodeLokiPushProtobuf(Snappy(request.SerializeAsString()), context, 1 << 20);
  ASSERT_FALSE(records.ok());
  EXPECT_NE(records.status().message().find("too many entries in one request (limit 1000)"),
            std::string::npos)
      << records.status().ToString();
}

TEST(LokiPushProtobuf, BadSnappyBadProtobufAndBadLabelsAreInvalidArgument) {
  auto not_snappy = DecodeLokiPushProtobuf("\xff\xff\xff\xff\xff\xff", Context(), 1 << 20);
  ASSERT_FALSE(not_snappy.ok());
  EXPECT_TRUE(not_snappy.status().IsInvalidArgument());
  EXPECT_NE(not_snappy.status().message().find("snappy"), std::string::npos);

  std::string raw = "this is not a protobuf message at all";
  std::string good = Snappy(raw);
  auto corrupt = DecodeLokiPushProtobuf(good.substr(0, good.size() - 5), Context(), 1 << 20);
  EXPECT_FALSE(corrupt.ok());

  auto not_proto = DecodeLokiPushProtobuf(Snappy("\x0a\xff\xff\xff\x0f"), Context(), 1 << 20);
  ASSERT_FALSE(not_proto.ok());
  EXPECT_NE(not_proto.status().message().find("PushRequest"), std::string::npos);

  logproto::PushRequest request;
  request.add_streams()->set_labels("{job=unquoted}");
  auto bad_labels = DecodeLokiPushProtobuf(Snappy(request.SerializeAsString()), Context(), 1 << 20);
  ASSERT_FALSE(bad_labels.ok());
  EXPECT_NE(bad_labels.status().message().find("streams[0]"), std::string::npos);
}

TEST(LokiPushProtobuf, DecompressionBombIsRefusedBeforeInflating) {
  std::string big(8 << 20, 'a');
  auto records = DecodeLokiPushProtobuf(Snappy(big), Context(), 1 << 20);
  ASSERT_FALSE(records.ok());
  EXPECT_TRUE(records.status().IsResourceExhausted());
}

}  // namespace
}  // namespace sawmill::ingest
