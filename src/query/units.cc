#include "query/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace sawmill::query {

namespace {

// A decimal "12", "1.5", ".5", "3." at the start of "s"; advances it. nullopt when none.
std::optional<double> TakeDecimal(std::string_view* s) {
  size_t i = 0;
  bool digits = false;
  while (i < s->size() && std::isdigit(static_cast<unsigned char>((*s)[i]))) ++i, digits = true;
  if (i < s->size() && (*s)[i] == '.') {
    ++i;
    while (i < s->size() && std::isdigit(static_cast<unsigned char>((*s)[i]))) ++i, digits = true;
  }
  if (!digits) return std::nullopt;
  std::string text(s->substr(0, i));
  if (text.back() == '.') text.pop_back();
  if (text.front() == '.') text.insert(text.begin(), '0');
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  s->remove_prefix(i);
  return v;
}

}  // namespace

std::optional<double> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  double sign = 1;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') sign = -1;
    s.remove_prefix(1);
  }
  if (s == "0") return 0.0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    auto v = TakeDecimal(&s);
    if (!v) return std::nullopt;
    size_t n = 0;
    while (n < s.size() && !std::isdigit(static_cast<unsigned char>(s[n])) && s[n] != '.') ++n;
    const std::string_view unit = s.substr(0, n);
    // In nanoseconds, as Go counts, so that 10000ms and 10s are the same number.
    double scale = 0;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {  // µs (U+00B5, U+03BC)
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return std::nullopt;  // no unit, or an unknown one
    }
    total += *v * scale;
    s.remove_prefix(n);
  }
  return sign * total / 1e9;
}

std::optional<double> ParseByteSize(std::string_view text) {
  std::string number;
  size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' || text[i] == ',')) {
    if (text[i] != ',') number.push_back(text[i]);
    ++i;
  }
  std::string_view digits = number;
  auto v = TakeDecimal(&digits);
  if (!v || !digits.empty()) return std::nullopt;
  std::string unit;
  for (char c : text.substr(i)) {
    if (c != ' ') unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  static constexpr struct {
    const char* name;
    double scale;
  } kUnits[] = {
      {"", 1},         {"b", 1},        {"k", 1e3},      {"kb", 1e3},     {"ki", 0x1p10},
      {"kib", 0x1p10}, {"m", 1e6},      {"mb", 1e6},     {"mi", 0x1p20},  {"mib", 0x1p20},
      {"g", 1e9},      {"gb", 1e9},     {"gi", 0x1p30},  {"gib", 0x1p30}, {"t", 1e12},
      {"tb", 1e12},    {"ti", 0x1p40},  {"tib", 0x1p40}, {"p", 1e15},     {"pb", 1e15},
      {"pi", 0x1p50},  {"pib", 0x1p50}, {"e", 1e18},     {"eb", 1e18},    {"ei", 0x1p60},
      {"eib", 0x1p60},
  };
  for (const auto& u : kUnits) {
    if (unit == u.name) return *v * u.scale;
  }
  return std::nullopt;
}

}  // namespace sawmill::query
