#include "http/shipper_routes.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <boost/json.hpp>
#include <mutex>

#include "http/route_test_util.h"
#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "rpc_status.pb.h"

namespace sawmill::http {
namespace {

class FakeSink : public ingest::IngestSink {
 public:
  Status Ingest(const std::string& tenant, std::string_view protocol,
                std::vector<Record>* records) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_.ok()) return fail_;
    tenant_ = tenant;
    protocol_ = std::string(protocol);
    for (Record& r : *records) records_.push_back(r);
    return Status::OK();
  }
  std::vector<Record> records_;
  std::string tenant_;
  std::string protocol_;
  Status fail_;
  std::mutex mu_;
};

class ShipperRoutes : public ::testing::Test {
 protected:
  void SetUp() override { RegisterShipperRoutes(&router_, &pipeline_); }

  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& content_type = "",
                    std::multimap<std::string, std::string> query = {}) {
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.target = path;
    request.body = body;
    request.tenant = "team-a";
    request.query = std::move(query);
    request.headers.emplace("host", "127.0.0.1:9640");
    if (!content_type.empty()) request.headers.emplace("content-type", content_type);
    return Answer(router_, request);
  }

  Router router_;
  FakeSink sink_;
  ingest::Pipeline pipeline_{&sink_};
};

TEST_F(ShipperRoutes, ElasticsearchHandshakeLooksLikeAnElasticsearchNode) {
  auto info = Call("GET", "/");
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(HeaderOf(info, "X-Elastic-Product"), "Elasticsearch");
  auto json = boost::json::parse(info.body);
  EXPECT_TRUE(json.at("version").at("number").as_string().starts_with("8."));
  EXPECT_EQ(json.at("tagline"), "You Know, for Search");
  EXPECT_EQ(Call("HEAD", "/").status, 200);
  EXPECT_EQ(boost::json::parse(Call("GET", "/_license").body).at("license").at("status"), "active");
  auto nodes = boost::json::parse(Call("GET", "/_nodes/http").body);
  EXPECT_EQ(nodes.at("nodes").as_object().begin()->value().at("http").at("publish_address"),
            "127.0.0.1:9640");
  auto put = Call("PUT", "/_index_template/filebeat-8", "{}", "application/json");
  EXPECT_EQ(boost::json::parse(put.body).at("acknowledged"), true);
  EXPECT_EQ(Call("HEAD", "/_index_template/filebeat-8").status, 200);
  EXPECT_EQ(Call("GET", "/_ilm/policy/filebeat").status, 200);
  auto prefixed = Call("GET", "/api/v1/ingest/elasticsearch");
  EXPECT_EQ(prefixed.status, 200);
  EXPECT_EQ(HeaderOf(prefixed, "X-Elastic-Product"), "Elasticsearch");
}

TEST_F(ShipperRoutes, BulkOnEveryPathStoresRecordsWithTenantAndIndex) {
  const std::string body = "{\"index\":{}}\n{\"message\":\"m\",\"log.level\":\"warn\"}\n";
  for (const char* path : {"/_bulk", "/app-logs/_bulk", "/api/v1/ingest/elasticsearch/_bulk",
                           "/api/v1/ingest/elasticsearch/app-logs/_bulk"}) {
    sink_.records_.clear();
    auto response = Call("POST", path, body, "application/x-ndjson");
    ASSERT_EQ(response.status, 200) << path;
    EXPECT_EQ(HeaderOf(response, "X-Elastic-Product"), "Elasticsearch");
    EXPECT_EQ(boost::json::parse(response.body).at("errors"), false) << response.body;
    ASSERT_EQ(sink_.records_.size(), 1u) << path;
    EXPECT_EQ(sink_.tenant_, "team-a");
    EXPECT_EQ(sink_.protocol_, "elasticsearch");
    EXPECT_EQ(sink_.records_[0].level, Level::kWarn);
    const std::string* index = sink_.records_[0].FindField("_index");
    if (std::string(path).find("app-logs") != std::string::npos) {
      ASSERT_NE(index, nullptr);
      EXPECT_EQ(*index, "app-logs");
    }
  }
}

TEST_F(ShipperRoutes, SingleDocumentApiStoresOneRecord) {
  auto response = Call("POST", "/app-logs/_doc", "{\"message\":\"one\",\"level\":\"error\"}",
                       "application/json");
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(boost::json::parse(response.body).at("result"), "created");
  auto with_id = Call("PUT", "/app-logs/_doc/abc", "{\"message\":\"two\"}", "application/json");
  EXPECT_EQ(with_id.status, 201);
  EXPECT_EQ(boost::json::parse(with_id.body).at("_id"), "abc");
  ASSERT_EQ(sink_.records_.size(), 2u);
  EXPECT_EQ(sink_.records_[0].level, Level::kError);
  EXPECT_EQ(*sink_.records_[0].FindField("_index"), "app-logs");
  EXPECT_EQ(*sink_.records_[1].FindField("_id"), "abc");
}

TEST_F(ShipperRoutes, MalformedBulkGetsElasticsearchErrorFormat) {
  auto response = Call("POST", "/_bulk", "not json\n", "application/x-ndjson");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(HeaderOf(response, "X-Elastic-Product"), "Elasticsearch");
  auto json = boost::json::parse(response.body);
  EXPECT_EQ(json.at("status"), 400);
  EXPECT_EQ(json.at("error").at("type"), "illegal_argument_exception");
  EXPECT_TRUE(sink_.records_.empty());
}

TEST_F(ShipperRoutes, QueryDefaultsApplyLikeNativeIngestion) {
  Call("POST", "/_bulk", "{\"index\":{}}\n{\"message\":\"no service\"}\n", "application/x-ndjson",
       {{"service", "fallback-svc"}, {"host", "fallback-host"}});
  ASSERT_EQ(sink_.records_.size(), 1u);
  EXPECT_EQ(sink_.records_[0].service, "fallback-svc");
  EXPECT_EQ(sink_.records_[0].host, "fallback-host");
}

TEST_F(ShipperRoutes, LokiPushJsonAndProtobufAnswer204) {
  auto json = Call("POST", "/loki/api/v1/push",
                   R"({"streams":[{"stream":{"app":"a"},"values":[["1796038127000000000","x"]]}]})",
                   "application/json");
  EXPECT_EQ(json.status, 204);
  EXPECT_TRUE(json.body.empty());

  logproto::PushRequest request;
  auto* stream = request.add_streams();
  stream->set_labels("{app=\"b\"}");
  stream->add_entries()->set_line("y");
  std::string compressed;
  std::string raw = request.SerializeAsString();
  snappy::Compress(raw.data(), raw.size(), &compressed);
  EXPECT_EQ(Call("POST", "/loki/api/v1/push", compressed, "application/x-protobuf").status, 204);
  ASSERT_EQ(sink_.records_.size(), 2u);
  EXPECT_EQ(sink_.protocol_, "loki");
  EXPECT_EQ(sink_.records_[1].service, "b");
}

TEST_F(ShipperRoutes, LokiErrorsArePlainTextAndRetryableWhenTheSinkIsDown) {
  auto bad = Call("POST", "/loki/api/v1/push", "garbage", "application/x-protobuf");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(bad.body.find("snappy"), std::string::npos);

  sink_.fail_ = Status::Unavailable("disk full");
  auto down =
      Call("POST", "/loki/api/v1/push",
           R"({"streams":[{"stream":{"app":"a"},"values":[["1","x"]]}]})", "application/json");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(HeaderOf(down, "Retry-After"), "1");
}

TEST_F(ShipperRoutes, OtlpAnswersInTheRequestEncoding) {
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest request;
  request.add_resource_logs()
      ->add_scope_logs()
      ->add_log_records()
      ->mutable_body()
      ->set_string_value("hi");
  auto proto = Call("POST", "/v1/logs", request.SerializeAsString(), "application/x-protobuf");
  EXPECT_EQ(proto.status, 200);
  EXPECT_EQ(proto.content_type, "application/x-protobuf");
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse response;
  EXPECT_TRUE(response.ParseFromString(proto.body));
  EXPECT_FALSE(response.has_partial_success());
  EXPECT_EQ(sink_.protocol_, "otlp");

  auto json = Call("POST", "/v1/logs", "{\"resourceLogs\":[]}", "application/json");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.body, "{}");

  auto bad_json = Call("POST", "/v1/logs", "{", "application/json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(boost::json::parse(bad_json.body).at("code"), 3);

  auto bad_proto = Call("POST", "/v1/logs", "\x0a\xff\xff", "application/x-protobuf");
  EXPECT_EQ(bad_proto.status, 400);
  google::rpc::Status status;
  EXPECT_TRUE(status.ParseFromString(bad_proto.body));
  EXPECT_EQ(status.code(), 3);

  EXPECT_EQ(Call("POST", "/v1/logs", "x", "text/plain").status, 415);

  sink_.fail_ = Status::Unavailable("stopping");
  auto down = Call("POST", "/v1/logs", request.SerializeAsString(), "application/x-protobuf");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(HeaderOf(down, "Retry-After"), "1");
}

TEST_F(ShipperRoutes, ABadLevelDefaultKeepsTheLinesWithTheTextAsAField) {
  // Promtail and Filebeat drop a batch answered 4xx: a typo in the URL must not lose lines.
  auto loki = Call("POST", "/loki/api/v1/push",
                   R"({"streams":[{"stream":{"app":"a"},"values":[["1","no level word"]]}]})",
                   "application/json", {{"level", "loud"}});
  EXPECT_EQ(loki.status, 204);
  auto bulk = Call("POST", "/_bulk", "{\"index\":{}}\n{\"message\":\"ERROR a level word\"}\n",
                   "application/x-ndjson", {{"level", "loud"}});
  EXPECT_EQ(bulk.status, 200);
  ASSERT_EQ(sink_.records_.size(), 2u);
  EXPECT_EQ(sink_.records_[0].level, Level::kUnknown);
  ASSERT_NE(sink_.records_[0].FindField("level"), nullptr);
  EXPECT_EQ(*sink_.records_[0].FindField("level"), "loud");
  // A record that has a level of its own does not get the bad default.
  EXPECT_EQ(sink_.records_[1].level, Level::kError);
  EXPECT_EQ(sink_.records_[1].FindField("level"), nullptr);
}

TEST_F(ShipperRoutes, ShipperAttributesNamedUserIdFillTheUserIdColumn) {
  Call("POST", "/loki/api/v1/push",
       R"({"streams":[{"stream":{"app":"a"},"values":[["1","x",{"user_id":"u-1"}]]}]})",
       "application/json");
  Call("POST", "/v1/logs",
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"y"},)"
       R"("attributes":[{"key":"user_id","value":{"stringValue":"u-2"}}]}]}]}]})",
       "application/json");
  Call("POST", "/_bulk", "{\"index\":{}}\n{\"message\":\"z\",\"user\":{\"id\":\"u-3\"}}\n",
       "application/x-ndjson");
  ASSERT_EQ(sink_.records_.size(), 3u);
  EXPECT_EQ(sink_.records_[0].user_id, "u-1");
  EXPECT_EQ(sink_.records_[1].user_id, "u-2");
  EXPECT_EQ(sink_.records_[1].FindField("user_id"), nullptr);
  EXPECT_EQ(sink_.records_[2].user_id, "u-3");
}

}  // namespace
}  // namespace sawmill::http
