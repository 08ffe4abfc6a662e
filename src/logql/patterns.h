// Log patterns for Loki's /loki/api/v1/patterns: the shape of a line with its variable parts
// replaced by "<_>", and a bounded table counting the lines of each pattern per time step.
// The extraction is deliberately simple and deterministic (docs/loki-api.md "Patterns"):
// a line is split at spaces; a token holding a digit, or a quoted string, is variable; a
// key=value or key:value token keeps its key and masks a variable value; runs of variable
// tokens become one "<_>". Loki mines patterns with Drain, a clustering that can merge lines
// differing in a word; this masking does not, so it finds more, narrower patterns.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sawmill::logql {

// The pattern of one line ("GET /api/v1/users/42 took 15ms" -> "GET <_> took <_>").
// Lines longer than kMaxPatternLineBytes are cut there first.
inline constexpr size_t kMaxPatternLineBytes = 4096;
std::string PatternOf(std::string_view line);

// Counts of lines per pattern per step. Bounded: at most max_patterns distinct patterns are
// tracked; the lines of further patterns are counted in dropped_lines().
class PatternTable {
 public:
  PatternTable(int64_t start_ns, int64_t step_ns, size_t max_patterns)
      : start_ns_(start_ns), step_ns_(step_ns), max_patterns_(max_patterns) {}

  void Add(std::string_view line, int64_t ts_ns);

  struct Pattern {
    std::string pattern;
    int64_t total = 0;
    std::map<int64_t, int64_t> samples;  // step start (ns) -> lines
  };
  // The patterns, most lines first (ties: by pattern text).
  std::vector<Pattern> Patterns() const;
  int64_t dropped_lines() const { return dropped_lines_; }

 private:
  int64_t start_ns_, step_ns_;
  size_t max_patterns_;
  std::unordered_map<std::string, Pattern> patterns_;
  int64_t dropped_lines_ = 0;
};

}  // namespace sawmill::logql
