#include "sawmill/record.h"

#include <cctype>

namespace sawmill {

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace: return "TRACE";
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
    case Level::kFatal: return "FATAL";
    case Level::kUnknown: break;
  }
  return "UNKNOWN";
}

namespace {

struct Spelling {
  std::string_view text;  // upper case
  Level level;
};

constexpr Spelling kSpellings[] = {
    {"TRACE", Level::kTrace},      {"TRC", Level::kTrace},
    {"T", Level::kTrace},          {"FINEST", Level::kTrace},
    {"FINER", Level::kTrace},      {"DEBUG", Level::kDebug},
    {"DBG", Level::kDebug},        {"D", Level::kDebug},
    {"FINE", Level::kDebug},       {"INFO", Level::kInfo},
    {"INF", Level::kInfo},         {"I", Level::kInfo},
    {"INFORMATION", Level::kInfo}, {"INFORMATIONAL", Level::kInfo},
    {"NOTICE", Level::kInfo},      {"LOG", Level::kInfo},
    {"WARN", Level::kWarn},        {"WARNING", Level::kWarn},
    {"WRN", Level::kWarn},         {"W", Level::kWarn},
    {"ERROR", Level::kError},      {"ERR", Level::kError},
    {"E", Level::kError},          {"SEVERE", Level::kError},
    {"FATAL", Level::kFatal},      {"FTL", Level::kFatal},
    {"F", Level::kFatal},          {"CRITICAL", Level::kFatal},
    {"CRIT", Level::kFatal},       {"PANIC", Level::kFatal},
    {"ALERT", Level::kFatal},      {"EMERG", Level::kFatal},
    {"EMERGENCY", Level::kFatal},
};

}  // namespace

std::optional<Level> ParseLevel(std::string_view text) {
  // Strip the decorations real logs put around a level: "<err>", "[ERROR]", "ERROR:".
  while (!text.empty() && (text.front() == '<' || text.front() == '[' || text.front() == '(' ||
                           text.front() == ' ')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == '>' || text.back() == ']' || text.back() == ')' ||
                           text.back() == ':' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 16) return std::nullopt;
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') {
    return LevelFromSyslogSeverity(text[0] - '0');
  }
  char upper[16];
  for (size_t i = 0; i < text.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  }
  std::string_view key(upper, text.size());
  for (const Spelling& s : kSpellings) {
    if (s.text == key) return s.level;
  }
  return std::nullopt;
}

std::optional<Level> LevelFromSyslogSeverity(int severity) {
  switch (severity) {
    case 0:
    case 1:
    case 2: return Level::kFatal;
    case 3: return Level::kError;
    case 4: return Level::kWarn;
    case 5:
    case 6: return Level::kInfo;
    case 7: return Level::kDebug;
    default: return std::nullopt;
  }
}

std::optional<Level> LevelFromOtelSeverity(int n) {
  if (n >= 1 && n <= 4) return Level::kTrace;
  if (n >= 5 && n <= 8) return Level::kDebug;
  if (n >= 9 && n <= 12) return Level::kInfo;
  if (n >= 13 && n <= 16) return Level::kWarn;
  if (n >= 17 && n <= 20) return Level::kError;
  if (n >= 21 && n <= 24) return Level::kFatal;
  return std::nullopt;
}

std::vector<std::string_view> FlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  if (flags & kFlagParseFailed) out.emplace_back("parse_failed");
  if (flags & kFlagTruncated) out.emplace_back("truncated");
  if (flags & kFlagRedacted) out.emplace_back("redacted");
  if (flags & kFlagInvalidUtf8) out.emplace_back("invalid_utf8");
  return out;
}

const std::string* Record::FindField(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

size_t Record::ApproximateSize() const {
  size_t n = sizeof(Record) + tenant.size() + service.size() + host.size() + trace_id.size() +
             span_id.size() + user_id.size() + message.size();
  for (const auto& [k, v] : fields) n += k.size() + v.size() + 2 * sizeof(std::string);
  return n;
}

}  // namespace sawmill
