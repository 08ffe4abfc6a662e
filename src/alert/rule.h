// Alerting rules (docs/alerting.md): what a rule says, and reading rules from YAML (the
// --alert-rules file, or a body of POST /api/v1/alerts/rules) with errors that name the file,
// the line and column, the rule and the key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::alert {

enum class Measure : uint8_t {
  kCount,  // matching lines in the window
  kRate,   // matching lines per second over the window
};

enum class CompareOp : uint8_t { kGt, kGe, kLt, kLe, kEq, kNe };

// "count > 50", "count == 0", "rate > 2".
struct Condition {
  Measure measure = Measure::kCount;
  CompareOp op = CompareOp::kGt;
  double threshold = 0;

  bool Holds(double value) const;
  // The measured value of "count" lines over a window of "window_ns".
  double Value(uint64_t count, int64_t window_ns) const;
  // True when the condition holds with no lines at all (absence: "count == 0", "count < 5").
  bool HoldsWhenSilent() const { return Holds(0); }
  std::string ToString() const;
};

// Errors: InvalidArgument ("expected 'count' or 'rate', an operator (>, >=, <, <=, ==, !=) and a
// number, e.g. 'count > 50'").
Result<Condition> ParseCondition(std::string_view text);

struct Rule {
  std::string name;
  std::string tenant = "default";
  std::string filter;  // the query language, no pipes
  Condition condition;
  int64_t window_ns = 0;
  std::vector<std::string> group_by;
  int64_t for_ns = 0;
  int64_t cooldown_ns = 3600 * int64_t{1'000'000'000};  // repeat interval while firing
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Where it came from: "file" (the --alert-rules file) or "api" (POST /api/v1/alerts/rules).
  std::string source = "file";
  int line = 0;  // the rule's line in its file or body, 1-based (0: unknown)
  // The YAML of this one rule as given, so the API can store and show it.
  std::string definition;

  // Same counting: filter, window and group_by (a reload that changes none of them keeps the
  // counts; one that changes any starts the rule's counts again).
  bool SameCounting(const Rule& other) const {
    return tenant == other.tenant && filter == other.filter && window_ns == other.window_ns &&
           group_by == other.group_by;
  }
};

struct RuleLimits {
  int64_t min_window_ns = 1'000'000'000;                           // 1s
  int64_t max_window_ns = 7 * 24 * 3600 * int64_t{1'000'000'000};  // 7d
  size_t max_group_by_fields = 4;
  size_t max_groups = 10'000;  // per rule (--alert-max-groups)
};

// The fields whose values are (nearly) unique per line: a group_by over one of them would
// exceed any cardinality cap, so it is refused when the rule is read.
bool IsUniquePerLineField(std::string_view field);

// Parses a rules document: "rules:" followed by a list of rules, or (with "allow_single") one
// rule mapping. "where" names the source in messages ("rules.yaml", "request body").
// "default_tenant" is the tenant of rules that name none. Every rule is checked (see
// ValidateRule); the first problem is returned as InvalidArgument
// "rules.yaml:12:13: rule 'payments-errors': filter: expected a value after '=' at 1:9".
// Duplicate names within one tenant are refused.
Result<std::vector<Rule>> ParseRules(std::string_view text, std::string_view where,
                                     const RuleLimits& limits, bool allow_single = false,
                                     std::string_view default_tenant = "default");

}  // namespace sawmill::alert
