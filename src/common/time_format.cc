#include "common/time_format.h"

#include <cinttypes>
#include <cstdio>

namespace sawmill {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

bool DigitsAt(std::string_view s, size_t pos, size_t len) {
  if (pos + len > s.size()) return false;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int Num(std::string_view s, size_t pos, size_t len) {
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                   // [0, 399]
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  CivilDate date;
  date.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  date.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  date.year = yoe + era * 400 + (date.month <= 2);
  return date;
}

void AppendRfc3339(int64_t ns, int fraction_digits, std::string* out) {
  int64_t secs = ns / kNanosPerSecond;
  int64_t frac = ns % kNanosPerSecond;
  if (frac < 0) {
    frac += kNanosPerSecond;
    secs -= 1;
  }
  int64_t days = secs / kSecondsPerDay;
  int64_t rem = secs % kSecondsPerDay;
  if (rem < 0) {
    rem += kSecondsPerDay;
    days -= 1;
  }
  const CivilDate date = CivilFromDays(days);
  char buf[96];
  int n = std::snprintf(buf, sizeof(buf), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", date.year,
                        date.month, date.day, static_cast<int>(rem / 3600),
                        static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  out->append(buf, static_cast<size_t>(n));
  int digits = fraction_digits;
  char f[16];
  std::snprintf(f, sizeof(f), "%09d", static_cast<int>(frac));
  if (digits == kShortestFraction) {
    digits = 9;
    while (digits > 0 && f[digits - 1] == '0') --digits;
  }
  if (digits > 0) {
    out->push_back('.');
    out->append(f, static_cast<size_t>(digits));
  }
  out->push_back('Z');
}

std::string FormatRfc3339(int64_t ns) {
  std::string out;
  AppendRfc3339(ns, kShortestFraction, &out);
  return out;
}

std::string FormatRfc3339Nanos(int64_t ns) {
  std::string out;
  AppendRfc3339(ns, 9, &out);
  return out;
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
  const int64_t days = DaysFromCivil(year, mon, day);
  int64_t secs = days * kSecondsPerDay + hour * 3600 + min * 60 + sec - offset_s;
  // Four-digit years reach far past what an int64 of nanoseconds holds (1677..2262). Before
  // the epoch the fraction is taken from the next second up, so that the earliest instant
  // (whose whole seconds alone do not fit) still parses.
  if (secs < 0 && frac_ns > 0) {
    secs += 1;
    frac_ns -= kNanosPerSecond;
  }
  int64_t whole_ns = 0;
  int64_t ns = 0;
  if (__builtin_mul_overflow(secs, kNanosPerSecond, &whole_ns) ||
      __builtin_add_overflow(whole_ns, frac_ns, &ns)) {
    return std::nullopt;
  }
  return ns;
}

}  // namespace sawmill
