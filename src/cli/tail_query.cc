#include "cli/tail_query.h"

#include "sawmill/record.h"

namespace sawmill::cli {

std::string QuoteValue(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '@' || c == '*';
    if (!ok) plain = false;
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Result<std::string> BuildTailQuery(const TailFilter& filter) {
  std::string q;
  auto add = [&q](std::string part) {
    if (!q.empty()) q += ' ';
    q += part;
  };
  if (!filter.service.empty()) add("service=" + QuoteValue(filter.service));
  if (!filter.level.empty()) {
    std::optional<Level> level = ParseLevel(filter.level);
    if (!level || *level == Level::kUnknown) {
      return Status::InvalidArgument("--level: '" + filter.level +
                                     "' is not a level; use TRACE, DEBUG, INFO, WARN, ERROR or "
                                     "FATAL");
    }
    add("level>=" + std::string(LevelName(*level)));
  }
  if (!filter.host.empty()) add("host=" + QuoteValue(filter.host));
  std::string_view rest = filter.query;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (!rest.empty()) {
    // Parenthesised so that an OR in the query does not escape the flags' AND.
    add(q.empty() ? std::string(rest) : "(" + std::string(rest) + ")");
  }
  return q;
}

}  // namespace sawmill::cli
