// Every decoder of the shipper protocols on truncated and random input: a clean error or a
// record, never a crash, a hang or unbounded memory (run under `make asan` to see the rest).
#include <gtest/gtest.h>
#include <snappy.h>

#include <random>

#include "ingest/elasticsearch_bulk.h"
#include "ingest/loki_push.h"
#include "ingest/otlp_logs.h"
#include "ingest/syslog_framing.h"
#include "ingest/syslog_parser.h"
#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace sawmill::ingest {
namespace {

ShipperContext Context() {
  ShipperContext context;
  context.now_ns = 1796040000LL * 1'000'000'000;
  context.max_records = 1000;
  return context;
}

std::string RandomBytes(std::mt19937* rng, size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>((*rng)() & 0xFF);
  return out;
}

// Runs "decode" on every prefix of "valid" and on random bytes; "decode" returns whether it
// succeeded. The full input must succeed.
template <typename Decode>
void Torture(const std::string& valid, Decode decode) {
  for (size_t cut = 0; cut < valid.size(); ++cut) decode(valid.substr(0, cut));
  EXPECT_TRUE(decode(valid));
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string mutated = valid;
    for (int flips = 0; flips < 3 && !mutated.empty(); ++flips) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xFF);
    }
    decode(mutated);
    decode(RandomBytes(&rng, rng() % 200));
  }
}

TEST(ShipperRobustness, ElasticsearchBulk) {
  Torture(
      "{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"message\":\"m\",\"log\":{\"level\":"
      "\"warn\"},\"n\":[1,{\"x\":2}]}\n{\"delete\":{}}\n",
      [](const std::string& body) { return DecodeElasticsearchBulk(body, "", Context()).ok(); });
}

TEST(ShipperRobustness, LokiJson) {
  Torture(R"({"streams":[{"stream":{"app":"a"},"values":[["1","x",{"k":"v"}]]}]})",
          [](const std::string& body) { return DecodeLokiPushJson(body, Context()).ok(); });
}

TEST(ShipperRobustness, LokiProtobufAndSnappy) {
  logproto::PushRequest request;
  auto* stream = request.add_streams();
  stream->set_labels("{app=\"a\", host=\"h\"}");
  auto* entry = stream->add_entries();
  entry->mutable_timestamp()->set_seconds(1796038127);
  entry->set_line("line");
  auto* meta = entry->add_structuredmetadata();
  meta->set_name("trace_id");
  meta->set_value("t");
  std::string raw = request.SerializeAsString();
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  Torture(compressed, [](const std::string& body) {
    return DecodeLokiPushProtobuf(body, Context(), 1 << 20).ok();
  });
  // Valid snappy around broken protobuf.
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    std::string part;
    snappy::Compress(raw.data(), cut, &part);
    DecodeLokiPushProtobuf(part, Context(), 1 << 20).status().IgnoreError();
  }
}

TEST(ShipperRobustness, OtlpJsonAndProtobuf) {
  Torture(R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":
    {"stringValue":"s"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","severityNumber":9,
    "body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[
    {"intValue":"1"}]}}}]}},"traceId":"00ff","attributes":[{"key":"b","value":
    {"bytesValue":"AAE="}}]}]}]}]})",
          [](const std::string& body) { return DecodeOtlpLogsJson(body, Context()).ok(); });

  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest request;
  auto* rl = request.add_resource_logs();
  auto* attr = rl->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("s");
  auto* lr = rl->add_scope_logs()->add_log_records();
  lr->set_time_unix_nano(1);
  lr->mutable_body()->mutable_kvlist_value()->add_values()->set_key("k");
  lr->set_trace_id(std::string(16, '\x01'));
  Torture(request.SerializeAsString(),
          [](const std::string& body) { return DecodeOtlpLogsProtobuf(body, Context()).ok(); });
}

TEST(ShipperRobustness, SyslogParserAndFraming) {
  const std::string message =
      "<165>1 2003-10-11T22:14:15.003Z host app 12 ID [a b=\"c\\]\"][d e=\"f\"] msg";
  Torture(message, [](const std::string& line) {
    Record record = ParseSyslogMessage(line, Context());
    return (record.flags & kFlagParseFailed) == 0;
  });
  Torture("<13>Nov 30 11:28:47 host tag[1]: text", [](const std::string& line) {
    Record record = ParseSyslogMessage(line, Context());
    return (record.flags & kFlagParseFailed) == 0;
  });
  std::mt19937 rng(7);
  SyslogFrameDecoder decoder(256);
  size_t frames = 0;
  for (int round = 0; round < 2000; ++round) {
    decoder.Feed(RandomBytes(&rng, rng() % 600), [&](std::string_view frame, bool) {
      EXPECT_LE(frame.size(), 256u);
      ++frames;
    });
    EXPECT_LE(decoder.buffered(), 256u + 16u);
  }
  EXPECT_GT(frames, 0u);
}

}  // namespace
}  // namespace sawmill::ingest
