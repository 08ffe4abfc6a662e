#include "agent/agent_status.h"

#include <fmt/format.h>

#include <boost/json.hpp>

namespace sawmill::agent {

namespace json = boost::json;

std::string FormatStatusJson(const AgentStatusReport& r) {
  json::object o;
  o["agent_id"] = r.agent_id;
  o["server"] = r.server;
  o["pid"] = r.pid;
  o["updated_unix_ns"] = r.updated_unix_ns;
  o["spool_bytes"] = r.spool_bytes;
  o["spool_max_bytes"] = r.spool_max_bytes;
  o["spool_batches"] = r.spool_batches;
  o["spool_lines"] = r.spool_lines;
  o["oldest_batch_age_s"] = r.oldest_batch_age_s;
  o["paused"] = r.paused;
  o["drop_level"] = r.drop_level;
  o["consecutive_failures"] = r.consecutive_failures;
  o["last_success_unix_ns"] = r.last_success_unix_ns;
  o["send_latency_ms"] = r.send_latency_ms;
  o["rss_bytes"] = r.rss_bytes;
  o["last_error"] = r.last_error;
  json::object read, sent, dropped;
  for (int level = 0; level < kLevelCount; ++level) {
    std::string name(LevelName(static_cast<Level>(level)));
    read[name] = r.read[level];
    sent[name] = r.sent[level];
    json::object reasons;
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      reasons[std::string(DropReasonName(static_cast<DropReason>(reason)))] =
          r.dropped[level][reason];
    }
    dropped[name] = std::move(reasons);
  }
  o["lines_read"] = std::move(read);
  o["lines_sent"] = std::move(sent);
  o["lines_dropped"] = std::move(dropped);
  return json::serialize(o) + "\n";
}

Result<AgentStatusReport> ParseStatusJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("not an agent status file");
  const json::object& o = v.as_object();
  AgentStatusReport r;
  auto str = [&](const char* key, std::string* out) {
    if (auto* p = o.if_contains(key); p && p->is_string()) *out = std::string(p->as_string());
  };
  auto num = [&](const json::value* p) -> double {
    if (p == nullptr) return 0;
    if (p->is_int64()) return static_cast<double>(p->as_int64());
    if (p->is_uint64()) return static_cast<double>(p->as_uint64());
    if (p->is_double()) return p->as_double();
    return 0;
  };
  auto get = [&](const char* key) { return num(o.if_contains(key)); };
  str("agent_id", &r.agent_id);
  str("server", &r.server);
  str("drop_level", &r.drop_level);
  str("last_error", &r.last_error);
  r.pid = static_cast<int64_t>(get("pid"));
  r.updated_unix_ns = static_cast<int64_t>(get("updated_unix_ns"));
  r.spool_bytes = static_cast<uint64_t>(get("spool_bytes"));
  r.spool_max_bytes = static_cast<uint64_t>(get("spool_max_bytes"));
  r.spool_batches = static_cast<uint64_t>(get("spool_batches"));
  r.spool_lines = static_cast<uint64_t>(get("spool_lines"));
  r.oldest_batch_age_s = get("oldest_batch_age_s");
  if (auto* p = o.if_contains("paused"); p && p->is_bool()) r.paused = p->as_bool();
  r.consecutive_failures = static_cast<uint64_t>(get("consecutive_failures"));
  r.last_success_unix_ns = static_cast<int64_t>(get("last_success_unix_ns"));
  r.send_latency_ms = get("send_latency_ms");
  r.rss_bytes = static_cast<uint64_t>(get("rss_bytes"));
  for (int level = 0; level < kLevelCount; ++level) {
    std::string name(LevelName(static_cast<Level>(level)));
    if (auto* p = o.if_contains("lines_read"); p && p->is_object()) {
      r.read[level] = static_cast<uint64_t>(num(p->as_object().if_contains(name)));
    }
    if (auto* p = o.if_contains("lines_sent"); p && p->is_object()) {
      r.sent[level] = static_cast<uint64_t>(num(p->as_object().if_contains(name)));
    }
    if (auto* p = o.if_contains("lines_dropped"); p && p->is_object()) {
      if (auto* q = p->as_object().if_contains(name); q && q->is_object()) {
        for (int reason = 0; reason < kDropReasonCount; ++reason) {
          r.dropped[level][reason] = static_cast<uint64_t>(num(q->as_object().if_contains(
              std::string(DropReasonName(static_cast<DropReason>(reason))))));
        }
      }
    }
  }
  return r;
}

std::string FormatStatusText(const AgentStatusReport& r, int64_t now_ns) {
  std::string out;
  double age = static_cast<double>(now_ns - r.updated_unix_ns) / 1e9;
  out += fmt::format("agent      {} (pid {}) -> {}\n", r.agent_id, r.pid, r.server);
  out += fmt::format("updated    {:.1f}s ago{}\n", age,
                     age > 5 ? "  (STALE: is the agent running?)" : "");
  out += fmt::format(
      "spool      {} of {} bytes ({:.1f}%), {} batches of {} lines, oldest {:.1f}s\n",
      r.spool_bytes, r.spool_max_bytes,
      r.spool_max_bytes
          ? 100.0 * static_cast<double>(r.spool_bytes) / static_cast<double>(r.spool_max_bytes)
          : 0.0,
      r.spool_batches, r.spool_lines, r.oldest_batch_age_s);
  std::string last = "never";
  if (r.last_success_unix_ns > 0) {
    last = fmt::format("{:.1f}s ago", static_cast<double>(now_ns - r.last_success_unix_ns) / 1e9);
  }
  out += fmt::format("sending    last success {}, latency {:.1f} ms, {} failures in a row\n", last,
                     r.send_latency_ms, r.consecutive_failures);
  out += fmt::format("drop level {}{}\n", r.drop_level, r.paused ? "  (inputs PAUSED)" : "");
  out +=
      fmt::format("memory     {:.1f} MiB resident\n", static_cast<double>(r.rss_bytes) / (1 << 20));
  if (!r.last_error.empty()) out += "last error " + r.last_error + "\n";
  out += fmt::format("\n{:<8} {:>12} {:>12} {:>12}  dropped by reason\n", "level", "read", "sent",
                     "dropped");
  for (int level = 0; level < kLevelCount; ++level) {
    uint64_t dropped = 0;
    std::string reasons;
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      uint64_t n = r.dropped[level][reason];
      dropped += n;
      if (n > 0) {
        reasons += fmt::format("{}{}={}", reasons.empty() ? "" : " ",
                               DropReasonName(static_cast<DropReason>(reason)), n);
      }
    }
    if (r.read[level] == 0 && r.sent[level] == 0 && dropped == 0) continue;
    out += fmt::format("{:<8} {:>12} {:>12} {:>12}  {}\n", LevelName(static_cast<Level>(level)),
                       r.read[level], r.sent[level], dropped, reasons);
  }
  return out;
}

namespace {

std::string ByLevel(const DropCounts& counts, int reason) {
  std::string out;
  for (int level = 0; level < kLevelCount; ++level) {
    uint64_t n = counts[level][reason];
    if (n == 0) continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", LevelName(static_cast<Level>(level)), n);
  }
  return out;
}

std::string WhyDropped(DropReason reason, uint64_t n, const std::string& levels,
                       const DropSettings& s) {
  switch (reason) {
    case DropReason::kRateLimit:
      return fmt::format(
          "{} over the rate limit of {} lines/s, burst {} ({}; set by rate_limit.lines_per_sec, "
          "0 turns it off)",
          n, s.rate_lines_per_sec, s.rate_burst, levels);
    case DropReason::kBackpressure:
      return fmt::format(
          "{} shed at the input because sending failed {}+ times in a row with the spool over "
          "90% ({}; set by retry.failures_before_drop and spool.max_bytes={})",
          n, s.failures_before_drop, levels, s.spool_max_bytes);
    case DropReason::kSpoolFull:
      return fmt::format(
          "{} removed from the spool, over 90%/95% full or without room for a new batch ({}; set "
          "by spool.max_bytes={})",
          n, levels, s.spool_max_bytes);
    case DropReason::kRejected:
      return fmt::format(
          "{} in batches the server rejected as invalid ({}; see the 'server rejected batch' "
          "error; max_line_bytes and batch.max_bytes bound what is sent)",
          n, levels);
    case DropReason::kCorrupt:
      return fmt::format(
          "{} in spool files that failed their checksum ({}; kept as *.corrupt in spool.path)", n,
          levels);
  }
  return fmt::format("{} ({})", n, levels);
}

}  // namespace

std::string FormatDropLog(const DropCounts& delta, double seconds, const DropSettings& settings) {
  uint64_t total = 0;
  std::string parts;
  for (int reason = 0; reason < kDropReasonCount; ++reason) {
    uint64_t n = 0;
    for (int level = 0; level < kLevelCount; ++level) n += delta[level][reason];
    if (n == 0) continue;
    total += n;
    parts += (parts.empty() ? "" : "; ") +
             WhyDropped(static_cast<DropReason>(reason), n, ByLevel(delta, reason), settings);
  }
  if (total == 0) return "";
  return fmt::format("agent: dropped {} lines in the last {:.0f}s: {}", total, seconds, parts);
}

std::string FormatShutdownLog(const AgentStatusReport& r, uint64_t unspooled) {
  uint64_t read = 0, sent = 0, dropped = 0;
  std::array<uint64_t, kDropReasonCount> by_reason{};
  for (int level = 0; level < kLevelCount; ++level) {
    read += r.read[level];
    sent += r.sent[level];
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      dropped += r.dropped[level][reason];
      by_reason[reason] += r.dropped[level][reason];
    }
  }
  std::string reasons;
  for (int reason = 0; reason < kDropReasonCount; ++reason) {
    if (by_reason[reason] == 0) continue;
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ",
                           DropReasonName(static_cast<DropReason>(reason)), by_reason[reason]);
  }
  std::string out = fmt::format(
      "agent: stopped: read {} lines, sent {} (acknowledged by the server), spooled {} (in {} "
      "{} on disk, sent at the next start), dropped {}",
      read, sent, r.spool_lines, r.spool_batches, r.spool_batches == 1 ? "batch" : "batches",
      dropped);
  if (!reasons.empty()) out += " (" + reasons + ")";
  if (unspooled > 0) {
    out +=
        fmt::format("; {} lines read but not spooled are read again at the next start", unspooled);
  }
  return out;
}

}  // namespace sawmill::agent
