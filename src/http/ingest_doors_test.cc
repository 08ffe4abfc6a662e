// The same lines sent through every front door of a real server — native /api/v1/ingest,
// Elasticsearch _bulk, Loki push (JSON and protobuf), OTLP/HTTP (JSON and protobuf), syslog TCP
// and UDP — into a real storage engine come back from search as the same records: the same
// ts, ingest_ts (one clock), level, service, host, message, trace_id, user_id and fields. The
// messages are lines of the real datasets in shared/data/real (read from there).
#include <gtest/gtest.h>
#include <snappy.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/time_format.h"
#include "http/api_routes.h"
#include "http/api_test_fixture.h"
#include "http/http_server.h"
#include "http/shipper_routes.h"
#include "ingest/field_map.h"
#include "ingest/syslog_server.h"
#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace sawmill::http {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using udp = net::ip::udp;

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;      // 2026-11-30T12:00:00Z, ingest time
constexpr int64_t kFirstTs = 1795953600LL * 1'000'000'000;  // 2026-11-29T12:00:00Z

// One line as a shipper would describe it. Timestamps have microsecond precision: syslog's
// RFC 5424 TIMESTAMP carries at most six fraction digits.
struct Line {
  int64_t ts_ns;
  Level level;
  std::string service, host, message, trace_id, user_id, shop;
};

// Lines of five real datasets (the first lines of each Loghub 2k sample). Fails, saying where
// it looked, when the data is missing.
std::vector<Line> RealLines() {
  const std::filesystem::path root = std::filesystem::path(SAWMILL_SHARED_DIR) / "data/real";
  std::vector<Line> lines;
  const Level levels[] = {Level::kError, Level::kWarn, Level::kInfo};
  for (const char* dataset : {"HDFS", "Apache", "OpenSSH", "Zookeeper", "Android"}) {
    const std::filesystem::path file =
        root / "loghub_2k" / dataset / (std::string(dataset) + "_2k.log");
    std::ifstream in(file);
    EXPECT_TRUE(in.good()) << "cannot read " << file
                           << " (SAWMILL_SHARED_DIR=" << SAWMILL_SHARED_DIR << ")";
    std::string text;
    for (int n = 0; n < 4 && std::getline(in, text); ++n) {
      if (!text.empty() && text.back() == '\r') text.pop_back();
      const size_t i = lines.size();
      char trace[33];
      std::snprintf(trace, sizeof(trace), "%016llx%016llx", 0x4bf92f3577b34da6ULL + i,
                    0xa3ce929d0e0e4736ULL * (i + 1));
      lines.push_back(Line{kFirstTs + static_cast<int64_t>(i) * 1'000'123'000, levels[i % 3],
                           std::string("svc-") + dataset, "host-" + std::to_string(i % 2), text,
                           trace, "user-" + std::to_string(i), "shop-" + std::to_string(i % 3)});
    }
  }
  return lines;
}

std::string Rfc3339(int64_t ns) { return FormatRfc3339Nanos(ns); }

int SyslogSeverity(Level level) {
  return level == Level::kError ? 3 : (level == Level::kWarn ? 4 : 6);
}
int OtelSeverity(Level level) {
  return level == Level::kError ? 17 : (level == Level::kWarn ? 13 : 9);
}

std::string NativeBody(const std::vector<Line>& lines) {
  std::string body;
  for (const Line& l : lines) {
    json::object o;
    o["ts"] = Rfc3339(l.ts_ns);
    o["level"] = std::string(LevelName(l.level));
    o["service"] = l.service;
    o["host"] = l.host;
    o["msg"] = l.message;
    o["trace_id"] = l.trace_id;
    o["user_id"] = l.user_id;
    o["shop"] = l.shop;
    body += json::serialize(o) + "\n";
  }
  return body;
}

std::string ElasticsearchBody(const std::vector<Line>& lines) {
  std::string body;
  for (const Line& l : lines) {
    json::object o;  // ECS names, nested as Filebeat sends them
    o["@timestamp"] = Rfc3339(l.ts_ns);
    o["log"] = json::object{{"level", std::string(LevelName(l.level))}};
    o["service"] = json::object{{"name", l.service}};
    o["host"] = json::object{{"name", l.host}};
    o["message"] = l.message;
    o["trace"] = json::object{{"id", l.trace_id}};
    o["user"] = json::object{{"id", l.user_id}};
    o["shop"] = l.shop;
    body += "{\"create\":{}}\n" + json::serialize(o) + "\n";
  }
  return body;
}

std::string LokiJsonBody(const std::vector<Line>& lines) {
  json::array streams;
  for (const Line& l : lines) {
    json::object labels{
        {"service_name", l.service}, {"host", l.host}, {"level", std::string(LevelName(l.level))}};
    json::object metadata{{"trace_id", l.trace_id}, {"user_id", l.user_id}, {"shop", l.shop}};
    json::array entry{std::to_string(l.ts_ns), l.message, metadata};
    streams.push_back(json::object{{"stream", labels}, {"values", json::array{entry}}});
  }
  return json::serialize(json::object{{"streams", streams}});
}

std::string LokiProtobufBody(const std::vector<Line>& lines) {
  logproto::PushRequest request;
  for (const Line& l : lines) {
    auto* stream = request.add_streams();
    stream->set_labels("{service_name=\"" + l.service + "\", host=\"" + l.host + "\", level=\"" +
                       std::string(LevelName(l.level)) + "\"}");
    auto* entry = stream->add_entries();
    entry->mutable_timestamp()->set_seconds(l.ts_ns / 1'000'000'000);
    entry->mutable_timestamp()->set_nanos(static_cast<int>(l.ts_ns % 1'000'000'000));
    entry->set_line(l.message);
    for (auto [name, value] : {std::pair{"trace_id", &l.trace_id}, std::pair{"user_id", &l.user_id},
                               std::pair{"shop", &l.shop}}) {
      auto* pair = entry->add_structuredmetadata();
      pair->set_name(name);
      pair->set_value(*value);
    }
  }
  std::string raw = request.SerializeAsString(), compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

json::object StringAttribute(const std::string& key, const std::string& value) {
  return json::object{{"key", key}, {"value", json::object{{"stringValue", value}}}};
}

std::string OtlpJsonBody(const std::vector<Line>& lines) {
  json::array resource_logs;
  for (const Line& l : lines) {
    json::object record{{"timeUnixNano", std::to_string(l.ts_ns)},
                        {"severityNumber", OtelSeverity(l.level)},
                        {"body", json::object{{"stringValue", l.message}}},
                        {"traceId", l.trace_id},
                        {"attributes", json::array{StringAttribute("user_id", l.user_id),
                                                   StringAttribute("shop", l.shop)}}};
    json::object resource{{"attributes", json::array{StringAttribute("service.name", l.service),
                                                     StringAttribute("host.name", l.host)}}};
    resource_logs.push_back(json::object{
        {"resource", resource},
        {"scopeLogs", json::array{json::object{{"logRecords", json::array{record}}}}}});
  }
  return json::serialize(json::object{{"resourceLogs", resource_logs}});
}

std::string OtlpProtobufBody(const std::vector<Line>& lines) {
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest request;
  for (const Line& l : lines) {
    auto* rl = request.add_resource_logs();
    auto add = [](auto* attributes, const std::string& key, const std::string& value) {
      auto* kv = attributes->Add();
      kv->set_key(key);
      kv->mutable_value()->set_string_value(value);
    };
    add(rl->mutable_resource()->mutable_attributes(), "service.name", l.service);
    add(rl->mutable_resource()->mutable_attributes(), "host.name", l.host);
    auto* lr = rl->add_scope_logs()->add_log_records();
    lr->set_time_unix_nano(static_cast<uint64_t>(l.ts_ns));
    lr->set_severity_number(OtelSeverity(l.level));
    lr->mutable_body()->set_string_value(l.message);
    std::string trace;
    for (size_t i = 0; i < l.trace_id.size(); i += 2) {
      trace += static_cast<char>(std::stoi(l.trace_id.substr(i, 2), nullptr, 16));
    }
    lr->set_trace_id(trace);
    add(lr->mutable_attributes(), "user_id", l.user_id);
    add(lr->mutable_attributes(), "shop", l.shop);
  }
  return request.SerializeAsString();
}

// RFC 5424 with the ids and the extra field as structured-data parameters of SD-ID "meta".
std::string SyslogMessage(const Line& l) {
  std::string ts = Rfc3339(l.ts_ns);  // ...T12:00:00.123456000Z: RFC 5424 allows 6 digits
  const size_t dot = ts.find('.');
  if (dot != std::string::npos) ts = ts.substr(0, dot + 7) + "Z";
  return "<" + std::to_string(8 + SyslogSeverity(l.level)) + ">1 " + ts + " " + l.host + " " +
         l.service + " - - [meta trace_id=\"" + l.trace_id + "\" user_id=\"" + l.user_id +
         "\" shop=\"" + l.shop + "\"] " + l.message;
}

// A stored record as search answers it, with the door's own conventions taken out: Loki keeps
// mapped labels as fields and syslog keeps structured data as "<SD-ID>.<PARAM>" fields, next to
// the columns they filled; syslog adds facility and severity.
struct Stored {
  std::string ts, ingest_ts, level, service, host, message, trace_id, user_id;
  std::map<std::string, std::string> fields;
  std::vector<std::string> flags;

  bool operator==(const Stored&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Stored& s) {
  out << "{ts=" << s.ts << " ingest_ts=" << s.ingest_ts << " level=" << s.level
      << " service=" << s.service << " host=" << s.host << " trace_id=" << s.trace_id
      << " user_id=" << s.user_id << " message=" << s.message << " fields={";
  for (const auto& [k, v] : s.fields) out << k << "=" << v << ",";
  out << "} flags=";
  for (const std::string& flag : s.flags) out << flag << ",";
  return out << "}";
}

Stored FromHit(const json::object& hit, std::string_view door) {
  auto text = [&](const char* key) {
    const json::value* v = hit.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  Stored s{text("ts"),
           text("ingest_ts"),
           text("level"),
           text("service"),
           text("host"),
           text("message"),
           text("trace_id"),
           text("user_id"),
           {},
           {}};
  if (const json::value* flags = hit.if_contains("flags")) {
    for (const json::value& flag : flags->get_array()) s.flags.emplace_back(flag.get_string());
  }
  if (const json::value* fields = hit.if_contains("fields")) {
    for (const auto& member : fields->get_object()) {
      std::string key(member.key());
      const bool syslog = door.starts_with("syslog");
      if (syslog && (key == "facility" || key == "severity")) continue;
      if (syslog && key.starts_with("meta.")) key = key.substr(5);
      if ((syslog || door.starts_with("loki")) && ingest::ColumnOfName(key, /*labels=*/true)) {
        continue;
      }
      s.fields[key] = std::string(member.value().get_string());
    }
  }
  return s;
}

class IngestDoors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_doors_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    storage::EngineOptions options;
    options.data_dir = dir_.string();
    options.clock = &clock_;  // the engine stamps ingest_ts; the pipeline uses the same clock
    auto engine = storage::Engine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    query_ = query::QueryEngine::Create(engine_.get(), query::QueryOptions{});
    state_.clock = &clock_;
    state_.options.max_line_bytes = max_line_bytes_;
    RegisterApiRoutes(&router_, &state_);
    RegisterShipperRoutes(&router_, &state_.pipeline);
    test_server::ServeEngine(&state_, engine_.get(), query_.get());
    server_ = test_server::StartServer(&router_);
    ASSERT_NE(server_, nullptr);
    for (const char* tenant : {"syslog-tcp", "syslog-udp"}) {
      ingest::SyslogServerOptions syslog;
      syslog.tenant = tenant;
      auto started = ingest::SyslogServer::Start("127.0.0.1:0", &state_.pipeline, syslog);
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      syslog_.push_back(std::move(*started));
    }
  }
  void TearDown() override {
    for (auto& s : syslog_) s->Stop();
    if (server_) server_->Stop();
    if (engine_) {
      EXPECT_TRUE(engine_->Close().ok());
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Status and body of one request.
  std::pair<int, std::string> Send(const std::string& method, const std::string& target,
                                   const std::string& tenant, const std::string& content_type,
                                   const std::string& body) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    test_server::Answer a =
        test_server::Send(server_->port(), method, target, tenant, body, headers, 64u << 20);
    return {a.status, a.body};
  }

  std::vector<Stored> Search(const std::string& tenant) {
    auto [status, body] = Send("GET", "/api/v1/search?all_time=true&limit=1000", tenant, "", "");
    EXPECT_EQ(status, 200) << body;
    std::vector<Stored> out;
    if (status != 200) return out;
    const json::value answer = json::parse(body);
    for (const json::value& hit : answer.at("hits").as_array()) {
      out.push_back(FromHit(hit.as_object(), tenant));
    }
    std::sort(out.begin(), out.end(), [](const Stored& a, const Stored& b) { return a.ts < b.ts; });
    return out;
  }

  // Waits (up to 30 s: the machine is shared) until "tenant" holds "count" records.
  std::vector<Stored> SearchWhenStored(const std::string& tenant, size_t count) {
    std::vector<Stored> stored;
    for (int attempt = 0; attempt < 300; ++attempt) {
      stored = Search(tenant);
      if (stored.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return stored;
  }

  // The same lines through the Loki (JSON, protobuf), OTLP (JSON, protobuf) and syslog doors.
  void SendToLokiOtlpAndSyslog(const std::vector<Line>& lines) {
    EXPECT_EQ(
        Send("POST", "/loki/api/v1/push", "loki-json", "application/json", LokiJsonBody(lines))
            .first,
        204);
    EXPECT_EQ(Send("POST", "/loki/api/v1/push", "loki-proto", "application/x-protobuf",
                   LokiProtobufBody(lines))
                  .first,
              204);
    EXPECT_EQ(Send("POST", "/v1/logs", "otlp-json", "application/json", OtlpJsonBody(lines)).first,
              200);
    EXPECT_EQ(
        Send("POST", "/v1/logs", "otlp-proto", "application/x-protobuf", OtlpProtobufBody(lines))
            .first,
        200);
    SendToSyslog(lines);
  }

  void SendToSyslog(const std::vector<Line>& lines) {
    net::io_context ioc;
    tcp::socket tcp_socket(ioc);
    tcp_socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), syslog_[0]->port()));
    std::string stream;
    for (const Line& l : lines) stream += SyslogMessage(l) + "\n";
    net::write(tcp_socket, net::buffer(stream));
    udp::socket udp_socket(ioc, udp::endpoint(udp::v4(), 0));
    for (const Line& l : lines) {
      const std::string datagram = SyslogMessage(l);
      udp_socket.send_to(net::buffer(datagram),
                         udp::endpoint(net::ip::make_address("127.0.0.1"), syslog_[1]->port()));
    }
  }

  size_t max_line_bytes_ = 256 * 1024;  // the server's default
  std::filesystem::path dir_;
  ManualClock clock_{kNow};
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<query::QueryEngine> query_;
  ApiState state_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::unique_ptr<ingest::SyslogServer>> syslog_;
};

TEST_F(IngestDoors, TheSameLinesThroughEveryDoorAreTheSameStoredRecords) {
  const std::vector<Line> lines = RealLines();
  ASSERT_EQ(lines.size(), 20u);

  EXPECT_EQ(
      Send("POST", "/api/v1/ingest", "native", "application/x-ndjson", NativeBody(lines)).first,
      200);
  auto es = Send("POST", "/_bulk", "es", "application/x-ndjson", ElasticsearchBody(lines));
  EXPECT_EQ(es.first, 200);
  EXPECT_EQ(json::parse(es.second).at("errors"), false) << es.second;
  SendToLokiOtlpAndSyslog(lines);

  const std::vector<Stored> native = SearchWhenStored("native", lines.size());
  ASSERT_EQ(native.size(), lines.size());
  // The reference: what native ingestion stored is what the lines say.
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    EXPECT_EQ(native[i].ts, Rfc3339(l.ts_ns));
    EXPECT_EQ(native[i].ingest_ts, Rfc3339(kNow)) << "one clock for every door";
    EXPECT_EQ(native[i].level, LevelName(l.level));
    EXPECT_EQ(native[i].service, l.service);
    EXPECT_EQ(native[i].host, l.host);
    EXPECT_EQ(native[i].message, l.message);
    EXPECT_EQ(native[i].trace_id, l.trace_id);
    EXPECT_EQ(native[i].user_id, l.user_id);
    EXPECT_EQ(native[i].fields, (std::map<std::string, std::string>{{"shop", l.shop}}));
    EXPECT_TRUE(native[i].flags.empty());
  }
  for (const char* door :
       {"es", "loki-json", "loki-proto", "otlp-json", "otlp-proto", "syslog-tcp", "syslog-udp"}) {
    const std::vector<Stored> stored = SearchWhenStored(door, lines.size());
    ASSERT_EQ(stored.size(), lines.size()) << door;
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(stored[i], native[i]) << door << ", line " << i;
    }
  }
}

// The server's max_line_bytes bounds the stored message at every door, not only the native one.
class IngestDoorsWithShortLines : public IngestDoors {
 protected:
  void SetUp() override {
    max_line_bytes_ = 48;
    IngestDoors::SetUp();
  }
};

TEST_F(IngestDoorsWithShortLines, EveryDoorCutsTheMessageAtMaxLineAndFlagsIt) {
  const std::vector<Line> lines = RealLines();
  ASSERT_EQ(lines.size(), 20u);
  std::string plain;
  for (const Line& l : lines) plain += l.message + "\n";
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "native", "text/plain", plain).first, 200);
  EXPECT_EQ(Send("POST", "/_bulk", "es", "application/x-ndjson", ElasticsearchBody(lines)).first,
            200);
  SendToLokiOtlpAndSyslog(lines);

  std::multiset<std::string> expected;
  for (const Line& l : lines) expected.insert(l.message.substr(0, 48));
  for (const char* door : {"native", "es", "loki-json", "loki-proto", "otlp-json", "otlp-proto",
                           "syslog-tcp", "syslog-udp"}) {
    const std::vector<Stored> stored = SearchWhenStored(door, lines.size());
    ASSERT_EQ(stored.size(), lines.size()) << door;
    std::multiset<std::string> messages;
    for (const Stored& s : stored) {
      messages.insert(s.message);
      EXPECT_EQ(s.flags, std::vector<std::string>{"truncated"}) << door << ": " << s;
    }
    EXPECT_EQ(messages, expected) << door;
  }
}

}  // namespace
}  // namespace sawmill::http
