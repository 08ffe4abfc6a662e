#include "common/config_values.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <string>
#include <utility>

namespace sawmill {

namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A decimal number with an optional fraction, read exactly: "*whole" + "*frac" / "*frac_scale".
// "*whole" saturates at 2^64 (more than any result may be). Advances "*text" past the number.
// False when there is no digit, or a point without digits on both sides.
bool ReadNumber(std::string_view* text, unsigned __int128* whole, uint64_t* frac,
                uint64_t* frac_scale) {
  constexpr unsigned __int128 kCap = static_cast<unsigned __int128>(1) << 64;
  std::string_view s = *text;
  size_t i = 0;
  *whole = 0;
  while (i < s.size() && IsDigit(s[i])) {
    *whole = *whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (*whole > kCap) *whole = kCap;
    ++i;
  }
  if (i == 0) return false;
  *frac = 0;
  *frac_scale = 1;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t digits = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (digits < 18) {  // finer than 1e-18 of a unit does not change the result
        *frac = *frac * 10 + static_cast<uint64_t>(s[i] - '0');
        *frac_scale *= 10;
      }
      ++digits;
      ++i;
    }
    if (digits == 0) return false;
  }
  text->remove_prefix(i);
  return true;
}

// whole * scale + frac * scale / frac_scale, rounded to nearest; false past "max".
bool Scale(unsigned __int128 whole, uint64_t frac, uint64_t frac_scale, uint64_t scale,
           unsigned __int128 max, unsigned __int128* out) {
  unsigned __int128 value = whole * scale;
  value += (static_cast<unsigned __int128>(frac) * scale + frac_scale / 2) / frac_scale;
  *out = value;
  return value <= max;
}

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  const std::string expected =
      "expected a size such as 64MiB, 512KiB, 10GB or 4096 (units B, KB, MB, GB, TB, KiB, MiB, "
      "GiB, TiB), got " +
      Quoted(text);
  std::string_view s = Trim(text);
  unsigned __int128 whole;
  uint64_t frac, frac_scale;
  if (!ReadNumber(&s, &whole, &frac, &frac_scale)) return Status::InvalidArgument(expected);
  std::string unit;
  for (char c : Trim(s)) unit.push_back(Lower(c));
  uint64_t scale = 0;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit.size() == 1 && std::string_view("kmgt").find(unit[0]) != std::string::npos) {
    std::string_view written = Trim(text);
    std::string number(Trim(written.substr(0, written.size() - 1)));
    std::string letter(1, static_cast<char>(unit[0] - 'a' + 'A'));
    return Status::InvalidArgument(Quoted(text) + " is ambiguous: write " + number + letter +
                                   "iB for powers of 1024 or " + number + letter +
                                   "B for powers of 1000");
  } else {
    static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
        {"kb", 1'000ull},         {"mb", 1'000'000ull},
        {"gb", 1'000'000'000ull}, {"tb", 1'000'000'000'000ull},
        {"kib", 1ull << 10},      {"mib", 1ull << 20},
        {"gib", 1ull << 30},      {"tib", 1ull << 40},
        {"ki", 1ull << 10},       {"mi", 1ull << 20},
        {"gi", 1ull << 30},       {"ti", 1ull << 40},
    };
    for (const auto& [name, factor] : kUnits) {
      if (unit == name) scale = factor;
    }
    if (scale == 0) return Status::InvalidArgument(expected);
  }
  unsigned __int128 value;
  if (!Scale(whole, frac, frac_scale, scale, std::numeric_limits<uint64_t>::max(), &value)) {
    return Status::InvalidArgument(Quoted(text) + " is too large (at most 16EiB)");
  }
  return static_cast<uint64_t>(value);
}

Result<int64_t> ParseDuration(std::string_view text) {
  const std::string expected =
      "expected a duration such as 500ms, 10s, 5m, 1h, 1h30m or 3d (units us, ms, s, m, h, d; a "
      "plain number is seconds), got " +
      Quoted(text);
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"d", 86'400'000'000'000ull}, {"h", 3'600'000'000'000ull}, {"m", 60'000'000'000ull},
      {"s", 1'000'000'000ull},      {"ms", 1'000'000ull},        {"us", 1'000ull},
  };
  constexpr unsigned __int128 kMax = std::numeric_limits<int64_t>::max();
  std::string_view s = Trim(text);
  unsigned __int128 total = 0;
  size_t last_unit = 0;  // index in kUnits + 1 of the previous part's unit: parts go largest first
  bool first = true;
  while (first || !s.empty()) {
    unsigned __int128 whole;
    uint64_t frac, frac_scale;
    if (!ReadNumber(&s, &whole, &frac, &frac_scale)) return Status::InvalidArgument(expected);
    s = Trim(s);
    size_t len = 0;
    while (len < s.size() && !IsDigit(s[len]) && s[len] != ' ') ++len;
    std::string unit;
    for (char c : s.substr(0, len)) unit.push_back(Lower(c));
    s = Trim(s.substr(len));
    uint64_t scale = 0;
    size_t index = 0;
    if (unit.empty()) {
      // A plain number of seconds, alone.
      if (!first || !s.empty()) return Status::InvalidArgument(expected);
      scale = 1'000'000'000ull;
    } else {
      for (size_t u = 0; u < std::size(kUnits); ++u) {
        if (unit == kUnits[u].first) {
          scale = kUnits[u].second;
          index = u + 1;
        }
      }
      if (scale == 0 || index <= last_unit) return Status::InvalidArgument(expected);
      last_unit = index;
    }
    unsigned __int128 part;
    if (!Scale(whole, frac, frac_scale, scale, kMax, &part) || total + part > kMax) {
      return Status::InvalidArgument(Quoted(text) + " is too long (at most about 292 years)");
    }
    total += part;
    first = false;
  }
  return static_cast<int64_t>(total);
}

Result<uint64_t> ParseCount(std::string_view text) {
  std::string_view s = Trim(text);
  uint64_t value = 0;
  bool ok = !s.empty();
  for (char c : s) {
    if (!IsDigit(c)) {
      ok = false;
      break;
    }
    auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Status::InvalidArgument(Quoted(text) + " is too large");
    }
    value = value * 10 + digit;
  }
  if (!ok)
    return Status::InvalidArgument("expected a whole number such as 1000, got " + Quoted(text));
  return value;
}

Result<bool> ParseBool(std::string_view text) {
  std::string lower;
  for (char c : Trim(text)) lower.push_back(Lower(c));
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return Status::InvalidArgument("expected true or false (or yes/no, on/off), got " + Quoted(text));
}

std::string FormatMillis(uint64_t ms) {
  constexpr uint64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute;
  if (ms != 0 && ms % kHour == 0) return std::to_string(ms / kHour) + "h";
  if (ms != 0 && ms % kMinute == 0) return std::to_string(ms / kMinute) + "m";
  if (ms % kSecond == 0) return std::to_string(ms / kSecond) + "s";
  return std::to_string(ms) + "ms";
}

std::string FlagForKey(std::string_view key) {
  std::string flag = "--" + std::string(key);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

int64_t MillisToNanos(uint64_t ms) {
  constexpr int64_t kNanosPerMilli = 1000 * 1000;
  constexpr uint64_t kCap = std::numeric_limits<int64_t>::max() / kNanosPerMilli / 2;
  return static_cast<int64_t>(std::min<uint64_t>(ms, kCap)) * kNanosPerMilli;
}

}  // namespace sawmill
