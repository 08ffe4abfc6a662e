#include "agent/record_json.h"

#include "common/json_string.h"

namespace sawmill::agent {

namespace {

void AppendKey(std::string* out, std::string_view key, bool* first) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(key, out);
  out->push_back(':');
}

}  // namespace

void AppendRecordJson(std::string* out, const Record& record) {
  bool first = true;
  out->push_back('{');
  if (record.ts != 0) {
    AppendKey(out, "ts", &first);
    out->append(std::to_string(record.ts));
  }
  if (record.level != Level::kUnknown) {
    AppendKey(out, "level", &first);
    AppendJsonString(LevelName(record.level), out);
  }
  auto str = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    AppendKey(out, key, &first);
    AppendJsonString(value, out);
  };
  str("service", record.service);
  str("host", record.host);
  str("trace_id", record.trace_id);
  str("span_id", record.span_id);
  str("user_id", record.user_id);
  AppendKey(out, "message", &first);
  AppendJsonString(record.message, out);
  for (const auto& [key, value] : record.fields) {
    AppendKey(out, key, &first);
    AppendJsonString(value, out);
  }
  if (record.flags != 0) {
    std::string names;
    for (std::string_view name : FlagNames(record.flags)) {
      if (!names.empty()) names.push_back(',');
      names.append(name);
    }
    AppendKey(out, "sawmill.flags", &first);
    AppendJsonString(names, out);
  }
  out->append("}\n");
}

}  // namespace sawmill::agent
