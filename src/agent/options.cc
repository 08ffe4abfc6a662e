#include "agent/options.h"

#include <yaml-cpp/yaml.h>

#include <limits>

#include "common/config_values.h"

namespace sawmill::agent {

namespace {

std::string Join(const std::vector<OptionSpec>& table) {
  std::string names;
  for (const auto& spec : table) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

// The value, or its error prefixed with the key's path.
template <typename T>
Result<T> WithKey(Result<T> value, const std::string& key_path) {
  if (!value.ok()) return value.status().WithContext(key_path);
  return value;
}

}  // namespace

Status AtLine(const Status& status, const YAML::Node& node) {
  if (status.ok() || !status.IsInvalidArgument() || !node.IsDefined() || node.Mark().is_null()) {
    return status;
  }
  return Status::InvalidArgument(status.message() + " (line " +
                                 std::to_string(node.Mark().line + 1) + ")");
}

namespace {

std::string KeyPath(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

}  // namespace

bool OptionValues::Has(std::string_view name) const {
  return strings_.count(name) || lists_.count(name) || ints_.count(name) || maps_.count(name) ||
         sections_.count(name);
}

const std::string& OptionValues::String(std::string_view name) const {
  static const std::string kEmpty;
  auto it = strings_.find(name);
  return it == strings_.end() ? kEmpty : it->second;
}

const std::vector<std::string>& OptionValues::List(std::string_view name) const {
  static const std::vector<std::string> kEmpty;
  auto it = lists_.find(name);
  return it == lists_.end() ? kEmpty : it->second;
}

bool OptionValues::Bool(std::string_view name) const { return Int(name) != 0; }

int64_t OptionValues::Int(std::string_view name) const {
  auto it = ints_.find(name);
  return it == ints_.end() ? 0 : it->second;
}

const std::vector<std::pair<std::string, std::string>>& OptionValues::Map(
    std::string_view name) const {
  static const std::vector<std::pair<std::string, std::string>> kEmpty;
  auto it = maps_.find(name);
  return it == maps_.end() ? kEmpty : it->second;
}

const OptionValues& OptionValues::Section(std::string_view name) const {
  static const OptionValues kEmpty;
  auto it = sections_.find(name);
  return it == sections_.end() ? kEmpty : it->second;
}

class OptionValuesBuilder {
 public:
  static void SetPath(OptionValues* values, const std::string& path) { values->path_ = path; }
  static Status Apply(OptionValues* values, const OptionSpec& spec, const YAML::Node* node,
                      const std::string& key_path, const SectionTables& sections) {
    std::string name(spec.name);
    if (spec.type == OptionType::kSection) {
      auto it = sections.find(spec.name);
      if (it == sections.end()) return Status::Internal("no table for section " + key_path);
      YAML::Node empty;
      ASSIGN_OR_RETURN(OptionValues nested,
                       ValidateSection(node ? *node : empty, *it->second, key_path, sections));
      values->sections_[name] = std::move(nested);
      return Status::OK();
    }
    if (node == nullptr) {
      if (spec.default_value == "required") {
        return Status::InvalidArgument(key_path + ": required key is missing (" +
                                       std::string(spec.help) + ")");
      }
      if (spec.type == OptionType::kStringList || spec.type == OptionType::kMap)
        return Status::OK();
      if (spec.default_value.empty() && spec.type == OptionType::kString) return Status::OK();
      if (spec.default_value.empty()) return Status::OK();
      YAML::Node def(std::string(spec.default_value));
      return Apply(values, spec, &def, key_path, sections);
    }
    auto scalar = [&](std::string* out) -> Status {
      if (!node->IsScalar()) {
        return Status::InvalidArgument(key_path + ": expected a single value, got a " +
                                       (node->IsSequence() ? "list" : "mapping"));
      }
      *out = node->Scalar();
      return Status::OK();
    };
    std::string text;
    switch (spec.type) {
      case OptionType::kString:
        RETURN_IF_ERROR(scalar(&text));
        values->strings_[name] = text;
        return Status::OK();
      case OptionType::kStringList: {
        std::vector<std::string> list;
        if (node->IsScalar()) {
          list.push_back(node->Scalar());
        } else if (node->IsSequence()) {
          for (size_t i = 0; i < node->size(); ++i) {
            const YAML::Node& item = (*node)[i];
            if (!item.IsScalar()) {
              return Status::InvalidArgument(key_path + "[" + std::to_string(i) +
                                             "]: expected a string");
            }
            list.push_back(item.Scalar());
          }
        } else if (!node->IsNull()) {
          return Status::InvalidArgument(key_path + ": expected a list of strings");
        }
        values->lists_[name] = std::move(list);
        return Status::OK();
      }
      case OptionType::kBool: {
        RETURN_IF_ERROR(scalar(&text));
        ASSIGN_OR_RETURN(bool on, WithKey(ParseBool(text), key_path));
        values->ints_[name] = on ? 1 : 0;
        return Status::OK();
      }
      case OptionType::kInt:
      case OptionType::kBytes: {
        RETURN_IF_ERROR(scalar(&text));
        ASSIGN_OR_RETURN(
            uint64_t number,
            WithKey(spec.type == OptionType::kInt ? ParseCount(text) : ParseSize(text), key_path));
        if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Status::InvalidArgument(key_path + ": '" + text + "' is too large");
        }
        values->ints_[name] = static_cast<int64_t>(number);
        return Status::OK();
      }
      case OptionType::kDuration: {
        RETURN_IF_ERROR(scalar(&text));
        ASSIGN_OR_RETURN(values->ints_[name], WithKey(ParseDuration(text), key_path));
        return Status::OK();
      }
      case OptionType::kEnum: {
        RETURN_IF_ERROR(scalar(&text));
        std::string_view choices = spec.choices;
        size_t start = 0;
        while (start <= choices.size()) {
          size_t bar = choices.find('|', start);
          if (bar == std::string_view::npos) bar = choices.size();
          if (choices.substr(start, bar - start) == text) {
            values->strings_[name] = text;
            return Status::OK();
          }
          start = bar + 1;
        }
        return Status::InvalidArgument(key_path + ": expected one of " + std::string(choices) +
                                       ", got '" + text + "'");
      }
      case OptionType::kMap: {
        if (!node->IsMap()) {
          if (node->IsNull()) return Status::OK();
          return Status::InvalidArgument(key_path + ": expected a mapping of names to values");
        }
        std::vector<std::pair<std::string, std::string>> map;
        for (const auto& kv : *node) {
          std::string key = kv.first.as<std::string>();
          if (!kv.second.IsScalar()) {
            return Status::InvalidArgument(KeyPath(key_path, key) + ": expected a string value");
          }
          map.emplace_back(key, kv.second.Scalar());
        }
        values->maps_[name] = std::move(map);
        return Status::OK();
      }
      case OptionType::kSection: break;
    }
    return Status::Internal("unhandled option type at " + key_path);
  }
};

Result<OptionValues> ValidateSection(const YAML::Node& node, const std::vector<OptionSpec>& table,
                                     const std::string& path, const SectionTables& sections) {
  OptionValues values;
  OptionValuesBuilder::SetPath(&values, path);
  try {
    if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
      return Status::InvalidArgument((path.empty() ? std::string("configuration") : path) +
                                     ": expected a mapping of keys to values");
    }
    if (node.IsMap()) {
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        bool known = false;
        for (const auto& spec : table) known |= spec.name == key;
        if (!known) {
          return AtLine(Status::InvalidArgument(KeyPath(path, key) +
                                                ": unknown key; expected one of: " + Join(table)),
                        kv.first);
        }
      }
    }
    for (const auto& spec : table) {
      // yaml-cpp nodes are references: bind, never assign.
      const YAML::Node child = node.IsMap() ? node[std::string(spec.name)] : YAML::Node();
      bool present = node.IsMap() && child.IsDefined();
      Status applied = OptionValuesBuilder::Apply(&values, spec, present ? &child : nullptr,
                                                  KeyPath(path, spec.name), sections);
      // A nested section names the line of its own key.
      if (spec.type != OptionType::kSection) applied = AtLine(applied, child);
      RETURN_IF_ERROR(applied);
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument((path.empty() ? std::string("configuration") : path) + ": " +
                                   e.what());
  }
  return values;
}

std::string DescribeOptions(const std::vector<OptionSpec>& table) {
  std::string out = "| name | type | default | description |\n|---|---|---|---|\n";
  for (const auto& spec : table) {
    std::string type;
    switch (spec.type) {
      case OptionType::kString: type = "string"; break;
      case OptionType::kStringList: type = "list of strings"; break;
      case OptionType::kBool: type = "bool"; break;
      case OptionType::kInt: type = "integer"; break;
      case OptionType::kBytes: type = "size"; break;
      case OptionType::kDuration: type = "duration"; break;
      case OptionType::kEnum: type = std::string(spec.choices); break;
      case OptionType::kMap: type = "map"; break;
      case OptionType::kSection: type = "section"; break;
    }
    out +=
        "| `" + std::string(spec.name) + "` | " + type + " | " +
        (spec.default_value.empty() ? std::string() : "`" + std::string(spec.default_value) + "`") +
        " | " + std::string(spec.help) + " |\n";
  }
  return out;
}

}  // namespace sawmill::agent
