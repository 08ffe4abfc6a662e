#include "ingest/syslog_parser.h"

#include <optional>
#include <string>

#include "ingest/field_map.h"

namespace sawmill::ingest {

namespace {

constexpr std::string_view kFacilities[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};
constexpr std::string_view kSeverities[] = {"emerg",   "alert",  "crit", "err",
                                            "warning", "notice", "info", "debug"};

// Parses "<PRI>" at the start; returns the priority and advances "*rest".
std::optional<int> ParsePriority(std::string_view* rest) {
  std::string_view text = *rest;
  if (text.size() < 3 || text[0] != '<') return std::nullopt;
  size_t pos = 1;
  int value = 0;
  while (pos < text.size() && pos <= 4 && text[pos] >= '0' && text[pos] <= '9') {
    value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos == 1 || pos > 4 || pos >= text.size() || text[pos] != '>' || value > 191) {
    return std::nullopt;
  }
  // RFC 5424: no leading zeros except for "<0>".
  if (pos > 2 && text[1] == '0') return std::nullopt;
  rest->remove_prefix(pos + 1);
  return value;
}

// Next token up to a space; advances past the single separating space.
std::string_view Token(std::string_view* rest) {
  size_t end = rest->find(' ');
  std::string_view token = rest->substr(0, end);
  rest->remove_prefix(end == std::string_view::npos ? rest->size() : end + 1);
  return token;
}

bool IsNil(std::string_view token) { return token == "-"; }

bool IsPrintUsAscii(std::string_view token, size_t max) {
  if (token.empty() || token.size() > max) return false;
  for (char c : token) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

// A structured-data parameter named in the field-mapping table fills the trace, span or user
// id (the parameter also stays a field, under "<SD-ID>.<PARAM-NAME>").
void TakeId(std::string_view name, const std::string& value, Record* record) {
  std::string* target = nullptr;
  switch (ColumnOfName(name).value_or(Column::kTimestamp)) {
    case Column::kTraceId: target = &record->trace_id; break;
    case Column::kSpanId: target = &record->span_id; break;
    case Column::kUserId: target = &record->user_id; break;
    default: return;
  }
  if (target->empty()) *target = value;
}

// STRUCTURED-DATA: "-" or one or more [SD-ID (SP PARAM-NAME="value")*].
bool ParseStructuredData(std::string_view* rest, Record* record) {
  std::string_view text = *rest;
  if (!text.empty() && text[0] == '-') {
    text.remove_prefix(1);
    *rest = text;
    return text.empty() || text[0] == ' ';
  }
  if (text.empty() || text[0] != '[') return false;
  size_t pos = 0;
  while (pos < text.size() && text[pos] == '[') {
    ++pos;
    size_t id_start = pos;
    while (pos < text.size() && text[pos] != ' ' && text[pos] != ']' && text[pos] != '=' &&
           text[pos] != '"') {
      ++pos;
    }
    std::string_view sd_id = text.substr(id_start, pos - id_start);
    if (sd_id.empty() || sd_id.size() > 32) return false;
    while (pos < text.size() && text[pos] == ' ') {
      ++pos;
      size_t name_start = pos;
      while (pos < text.size() && text[pos] != '=' && text[pos] != ' ' && text[pos] != ']' &&
             text[pos] != '"') {
        ++pos;
      }
      std::string_view name = text.substr(name_start, pos - name_start);
      if (name.empty() || pos + 1 >= text.size() || text[pos] != '=' || text[pos + 1] != '"') {
        return false;
      }
      pos += 2;
      std::string value;
      bool closed = false;
      while (pos < text.size()) {
        char c = text[pos++];
        if (c == '\\' && pos < text.size() &&
            (text[pos] == '"' || text[pos] == '\\' || text[pos] == ']')) {
          value += text[pos++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
      TakeId(name, value, record);
      std::string key(sd_id);
      key += '.';
      key += name;
      record->fields.emplace_back(std::move(key), std::move(value));
    }
    if (pos >= text.size() || text[pos] != ']') return false;
    ++pos;
  }
  text.remove_prefix(pos);
  *rest = text;
  return text.empty() || text[0] == ' ';
}

void AddPriorityFields(int priority, Record* record) {
  const int facility = priority / 8;
  const int severity = priority % 8;
  record->fields.emplace_back("facility", std::string(SyslogFacilityName(facility)));
  record->fields.emplace_back("severity", std::string(SyslogSeverityName(severity)));
  if (auto level = LevelFromSyslogSeverity(severity)) record->level = *level;
}

bool ParseRfc5424(std::string_view rest, const ShipperContext& context, Record* record) {
  // VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
  Token(&rest);  // "1"
  std::string_view timestamp = Token(&rest);
  std::string_view hostname = Token(&rest);
  std::string_view app = Token(&rest);
  std::string_view procid = Token(&rest);
  std::string_view msgid = Token(&rest);
  if (!IsNil(timestamp)) {
    auto ts = ParseTimestamp(timestamp, context.now_ns, context.defaults.zone);
    if (!ts.has_value()) return false;
    record->ts = *ts;
  }
  if (!IsNil(hostname)) {
    if (!IsPrintUsAscii(hostname, 255)) return false;
    record->host = std::string(hostname);
  }
  if (!IsNil(app)) {
    if (!IsPrintUsAscii(app, 48)) return false;
    record->service = std::string(app);
  }
  if (!IsNil(procid)) {
    if (!IsPrintUsAscii(procid, 128)) return false;
    record->fields.emplace_back("proc_id", std::string(procid));
  }
  if (!IsNil(msgid)) {
    if (!IsPrintUsAscii(msgid, 32)) return false;
    record->fields.emplace_back("msg_id", std::string(msgid));
  }
  if (!ParseStructuredData(&rest, record)) return false;
  if (!rest.empty()) rest.remove_prefix(1);  // the SP before MSG
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
  record->message = std::string(rest);
  return true;
}

bool IsMonth(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::string_view month : kMonths) {
    if (text == month) return true;
  }
  return false;
}

// RFC 3164: TIMESTAMP SP HOSTNAME SP TAG MSG, where every part may be missing in practice.
void ParseRfc3164(std::string_view rest, const ShipperContext& context, Record* record) {
  // "Mmm dd hh:mm:ss" (dd space-padded), optionally followed by a year or fraction that some
  // senders add; or an RFC 3339 timestamp (rsyslog's high-precision forwarding format).
  if (rest.size() >= 15 && IsMonth(rest.substr(0, 3)) && rest[3] == ' ' && rest[9] == ':' &&
      rest[12] == ':') {
    if (auto ts = ParseTimestamp(rest.substr(0, 15), context.now_ns, context.defaults.zone)) {
      record->ts = *ts;
      rest.remove_prefix(15);
      if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    }
  } else if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {
    std::string_view token = rest.substr(0, rest.find(' '));
    if (auto ts = ParseTimestamp(token, context.now_ns, context.defaults.zone)) {
      record->ts = *ts;
      rest.remove_prefix(token.size());
      if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    }
  }
  // HOSTNAME, unless the next token is already the TAG ("sshd[42]:" or "su:").
  std::string_view first = rest.substr(0, rest.find(' '));
  const bool looks_like_tag =
      !first.empty() && (first.back() == ':' || first.find('[') != std::string_view::npos);
  if (!first.empty() && !looks_like_tag && first.size() < rest.size() &&
      IsPrintUsAscii(first, 255)) {
    record->host = std::string(first);
    rest.remove_prefix(first.size() + 1);
  }
  // TAG: up to 32 alphanumeric-ish characters, then "[pid]" and/or ':'.
  size_t pos = 0;
  while (pos < rest.size() && pos < 48 && rest[pos] != '[' && rest[pos] != ':' &&
         rest[pos] != ' ') {
    ++pos;
  }
  std::string_view tag = rest.substr(0, pos);
  std::string_view pid;
  size_t after = pos;
  if (after < rest.size() && rest[after] == '[') {
    size_t close = rest.find(']', after);
    if (close != std::string_view::npos && close - after <= 32) {
      pid = rest.substr(after + 1, close - after - 1);
      after = close + 1;
    }
  }
  bool has_colon = after < rest.size() && rest[after] == ':';
  if (!tag.empty() && (has_colon || !pid.empty())) {
    record->service = std::string(tag);
    if (!pid.empty()) record->fields.emplace_back("proc_id", std::string(pid));
    if (has_colon) ++after;
    if (after < rest.size() && rest[after] == ' ') ++after;
    rest.remove_prefix(after);
  }
  record->message = std::string(rest);
}

}  // namespace

std::string_view SyslogFacilityName(int facility) {
  return facility >= 0 && facility < 24 ? kFacilities[facility] : std::string_view();
}

std::string_view SyslogSeverityName(int severity) {
  return severity >= 0 && severity < 8 ? kSeverities[severity] : std::string_view();
}

Record ParseSyslogMessage(std::string_view message, const ShipperContext& context) {
  // Framing leftovers: a trailing newline or NUL is not part of the message.
  while (!message.empty() &&
         (message.back() == '\n' || message.back() == '\r' || message.back() == '\0')) {
    message.remove_suffix(1);
  }
  Record record;
  std::string_view rest = message;
  std::optional<int> priority = ParsePriority(&rest);
  bool ok = priority.has_value();
  if (ok) {
    AddPriorityFields(*priority, &record);
    if (rest.size() >= 2 && rest[0] == '1' && rest[1] == ' ') {
      ok = ParseRfc5424(rest, context, &record);
    } else {
      ParseRfc3164(rest, context, &record);
    }
  }
  if (!ok) {
    record = Record();
    record.message = std::string(message);
    record.flags |= kFlagParseFailed;
  }
  FinishShipperRecord(context, &record);
  return record;
}

}  // namespace sawmill::ingest
