#include "logql/patterns.h"

#include <algorithm>

namespace sawmill::logql {

namespace {

constexpr std::string_view kVar = "<_>";

bool HasDigit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool Quoted(std::string_view s) {
  return s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front();
}

bool Variable(std::string_view s) { return HasDigit(s) || Quoted(s); }

// A token's pattern: itself, "<_>", or "key=<_>" / "key:<_>".
std::string TokenPattern(std::string_view token) {
  size_t sep = token.find_first_of("=:");
  if (sep != std::string_view::npos && sep > 0 && sep + 1 < token.size()) {
    std::string_view key = token.substr(0, sep);
    std::string_view value = token.substr(sep + 1);
    if (!HasDigit(key)) {
      std::string out(key);
      out.push_back(token[sep]);
      out += Variable(value) ? kVar : value;
      return out;
    }
  }
  return Variable(token) ? std::string(kVar) : std::string(token);
}

}  // namespace

std::string PatternOf(std::string_view line) {
  if (line.size() > kMaxPatternLineBytes) line = line.substr(0, kMaxPatternLineBytes);
  std::string out;
  bool last_var = false;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') {
      if (line[end] == '"') {  // a quoted string is part of one token, spaces included
        size_t close = line.find('"', end + 1);
        end = close == std::string_view::npos ? line.size() : close + 1;
      } else {
        ++end;
      }
    }
    std::string token = TokenPattern(line.substr(i, end - i));
    const bool var = token == kVar;
    if (!(var && last_var)) {
      if (!out.empty()) out.push_back(' ');
      out += token;
    }
    last_var = var;
    i = end;
  }
  return out;
}

void PatternTable::Add(std::string_view line, int64_t ts_ns) {
  std::string pattern = PatternOf(line);
  auto it = patterns_.find(pattern);
  if (it == patterns_.end()) {
    if (patterns_.size() >= max_patterns_) {
      ++dropped_lines_;
      return;
    }
    it = patterns_.emplace(pattern, Pattern{pattern, 0, {}}).first;
  }
  const int64_t bucket =
      ts_ns < start_ns_ ? start_ns_ : start_ns_ + (ts_ns - start_ns_) / step_ns_ * step_ns_;
  ++it->second.total;
  ++it->second.samples[bucket];
}

std::vector<PatternTable::Pattern> PatternTable::Patterns() const {
  std::vector<Pattern> out;
  out.reserve(patterns_.size());
  for (const auto& [_, p] : patterns_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const Pattern& a, const Pattern& b) {
    return a.total != b.total ? a.total > b.total : a.pattern < b.pattern;
  });
  return out;
}

}  // namespace sawmill::logql
