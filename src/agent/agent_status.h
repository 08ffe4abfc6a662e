// The status file the agent rewrites every second (status.file, default
// <spool.path>/status.json) and `sawmill agent status` reads.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "agent/agent_metrics.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::agent {

struct AgentStatusReport {
  std::string agent_id;
  std::string server;
  int64_t pid = 0;
  int64_t updated_unix_ns = 0;
  uint64_t spool_bytes = 0;
  uint64_t spool_max_bytes = 0;
  uint64_t spool_batches = 0;
  uint64_t spool_lines = 0;  // lines in unsent batches
  double oldest_batch_age_s = 0;
  bool paused = false;
  std::string drop_level = "none";  // "none", "DEBUG" or "INFO": the highest level being shed
  uint64_t consecutive_failures = 0;
  int64_t last_success_unix_ns = 0;
  double send_latency_ms = 0;
  uint64_t rss_bytes = 0;
  std::string last_error;
  std::array<uint64_t, kLevelCount> read{};
  std::array<uint64_t, kLevelCount> sent{};
  std::array<std::array<uint64_t, kDropReasonCount>, kLevelCount> dropped{};
};

std::string FormatStatusJson(const AgentStatusReport& report);

// Dropped lines by level and reason.
using DropCounts = std::array<std::array<uint64_t, kDropReasonCount>, kLevelCount>;

// The settings a drop log line names.
struct DropSettings {
  uint64_t rate_lines_per_sec = 0;
  uint64_t rate_burst = 0;
  uint64_t spool_max_bytes = 0;
  uint64_t failures_before_drop = 0;
};

// The log line for lines dropped in the last "seconds": how many, why, by level, and which
// setting controls it, e.g. "agent: dropped 4800 lines in the last 10s: 4800 over the rate limit
// of 200 lines/s, burst 200 (DEBUG 2400, INFO 2400; set by rate_limit.lines_per_sec, 0 turns it
// off)". Empty when "delta" holds no drop.
std::string FormatDropLog(const DropCounts& delta, double seconds, const DropSettings& settings);

// The line the agent logs when it stops: lines read, sent (acknowledged), spooled (still on disk)
// and dropped by reason; "unspooled" lines were read but are in no batch and are read again at the
// next start.
std::string FormatShutdownLog(const AgentStatusReport& report, uint64_t unspooled);

// Errors: InvalidArgument when "json" is not a status file.
Result<AgentStatusReport> ParseStatusJson(std::string_view json);

// A human summary; "now_ns" judges staleness (an agent that stopped updating is reported).
std::string FormatStatusText(const AgentStatusReport& report, int64_t now_ns);

}  // namespace sawmill::agent
