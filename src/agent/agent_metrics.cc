#include "agent/agent_metrics.h"

#include <string>

namespace sawmill::agent {

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kRateLimit: return "rate_limit";
    case DropReason::kBackpressure: return "backpressure";
    case DropReason::kSpoolFull: return "spool_full";
    case DropReason::kRejected: return "rejected";
    case DropReason::kCorrupt: return "corrupt";
  }
  return "unknown";
}

namespace {

prometheus::Gauge& NewGauge(const char* name, const char* help) {
  return *UnlabelledGauge(name, help);
}

}  // namespace

AgentMetrics::AgentMetrics()
    : spool_bytes(NewGauge("sawmill_agent_spool_bytes", "Bytes of unsent batches in the spool")),
      spool_batches(NewGauge("sawmill_agent_spool_batches", "Unsent batches in the spool")),
      spool_lines(NewGauge("sawmill_agent_spool_lines", "Lines in unsent batches in the spool")),
      oldest_batch_age_seconds(NewGauge("sawmill_agent_spool_oldest_batch_age_seconds",
                                        "Age of the oldest unsent batch")),
      last_success_seconds(NewGauge("sawmill_agent_last_success_timestamp_seconds",
                                    "Unix time of the last accepted batch")),
      drop_level(NewGauge("sawmill_agent_drop_level",
                          "Lowest level kept at the input: 0 all, 2 DEBUG shed, 3 INFO shed")),
      paused(NewGauge("sawmill_agent_inputs_paused", "1 while inputs are not read")),
      consecutive_failures(
          NewGauge("sawmill_agent_consecutive_send_failures", "Send failures in a row")),
      rss_bytes(NewGauge("sawmill_agent_resident_memory_bytes", "Resident memory of the agent")),
      send_latency(
          prometheus::BuildHistogram()
              .Name("sawmill_agent_send_latency_seconds")
              .Help("Time from request to the server's answer")
              .Register(MetricsRegistry())
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30})),
      requests_ok(prometheus::BuildCounter()
                      .Name("sawmill_agent_requests_total")
                      .Help("Ingest requests by outcome")
                      .Register(MetricsRegistry())
                      .Add({{"outcome", "ok"}})),
      requests_failed(*UnlabelledCounter("sawmill_agent_requests_failed_total",
                                         "Ingest requests that failed")) {
  auto& read = prometheus::BuildCounter()
                   .Name("sawmill_agent_lines_read_total")
                   .Help("Records read from inputs, by level")
                   .Register(MetricsRegistry());
  auto& sent = prometheus::BuildCounter()
                   .Name("sawmill_agent_lines_sent_total")
                   .Help("Records accepted by the server, by level")
                   .Register(MetricsRegistry());
  auto& dropped = prometheus::BuildCounter()
                      .Name("sawmill_agent_lines_dropped_total")
                      .Help("Records dropped by the agent, by level and reason")
                      .Register(MetricsRegistry());
  for (int level = 0; level < kLevelCount; ++level) {
    std::string name(LevelName(static_cast<Level>(level)));
    read_[level] = &read.Add({{"level", name}});
    sent_[level] = &sent.Add({{"level", name}});
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      dropped_[level][reason] =
          &dropped.Add({{"level", name},
                        {"reason", std::string(DropReasonName(static_cast<DropReason>(reason)))}});
    }
  }
}

AgentMetrics& Metrics() {
  static AgentMetrics* metrics = new AgentMetrics();
  return *metrics;
}

}  // namespace sawmill::agent
