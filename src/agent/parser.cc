#include "agent/parser.h"

#include <re2/re2.h>

#include "common/json_string.h"

namespace sawmill::agent {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// The pairs as one JSON object. Invalid UTF-8 in a key or value is repaired first (each maximal
// invalid subpart becomes U+FFFD, as the normaliser would) and reported in "*repaired", so the
// record is flagged invalid_utf8 like any line that needed it.
std::string PairsToJson(std::vector<std::pair<std::string, std::string>>* pairs, bool* repaired) {
  std::string json = "{";
  for (size_t i = 0; i < pairs->size(); ++i) {
    auto& [key, value] = (*pairs)[i];
    *repaired = ingest::SanitizeUtf8(&key) || *repaired;
    *repaired = ingest::SanitizeUtf8(&value) || *repaired;
    if (i > 0) json.push_back(',');
    AppendJsonString(key, &json);
    json.push_back(':');
    AppendJsonString(value, &json);
  }
  json.push_back('}');
  return json;
}

}  // namespace

bool ParseLogfmt(std::string_view line, std::vector<std::pair<std::string, std::string>>* out) {
  bool any_pair = false;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    size_t key_start = i;
    while (i < line.size() && !IsSpace(line[i]) && line[i] != '=') ++i;
    std::string key(line.substr(key_start, i - key_start));
    std::string value;
    if (i < line.size() && line[i] == '=') {
      ++i;
      if (i < line.size() && line[i] == '"') {
        ++i;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            char c = line[i];
            value.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        if (i < line.size()) ++i;  // closing quote
      } else {
        size_t value_start = i;
        while (i < line.size() && !IsSpace(line[i])) ++i;
        value.assign(line.substr(value_start, i - value_start));
      }
      if (!key.empty()) any_pair = true;
    }
    if (!key.empty()) out->emplace_back(std::move(key), std::move(value));
  }
  return any_pair;
}

Result<std::unique_ptr<Parser>> Parser::Create(const ParserOptions& options) {
  std::unique_ptr<Parser> parser(new Parser());
  parser->options_ = options;
  if (options.kind == ParserKind::kRegex) {
    RE2::Options quiet;
    quiet.set_log_errors(false);
    parser->regex_ = std::make_unique<RE2>(options.pattern, quiet);
    if (!parser->regex_->ok()) {
      return Status::InvalidArgument("parser.pattern '" + options.pattern +
                                     "': " + parser->regex_->error());
    }
    const auto& names = parser->regex_->CapturingGroupNames();
    if (names.empty()) {
      return Status::InvalidArgument("parser.pattern '" + options.pattern +
                                     "': expected at least one named group (?P<name>...)");
    }
    parser->group_names_.resize(parser->regex_->NumberOfCapturingGroups());
    for (const auto& [index, name] : names) parser->group_names_[index - 1] = name;
  }
  return parser;
}

Parser::~Parser() = default;

bool Parser::Parse(std::string_view line, const ingest::Defaults& defaults,
                   const ingest::NormalizeOptions& normalize, int64_t now_ns, Record* out) const {
  ingest::IngestCounts counts;
  switch (options_.kind) {
    case ParserKind::kAuto:
      return ingest::NormalizeLine(line, defaults, normalize, now_ns, out, &counts);
    case ParserKind::kJson: {
      size_t first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos) return false;
      bool ok = ingest::NormalizeLine(line, defaults, normalize, now_ns, out, &counts);
      if (ok && line[first] != '{') out->flags |= kFlagParseFailed;
      return ok;
    }
    case ParserKind::kLogfmt: {
      std::vector<std::pair<std::string, std::string>> pairs;
      if (!ParseLogfmt(line, &pairs)) {
        return ingest::NormalizeLine(line, defaults, normalize, now_ns, out, &counts);
      }
      std::string raw(line);
      bool repaired = false;
      std::string json = PairsToJson(&pairs, &repaired);
      bool ok = ingest::NormalizeLine(json, defaults, normalize, now_ns, out, &counts);
      if (ok && repaired) out->flags |= kFlagInvalidUtf8;
      // A logfmt line without msg keeps the whole line as its message, cut and repaired like
      // any message (it was kept raw: any length, invalid UTF-8 included).
      if (ok && out->message.empty()) {
        const size_t max = normalize.max_line_bytes;
        if (max > 0 && raw.size() > max) {
          size_t cut = max;
          while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) --cut;
          raw.resize(cut);
          out->flags |= kFlagTruncated;
        }
        if (ingest::SanitizeUtf8(&raw)) out->flags |= kFlagInvalidUtf8;
        out->message = std::move(raw);
      }
      return ok;
    }
    case ParserKind::kRegex: {
      size_t groups = group_names_.size();
      std::vector<re2::StringPiece> pieces(groups);
      std::vector<RE2::Arg> args(groups);
      std::vector<const RE2::Arg*> arg_ptrs(groups);
      for (size_t g = 0; g < groups; ++g) {
        args[g] = RE2::Arg(&pieces[g]);
        arg_ptrs[g] = &args[g];
      }
      if (!RE2::PartialMatchN(line, *regex_, arg_ptrs.data(), static_cast<int>(groups))) {
        bool ok = ingest::NormalizeLine(line, defaults, normalize, now_ns, out, &counts);
        if (ok) out->flags |= kFlagParseFailed;
        return ok;
      }
      std::vector<std::pair<std::string, std::string>> pairs;
      bool has_message = false;
      for (size_t g = 0; g < groups; ++g) {
        if (group_names_[g].empty() || pieces[g].data() == nullptr) continue;
        const std::string& name = group_names_[g];
        has_message |= name == "message" || name == "msg" || name == "log";
        pairs.emplace_back(name, std::string(pieces[g]));
      }
      if (!has_message) pairs.emplace_back("message", std::string(line));
      bool repaired = false;
      std::string json = PairsToJson(&pairs, &repaired);
      bool ok = ingest::NormalizeLine(json, defaults, normalize, now_ns, out, &counts);
      if (ok && repaired) out->flags |= kFlagInvalidUtf8;
      return ok;
    }
  }
  return false;
}

}  // namespace sawmill::agent
