#include "alert/rule.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/config_values.h"
#include "query/parser.h"
#include "query/query_engine.h"

namespace sawmill::alert {

namespace {

constexpr std::string_view kConditionHelp =
    "expected 'count' or 'rate', an operator (>, >=, <, <=, ==, !=) and a number, e.g. "
    "'count > 50', 'count == 0' or 'rate > 2'";

std::string Position(std::string_view where, const YAML::Mark& mark) {
  return std::string(where) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("_-.:", c) == nullptr) {
      return false;
    }
  }
  return true;
}

bool ValidTenant(std::string_view tenant) {
  if (tenant.empty() || tenant.size() > 150 || tenant == "." || tenant == "..") return false;
  for (char c : tenant) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("!-_.*'()", c) == nullptr) {
      return false;
    }
  }
  return true;
}

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool ValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

const std::set<std::string, std::less<>>& KnownKeys() {
  static const std::set<std::string, std::less<>> keys = {
      "name",     "tenant", "filter",   "condition", "window",
      "group_by", "for",    "cooldown", "labels",    "annotations"};
  return keys;
}

std::string KnownKeyList() {
  std::string out;
  for (const auto& key : KnownKeys()) out += (out.empty() ? "" : ", ") + key;
  return out;
}

// Reads one rule mapping. "prefix" is "where:line:col: " of the rule.
Result<Rule> ReadRule(const YAML::Node& node, std::string_view where, const RuleLimits& limits,
                      std::string_view default_tenant) {
  if (!node.IsMap()) {
    return Status::InvalidArgument(Position(where, node.Mark()) +
                                   ": a rule is a mapping of name, filter, condition, window, ...");
  }
  Rule rule;
  rule.tenant = std::string(default_tenant);
  rule.line = node.Mark().line + 1;
  // The name first, so that every later message can name the rule.
  if (const YAML::Node name = node["name"]; name && name.IsScalar()) rule.name = name.Scalar();
  const std::string rule_label = rule.name.empty() ? "a rule" : "rule '" + rule.name + "'";
  auto fail = [&](const YAML::Node& at, std::string_view key, const std::string& message) {
    return Status::InvalidArgument(Position(where, at.Mark()) + ": " + rule_label + ": " +
                                   std::string(key) + ": " + message);
  };
  auto scalar = [&](const YAML::Node& value, std::string_view key) -> Result<std::string> {
    if (!value.IsScalar()) return fail(value, key, "expected a single value");
    return value.Scalar();
  };
  auto duration = [&](const YAML::Node& value, std::string_view key) -> Result<int64_t> {
    ASSIGN_OR_RETURN(std::string text, scalar(value, key));
    Result<int64_t> ns = ParseDuration(text);
    if (!ns.ok()) return fail(value, key, ns.status().message());
    return *ns;
  };
  auto string_map = [&](const YAML::Node& value, std::string_view key,
                        bool label_names) -> Result<std::map<std::string, std::string>> {
    if (!value.IsMap()) return fail(value, key, "expected a mapping of names to text");
    std::map<std::string, std::string> out;
    for (const auto& item : value) {
      if (!item.first.IsScalar() || !item.second.IsScalar()) {
        return fail(item.first, key, "expected a mapping of names to text");
      }
      const std::string& k = item.first.Scalar();
      if (label_names && !ValidLabelName(k)) {
        return fail(item.first, key,
                    "'" + k + "' is not a label name (letters, digits and _, not first a digit)");
      }
      out[k] = item.second.Scalar();
    }
    return out;
  };

  bool has_filter = false, has_condition = false, has_window = false;
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      return Status::InvalidArgument(Position(where, item.first.Mark()) + ": " + rule_label +
                                     ": keys must be text");
    }
    const std::string& key = item.first.Scalar();
    const YAML::Node& value = item.second;
    if (KnownKeys().count(key) == 0) {
      return Status::InvalidArgument(Position(where, item.first.Mark()) + ": " + rule_label +
                                     ": unknown key '" + key + "' (a rule has " + KnownKeyList() +
                                     ")");
    }
    if (key == "name") {
      ASSIGN_OR_RETURN(rule.name, scalar(value, key));
      if (!ValidName(rule.name)) {
        return fail(value, key,
                    "'" + rule.name + "' is not a rule name (1 to 200 letters, digits and _-.:)");
      }
    } else if (key == "tenant") {
      ASSIGN_OR_RETURN(rule.tenant, scalar(value, key));
      if (!ValidTenant(rule.tenant)) {
        return fail(
            value, key,
            "'" + rule.tenant + "' is not a tenant (1 to 150 letters, digits and !-_.*'())");
      }
    } else if (key == "filter") {
      ASSIGN_OR_RETURN(rule.filter, scalar(value, key));
      has_filter = true;
      Result<std::shared_ptr<const query::Matcher>> compiled = query::CompileFilter(rule.filter);
      if (!compiled.ok()) return fail(value, key, compiled.status().message());
    } else if (key == "condition") {
      ASSIGN_OR_RETURN(std::string text, scalar(value, key));
      Result<Condition> condition = ParseCondition(text);
      if (!condition.ok()) return fail(value, key, condition.status().message());
      rule.condition = *condition;
      has_condition = true;
    } else if (key == "window") {
      ASSIGN_OR_RETURN(rule.window_ns, duration(value, key));
      has_window = true;
      if (rule.window_ns < limits.min_window_ns || rule.window_ns > limits.max_window_ns) {
        return fail(value, key,
                    "a window is between " + std::to_string(limits.min_window_ns / 1'000'000'000) +
                        "s and " + std::to_string(limits.max_window_ns / 1'000'000'000) +
                        "s, not '" + value.Scalar() + "'");
      }
    } else if (key == "group_by") {
      std::vector<YAML::Node> fields;
      if (value.IsScalar()) {
        fields.push_back(value);
      } else if (value.IsSequence()) {
        for (const auto& element : value) fields.push_back(element);
      } else {
        return fail(value, key, "expected a field name or a list of field names");
      }
      for (const auto& field : fields) {
        ASSIGN_OR_RETURN(std::string name, scalar(field, key));
        if (name.empty()) return fail(field, key, "a field name is not empty");
        if (IsUniquePerLineField(name)) {
          return fail(field, key,
                      "'" + name +
                          "' has a value per line, so grouping by it would exceed the "
                          "cap of " +
                          std::to_string(limits.max_groups) +
                          " groups per rule (alert_max_groups)");
        }
        for (const auto& seen : rule.group_by) {
          if (seen == name) return fail(field, key, "'" + name + "' is listed twice");
        }
        rule.group_by.push_back(name);
      }
      if (rule.group_by.size() > limits.max_group_by_fields) {
        return fail(value, key,
                    "at most " + std::to_string(limits.max_group_by_fields) + " fields");
      }
    } else if (key == "for") {
      ASSIGN_OR_RETURN(rule.for_ns, duration(value, key));
      if (rule.for_ns > limits.max_window_ns) {
        return fail(value, key,
                    "at most " + std::to_string(limits.max_window_ns / 1'000'000'000) + "s, not '" +
                        value.Scalar() + "'");
      }
    } else if (key == "cooldown") {
      ASSIGN_OR_RETURN(rule.cooldown_ns, duration(value, key));
      if (rule.cooldown_ns < limits.min_window_ns) {
        return fail(value, key, "at least 1s, not '" + value.Scalar() + "'");
      }
    } else if (key == "labels") {
      ASSIGN_OR_RETURN(rule.labels, string_map(value, key, true));
    } else if (key == "annotations") {
      ASSIGN_OR_RETURN(rule.annotations, string_map(value, key, false));
    }
  }
  auto missing = [&](std::string_view key) {
    return Status::InvalidArgument(Position(where, node.Mark()) + ": " + rule_label +
                                   ": missing key '" + std::string(key) + "'");
  };
  if (rule.name.empty()) return missing("name");
  if (!has_filter) return missing("filter");
  if (!has_condition) return missing("condition");
  if (!has_window) return missing("window");
  YAML::Emitter emitter;
  emitter << node;
  rule.definition = emitter.c_str();
  return rule;
}

}  // namespace

bool Condition::Holds(double value) const {
  switch (op) {
    case CompareOp::kGt: return value > threshold;
    case CompareOp::kGe: return value >= threshold;
    case CompareOp::kLt: return value < threshold;
    case CompareOp::kLe: return value <= threshold;
    case CompareOp::kEq: return value == threshold;
    case CompareOp::kNe: return value != threshold;
  }
  return false;
}

double Condition::Value(uint64_t count, int64_t window_ns) const {
  if (measure == Measure::kCount) return static_cast<double>(count);
  return static_cast<double>(count) * 1e9 / static_cast<double>(window_ns);
}

std::string Condition::ToString() const {
  static constexpr const char* kOps[] = {">", ">=", "<", "<=", "==", "!="};
  char number[64];
  std::snprintf(number, sizeof(number), "%g", threshold);
  return std::string(measure == Measure::kCount ? "count" : "rate") + " " +
         kOps[static_cast<int>(op)] + " " + number;
}

Result<Condition> ParseCondition(std::string_view text) {
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto error = [&](std::string what) {
    return Status::InvalidArgument(what + " at column " + std::to_string(i + 1) + ": " +
                                   std::string(kConditionHelp));
  };
  skip();
  Condition condition;
  size_t start = i;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  std::string_view word = text.substr(start, i - start);
  if (word == "count") {
    condition.measure = Measure::kCount;
  } else if (word == "rate") {
    condition.measure = Measure::kRate;
  } else {
    i = start;
    return error("'" + std::string(word) + "' is not a measure");
  }
  skip();
  static const std::pair<std::string_view, CompareOp> kOps[] = {
      {">=", CompareOp::kGe}, {"<=", CompareOp::kLe}, {"==", CompareOp::kEq},
      {"!=", CompareOp::kNe}, {">", CompareOp::kGt},  {"<", CompareOp::kLt}};
  bool found = false;
  for (const auto& [spelling, op] : kOps) {
    if (text.substr(i, spelling.size()) == spelling) {
      condition.op = op;
      i += spelling.size();
      found = true;
      break;
    }
  }
  if (!found) return error("expected an operator");
  skip();
  std::string number(text.substr(i));
  while (!number.empty() && std::isspace(static_cast<unsigned char>(number.back()))) {
    number.pop_back();
  }
  char* end = nullptr;
  const double value = number.empty() ? 0 : std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(value) ||
      value < 0) {
    return error("expected a number that is 0 or more");
  }
  condition.threshold = value;
  return condition;
}

bool IsUniquePerLineField(std::string_view field) {
  return field == "message" || field == "msg" || field == "trace_id" || field == "span_id" ||
         field == "id" || field == "seq" || field == "ts" || field == "ingest_ts";
}

Result<std::vector<Rule>> ParseRules(std::string_view text, std::string_view where,
                                     const RuleLimits& limits, bool allow_single,
                                     std::string_view default_tenant) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Position(where, e.mark) + ": " + e.msg);
  }
  std::vector<Rule> rules;
  try {
    YAML::Node list;
    if (root.IsNull()) return rules;
    if (root.IsMap() && root["rules"]) {
      for (const auto& item : root) {
        if (!item.first.IsScalar() || item.first.Scalar() != "rules") {
          return Status::InvalidArgument(Position(where, item.first.Mark()) + ": unknown key '" +
                                         item.first.Scalar() +
                                         "' (the file is 'rules:' followed by a list of rules)");
        }
      }
      list = root["rules"];
      if (list.IsNull()) return rules;
      if (!list.IsSequence()) {
        return Status::InvalidArgument(Position(where, list.Mark()) +
                                       ": rules: expected a list of rules");
      }
    } else if (allow_single && root.IsMap()) {
      ASSIGN_OR_RETURN(Rule rule, ReadRule(root, where, limits, default_tenant));
      rules.push_back(std::move(rule));
      return rules;
    } else {
      return Status::InvalidArgument(Position(where, root.Mark()) +
                                     ": expected 'rules:' followed by a list of rules");
    }
    std::set<std::pair<std::string, std::string>> names;
    for (const auto& node : list) {
      ASSIGN_OR_RETURN(Rule rule, ReadRule(node, where, limits, default_tenant));
      if (!names.insert({rule.tenant, rule.name}).second) {
        return Status::InvalidArgument(Position(where, node.Mark()) + ": rule '" + rule.name +
                                       "': name: another rule of tenant '" + rule.tenant +
                                       "' has this name");
      }
      rules.push_back(std::move(rule));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Position(where, e.mark) + ": " + e.msg);
  }
  return rules;
}

}  // namespace sawmill::alert
