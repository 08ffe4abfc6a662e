#include "http/http_metrics.h"

#include <map>
#include <mutex>

#include "common/metrics.h"

namespace sawmill::http {

struct HttpMetrics::Impl {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& request_seconds;
  prometheus::Family<prometheus::Counter>& lines;
  prometheus::Family<prometheus::Counter>& bytes;
  prometheus::Family<prometheus::Counter>& flagged;
  prometheus::Family<prometheus::Histogram>& query_seconds;
  prometheus::Family<prometheus::Counter>& cache;
  prometheus::Family<prometheus::Gauge>& tail;
  prometheus::Family<prometheus::Gauge>& ready;
  prometheus::Family<prometheus::Counter>& connections_refused;
  prometheus::Family<prometheus::Counter>& connection_timeouts;
  prometheus::Family<prometheus::Counter>& requests_refused;
};

namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

HttpMetrics& HttpMetrics::Get() {
  static HttpMetrics* metrics = new HttpMetrics();
  return *metrics;
}

HttpMetrics::HttpMetrics() {
  auto& r = MetricsRegistry();
  impl_ = new Impl{
      prometheus::BuildCounter()
          .Name("sawmill_http_requests_total")
          .Help("HTTP requests answered, by route pattern and status code")
          .Register(r),
      prometheus::BuildHistogram()
          .Name("sawmill_http_request_duration_seconds")
          .Help("Time from a complete request to its answer, by route pattern")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_ingested_lines_total")
          .Help("Records acknowledged (durable in the WAL), by tenant and protocol")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_ingested_bytes_total")
          .Help("Bytes of message and field text acknowledged, by tenant and protocol")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_ingest_lines_flagged_total")
          .Help("Acknowledged records carrying a flag, by reason")
          .Register(r),
      prometheus::BuildHistogram()
          .Name("sawmill_query_duration_seconds")
          .Help("Query latency seen by the API, by kind (filter, pipe, context)")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_query_cache_total")
          .Help("API queries answered from the result cache (hit) or not (miss)")
          .Register(r),
      prometheus::BuildGauge()
          .Name("sawmill_tail_connections")
          .Help("Open live-tail connections, by transport (websocket, sse)")
          .Register(r),
      prometheus::BuildGauge()
          .Name("sawmill_server_ready")
          .Help("1 once the WAL has been replayed and the server accepts traffic")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_http_connections_refused_total")
          .Help("Connections answered 503/429 and closed at accept, by reason "
                "(max_connections, per_address)")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_http_connection_timeouts_total")
          .Help("Connections closed by a timeout, by phase (idle: no request began; request: "
                "a request did not arrive whole within read_timeout; handshake: no TLS "
                "handshake within tls_handshake_timeout)")
          .Register(r),
      prometheus::BuildCounter()
          .Name("sawmill_http_requests_refused_total")
          .Help("Requests refused before their handler, by reason (host, origin)")
          .Register(r),
  };
  for (const char* transport : {"websocket", "sse"}) impl_->tail.Add({{"transport", transport}});
  impl_->ready.Add({}).Set(0);
  for (const char* reason : {"max_connections", "per_address"}) {
    impl_->connections_refused.Add({{"reason", reason}});
  }
  for (const char* phase : {"idle", "request"}) impl_->connection_timeouts.Add({{"phase", phase}});
  for (const char* reason : {"host", "origin"}) impl_->requests_refused.Add({{"reason", reason}});
}

void HttpMetrics::CountRequest(std::string_view route, int code, double seconds) {
  std::string route_label(route);
  impl_->requests.Add({{"route", route_label}, {"code", std::to_string(code)}}).Increment();
  impl_->request_seconds.Add({{"route", route_label}}, LatencyBuckets()).Observe(seconds);
}

void HttpMetrics::CountIngested(const std::string& tenant, std::string_view protocol,
                                uint64_t lines, uint64_t bytes) {
  prometheus::Labels labels{{"tenant", tenant}, {"protocol", std::string(protocol)}};
  impl_->lines.Add(labels).Increment(static_cast<double>(lines));
  impl_->bytes.Add(labels).Increment(static_cast<double>(bytes));
}

void HttpMetrics::CountFlagged(uint32_t flags, uint64_t records) {
  for (std::string_view reason : FlagNames(flags)) {
    impl_->flagged.Add({{"reason", std::string(reason)}}).Increment(static_cast<double>(records));
  }
}

void HttpMetrics::ObserveQuery(std::string_view kind, double seconds, bool cache_hit) {
  impl_->query_seconds.Add({{"kind", std::string(kind)}}, LatencyBuckets()).Observe(seconds);
  impl_->cache.Add({{"result", cache_hit ? "hit" : "miss"}}).Increment();
}

void HttpMetrics::SetTailConnections(std::string_view transport, int64_t delta) {
  impl_->tail.Add({{"transport", std::string(transport)}}).Increment(static_cast<double>(delta));
}

void HttpMetrics::CountConnectionRefused(std::string_view reason) {
  impl_->connections_refused.Add({{"reason", std::string(reason)}}).Increment();
}

void HttpMetrics::CountConnectionTimeout(std::string_view phase) {
  impl_->connection_timeouts.Add({{"phase", std::string(phase)}}).Increment();
}

void HttpMetrics::CountRequestRefused(std::string_view reason) {
  impl_->requests_refused.Add({{"reason", std::string(reason)}}).Increment();
}

void HttpMetrics::SetReady(bool ready) { impl_->ready.Add({}).Set(ready ? 1 : 0); }

}  // namespace sawmill::http
