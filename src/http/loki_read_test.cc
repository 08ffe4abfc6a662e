// Loki's read API over a real server, a real storage engine and real log lines (loghub samples):
// golden request/answer pairs checked field by field against the shapes of Loki's documented
// API (including the requests Grafana's data source makes), and differential tests: each LogQL
// query gives the lines and counts of the equivalent native query and of a line-by-line
// reference evaluation written here from LogQL's definition.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "common/time_format.h"
#include "http/api_routes.h"
#include "http/api_test_fixture.h"
#include "http/export_routes.h"
#include "http/http_server.h"
#include "http/loki_read_routes.h"
#include "http/shipper_routes.h"
#include "query/test_dataset.h"

namespace sawmill::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using query::testing::kDatasetStart;

constexpr int64_t kSecond = 1'000'000'000;

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class LokiRead : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    records_ = new std::vector<Record>(query::testing::LoadDataset());
  }
  static void TearDownTestSuite() {
    delete records_;
    records_ = nullptr;
  }

  void SetUp() override {
    ASSERT_GT(records_->size(), 5000u) << "dataset missing under " << query::testing::SharedDir();
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_loki_read_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    storage::EngineOptions options;
    options.data_dir = dir_.string();
    auto engine = storage::Engine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    query_ = query::QueryEngine::Create(engine_.get(), query::QueryOptions{});
    RegisterApiRoutes(&router_, &state_);
    RegisterShipperRoutes(&router_, &state_.pipeline);
    RegisterLokiReadRoutes(&router_, &state_);
    RegisterExportRoutes(&router_, &state_);
    hub_ = tail::TailHub::Create(tail::TailHubOptions{});
    state_.pipeline.AddListener(
        [hub = hub_.get()](const ingest::BatchInfo& batch, const std::vector<Record>& records) {
          hub->Publish(batch.tenant, records);
        });
    test_server::ServeEngine(&state_, engine_.get(), query_.get());
    HttpServerOptions http;
    http.framed_tails["/loki/api/v1/tail"] = LokiTailSubscriber(&state_, hub_.get());
    server_ = test_server::StartServer(&router_, http);
    ASSERT_NE(server_, nullptr);
    // Most lines in segments, the newest in the memtable.
    std::vector<Record> first(records_->begin(), records_->end() - 700);
    std::vector<Record> rest(records_->end() - 700, records_->end());
    ASSERT_TRUE(engine_->Append("default", &first).ok());
    ASSERT_TRUE(engine_->Flush().ok());
    ASSERT_TRUE(engine_->Append("default", &rest).ok());
  }
  void TearDown() override {
    if (hub_) hub_->Shutdown();
    if (server_) {
      server_->CloseTailSessions(2000);
      server_->Stop();
    }
    if (engine_) {
      EXPECT_TRUE(engine_->Close().ok());
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::pair<int, std::string> Get(const std::string& target, const std::string& tenant = "") {
    test_server::Answer a =
        test_server::Send(server_->port(), "GET", target, tenant, "", {}, 256u << 20);
    return {a.status, a.body};
  }

  json::value GetJson(const std::string& target) {
    auto [status, body] = Get(target);
    EXPECT_EQ(status, 200) << target << "\n" << body.substr(0, 500);
    return json::parse(body);
  }

  static std::string Range(int64_t start, int64_t end) {
    return "&start=" + std::to_string(start) + "&end=" + std::to_string(end);
  }

  static std::vector<Record>* records_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<query::QueryEngine> query_;
  ApiState state_;
  Router router_;
  std::unique_ptr<tail::TailHub> hub_;
  std::unique_ptr<HttpServer> server_;
};

std::vector<Record>* LokiRead::records_ = nullptr;

const int64_t kStart = kDatasetStart - 10 * kSecond;
const int64_t kEnd = kDatasetStart + 3 * 3600 * kSecond;

// ---------------------------------------------------------------------------------------------
// Shapes

// A label set: an object of strings.
void ExpectLabelSet(const json::value& v) {
  ASSERT_TRUE(v.is_object());
  for (const auto& kv : v.as_object()) EXPECT_TRUE(kv.value().is_string()) << kv.key();
}

void ExpectStatsShape(const json::value& stats) {
  ASSERT_TRUE(stats.is_object());
  const json::object& summary = stats.at("summary").as_object();
  for (const char* f : {"bytesProcessedPerSecond", "linesProcessedPerSecond", "totalBytesProcessed",
                        "totalLinesProcessed", "totalEntriesReturned"}) {
    EXPECT_TRUE(summary.at(f).is_int64() || summary.at(f).is_uint64()) << f;
  }
  EXPECT_TRUE(summary.at("execTime").is_number());
  EXPECT_TRUE(summary.at("queueTime").is_number());
}

// {"status":"success","data":{"resultType":"streams","result":[{"stream":{..},"values":[["ns","line"],..]}],"stats":{..}}}
void ExpectStreamsShape(const json::value& v) {
  EXPECT_EQ(v.at("status").as_string(), "success");
  const json::object& data = v.at("data").as_object();
  EXPECT_EQ(data.at("resultType").as_string(), "streams");
  for (const json::value& s : data.at("result").as_array()) {
    const json::object& stream = s.as_object();
    EXPECT_EQ(stream.size(), 2u);
    ExpectLabelSet(stream.at("stream"));
    for (const json::value& e : stream.at("values").as_array()) {
      const json::array& pair = e.as_array();
      ASSERT_EQ(pair.size(), 2u);
      const std::string ns(pair[0].as_string());
      EXPECT_FALSE(ns.empty());
      EXPECT_EQ(ns.find_first_not_of("0123456789"), std::string::npos) << ns;
      EXPECT_TRUE(pair[1].is_string());
    }
  }
  ExpectStatsShape(data.at("stats"));
}

// matrix: [{"metric":{..},"values":[[<seconds>,"<value>"],..]}]
void ExpectMatrixShape(const json::value& v, bool with_stats = true) {
  EXPECT_EQ(v.at("status").as_string(), "success");
  const json::object& data = v.at("data").as_object();
  EXPECT_EQ(data.at("resultType").as_string(), "matrix");
  for (const json::value& s : data.at("result").as_array()) {
    ExpectLabelSet(s.at("metric"));
    for (const json::value& p : s.at("values").as_array()) {
      ASSERT_EQ(p.as_array().size(), 2u);
      EXPECT_TRUE(p.as_array()[0].is_number());
      EXPECT_TRUE(p.as_array()[1].is_string());
    }
  }
  if (with_stats) ExpectStatsShape(data.at("stats"));
}

TEST_F(LokiRead, QueryRangeLogQueryHasLokisShapeNewestFirstAndTheLimit) {
  json::value v = GetJson("/loki/api/v1/query_range?query=" + UrlEncode(R"({service="openssh"})") +
                          Range(kStart, kEnd));
  ExpectStreamsShape(v);
  size_t entries = 0;
  for (const json::value& s : v.at("data").at("result").as_array()) {
    EXPECT_EQ(s.at("stream").at("service").as_string(), "openssh");
    int64_t previous = INT64_MAX;
    for (const json::value& e : s.at("values").as_array()) {
      int64_t ts = std::stoll(std::string(e.as_array()[0].as_string()));
      EXPECT_LE(ts, previous);  // backward: newest first
      previous = ts;
      ++entries;
    }
  }
  EXPECT_EQ(entries, 100u);  // Loki's default limit
  EXPECT_EQ(v.at("data").at("stats").at("summary").at("totalEntriesReturned").as_int64(), 100);
}

TEST_F(LokiRead, GrafanaHealthCheckAsksLabelsForTheLastMinutes) {
  // Grafana's "Save & test": /labels with a short range ending now. No lines are that recent
  // here, and the answer is still a success with a (possibly empty) list.
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json::value v = GetJson("/loki/api/v1/labels?start=" + std::to_string(now - 600 * kSecond) +
                          "&end=" + std::to_string(now));
  EXPECT_EQ(v.at("status").as_string(), "success");
  EXPECT_TRUE(v.at("data").is_array());
  json::value all = GetJson("/loki/api/v1/labels?" + Range(kStart, kEnd).substr(1));
  std::set<std::string> names;
  for (const json::value& n : all.at("data").as_array()) names.insert(std::string(n.as_string()));
  for (const char* want : {"service", "host", "level", "line_id", "event_id"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
}

TEST_F(LokiRead, LabelValuesAndSeries) {
  json::value v = GetJson("/loki/api/v1/label/service/values?" + Range(kStart, kEnd).substr(1));
  EXPECT_EQ(v.at("status").as_string(), "success");
  std::vector<std::string> services;
  for (const json::value& s : v.at("data").as_array()) services.emplace_back(s.as_string());
  EXPECT_EQ(services,
            (std::vector<std::string>{"apache", "hadoop", "hdfs", "openssh", "zookeeper"}));
  json::value levels =
      GetJson("/loki/api/v1/label/level/values?query=" + UrlEncode(R"({service="apache"})") +
              Range(kStart, kEnd));
  std::set<std::string> want;
  for (const Record& r : *records_) {
    if (r.service == "apache" && r.level != Level::kUnknown) {
      want.insert(Lower(std::string(LevelName(r.level))));
    }
  }
  std::set<std::string> got;
  for (const json::value& s : levels.at("data").as_array()) got.emplace(s.as_string());
  EXPECT_EQ(got, want);

  json::value series = GetJson(
      "/loki/api/v1/series?match%5B%5D=" + UrlEncode(R"({service="hdfs"})") +
      "&match%5B%5D=" + UrlEncode(R"({service="apache", level="error"})") + Range(kStart, kEnd));
  EXPECT_EQ(series.at("status").as_string(), "success");
  std::set<std::tuple<std::string, std::string, std::string>> want_sets, got_sets;
  for (const Record& r : *records_) {
    if (r.service == "hdfs" || (r.service == "apache" && r.level == Level::kError)) {
      want_sets.emplace(r.service, r.host,
                        r.level == Level::kUnknown ? "" : Lower(std::string(LevelName(r.level))));
    }
  }
  for (const json::value& s : series.at("data").as_array()) {
    ExpectLabelSet(s);
    const json::object& o = s.as_object();
    got_sets.emplace(std::string(o.at("service").as_string()),
                     std::string(o.at("host").as_string()),
                     o.contains("level") ? std::string(o.at("level").as_string()) : "");
  }
  EXPECT_EQ(got_sets, want_sets);
}

TEST_F(LokiRead, ExploreLogVolumeCountsByLevelPerStep) {
  // Grafana Explore's log volume: sum by (level) (count_over_time({...}[$__interval])) with
  // step = $__interval.
  const int64_t step = 60 * kSecond;
  const std::string q = R"(sum by (level) (count_over_time({service=~"hdfs|zookeeper"}[1m])))";
  json::value v =
      GetJson("/loki/api/v1/query_range?query=" + UrlEncode(q) + "&step=60" + Range(kStart, kEnd));
  ExpectMatrixShape(v);
  // Reference: the lines of each level in (t - 1m, t] for every step t.
  const int64_t first = (kStart / step) * step, last = (kEnd / step) * step;
  std::map<std::string, std::map<int64_t, int64_t>> want;
  for (const Record& r : *records_) {
    if (r.service != "hdfs" && r.service != "zookeeper") continue;
    std::string level = r.level == Level::kUnknown ? "" : Lower(std::string(LevelName(r.level)));
    int64_t t = (r.ts + step - 1) / step * step;  // the step whose window holds r.ts
    if (t >= first && t <= last) ++want[level][t];
  }
  std::map<std::string, std::map<int64_t, int64_t>> got;
  for (const json::value& s : v.at("data").at("result").as_array()) {
    const json::object& metric = s.at("metric").as_object();
    std::string level = metric.contains("level") ? std::string(metric.at("level").as_string()) : "";
    EXPECT_LE(metric.size(), 1u);
    for (const json::value& p : s.at("values").as_array()) {
      int64_t t = static_cast<int64_t>(p.as_array()[0].to_number<double>()) * kSecond;
      got[level][t] = std::stoll(std::string(p.as_array()[1].as_string()));
    }
  }
  EXPECT_EQ(got, want);
}

TEST_F(LokiRead, InstantMetricQueryIsAVectorAndLogQueryIsRefused) {
  const int64_t at = kDatasetStart + 3600 * kSecond;
  json::value v =
      GetJson("/loki/api/v1/query?query=" +
              UrlEncode(R"(topk(2, sum by (service) (count_over_time({host=~".+"}[10m]))))") +
              "&time=" + std::to_string(at));
  EXPECT_EQ(v.at("status").as_string(), "success");
  EXPECT_EQ(v.at("data").at("resultType").as_string(), "vector");
  std::map<std::string, int64_t> counts;
  for (const Record& r : *records_) {
    if (r.ts > at - 600 * kSecond && r.ts <= at) ++counts[r.service];
  }
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (auto& [s, n] : counts) sorted.emplace_back(-n, s);
  std::sort(sorted.begin(), sorted.end());
  const json::array& result = v.at("data").at("result").as_array();
  ASSERT_EQ(result.size(), 2u);
  std::map<std::string, std::string> got;
  for (const json::value& s : result) {
    const json::array& value = s.at("value").as_array();
    EXPECT_EQ(value[0].to_number<double>(), static_cast<double>(at / kSecond));
    got[std::string(s.at("metric").at("service").as_string())] = std::string(value[1].as_string());
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(got[sorted[i].second], std::to_string(-sorted[i].first)) << sorted[i].second;
  }
  auto [status, body] = Get("/loki/api/v1/query?query=" + UrlEncode(R"({service="hdfs"})"));
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("log queries are not supported as an instant query"), std::string::npos);
}

TEST_F(LokiRead, OutsideTheSubsetIsA400NamingTheConstructAndWhere) {
  struct Case {
    const char* query;
    const char* names;
    const char* where;
  };
  const Case cases[] = {
      {R"({service="hdfs"} | unwrap bytes)", "unwrap", "at 1:20"},
      {R"({service="hdfs"} | status > 10XB)", "a duration (like 10s", "at 1:29"},
      {R"(sum_over_time({service="hdfs"}[5m]))", "sum_over_time", "at 1:1"},
      {R"(count_over_time({service="hdfs"}[5m]) / 2)", "binary operator '/'", "at 1:39"},
      {R"({service="hdfs"} |> "<_> error")", "pattern line filter", "at 1:18"},
      {R"({service="hdfs"} | line_format "{{ .a | ToUpper }}")", "template action", "at 1:32"},
      {R"({service="hdfs")", "expected ',' or '}'", "at 1:16"},
  };
  for (const Case& c : cases) {
    auto [status, body] = Get("/loki/api/v1/query_range?query=" + UrlEncode(c.query));
    EXPECT_EQ(status, 400) << c.query;
    EXPECT_NE(body.find(c.names), std::string::npos) << c.query << ": " << body;
    EXPECT_NE(body.find(c.where), std::string::npos) << c.query << ": " << body;
  }
  auto [status, body] = Get("/loki/api/v1/query_range?query=x&direction=sideways");
  EXPECT_EQ(status, 400);
}

TEST_F(LokiRead, LineFormatAndLabelFormat) {
  json::value v = GetJson(
      "/loki/api/v1/query_range?limit=5&query=" +
      UrlEncode(
          R"({service="hdfs"} | json | line_format "{{.host}} #{{.line_id}}: {{__line__}}" | label_format svc=service, id="{{.line_id}}")") +
      Range(kStart, kEnd));
  ExpectStreamsShape(v);
  size_t n = 0;
  for (const json::value& s : v.at("data").at("result").as_array()) {
    const json::object& labels = s.at("stream").as_object();
    EXPECT_FALSE(labels.contains("service"));
    EXPECT_EQ(labels.at("svc").as_string(), "hdfs");
    const std::string id(labels.at("id").as_string());
    for (const json::value& e : s.at("values").as_array()) {
      const std::string line(e.as_array()[1].as_string());
      EXPECT_EQ(line.find(std::string(labels.at("host").as_string()) + " #" + id + ": "), 0u)
          << line;
      ++n;
    }
  }
  EXPECT_EQ(n, 5u);
}

TEST_F(LokiRead, LiveTailOverWebSocketSendsTheRecentLinesThenNewOnesInLokisShape) {
  net::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  beast::get_lowest_layer(ws).connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  // As Grafana's live tail asks: the query, a start, a limit.
  ws.handshake("127.0.0.1", "/loki/api/v1/tail?limit=3&start=" + std::to_string(kStart) +
                                "&query=" + UrlEncode(R"({service="hdfs"} |= "Receiving")"));
  auto read = [&] {
    beast::flat_buffer buffer;
    ws.read(buffer);
    return json::parse(beast::buffers_to_string(buffer.data()));
  };
  // First the three newest matching lines, oldest first.
  std::vector<const Record*> want;
  for (const Record& r : *records_) {
    if (r.service == "hdfs" && r.message.find("Receiving") != std::string::npos) want.push_back(&r);
  }
  ASSERT_GE(want.size(), 3u);
  json::value first = read();
  ASSERT_TRUE(first.as_object().contains("dropped_entries"));
  std::vector<std::pair<int64_t, std::string>> got;
  for (const json::value& s : first.at("streams").as_array()) {
    ExpectLabelSet(s.at("stream"));
    EXPECT_EQ(s.at("stream").at("service").as_string(), "hdfs");
    for (const json::value& e : s.at("values").as_array()) {
      got.emplace_back(std::stoll(std::string(e.as_array()[0].as_string())),
                       std::string(e.as_array()[1].as_string()));
    }
  }
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].second, want[want.size() - 3 + i]->message);
  }
  // Then a line pushed through Loki's push API, as it is acknowledged; one that does not match
  // the line filter is not sent.
  const int64_t ts = kDatasetStart + 5000 * kSecond;
  const std::string push = R"({"streams":[{"stream":{"service":"hdfs","host":"h9"},"values":[[")" +
                           std::to_string(ts) + R"(","skipped line"],[")" + std::to_string(ts + 1) +
                           R"(","Receiving block blk_42 from tail"]]}]})";
  net::io_context push_ioc;
  beast::tcp_stream stream(push_ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/loki/api/v1/push", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::content_type, "application/json");
  req.body() = push;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res);
  ASSERT_EQ(res.result_int(), 204u) << res.body();
  json::value live = read();
  const json::array& streams = live.at("streams").as_array();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].at("stream").at("host").as_string(), "h9");
  const json::array& values = streams[0].at("values").as_array();
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].as_array()[0].as_string(), std::to_string(ts + 1));
  EXPECT_EQ(values[0].as_array()[1].as_string(), "Receiving block blk_42 from tail");
  EXPECT_TRUE(live.at("dropped_entries").is_null());
  ws.close(beast::websocket::close_code::normal);
  // Without an upgrade, and with a metric query: plain-text 400s.
  auto [status, body] = Get("/loki/api/v1/tail?query=" + UrlEncode(R"({service="hdfs"})"));
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("WebSocket"), std::string::npos);
}

TEST_F(LokiRead, IndexStatsAndVolumesCountLinesAndBytesExactly) {
  uint64_t entries = 0, bytes = 0;
  std::set<std::string> streams;
  std::map<std::string, int64_t> by_level;  // zookeeper's bytes per level
  for (const Record& r : *records_) {
    if (r.service != "zookeeper") continue;
    ++entries;
    bytes += r.message.size();
    streams.insert(r.host + "/" + std::string(LevelName(r.level)));
    if (r.level != Level::kUnknown) {
      by_level[Lower(std::string(LevelName(r.level)))] += static_cast<int64_t>(r.message.size());
    }
  }
  json::value stats =
      GetJson("/loki/api/v1/index/stats?query=" + UrlEncode(R"({service="zookeeper"})") +
              Range(kStart, kEnd));
  // Loki's shape: four numbers, no status wrapper.
  ASSERT_EQ(stats.as_object().size(), 4u);
  EXPECT_EQ(stats.at("entries").as_int64(), static_cast<int64_t>(entries));
  EXPECT_EQ(stats.at("bytes").as_int64(), static_cast<int64_t>(bytes));
  EXPECT_EQ(stats.at("streams").as_int64(), static_cast<int64_t>(streams.size()));
  EXPECT_TRUE(stats.at("chunks").is_int64());

  json::value volume = GetJson("/loki/api/v1/index/volume?targetLabels=level&query=" +
                               UrlEncode(R"({service="zookeeper"})") + Range(kStart, kEnd));
  EXPECT_EQ(volume.at("status").as_string(), "success");
  EXPECT_EQ(volume.at("data").at("resultType").as_string(), "vector");
  std::map<std::string, int64_t> got;
  int64_t previous = INT64_MAX;
  for (const json::value& s : volume.at("data").at("result").as_array()) {
    ASSERT_EQ(s.at("metric").as_object().size(), 1u);
    const int64_t v = std::stoll(std::string(s.at("value").as_array()[1].as_string()));
    EXPECT_LE(v, previous);  // largest first
    previous = v;
    got[std::string(s.at("metric").at("level").as_string())] = v;
  }
  EXPECT_EQ(got, by_level);

  // volume_range: the bytes of each level per (t - 10m, t].
  const int64_t step = 600 * kSecond;
  json::value ranged =
      GetJson("/loki/api/v1/index/volume_range?step=10m&targetLabels=level&query=" +
              UrlEncode(R"({service="zookeeper"})") + Range(kStart, kEnd));
  ExpectMatrixShape(ranged, /*with_stats=*/false);
  std::map<std::string, std::map<int64_t, int64_t>> want_range, got_range;
  for (const Record& r : *records_) {
    if (r.service != "zookeeper" || r.level == Level::kUnknown) continue;
    want_range[Lower(std::string(LevelName(r.level)))][(r.ts + step - 1) / step * step] +=
        static_cast<int64_t>(r.message.size());
  }
  for (const json::value& s : ranged.at("data").at("result").as_array()) {
    for (const json::value& p : s.at("values").as_array()) {
      got_range[std::string(s.at("metric").at("level").as_string())]
               [static_cast<int64_t>(p.as_array()[0].to_number<double>()) * kSecond] =
                   std::stoll(std::string(p.as_array()[1].as_string()));
    }
  }
  EXPECT_EQ(got_range, want_range);
}

TEST_F(LokiRead, DetectedLabelsAndFields) {
  json::value labels =
      GetJson("/loki/api/v1/detected_labels?query=" + UrlEncode(R"({service=~"hdfs|apache"})") +
              Range(kStart, kEnd));
  std::map<std::string, std::set<std::string>> want;
  for (const Record& r : *records_) {
    if (r.service != "hdfs" && r.service != "apache") continue;
    want["service"].insert(r.service);
    want["host"].insert(r.host);
    if (r.level != Level::kUnknown) want["level"].insert(std::string(LevelName(r.level)));
  }
  std::map<std::string, size_t> got;
  for (const json::value& l : labels.at("detectedLabels").as_array()) {
    got[std::string(l.at("label").as_string())] =
        static_cast<size_t>(l.at("cardinality").as_int64());
  }
  EXPECT_EQ(got, (std::map<std::string, size_t>{{"service", want["service"].size()},
                                                {"host", want["host"].size()},
                                                {"level", want["level"].size()}}));

  json::value fields = GetJson("/loki/api/v1/detected_fields?line_limit=50&query=" +
                               UrlEncode(R"({service="hdfs"})") + Range(kStart, kEnd));
  EXPECT_EQ(fields.at("limit").as_int64(), 50);
  std::map<std::string, std::string> types;
  for (const json::value& f : fields.at("fields").as_array()) {
    EXPECT_GE(f.at("cardinality").as_int64(), 1);
    types[std::string(f.at("label").as_string())] = std::string(f.at("type").as_string());
  }
  EXPECT_EQ(types["line_id"], "int");
  EXPECT_EQ(types["component"], "string");
}

TEST_F(LokiRead, ForwardDirectionGivesTheOldestLinesOldestFirst) {
  std::vector<std::pair<int64_t, std::string>> want;
  for (const Record& r : *records_) {
    if (r.service == "openssh") want.emplace_back(r.ts, r.message);
  }
  std::sort(want.begin(), want.end());
  want.resize(150);
  json::value v = GetJson("/loki/api/v1/query_range?direction=FORWARD&limit=150&query=" +
                          UrlEncode(R"({service="openssh"})") + Range(kStart, kEnd));
  ExpectStreamsShape(v);
  std::vector<std::pair<int64_t, std::string>> got;
  for (const json::value& s : v.at("data").at("result").as_array()) {
    int64_t previous = INT64_MIN;
    for (const json::value& e : s.at("values").as_array()) {
      const int64_t ts = std::stoll(std::string(e.as_array()[0].as_string()));
      EXPECT_GE(ts, previous);  // forward: oldest first within each stream
      previous = ts;
      got.emplace_back(ts, std::string(e.as_array()[1].as_string()));
    }
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

// ---------------------------------------------------------------------------------------------
// Export and paging

std::vector<std::string> Lines(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    if (nl > pos) out.push_back(body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

TEST_F(LokiRead, ExportStreamsEveryMatchNewestOrOldestFirstAndResumesFromACursor) {
  // hdfs: 2,000 lines, more than one page (1,000) and than a search's default limit.
  std::vector<const Record*> hdfs;
  for (const Record& r : *records_) {
    if (r.service == "hdfs") hdfs.push_back(&r);
  }
  std::sort(hdfs.begin(), hdfs.end(),
            [](const Record* a, const Record* b) { return a->ts > b->ts; });
  const std::string base =
      "/api/v1/export?time_field=ts&q=service%3Dhdfs&from=" + std::to_string(kStart) +
      "&to=" + std::to_string(kEnd);
  for (const char* order : {"newest", "oldest"}) {
    SCOPED_TRACE(order);
    auto [status, body] = Get(base + "&order=" + order);
    ASSERT_EQ(status, 200) << body.substr(0, 300);
    std::vector<std::string> lines = Lines(body);
    ASSERT_EQ(lines.size(), hdfs.size());
    std::set<std::string> ids;
    int64_t previous = std::string(order) == "newest" ? INT64_MAX : INT64_MIN;
    for (const std::string& line : lines) {
      json::value v = json::parse(line);
      ids.insert(std::string(v.at("id").as_string()));
      const int64_t ts = *ParseRfc3339(v.at("ts").as_string());
      if (std::string(order) == "newest") {
        EXPECT_LE(ts, previous);
      } else {
        EXPECT_GE(ts, previous);
      }
      previous = ts;
    }
    EXPECT_EQ(ids.size(), hdfs.size());  // every line once
  }
  // Resume after the 700th line: the rest, exactly.
  auto [status, body] = Get(base);
  std::vector<std::string> all = Lines(body);
  json::value at = json::parse(all[699]);
  const std::string cursor = std::to_string(*ParseRfc3339(at.at("ts").as_string())) + "_" +
                             std::to_string(*ParseRfc3339(at.at("ingest_ts").as_string())) + "_" +
                             std::string(at.at("id").as_string());
  auto [status2, rest] = Get(base + "&cursor=" + cursor);
  ASSERT_EQ(status2, 200) << rest.substr(0, 300);
  EXPECT_EQ(Lines(rest), std::vector<std::string>(all.begin() + 700, all.end()));
  // CSV with chosen columns.
  auto [csv_status, csv] = Get(base + "&format=csv&fields=ts,host,message");
  ASSERT_EQ(csv_status, 200);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")), "ts,host,message");
  size_t rows = 0;
  for (size_t pos = 0; (pos = csv.find("\r\n", pos)) != std::string::npos; pos += 2) ++rows;
  EXPECT_EQ(rows, hdfs.size() + 1);
  // A pipe is refused.
  auto [pipe_status, pipe_body] = Get("/api/v1/export?q=" + UrlEncode("* | count"));
  EXPECT_EQ(pipe_status, 400);
}

TEST_F(LokiRead, SearchPagesWithNextCursorCoverEveryHitOnce) {
  std::set<std::string> ids;
  std::string cursor;
  int pages = 0;
  while (true) {
    json::value v = GetJson("/api/v1/search?time_field=ts&limit=300&q=service%3Dzookeeper&from=" +
                            std::to_string(kStart) + "&to=" + std::to_string(kEnd) +
                            (cursor.empty() ? "" : "&cursor=" + cursor));
    ++pages;
    for (const json::value& h : v.at("hits").as_array()) {
      EXPECT_TRUE(ids.insert(std::string(h.at("id").as_string())).second);
    }
    if (!v.as_object().contains("next_cursor")) break;
    cursor = std::string(v.at("next_cursor").as_string());
    ASSERT_LT(pages, 20);
  }
  size_t want = 0;
  for (const Record& r : *records_) want += r.service == "zookeeper";
  EXPECT_EQ(ids.size(), want);
  EXPECT_GE(pages, 7);
}

TEST_F(LokiRead, AnExportWhoseClientLeavesFreesItsSlot) {
  // More abandoned exports than may run at once: each one that lost its client ends and frees
  // its slot, so the next is served (not 429).
  for (int i = 0; i < 6; ++i) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    bhttp::request<bhttp::string_body> req{bhttp::verb::get,
                                           "/api/v1/export?time_field=ts&all_time=1", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, req);
    char buf[4096];
    size_t n = stream.socket().read_some(net::buffer(buf));
    ASSERT_GT(n, 0u);
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
    stream.socket().close();
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto [status, body] = Get("/api/v1/export?time_field=ts&all_time=1&q=service%3Dhdfs");
    if (status == 200) {
      EXPECT_EQ(Lines(body).size(), 2000u);
      return;
    }
    EXPECT_EQ(status, 429);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "abandoned exports kept their slots";
}

TEST_F(LokiRead, TenantComesFromXScopeOrgID) {
  auto [status, body] = Get(
      "/loki/api/v1/query_range?query=" + UrlEncode(R"({service="hdfs"})") + Range(kStart, kEnd),
      "someone-else");
  EXPECT_EQ(status, 200);
  json::value v = json::parse(body);
  EXPECT_TRUE(v.at("data").at("result").as_array().empty());
  auto [ready, text] = Get("/ready");
  EXPECT_EQ(ready, 200);
  EXPECT_EQ(text, "ready\n");
}

TEST_F(LokiRead, DurationAndByteSizeLabelFiltersCompareLikeLokiAndLikeTheNativeQuery) {
  // A field "took" spelled as Go durations and a field "size" as go-humanize byte sizes, with
  // the numbers they stand for (NaN: not of that kind, never matches a comparison).
  const double nan = std::nan("");
  const std::vector<std::pair<std::string, double>> durations = {
      {"250ms", 0.25}, {"1.5s", 1.5},    {"10s", 10}, {"10.001s", 10.001}, {"1m", 60},
      {"1h30m", 5400}, {"999ms", 0.999}, {"20", nan}, {"slow", nan}};
  const std::vector<std::pair<std::string, double>> sizes = {
      {"512", 512},  {"1KB", 1000},           {"1KiB", 1024}, {"1.5k", 1500},
      {"2 MB", 2e6}, {"3MiB", 3 * 1048576.0}, {"big", nan}};
  std::vector<Record> records;
  std::vector<std::pair<double, double>> truth;  // (seconds, bytes) of record i
  for (int i = 0; i < 63; ++i) {
    Record r;
    r.ts = kDatasetStart + i * kSecond;
    r.ingest_ts = r.ts;
    r.service = "units";
    r.host = "u";
    r.level = Level::kInfo;
    r.message = "units line " + std::to_string(i);
    r.fields.emplace_back("took", durations[i % durations.size()].first);
    r.fields.emplace_back("size", sizes[i % sizes.size()].first);
    truth.emplace_back(durations[i % durations.size()].second, sizes[i % sizes.size()].second);
    records.push_back(std::move(r));
  }
  ASSERT_TRUE(engine_->Append("default", &records).ok());
  struct Case {
    const char* logql;   // after {service="units"}
    const char* native;  // the same, written in the native language here
    std::function<bool(double seconds, double bytes)> want;
  };
  const std::vector<Case> cases = {
      {"| took > 10s", R"(took>10s)", [](double d, double) { return d > 10; }},
      {"| took <= 1s", R"(took<=1s)", [](double d, double) { return d <= 1; }},
      {"| took >= 1m30s", R"(took>=90s)", [](double d, double) { return d >= 90; }},
      {"| took == 10s", R"(took>=10000ms AND took<=10000ms)",
       [](double d, double) { return d == 10; }},
      {"| size > 1KB", R"(size>1000B)", [](double, double b) { return b > 1000; }},
      // A plain number compares numbers: of the sizes, only "512" (no unit) is one.
      {"| size >= 500", R"(size>=500)", [](double, double b) { return b == 512; }},
      {"| size >= 1KiB and took < 1m", R"(size>="1 KiB" AND took<1m)",
       [](double d, double b) { return b >= 1024 && d < 60; }},
      {"| size < 2MB or took != 1.5s", R"(size<2MB OR NOT (took>=1.5s AND took<=1.5s))",
       [](double d, double b) { return b < 2e6 || !(d == 1.5); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.logql);
    std::set<std::string> want;
    for (size_t i = 0; i < truth.size(); ++i) {
      if (c.want(truth[i].first, truth[i].second)) want.insert("units line " + std::to_string(i));
    }
    ASSERT_FALSE(want.empty());
    ASSERT_LT(want.size(), truth.size());
    json::value v =
        GetJson("/loki/api/v1/query_range?limit=1000&query=" +
                UrlEncode(std::string(R"({service="units"} )") + c.logql) + Range(kStart, kEnd));
    std::set<std::string> logql;
    for (const json::value& stream : v.at("data").at("result").as_array()) {
      for (const json::value& e : stream.at("values").as_array()) {
        logql.insert(std::string(e.as_array()[1].as_string()));
      }
    }
    json::value n = GetJson("/api/v1/search?time_field=ts&limit=1000&q=" +
                            UrlEncode(std::string("service=units AND (") + c.native + ")") +
                            "&from=" + std::to_string(kStart) + "&to=" + std::to_string(kEnd));
    std::set<std::string> native;
    for (const json::value& h : n.at("hits").as_array()) {
      native.insert(std::string(h.at("message").as_string()));
    }
    EXPECT_EQ(logql, want);
    EXPECT_EQ(native, want);
  }
}

TEST_F(LokiRead, PatternsHaveLokisShapeAndCountEveryMatchingLine) {
  std::vector<Record> records;
  auto add = [&](int64_t offset_s, std::string message) {
    Record r;
    r.ts = kDatasetStart + offset_s * kSecond;
    r.ingest_ts = r.ts;
    r.service = "pat";
    r.host = "p";
    r.level = Level::kInfo;
    r.message = std::move(message);
    records.push_back(std::move(r));
  };
  for (int i = 0; i < 30; ++i) {
    add(i * 20, "user " + std::to_string(i) + " logged in from 10.0.0." + std::to_string(i));
  }
  for (int i = 0; i < 12; ++i) add(i * 60 + 5, "disk /dev/sda" + std::to_string(i) + " is full");
  for (int i = 0; i < 5; ++i) add(i * 7, "shutting down");
  ASSERT_TRUE(engine_->Append("default", &records).ok());
  const std::string range = "&start=" + std::to_string(kDatasetStart / kSecond) +
                            "&end=" + std::to_string(kDatasetStart / kSecond + 3600);
  json::value v =
      GetJson("/loki/api/v1/patterns?step=60s&query=" + UrlEncode(R"({service="pat"})") + range);
  // {"status":"success","data":[{"pattern":"...","samples":[[<seconds>,<count>],...]},...]}
  ASSERT_EQ(v.at("status").as_string(), "success");
  std::vector<std::pair<std::string, int64_t>> totals;
  std::map<std::string, std::map<int64_t, int64_t>> samples;
  for (const json::value& p : v.at("data").as_array()) {
    const json::object& o = p.as_object();
    EXPECT_EQ(o.size(), 2u);
    const std::string pattern(o.at("pattern").as_string());
    int64_t total = 0, previous = INT64_MIN;
    for (const json::value& s : o.at("samples").as_array()) {
      const json::array& pair = s.as_array();
      ASSERT_EQ(pair.size(), 2u);
      ASSERT_TRUE(pair[0].is_int64());
      ASSERT_TRUE(pair[1].is_int64());
      EXPECT_GT(pair[0].as_int64(), previous);  // ascending
      previous = pair[0].as_int64();
      EXPECT_EQ(previous % 60, 0);  // steps aligned to multiples of the step
      total += pair[1].as_int64();
      samples[pattern][previous] = pair[1].as_int64();
    }
    totals.emplace_back(pattern, total);
  }
  EXPECT_EQ(
      totals,
      (std::vector<std::pair<std::string, int64_t>>{
          {"user <_> logged in from <_>", 30}, {"disk <_> is full", 12}, {"shutting down", 5}}));
  // 20 s apart: three logins in each full minute.
  const int64_t minute0 = kDatasetStart / kSecond / 60 * 60;
  EXPECT_EQ(samples["user <_> logged in from <_>"][minute0 + 60], 3);
  // A line filter narrows the lines the patterns are made of.
  v = GetJson("/loki/api/v1/patterns?query=" + UrlEncode(R"({service="pat"} |= "disk")") + range);
  ASSERT_EQ(v.at("data").as_array().size(), 1u);
  EXPECT_EQ(v.at("data").as_array()[0].at("pattern").as_string(), "disk <_> is full");
  // Over real data: the counts add up to the matching lines.
  v = GetJson("/loki/api/v1/patterns?query=" + UrlEncode(R"({service="hdfs"})") +
              Range(kStart, kEnd));
  int64_t lines = 0;
  for (const json::value& p : v.at("data").as_array()) {
    for (const json::value& s : p.at("samples").as_array()) lines += s.as_array()[1].as_int64();
  }
  EXPECT_EQ(lines, 2000);
  EXPECT_GT(v.at("data").as_array().size(), 3u);
  // A metric query or a step past the bound is a 400 saying why.
  auto [status, body] =
      Get("/loki/api/v1/patterns?query=" + UrlEncode(R"(count_over_time({service="pat"}[1m]))") +
          range);
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("expected a log query"), std::string::npos) << body;
  auto [status2, body2] =
      Get("/loki/api/v1/patterns?step=1s&query=" + UrlEncode(R"({service="pat"})") + range);
  EXPECT_EQ(status2, 400);
  EXPECT_NE(body2.find("at most 1000"), std::string::npos) << body2;
}

// ---------------------------------------------------------------------------------------------
// Differential: random LogQL queries, their native equivalents written independently here, and a
// reference evaluation of LogQL's meaning on every line.

std::string NativeQuote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string LogqlQuote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

struct RandomQuery {
  std::string logql;
  std::string native;
  std::function<bool(const Record&)> matches;
};

RandomQuery MakeRandomQuery(std::mt19937_64* rng, const std::vector<Record>& records) {
  auto pick = [&](size_t n) { return static_cast<size_t>((*rng)() % n); };
  const Record& sample = records[pick(records.size())];
  std::vector<std::string> selectors, natives;
  std::vector<std::function<bool(const Record&)>> checks;
  // One to two stream matchers.
  const int matchers = 1 + static_cast<int>(pick(2));
  for (int m = 0; m < matchers; ++m) {
    switch (pick(6)) {
      case 0:
        selectors.push_back("service=" + LogqlQuote(sample.service));
        natives.push_back("service=" + NativeQuote(sample.service));
        checks.push_back([s = sample.service](const Record& r) { return r.service == s; });
        break;
      case 1:
        selectors.push_back("host!=" + LogqlQuote(sample.host));
        natives.push_back("NOT host=" + NativeQuote(sample.host));
        checks.push_back([h = sample.host](const Record& r) { return r.host != h; });
        break;
      case 2: {
        std::string re = sample.service.substr(0, 2) + ".*";
        selectors.push_back("service=~" + LogqlQuote(re));
        natives.push_back("service~" + NativeQuote("^(?:" + re + ")$"));
        checks.push_back([re](const Record& r) { return RE2::FullMatch(r.service, re); });
        break;
      }
      case 3: {
        std::string re = "(hdfs|apache)-[12]";
        selectors.push_back("host!~" + LogqlQuote(re));
        natives.push_back("NOT host~" + NativeQuote("^(?:" + re + ")$"));
        checks.push_back([re](const Record& r) { return !RE2::FullMatch(r.host, re); });
        break;
      }
      case 4: {
        if (sample.level == Level::kUnknown) {
          selectors.push_back("level=\"\"");
          natives.push_back("NOT level=*");
          checks.push_back([](const Record& r) { return r.level == Level::kUnknown; });
        } else {
          std::string name = Lower(std::string(LevelName(sample.level)));
          selectors.push_back("level=" + LogqlQuote(name));
          natives.push_back("level=" + std::string(LevelName(sample.level)));
          checks.push_back([l = sample.level](const Record& r) { return r.level == l; });
        }
        break;
      }
      default: {
        const std::string* c = sample.FindField("component");
        std::string v = c ? *c : "none";
        selectors.push_back("component=" + LogqlQuote(v));
        natives.push_back("component=" + NativeQuote(v));
        checks.push_back([v](const Record& r) {
          const std::string* f = r.FindField("component");
          return f != nullptr && *f == v;
        });
      }
    }
  }
  std::string logql = "{";
  for (size_t i = 0; i < selectors.size(); ++i) logql += (i ? ", " : "") + selectors[i];
  logql += "}";
  // Zero to three line filters with substrings of real messages.
  const int filters = static_cast<int>(pick(4));
  for (int f = 0; f < filters; ++f) {
    const Record& other = records[pick(records.size())];
    const std::string& msg = pick(2) ? sample.message : other.message;
    if (msg.size() < 4) continue;
    size_t at = pick(msg.size() - 3);
    std::string sub = msg.substr(at, 3 + pick(std::min<size_t>(8, msg.size() - at - 3) + 1));
    switch (pick(4)) {
      case 0:
        logql += " |= " + LogqlQuote(sub);
        natives.push_back("message~" + NativeQuote(RE2::QuoteMeta(sub)));
        checks.push_back(
            [sub](const Record& r) { return r.message.find(sub) != std::string::npos; });
        break;
      case 1:
        logql += " != " + LogqlQuote(sub);
        natives.push_back("NOT message~" + NativeQuote(RE2::QuoteMeta(sub)));
        checks.push_back(
            [sub](const Record& r) { return r.message.find(sub) == std::string::npos; });
        break;
      case 2: {
        std::string re = "(?i)" + RE2::QuoteMeta(sub.substr(0, 3)) + "[a-z0-9]";
        logql += " |~ " + LogqlQuote(re);
        natives.push_back("message~" + NativeQuote(re));
        checks.push_back([re](const Record& r) { return RE2::PartialMatch(r.message, re); });
        break;
      }
      default: {
        std::string re = RE2::QuoteMeta(sub) + "|block";
        logql += " !~ " + LogqlQuote(re);
        natives.push_back("NOT message~" + NativeQuote(re));
        checks.push_back([re](const Record& r) { return !RE2::PartialMatch(r.message, re); });
      }
    }
  }
  // Sometimes a label filter after | json.
  if (pick(3) == 0) {
    int64_t bound = static_cast<int64_t>(pick(2000));
    logql += " | json | line_id >= " + std::to_string(bound);
    natives.push_back("line_id>=" + std::to_string(bound));
    checks.push_back([bound](const Record& r) {
      const std::string* f = r.FindField("line_id");
      return f != nullptr && std::stoll(*f) >= bound;
    });
  }
  RandomQuery q;
  q.logql = logql;
  for (size_t i = 0; i < natives.size(); ++i) q.native += (i ? " AND (" : "(") + natives[i] + ")";
  q.matches = [checks](const Record& r) {
    for (const auto& c : checks) {
      if (!c(r)) return false;
    }
    return true;
  };
  return q;
}

TEST_F(LokiRead, RandomLogQueriesGiveTheLinesOfTheirNativeEquivalentAndOfTheReference) {
  std::mt19937_64 rng(20261204);
  int nonempty = 0;
  for (int i = 0; i < 60; ++i) {
    RandomQuery q = MakeRandomQuery(&rng, *records_);
    SCOPED_TRACE(q.logql + "  <=>  " + q.native);
    // LogQL: every line (limit 10000 covers the 10,000-line dataset).
    json::value v = GetJson("/loki/api/v1/query_range?limit=10000&query=" + UrlEncode(q.logql) +
                            Range(kStart, kEnd));
    ExpectStreamsShape(v);
    std::multiset<std::pair<int64_t, std::string>> logql_lines;
    for (const json::value& s : v.at("data").at("result").as_array()) {
      const json::object& labels = s.at("stream").as_object();
      for (const json::value& e : s.at("values").as_array()) {
        logql_lines.emplace(std::stoll(std::string(e.as_array()[0].as_string())),
                            std::string(labels.at("service").as_string()) + "|" +
                                std::string(e.as_array()[1].as_string()));
      }
    }
    // Native.
    json::value n = GetJson("/api/v1/search?time_field=ts&limit=10000&q=" + UrlEncode(q.native) +
                            "&from=" + std::to_string(kStart) + "&to=" + std::to_string(kEnd));
    std::multiset<std::pair<int64_t, std::string>> native_lines;
    for (const json::value& h : n.at("hits").as_array()) {
      const std::optional<int64_t> ts = ParseRfc3339(h.at("ts").as_string());
      ASSERT_TRUE(ts.has_value());
      native_lines.emplace(
          *ts, std::string(h.at("service").as_string()) + "|" +
                   (h.as_object().contains("message") ? std::string(h.at("message").as_string())
                                                      : std::string()));
    }
    // Reference.
    std::multiset<std::pair<int64_t, std::string>> reference;
    for (const Record& r : *records_) {
      if (r.ts >= kStart && r.ts < kEnd && q.matches(r))
        reference.emplace(r.ts, r.service + "|" + r.message);
    }
    EXPECT_EQ(logql_lines.size(), reference.size());
    EXPECT_TRUE(logql_lines == reference);
    EXPECT_TRUE(native_lines == reference);
    nonempty += !reference.empty();
  }
  EXPECT_GE(nonempty, 20);  // the generator makes queries that find lines
}

TEST_F(LokiRead, RandomMetricQueriesCountLikeTheirNativeEquivalent) {
  std::mt19937_64 rng(77);
  const int64_t ranges[] = {60 * kSecond, 300 * kSecond, 120 * kSecond};
  const int64_t steps[] = {60 * kSecond, 60 * kSecond, 30 * kSecond};
  for (int i = 0; i < 12; ++i) {
    RandomQuery q = MakeRandomQuery(&rng, *records_);
    const int64_t range = ranges[i % 3], step = steps[i % 3];
    const bool by_service = i % 2 == 0;
    const bool bytes = i % 4 == 1 || i % 4 == 2;
    const std::string logql = std::string(by_service ? "sum by (service)" : "count") +
                              (bytes ? " (bytes_over_time(" : " (count_over_time(") + q.logql +
                              " [" + std::to_string(range / kSecond) + "s]))";
    SCOPED_TRACE(logql);
    json::value v = GetJson("/loki/api/v1/query_range?query=" + UrlEncode(logql) +
                            "&step=" + std::to_string(step / kSecond) + Range(kStart, kEnd));
    ExpectMatrixShape(v);
    std::map<std::string, std::map<int64_t, double>> got;
    for (const json::value& s : v.at("data").at("result").as_array()) {
      const json::object& metric = s.at("metric").as_object();
      std::string key =
          metric.contains("service") ? std::string(metric.at("service").as_string()) : "";
      for (const json::value& p : s.at("values").as_array()) {
        got[key][static_cast<int64_t>(p.as_array()[0].to_number<double>()) * kSecond] =
            std::stod(std::string(p.as_array()[1].as_string()));
      }
    }
    // The native equivalent: counts (or bytes) per bucket of gcd(range, step) and stream, summed
    // over the windows (t - range, t] here.
    const int64_t bucket = std::gcd(range, step);
    json::value n =
        GetJson("/api/v1/search?time_field=ts&q=" +
                UrlEncode(q.native + (bytes ? " | bytes" : " | count") + " by bucket_end(" +
                          std::to_string(bucket / kSecond) + "s), service, host, level") +
                "&from=" + std::to_string((kStart / step) * step - range + 1) +
                "&to=" + std::to_string((kEnd / step) * step + 1));
    std::map<std::string, std::map<int64_t, int64_t>> per_stream;  // stream -> bucket -> n
    std::map<std::string, std::string> service_of;
    for (const json::value& row : n.at("rows").as_array()) {
      const json::object& o = row.as_object();
      std::string stream = std::string(o.at("service").as_string()) + "/" +
                           std::string(o.at("host").as_string()) + "/" +
                           std::string(o.at("level").as_string());
      service_of[stream] = std::string(o.at("service").as_string());
      per_stream[stream][*ParseRfc3339(o.at("bucket").as_string())] +=
          o.at(bytes ? "bytes" : "count").as_int64();
    }
    std::map<std::string, std::map<int64_t, double>> want;
    for (int64_t t = (kStart / step) * step; t <= (kEnd / step) * step; t += step) {
      for (const auto& [stream, buckets] : per_stream) {
        int64_t total = 0;
        for (auto it = buckets.upper_bound(t - range); it != buckets.end() && it->first <= t;
             ++it) {
          total += it->second;
        }
        if (total == 0) continue;
        if (by_service) {
          want[service_of[stream]][t] += static_cast<double>(total);
        } else {
          want[""][t] += 1;
        }
      }
    }
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace sawmill::http
