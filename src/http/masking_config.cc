#include "http/masking_config.h"

#include <yaml-cpp/yaml.h>

#include "http/api_routes.h"

namespace sawmill::http {

namespace {

Status Scalar(const YAML::Node& node, const std::string& where, std::string* out) {
  if (!node.IsScalar()) return Status::InvalidArgument(where + ": expected a value");
  *out = node.Scalar();
  return Status::OK();
}

Status RuleSetFromYaml(const YAML::Node& node, const std::string& where,
                       ingest::RedactOptions* options) {
  if (!node.IsMap()) {
    return Status::InvalidArgument(where + ": expected a mapping with detectors and/or rules");
  }
  options->credit_cards = false;
  options->us_ssn = false;
  options->emails = false;
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string at = where + "." + key;
    if (key == "detectors") {
      if (!item.second.IsSequence()) {
        return Status::InvalidArgument(at +
                                       ": expected a list (card, email, us_ssn, uk_nino, "
                                       "ipv4, ipv6)");
      }
      for (const auto& d : item.second) {
        std::string name;
        RETURN_IF_ERROR(Scalar(d, at, &name));
        if (name == ingest::Redactor::kCard) {
          options->credit_cards = true;
        } else if (name == ingest::Redactor::kEmail) {
          options->emails = true;
        } else if (name == ingest::Redactor::kUsSsn) {
          options->us_ssn = true;
        } else if (name == ingest::Redactor::kUkNino) {
          options->uk_nino = true;
        } else if (name == ingest::Redactor::kIpv4) {
          options->ipv4 = true;
        } else if (name == ingest::Redactor::kIpv6) {
          options->ipv6 = true;
        } else {
          return Status::InvalidArgument(at + ": unknown detector '" + name +
                                         "' (card, email, us_ssn, uk_nino, ipv4, ipv6)");
        }
      }
    } else if (key == "replacement") {
      RETURN_IF_ERROR(Scalar(item.second, at, &options->replacement));
    } else if (key == "rules") {
      if (!item.second.IsSequence()) {
        return Status::InvalidArgument(at + ": expected a list of {name, pattern, replacement}");
      }
      size_t i = 0;
      for (const auto& r : item.second) {
        const std::string rule_at = at + "[" + std::to_string(i++) + "]";
        if (!r.IsMap()) {
          return Status::InvalidArgument(rule_at + ": expected {name, pattern, replacement}");
        }
        ingest::RedactRule rule;
        for (const auto& field : r) {
          const std::string f = field.first.as<std::string>();
          if (f == "name") {
            RETURN_IF_ERROR(Scalar(field.second, rule_at + ".name", &rule.name));
          } else if (f == "pattern") {
            RETURN_IF_ERROR(Scalar(field.second, rule_at + ".pattern", &rule.pattern));
          } else if (f == "replacement") {
            RETURN_IF_ERROR(Scalar(field.second, rule_at + ".replacement", &rule.replacement));
          } else {
            return Status::InvalidArgument(rule_at + ": unknown key '" + f +
                                           "' (name, pattern, replacement)");
          }
        }
        if (rule.name.empty() || rule.pattern.empty()) {
          return Status::InvalidArgument(rule_at + ": needs a name and a pattern");
        }
        options->rules.push_back(std::move(rule));
      }
    } else {
      return Status::InvalidArgument(where + ": unknown key '" + key +
                                     "' (detectors, replacement, rules)");
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::map<std::string, ingest::RedactOptions, std::less<>>> ParseMaskingConfig(
    std::string_view yaml) {
  std::map<std::string, ingest::RedactOptions, std::less<>> by_tenant;
  if (yaml.find_first_not_of(" \t\r\n") == std::string_view::npos) return by_tenant;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("masking: line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  try {
    if (!root.IsMap()) {
      return Status::InvalidArgument("masking: expected a mapping of tenant: rule set");
    }
    for (const auto& item : root) {
      const std::string tenant = item.first.as<std::string>();
      const std::string where = "masking." + tenant;
      // A name no request can carry would mask nothing, and a tenant named twice would keep
      // only its last rule set: both are mistakes to stop at, not to run with.
      if (Result<std::string> valid = TenantFromHeader(tenant); !valid.ok() || *valid != tenant) {
        return Status::InvalidArgument(where + ": not a tenant name (" +
                                       (valid.ok() ? "empty" : valid.status().message()) + ")");
      }
      if (by_tenant.contains(tenant)) {
        return Status::InvalidArgument(where + ": the tenant is named twice");
      }
      ingest::RedactOptions options;
      RETURN_IF_ERROR(RuleSetFromYaml(item.second, where, &options));
      // Compile now, so that a bad pattern stops the server at start with its name.
      Result<std::unique_ptr<ingest::Redactor>> redactor = ingest::Redactor::Create(options);
      if (!redactor.ok()) return redactor.status().WithContext(where);
      if ((*redactor)->rule_names().empty()) {
        return Status::InvalidArgument(where + ": no detectors and no rules");
      }
      by_tenant[tenant] = std::move(options);
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("masking: line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  return by_tenant;
}

}  // namespace sawmill::http
