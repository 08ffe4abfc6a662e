// Declarative option tables: every section of the agent's configuration (and every input type)
// declares its keys in one table - name, type, default, description - that gives validation,
// defaults and documentation at once (`sawmill agent --list-options` prints them).
//
// Validation rejects unknown keys and bad values with the key's path, what was expected and the
// line: "inputs[0].start_at: expected one of end|beginning, got 'middle' (line 7)". Sizes,
// durations, integers and booleans use the value syntax shared with the server
// (common/config_values.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace YAML {
class Node;
}

namespace sawmill::agent {

enum class OptionType {
  kString,
  kStringList,  // a sequence of strings (a single string is accepted as a one-element list)
  kBool,
  kInt,
  kBytes,     // 10GiB, 512MiB, 64KiB, 1GB, or a plain number of bytes (common/config_values.h)
  kDuration,  // 500ms, 1s, 2m, 1h, 1h30m, or a plain number of seconds (common/config_values.h)
  kEnum,      // one of "choices", separated by '|'
  kMap,       // string keys to string values
  kSection,   // a nested mapping validated by another table
};

struct OptionSpec {
  std::string_view name;
  OptionType type;
  std::string_view default_value;  // empty: no default; "required" marks a required key
  std::string_view help;
  std::string_view choices = {};  // kEnum only, e.g. "end|beginning"
};

// Validated values of one section, defaults applied. Accessors assume the key is in the table.
class OptionValues {
 public:
  bool Has(std::string_view name) const;
  const std::string& String(std::string_view name) const;
  const std::vector<std::string>& List(std::string_view name) const;
  bool Bool(std::string_view name) const;
  int64_t Int(std::string_view name) const;
  uint64_t Bytes(std::string_view name) const { return static_cast<uint64_t>(Int(name)); }
  int64_t DurationNs(std::string_view name) const { return Int(name); }
  const std::vector<std::pair<std::string, std::string>>& Map(std::string_view name) const;
  // A nested section's own values (validated against its table by the caller's table).
  const OptionValues& Section(std::string_view name) const;
  const std::string& path() const { return path_; }

 private:
  friend class OptionValuesBuilder;
  std::string path_;
  std::map<std::string, std::string, std::less<>> strings_;
  std::map<std::string, std::vector<std::string>, std::less<>> lists_;
  std::map<std::string, int64_t, std::less<>> ints_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>> maps_;
  std::map<std::string, OptionValues, std::less<>> sections_;
};

// Tables of nested sections, by the kSection key's name.
using SectionTables = std::map<std::string, const std::vector<OptionSpec>*, std::less<>>;

// Validates "node" (a mapping, or null for "all defaults") against "table". "path" prefixes
// error messages ("" at the top level, "inputs[0]" for an input). Errors: InvalidArgument.
Result<OptionValues> ValidateSection(const YAML::Node& node, const std::vector<OptionSpec>& table,
                                     const std::string& path, const SectionTables& sections);

// "status" with " (line N)" after its message when it is an InvalidArgument about "node" and
// "node" came from the configuration text (defaults have no line).
Status AtLine(const Status& status, const YAML::Node& node);

// The table as Markdown (name | type | default | description) for docs and --list-options.
std::string DescribeOptions(const std::vector<OptionSpec>& table);

}  // namespace sawmill::agent
