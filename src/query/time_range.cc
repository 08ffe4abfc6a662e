#include "query/time_range.h"

#include <cstdio>
#include <ctime>
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

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int Num(std::string_view s, size_t pos, size_t len) {
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

bool DigitsAt(std::string_view s, size_t pos, size_t len) {
  if (pos + len > s.size()) return false;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (s.size() < 20 || !DigitsAt(s, 0, 4) || s[4] != '-' || !DigitsAt(s, 5, 2) || s[7] != '-' ||
      !DigitsAt(s, 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !DigitsAt(s, 11, 2) ||
      s[13] != ':' || !DigitsAt(s, 14, 2) || s[16] != ':' || !DigitsAt(s, 17, 2)) {
    return std::nullopt;
  }
  int year = Num(s, 0, 4), mon = Num(s, 5, 2), day = Num(s, 8, 2);
  int hour = Num(s, 11, 2), min = Num(s, 14, 2), sec = Num(s, 17, 2);
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) frac_ns *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    if (!DigitsAt(s, pos + 1, 2) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !DigitsAt(s, pos + 4, 2)) {
      return std::nullopt;
    }
    offset_s = (Num(s, pos + 1, 2) * 3600 + Num(s, pos + 4, 2) * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - offset_s;
  return secs * kNanosPerSecond + frac_ns;
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

std::string FormatRfc3339(int64_t ns) {
  int64_t secs = ns / kNanosPerSecond;
  int64_t frac = ns % kNanosPerSecond;
  if (frac < 0) {
    frac += kNanosPerSecond;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf);
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof(f), ".%09lld", static_cast<long long>(frac));
    std::string fs(f);
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
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
