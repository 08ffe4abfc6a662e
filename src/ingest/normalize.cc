// Native ingestion: NDJSON or plain text lines into Records (contract in normalize.h; the
// decisions where the issue is silent are in docs/ingest.md).
#include "ingest/normalize.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "ingest/field_map.h"
#include "ingest/timestamp_internal.h"

namespace sawmill::ingest {

namespace {

bool IsBlankChar(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (!IsBlankChar(c)) return false;
  }
  return true;
}

// The key under which a shipper (the Sawmill agent) passes the flags it set, as
// comma-separated FlagNames; unknown names are ignored.
constexpr std::string_view kFlagsKey = "sawmill.flags";

uint32_t FlagsFromNames(std::string_view names) {
  uint32_t flags = 0;
  while (!names.empty()) {
    size_t comma = names.find(',');
    std::string_view name = names.substr(0, comma);
    for (uint32_t bit = 1; bit != 0 && bit <= kFlagInvalidUtf8; bit <<= 1) {
      std::vector<std::string_view> known = FlagNames(bit);
      if (!known.empty() && known[0] == name) flags |= bit;
    }
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
  }
  return flags;
}

// The text of a scalar or array value as stored in a field: strings unquoted, everything else
// as (minified) JSON text. Returns false for null, which is left out.
bool ValueText(simdjson::dom::element value, std::string* out) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) return false;
      out->assign(s);
      return true;
    }
    case simdjson::dom::element_type::NULL_VALUE: return false;
    default: *out = simdjson::to_string(value); return true;
  }
}

// Appends "value" under "key" to the fields, flattening objects with dots.
void Flatten(std::string key, simdjson::dom::element value, Record* out) {
  if (value.type() == simdjson::dom::element_type::OBJECT) {
    simdjson::dom::object obj = value.get_object().value_unsafe();
    for (simdjson::dom::key_value_pair field : obj) {
      Flatten(key + "." + std::string(field.key), field.value, out);
    }
    return;
  }
  std::string text;
  if (ValueText(value, &text)) out->fields.emplace_back(std::move(key), std::move(text));
}

std::optional<int64_t> JsonTimestamp(simdjson::dom::element value, int64_t now_ns,
                                     const TimeZone* zone) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s = value.get_string().value_unsafe();
      return ParseTimestamp(s, now_ns, zone);
    }
    case simdjson::dom::element_type::INT64:
      return EpochIntToNanos(value.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64: {
      uint64_t v = value.get_uint64().value_unsafe();
      if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return EpochIntToNanos(static_cast<int64_t>(v));
    }
    case simdjson::dom::element_type::DOUBLE:
      return EpochToNanos(value.get_double().value_unsafe());
    default: return std::nullopt;
  }
}

std::optional<Level> JsonLevel(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING:
      return LevelFromText(value.get_string().value_unsafe());
    case simdjson::dom::element_type::INT64:
      return LevelFromNumber(value.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64: {
      uint64_t v = value.get_uint64().value_unsafe();
      return v > 100 ? std::nullopt : LevelFromNumber(static_cast<int64_t>(v));
    }
    default: return std::nullopt;
  }
}

// Numbers simdjson cannot hold (integers past 64 bits, doubles past 1e308) quoted, so that the
// line still maps and the field keeps the number's exact text. Returns false when there is no
// such number (the parse failed for another reason).
bool QuoteHugeNumbers(const std::string& text, std::string* out) {
  out->clear();
  out->reserve(text.size() + 16 + simdjson::SIMDJSON_PADDING);
  bool in_string = false, changed = false;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (in_string) {
      out->push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out->push_back(text[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out->push_back(c);
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t end = i;
      while (end < text.size() &&
             std::string_view("+-0123456789.eE").find(text[end]) != std::string_view::npos) {
        ++end;
      }
      std::string_view number(text.data() + i, end - i);
      size_t digits = 0;
      bool integer = true;
      for (char d : number) {
        if (d >= '0' && d <= '9') ++digits;
        if (d == '.' || d == 'e' || d == 'E') integer = false;
      }
      bool huge =
          integer ? digits > 19 : std::isinf(std::strtod(std::string(number).c_str(), nullptr));
      if (huge) {
        out->push_back('"');
        out->append(number);
        out->push_back('"');
        changed = true;
      } else {
        out->append(number);
      }
      i = end;
      continue;
    }
    out->push_back(c);
    ++i;
  }
  return changed;
}

// Fills "*out" from the members of one JSON object. The general way puts every key other than
// the time, level and message into the fields and then lets the field-mapping table fill the
// other columns by precedence (ApplyFieldMap). Most lines name each column once, at the top
// level: the fast way fills the column from that key directly (no field made and removed again)
// and gives up, returning false, as soon as a line is one it could get wrong: a column named
// twice (precedence decides), a nested object (it may hold "service.name"), or a level key whose
// value is not a level (the table may find another). The caller then redoes the line the general
// way on a fresh record, so both ways store the same record.
bool MapJsonMembers(simdjson::dom::object obj, const std::string& text, int64_t now_ns,
                    const TimeZone* zone, bool fast, Record* out) {
  bool have_ts = false, have_level = false, have_message = false;
  std::string* const targets[] = {&out->service, &out->host, &out->trace_id, &out->span_id,
                                  &out->user_id};
  bool filled[std::size(targets)] = {};
  for (simdjson::dom::key_value_pair field : obj) {
    std::string_view key = field.key;
    simdjson::dom::element value = field.value;
    const bool is_null = value.type() == simdjson::dom::element_type::NULL_VALUE;
    const bool is_object = value.type() == simdjson::dom::element_type::OBJECT;
    // Flags a shipper already set (the agent sends "redacted,truncated") become flag bits.
    std::string_view flag_names;
    if (key == kFlagsKey && value.get_string().get(flag_names) == simdjson::SUCCESS) {
      out->flags |= FlagsFromNames(flag_names);
      continue;
    }
    // The time, level and message keys take the first usable value; an unusable one (a
    // timestamp that does not parse, an unknown level, a second "msg") stays in the fields so
    // that nothing is lost. The other columns are filled from the fields by the table.
    const std::optional<Column> column = ColumnOfName(key);
    switch (column.value_or(Column::kTimestamp)) {
      case Column::kTimestamp:
        if (column && !have_ts) {
          if (std::optional<int64_t> ts = JsonTimestamp(value, now_ns, zone)) {
            out->ts = *ts;
            have_ts = true;
            continue;
          }
        }
        break;
      case Column::kLevel:
        if (!have_level) {
          if (std::optional<Level> level = JsonLevel(value)) {
            out->level = *level;
            have_level = true;
            continue;
          }
        }
        if (fast) return false;
        break;
      case Column::kMessage:
        if (!have_message && !is_null) {
          if (is_object) {
            out->message = simdjson::to_string(value);
          } else {
            ValueText(value, &out->message);
          }
          have_message = true;
          continue;
        }
        break;
      default:
        if (fast && !is_object) {
          const size_t slot = static_cast<size_t>(*column) - static_cast<size_t>(Column::kService);
          if (filled[slot]) return false;
          filled[slot] = true;
          std::string* target = targets[slot];
          if (ValueText(value, target) && !target->empty()) continue;
          // null or "": not a value for the column (the table skips it); "" stays a field.
          if (!is_null) out->fields.emplace_back(std::string(key), std::string());
          continue;
        }
        break;
    }
    if (fast && is_object) return false;
    Flatten(std::string(key), value, out);
  }
  // service, host, trace_id, span_id, user_id (and a level under a name such as log_level) from
  // the fields, nested ones included ({"service":{"name":..}} is service.name).
  if (!fast) ApplyFieldMap(out);
  // A structured line without a message keeps its whole text as the message, so that a word
  // search finds it (Loki keeps the line; see docs/ingest.md).
  if (!have_message) out->message = text;
  return true;
}

// Maps a JSON object line onto "*out" (everything but flags and defaults). Returns false when
// "text" is not one valid JSON object; "*out" is then unspecified and must be reset.
// "text" should have SIMDJSON_PADDING spare capacity to avoid a copy.
bool MapJson(const std::string& text, int64_t now_ns, const TimeZone* zone, Record* out) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::error_code error = parser.parse(text).get(doc);
  std::string quoted;
  if ((error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE) &&
      QuoteHugeNumbers(text, &quoted)) {
    error = parser.parse(quoted).get(doc);
  }
  if (error != simdjson::SUCCESS) return false;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  if (MapJsonMembers(obj, text, now_ns, zone, /*fast=*/true, out)) return true;
  *out = Record();
  return MapJsonMembers(obj, text, now_ns, zone, /*fast=*/false, out);
}

}  // namespace

bool NormalizeLine(std::string_view line, const Defaults& defaults, const NormalizeOptions& options,
                   int64_t now_ns, Record* out, IngestCounts* counts) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (IsBlank(line)) {
    ++counts->skipped;
    return false;
  }
  *out = Record();
  uint32_t flags = 0;
  size_t keep = line.size();
  if (options.max_line_bytes > 0 && keep > options.max_line_bytes) {
    keep = options.max_line_bytes;
    // Do not cut a UTF-8 sequence in two (a continuation byte never starts a character).
    for (int back = 0;
         back < 3 && keep > 0 && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80; ++back) {
      --keep;
    }
    flags |= kFlagTruncated;
  }
  std::string text;
  text.reserve(keep + simdjson::SIMDJSON_PADDING);
  text.append(line.data(), keep);
  if (SanitizeUtf8(&text)) {
    flags |= kFlagInvalidUtf8;
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  }

  size_t first = 0;
  while (first < text.size() && IsBlankChar(text[first])) ++first;
  bool mapped = false;
  if (text[first] == '{') {
    mapped = MapJson(text, now_ns, defaults.zone, out);
    if (!mapped) {
      *out = Record();
      flags |= kFlagParseFailed;
    }
  }
  if (!mapped) {
    std::optional<int64_t> ts;
    std::optional<Level> level;
    SniffPlainLine(text, now_ns, &ts, &level, defaults.zone);
    if (ts) out->ts = *ts;
    if (level) out->level = *level;
    out->message = std::move(text);
  }
  if (out->service.empty()) out->service = defaults.service;
  if (out->host.empty()) out->host = defaults.host;
  if (out->level == Level::kUnknown && defaults.level) out->level = *defaults.level;
  out->flags |= flags;

  ++counts->accepted;
  if (flags & kFlagTruncated) ++counts->truncated;
  if (flags & kFlagParseFailed) ++counts->parse_failed;
  return true;
}

void NormalizeBody(std::string_view body, const Defaults& defaults, const NormalizeOptions& options,
                   int64_t now_ns, std::vector<Record>* out, IngestCounts* counts) {
  // One record per line at most: reserving avoids moving every record while the vector grows.
  out->reserve(out->size() + static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1);
  size_t pos = 0;
  Record record;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    if (NormalizeLine(body.substr(pos, end - pos), defaults, options, now_ns, &record, counts)) {
      out->push_back(std::move(record));
    }
    pos = end + 1;
  }
}

}  // namespace sawmill::ingest
