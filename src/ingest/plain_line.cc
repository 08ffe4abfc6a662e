// Best-effort level and timestamp recognition on plain text lines.
//
// A level word is easy to mistake in free text ("in error state", "I went"), so a token counts
// as a level only when it looks like one:
//   - upper case: INFO, ERROR, WARN, WARNING, FATAL, LOG, DEBUG3, ...
//   - capitalised (Info, Error, Warning) for the common names, among the first four words;
//   - lower case only when decorated: [error], <err>, error:, ##[warning], level=error;
//   - a single letter only where a real format puts one (SingleLetterLevel): glog's "E1203 ..."
//     at the line start, Android logcat's "E/Tag" and its threadtime "hh:mm:ss.mmm pid tid E",
//     or bracketed "[W" among the first words. Never a lone T or F: those are booleans
//     (Zeek's T/F columns).
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
// "index" is the token's position among the line's words.
std::optional<Level> TokenLevel(std::string_view token, size_t index) {
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
    // "[W 170809 12:00:00 web:2064]" (Tornado); a letter in other places is handled (or not) by
    // SingleLetterLevel. T and F are never levels on their own: they are booleans.
    if (open == '\0' || index > 7 || !IsUpper(token[0])) return std::nullopt;
    return std::string_view("DIWEV").find(token[0]) != std::string_view::npos ? level
                                                                              : std::nullopt;
  }
  if (all_upper) return level;
  // "Info" right after a timestamp is a level; "Trace cache" deep in a message is prose.
  if (IsCommonName(token) && (decorated || (capitalised && index <= 3))) return level;
  return std::nullopt;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (!IsDigit(ch)) return false;
  }
  return true;
}

// "hh:mm:ss" with an optional ".fraction", nothing else.
bool IsClockTime(std::string_view s) {
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return false;
  if (!AllDigits(s.substr(0, 2)) || !AllDigits(s.substr(3, 2)) || !AllDigits(s.substr(6, 2))) {
    return false;
  }
  return s.size() == 8 || (s[8] == '.' && AllDigits(s.substr(9)));
}

// Android's priority letters (V D I W E F A) and glog's (I W E F).
std::optional<Level> LetterLevel(char letter) {
  switch (letter) {
    case 'V': return Level::kTrace;
    case 'D': return Level::kDebug;
    case 'I': return Level::kInfo;
    case 'W': return Level::kWarn;
    case 'E': return Level::kError;
    case 'F':
    case 'A': return Level::kFatal;
    default: return std::nullopt;
  }
}

// A single-letter level in the positions real formats put one; "words" are the line's first
// words, "index" the one looked at. A lone letter anywhere else is not a level: Zeek writes
// booleans as T and F after numbers, and a word "E" or "I" in prose means nothing.
std::optional<Level> SingleLetterLevel(const std::string_view* words, size_t index) {
  std::string_view word = words[index];
  // glog: "E1203 12:34:56.789012  1234 file.cc:12] msg" - the letter glued to MMDD at the start.
  if (index == 0 && word.size() == 5 &&
      std::string_view("IWEF").find(word[0]) != std::string_view::npos &&
      AllDigits(word.substr(1))) {
    int month = (word[1] - '0') * 10 + (word[2] - '0');
    int day = (word[3] - '0') * 10 + (word[4] - '0');
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31 && !words[1].empty() &&
        IsClockTime(words[1])) {
      return LetterLevel(word[0]);
    }
    return std::nullopt;
  }
  // logcat brief/time/tag: "E/AndroidRuntime( 1234): msg", "03-17 16:13:38.811 W/Tag: msg".
  // The tag ends with "(" or ":" (so that PostgreSQL's "I/O timings:" is not INFO).
  if (index <= 2 && word.size() >= 3 && word[1] == '/' && word[2] != '/' &&
      (index == 0 || IsClockTime(words[index - 1]))) {
    size_t tag_end = word.find_first_of("(:", 2);
    if (tag_end == std::string_view::npos || tag_end == 2) return std::nullopt;
    if (word[tag_end] == ':' && tag_end + 1 != word.size()) return std::nullopt;
    return LetterLevel(word[0]);
  }
  // logcat threadtime: "03-17 16:13:38.811  1702  2395 D WindowManager: msg".
  if (index >= 3 && word.size() == 1 && AllDigits(words[index - 1]) &&
      AllDigits(words[index - 2]) && IsClockTime(words[index - 3])) {
    return LetterLevel(word[0]);
  }
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
  // The first kLevelWords words, plus an empty one so that words[index + 1] always exists.
  std::string_view words[kLevelWords + 1];
  size_t count = 0, pos = 0;
  while (count < kLevelWords && pos < line.size()) {
    while (pos < line.size() && IsSpace(line[pos])) ++pos;
    size_t end = pos;
    while (end < line.size() && !IsSpace(line[end])) ++end;
    if (end == pos) break;
    words[count++] = line.substr(pos, end - pos);
    pos = end;
  }
  for (size_t index = 0; index < count; ++index) {
    if (std::optional<Level> level = SingleLetterLevel(words, index)) return level;
    if (std::optional<Level> level = TokenLevel(words[index], index)) return level;
    if (std::optional<Level> level = ColonPartLevel(words[index])) return level;
  }
  return std::nullopt;
}

void SniffPlainLine(std::string_view line, int64_t now_ns, std::optional<int64_t>* ts_ns,
                    std::optional<Level>* level, const TimeZone* zone) {
  if (std::optional<int64_t> ts = FindTimestampNearStart(line, now_ns, zone)) *ts_ns = ts;
  if (std::optional<Level> found = FindLevelNearStart(line)) *level = found;
}

}  // namespace sawmill::ingest
