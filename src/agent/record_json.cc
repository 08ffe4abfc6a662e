#include "agent/record_json.h"

#include <cstdio>

namespace sawmill::agent {

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->append(text.data() + run, text.size() - run);
  out->push_back('"');
}

namespace {

void AppendKey(std::string* out, std::string_view key, bool* first) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, key);
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
    AppendJsonString(out, LevelName(record.level));
  }
  auto str = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    AppendKey(out, key, &first);
    AppendJsonString(out, value);
  };
  str("service", record.service);
  str("host", record.host);
  str("trace_id", record.trace_id);
  str("span_id", record.span_id);
  str("user_id", record.user_id);
  AppendKey(out, "message", &first);
  AppendJsonString(out, record.message);
  for (const auto& [key, value] : record.fields) {
    AppendKey(out, key, &first);
    AppendJsonString(out, value);
  }
  if (record.flags != 0) {
    std::string names;
    for (std::string_view name : FlagNames(record.flags)) {
      if (!names.empty()) names.push_back(',');
      names.append(name);
    }
    AppendKey(out, "sawmill.flags", &first);
    AppendJsonString(out, names);
  }
  out->append("}\n");
}

}  // namespace sawmill::agent
