#include "query/time_range.h"

#include <cstdlib>
#include <limits>

#include "common/clock.h"
#include "query/query_engine.h"

namespace sawmill::query {

namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<int64_t> ParseDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 9) return std::nullopt;
  int64_t n = 0;
  for (size_t k = 0; k < i; ++k) n = n * 10 + (text[k] - '0');
  std::string_view unit = text.substr(i);
  int64_t mult = 0;
  if (unit == "ms")
    mult = kNanosPerMilli;
  else if (unit == "s")
    mult = kNanosPerSecond;
  else if (unit == "m")
    mult = 60 * kNanosPerSecond;
  else if (unit == "h")
    mult = 3600 * kNanosPerSecond;
  else if (unit == "d")
    mult = 86400 * kNanosPerSecond;
  else if (unit == "w")
    mult = 7 * 86400 * kNanosPerSecond;
  else
    return std::nullopt;
  if (n <= 0 || n > std::numeric_limits<int64_t>::max() / mult) return std::nullopt;
  return n * mult;
}

std::string FormatDuration(int64_t ns) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static const Unit kUnits[] = {{7 * 86400 * kNanosPerSecond, "w"},
                                {86400 * kNanosPerSecond, "d"},
                                {3600 * kNanosPerSecond, "h"},
                                {60 * kNanosPerSecond, "m"},
                                {kNanosPerSecond, "s"},
                                {kNanosPerMilli, "ms"}};
  for (const Unit& u : kUnits) {
    if (ns >= u.ns && ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  }
  return std::to_string(ns) + "ns";
}

std::optional<int64_t> ParseInstant(std::string_view text) {
  if (AllDigits(text)) {
    if (text.size() > 19) return std::nullopt;
    unsigned long long v = std::strtoull(std::string(text).c_str(), nullptr, 10);
    if (v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    int64_t n = static_cast<int64_t>(v);
    if (n < 100'000'000'000LL) return n * kNanosPerSecond;         // seconds
    if (n < 100'000'000'000'000LL) return n * kNanosPerMilli;      // milliseconds
    if (n < 100'000'000'000'000'000LL) return n * kNanosPerMicro;  // microseconds
    return n;                                                      // nanoseconds
  }
  return ParseRfc3339(text);
}

Result<TimeRange> ParseTimeRange(std::string_view since, std::string_view from, std::string_view to,
                                 bool all_time, int64_t now_ns) {
  TimeRange range;
  if (all_time) {
    range.from_ns = std::numeric_limits<int64_t>::min();
    range.to_ns = std::numeric_limits<int64_t>::max();
    return range;
  }
  if (!since.empty()) {
    if (!from.empty() || !to.empty()) {
      return Status::InvalidArgument("give either since or from/to, not both");
    }
    std::optional<int64_t> d = ParseDuration(since);
    if (!d) {
      return Status::InvalidArgument("since: expected a duration like 30s, 15m, 1h or 7d, got '" +
                                     std::string(since) + "'");
    }
    // [from, to) with "to" just past now: a line ingested this nanosecond is included.
    range.to_ns = now_ns + 1;
    range.from_ns = range.to_ns - *d;
    range.relative = true;
    return range;
  }
  if (from.empty() && to.empty()) {
    range.to_ns = now_ns + 1;
    range.from_ns = range.to_ns - 3600 * kNanosPerSecond;
    range.relative = true;
    return range;
  }
  if (from.empty()) {
    return Status::InvalidArgument(
        "a time range is required: to= needs from= (or use since=, or all_time=1 to search "
        "everything)");
  }
  std::optional<int64_t> f = ParseInstant(from);
  if (!f) {
    return Status::InvalidArgument(
        "from: expected RFC 3339 (2026-11-30T10:00:00Z) or epoch "
        "seconds/ms/ns, got '" +
        std::string(from) + "'");
  }
  range.from_ns = *f;
  if (to.empty()) {
    range.to_ns = now_ns + 1;
  } else {
    std::optional<int64_t> t = ParseInstant(to);
    if (!t) {
      return Status::InvalidArgument(
          "to: expected RFC 3339 (2026-11-30T10:00:00Z) or epoch "
          "seconds/ms/ns, got '" +
          std::string(to) + "'");
    }
    range.to_ns = *t;
  }
  if (range.from_ns >= range.to_ns) {
    return Status::InvalidArgument("from must be before to (from=" + FormatRfc3339(range.from_ns) +
                                   ", to=" + FormatRfc3339(range.to_ns) + ")");
  }
  return range;
}

}  // namespace sawmill::query
