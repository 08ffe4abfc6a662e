// The agent's counters and gauges, registered on the process-wide Prometheus registry (served at
// the local /metrics) and read back for the status file. Thread-safe (prometheus-cpp metrics are).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "sawmill/record.h"

namespace sawmill::agent {

// Why a line was dropped. Every drop is counted by level and reason.
enum class DropReason : int {
  kRateLimit = 0,  // over the per-host rate limit
  kBackpressure,   // shed at the input under the drop level
  kSpoolFull,      // removed from the spool by the 90% / 95% rules
  kRejected,       // the server refused the batch as invalid (4xx other than 408/429)
  kCorrupt,        // the spool file failed its checksum
};
inline constexpr int kDropReasonCount = 5;
std::string_view DropReasonName(DropReason reason);

class AgentMetrics {
 public:
  AgentMetrics();

  void Read(Level level, double n = 1) { read_[Index(level)]->Increment(n); }
  void Sent(Level level, double n) { sent_[Index(level)]->Increment(n); }
  void Dropped(Level level, DropReason reason, double n = 1) {
    dropped_[Index(level)][static_cast<int>(reason)]->Increment(n);
  }
  double ReadCount(Level level) const { return read_[Index(level)]->Value(); }
  double SentCount(Level level) const { return sent_[Index(level)]->Value(); }
  double DroppedCount(Level level, DropReason reason) const {
    return dropped_[Index(level)][static_cast<int>(reason)]->Value();
  }

  prometheus::Gauge& spool_bytes;
  prometheus::Gauge& spool_batches;
  prometheus::Gauge& spool_lines;
  prometheus::Gauge& oldest_batch_age_seconds;
  prometheus::Gauge& last_success_seconds;  // Unix time
  prometheus::Gauge& drop_level;            // 0 none, 2 DEBUG shed, 3 INFO shed too
  prometheus::Gauge& paused;                // 1 while inputs are not read
  prometheus::Gauge& consecutive_failures;
  prometheus::Gauge& rss_bytes;
  prometheus::Histogram& send_latency;
  prometheus::Counter& requests_ok;
  prometheus::Counter& requests_failed;

 private:
  static int Index(Level level) { return static_cast<int>(level); }
  std::array<prometheus::Counter*, kLevelCount> read_{};
  std::array<prometheus::Counter*, kLevelCount> sent_{};
  std::array<std::array<prometheus::Counter*, kDropReasonCount>, kLevelCount> dropped_{};
};

// The one instance of the process.
AgentMetrics& Metrics();

}  // namespace sawmill::agent
