#include "agent/input.h"

#include "common/timezone.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& CommonInputOptions() {
  static const std::vector<OptionSpec> kTable = {
      {"type", OptionType::kEnum, "required", "the input type", "file|stdin|syslog"},
      {"service", OptionType::kString, "",
       "service name of every record (default: the input type)"},
      {"level", OptionType::kEnum, "", "level of lines that carry none",
       "TRACE|DEBUG|INFO|WARN|ERROR|FATAL"},
      {"fields", OptionType::kMap, "", "static fields added to every record of this input"},
      {"timezone", OptionType::kString, "UTC",
       "zone of times written without one: an IANA name (Europe/Berlin) or an offset (+01:00)"},
      {"parser", OptionType::kEnum, "auto", "how a line is parsed", "auto|json|logfmt|regex"},
      {"pattern", OptionType::kString, "",
       "RE2 pattern with named groups (?P<name>...) for parser: regex"},
      {"multiline", OptionType::kSection, "", "joining continuation lines into one record"},
  };
  return kTable;
}

const std::vector<OptionSpec>& MultilineOptionTable() {
  static const std::vector<OptionSpec> kTable = {
      {"enabled", OptionType::kBool, "false",
       "join continuation lines (indented, 'at ...', 'Caused by:', '... N more')"},
      {"start_pattern", OptionType::kString, "",
       "RE2 pattern a record's first line matches; other lines continue it (implies enabled)"},
      {"flush_timeout", OptionType::kDuration, "1s", "emit a pending record after this idle time"},
      {"max_lines", OptionType::kInt, "500", "most lines joined into one record"},
  };
  return kTable;
}

Result<std::unique_ptr<InputContext>> MakeInputContext(const OptionValues& values,
                                                       uint64_t max_line_bytes) {
  auto ctx = std::make_unique<InputContext>();
  ctx->name = values.path();
  ctx->service = values.String("service");
  if (ctx->service.empty()) ctx->service = values.String("type");
  if (!values.String("level").empty()) ctx->level = ParseLevel(values.String("level"));
  ctx->fields = values.Map("fields");
  if (!values.String("timezone").empty()) {
    auto zone = TimeZone::Find(values.String("timezone"));
    if (!zone.ok()) {
      return Status::InvalidArgument(values.path() + ".timezone: " + zone.status().message());
    }
    ctx->zone = *zone;
  }
  ParserOptions parser;
  const std::string& kind = values.String("parser");
  parser.kind = kind == "json"     ? ParserKind::kJson
                : kind == "logfmt" ? ParserKind::kLogfmt
                : kind == "regex"  ? ParserKind::kRegex
                                   : ParserKind::kAuto;
  parser.pattern = values.String("pattern");
  if (parser.kind == ParserKind::kRegex && parser.pattern.empty()) {
    return Status::InvalidArgument(values.path() +
                                   ".pattern: required when parser is regex (an RE2 pattern with "
                                   "named groups)");
  }
  auto p = Parser::Create(parser);
  if (!p.ok()) return Status::InvalidArgument(values.path() + "." + p.status().message());
  ctx->parser = std::move(p).value();
  const OptionValues& ml = values.Section("multiline");
  ctx->multiline.start_pattern = ml.String("start_pattern");
  ctx->multiline.enabled = ml.Bool("enabled") || !ctx->multiline.start_pattern.empty();
  ctx->multiline.flush_timeout_ns = ml.DurationNs("flush_timeout");
  ctx->multiline.max_lines = static_cast<size_t>(std::max<int64_t>(1, ml.Int("max_lines")));
  ctx->multiline.max_bytes = max_line_bytes;
  auto joiner = MultilineJoiner::Create(ctx->multiline);
  if (!joiner.ok()) return Status::InvalidArgument(values.path() + "." + joiner.status().message());
  return ctx;
}

}  // namespace sawmill::agent
