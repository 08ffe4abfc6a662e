// Best-effort level and timestamp recognition on plain text lines.
//
// A level word is easy to mistake in free text ("in error state", "I went"), so a token counts
// as a level only when it looks like one:
//   - upper case: INFO, ERROR, WARN, WARNING, FATAL, LOG, DEBUG3, ...
//   - capitalised (Info, Error, Warning) for the common names, among the first four words;
//   - lower case only when decorated: [error], <err>, error:, ##[warning], level=error;
//   - a single letter (Android's D/I/W/E/V) only in upper case, right after a number, among the
//     first words;
//   - a leading syslog/printk priority "<3>" or "<134>";
//   - an upper-case name between colons of a prefix, as PostgreSQL writes "CET::@:[12760]:LOG:".
// Pure numbers are never levels here (ParseLevel's "0".."7" would match every counter).
#include <cctype>
#include <optional>
#include <string_view>

#include "ingest/normalize.h"
#include "ingest/timestamp_internal.h"

namespace sawmill::ingest {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool EqualsUpper(std::string_view word, std::string_view upper) {
  if (word.size() != upper.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(word[i])) != upper[i]) return false;
  }
  return true;
}

// Names common enough to accept capitalised or (decorated) lower case.
constexpr std::string_view kCommonNames[] = {
    "TRACE",    "DEBUG",  "INFO",  "WARN",  "WARNING", "ERROR", "ERR", "FATAL", "CRIT",
    "CRITICAL", "NOTICE", "EMERG", "ALERT", "PANIC",   "DBG",   "INF", "WRN",   "SEVERE",
};

bool IsCommonName(std::string_view word) {
  for (std::string_view name : kCommonNames) {
    if (EqualsUpper(word, name)) return true;
  }
  return false;
}

// A level spelled as a bare word ("ERROR", "Info", "DEBUG2", "V"), no decorations.
std::optional<Level> WordLevel(std::string_view word) {
  if (word.empty() || word.size() > 16) return std::nullopt;
  if (word.size() == 6 && EqualsUpper(word.substr(0, 5), "DEBUG") && word[5] >= '1' &&
      word[5] <= '5') {
    return Level::kDebug;
  }
  for (char ch : word) {
    if (!IsUpper(ch) && !IsLower(ch)) return std::nullopt;
  }
  if (EqualsUpper(word, "V") || EqualsUpper(word, "VERBOSE")) return Level::kTrace;
  return ParseLevel(word);
}

// The level a token of free text stands for, if it looks like one (see the file comment).
// "index" is the token's position among the line's words; "prev" the token before it.
std::optional<Level> TokenLevel(std::string_view token, size_t index, std::string_view prev) {
  // logfmt: level=error, lvl=WARN, severity="info"
  size_t eq = token.find('=');
  if (eq != std::string_view::npos) {
    std::string_view key = token.substr(0, eq);
    std::string_view value = token.substr(eq + 1);
    if (EqualsUpper(key, "LEVEL") || EqualsUpper(key, "LVL") || EqualsUpper(key, "SEVERITY") ||
        EqualsUpper(key, "LOGLEVEL")) {
      while (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '"' || value.back() == '\'' || value.back() == ',')) {
        value.remove_suffix(1);
      }
      return LevelFromText(value);
    }
    return std::nullopt;
  }
  bool decorated = false;
  char open = '\0';
  while (!token.empty() &&
         std::string_view("[(<#*|\"'").find(token.front()) != std::string_view::npos) {
    if (token.front() == '[' || token.front() == '(' || token.front() == '<') open = token.front();
    token.remove_prefix(1);
    decorated = true;
  }
  if (open != '\0') {
    // "[error]rest" or "##[warning]text": the level is what the brackets hold.
    char close = open == '[' ? ']' : open == '(' ? ')' : '>';
    size_t end = token.find(close);
    if (end != std::string_view::npos) token = token.substr(0, end);
  }
  while (!token.empty() &&
         std::string_view("])>:|,;\"'").find(token.back()) != std::string_view::npos) {
    token.remove_suffix(1);
    decorated = true;
  }
  if (token.empty()) return std::nullopt;
  std::optional<Level> level = WordLevel(token);
  if (!level) return std::nullopt;
  bool all_upper = true, capitalised = IsUpper(token[0]);
  for (size_t i = 0; i < token.size(); ++i) {
    if (IsLower(token[i])) all_upper = false;
    if (i > 0 && IsUpper(token[i])) capitalised = false;
  }
  if (token.size() == 1) {
    if (!all_upper || index > 7) return std::nullopt;
    if (decorated) return level;
    return (!prev.empty() && IsDigit(prev.back())) ? level : std::nullopt;
  }
  if (all_upper) return level;
  // "Info" right after a timestamp is a level; "Trace cache" deep in a message is prose.
  if (IsCommonName(token) && (decorated || (capitalised && index <= 3))) return level;
  return std::nullopt;
}

// A level glued into a colon-separated prefix, as PostgreSQL's log_line_prefix writes it:
// "CET::@:[12760]:ERROR:". Only upper-case names of three letters or more count here.
std::optional<Level> ColonPartLevel(std::string_view token) {
  if (token.find(':') == std::string_view::npos) return std::nullopt;
  size_t start = 0;
  while (start <= token.size()) {
    size_t end = token.find(':', start);
    if (end == std::string_view::npos) end = token.size();
    std::string_view part = token.substr(start, end - start);
    bool upper = part.size() >= 3;
    for (char ch : part) {
      if (!IsUpper(ch) && !IsDigit(ch)) upper = false;
    }
    if (upper) {
      if (std::optional<Level> level = WordLevel(part)) return level;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Level> LevelFromNumber(int64_t value) {
  if (value >= 0 && value <= 7) return LevelFromSyslogSeverity(static_cast<int>(value));
  switch (value) {  // pino / bunyan
    case 10: return Level::kTrace;
    case 20: return Level::kDebug;
    case 30: return Level::kInfo;
    case 40: return Level::kWarn;
    case 50: return Level::kError;
    case 60: return Level::kFatal;
    default: return std::nullopt;
  }
}

std::optional<Level> LevelFromText(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (IsDigit(text[0])) {
    int64_t v = 0;
    for (char ch : text) {
      if (!IsDigit(ch) || v > 1000) return std::nullopt;
      v = v * 10 + (ch - '0');
    }
    return LevelFromNumber(v);
  }
  if (std::optional<Level> level = WordLevel(text)) return level;
  return ParseLevel(text);  // "<err>", "[WARN]"
}

std::optional<Level> FindLevelNearStart(std::string_view line) {
  // A syslog PRI or printk level at the very start: "<134>..." or "<3>...".
  if (line.size() > 2 && line[0] == '<' && IsDigit(line[1])) {
    size_t i = 1;
    int pri = 0;
    while (i < line.size() && i < 5 && IsDigit(line[i])) pri = pri * 10 + (line[i++] - '0');
    if (i < line.size() && line[i] == '>' && pri <= 191) {
      return LevelFromSyslogSeverity(pri % 8);
    }
  }
  size_t pos = 0;
  std::string_view prev;
  for (size_t index = 0; index < kLevelWords && pos < line.size(); ++index) {
    while (pos < line.size() && IsSpace(line[pos])) ++pos;
    size_t end = pos;
    while (end < line.size() && !IsSpace(line[end])) ++end;
    if (end == pos) break;
    std::string_view token = line.substr(pos, end - pos);
    if (std::optional<Level> level = TokenLevel(token, index, prev)) return level;
    if (std::optional<Level> level = ColonPartLevel(token)) return level;
    prev = token;
    pos = end;
  }
  return std::nullopt;
}

void SniffPlainLine(std::string_view line, int64_t now_ns, std::optional<int64_t>* ts_ns,
                    std::optional<Level>* level) {
  if (std::optional<int64_t> ts = FindTimestampNearStart(line, now_ns)) *ts_ns = ts;
  if (std::optional<Level> found = FindLevelNearStart(line)) *level = found;
}

}  // namespace sawmill::ingest
