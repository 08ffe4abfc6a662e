#include "ingest/loki_push.h"

#include <snappy.h>

#include <boost/json.hpp>
#include <charconv>
#include <optional>

#include "ingest/field_map.h"
#include "loki/push.pb.h"

namespace sawmill::ingest {

namespace json = boost::json;

namespace {

bool IsLabelStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsLabelChar(char c) { return IsLabelStart(c) || (c >= '0' && c <= '9') || c == '.'; }

void SkipSpaces(std::string_view text, size_t* pos) {
  while (*pos < text.size() && (text[*pos] == ' ' || text[*pos] == '\t' || text[*pos] == '\n')) {
    ++*pos;
  }
}

Status LabelError(size_t pos, std::string_view what) {
  return Status::InvalidArgument("labels: " + std::string(what) + " at byte " +
                                 std::to_string(pos));
}

std::optional<int64_t> ParseNanos(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<LabelSet> ParsePrometheusLabels(std::string_view text) {
  LabelSet labels;
  size_t pos = 0;
  SkipSpaces(text, &pos);
  if (pos >= text.size() || text[pos] != '{') return LabelError(pos, "expected '{'");
  ++pos;
  SkipSpaces(text, &pos);
  if (pos < text.size() && text[pos] == '}') {
    ++pos;
  } else {
    while (true) {
      SkipSpaces(text, &pos);
      size_t start = pos;
      if (pos >= text.size() || !IsLabelStart(text[pos])) {
        return LabelError(pos, "expected a label name");
      }
      while (pos < text.size() && IsLabelChar(text[pos])) ++pos;
      std::string name(text.substr(start, pos - start));
      SkipSpaces(text, &pos);
      if (pos >= text.size() || text[pos] != '=') return LabelError(pos, "expected '='");
      ++pos;
      SkipSpaces(text, &pos);
      if (pos >= text.size() || text[pos] != '"') return LabelError(pos, "expected '\"'");
      ++pos;
      std::string value;
      bool closed = false;
      while (pos < text.size()) {
        char c = text[pos++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (pos >= text.size()) break;
          char e = text[pos++];
          value += e == 'n' ? '\n' : (e == 't' ? '\t' : e);
        } else {
          value += c;
        }
      }
      if (!closed) return LabelError(pos, "unterminated label value");
      labels.emplace_back(std::move(name), std::move(value));
      SkipSpaces(text, &pos);
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        SkipSpaces(text, &pos);
        if (pos < text.size() && text[pos] == '}') {
          ++pos;
          break;
        }
        continue;
      }
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        break;
      }
      return LabelError(pos, "expected ',' or '}'");
    }
  }
  SkipSpaces(text, &pos);
  if (pos != text.size()) return LabelError(pos, "unexpected text after '}'");
  return labels;
}

void MapLokiEntry(const LabelSet& labels, const LabelSet& metadata, int64_t ts_ns, std::string line,
                  const ShipperContext& context, Record* record) {
  record->ts = ts_ns;
  record->message = std::move(line);
  record->fields.reserve(labels.size() + metadata.size());
  for (const auto& label : labels) record->fields.push_back(label);
  for (const auto& label : metadata) record->fields.push_back(label);
  // Labels are the stream's identity and Loki users select by them: a label that fills a column
  // stays a field too. Metadata comes last and wins over a label of the same name.
  FieldMapOptions map;
  map.labels = true;
  map.keep_fields = true;
  map.prefer_last = true;
  ApplyFieldMap(record, map);
  FinishShipperRecord(context, record);
}

Result<std::vector<Record>> DecodeLokiPushJson(std::string_view body,
                                               const ShipperContext& context) {
  json::parse_options options;
  options.max_depth = 16;
  options.allow_invalid_utf8 = true;
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec, {}, options);
  if (ec) return Status::InvalidArgument("loki push: invalid JSON: " + ec.message());
  if (!doc.is_object()) return Status::InvalidArgument("loki push: body is not a JSON object");
  const json::value* streams = doc.get_object().if_contains("streams");
  if (streams == nullptr || !streams->is_array()) {
    return Status::InvalidArgument("loki push: missing \"streams\" array");
  }
  std::vector<Record> records;
  size_t stream_index = 0;
  for (const json::value& stream : streams->get_array()) {
    const std::string where = "loki push: streams[" + std::to_string(stream_index++) + "]";
    if (!stream.is_object()) return Status::InvalidArgument(where + " is not an object");
    LabelSet labels;
    if (const json::value* s = stream.get_object().if_contains("stream")) {
      if (!s->is_object()) return Status::InvalidArgument(where + ".stream is not an object");
      for (const auto& member : s->get_object()) {
        if (!member.value().is_string()) {
          return Status::InvalidArgument(where + ".stream." + std::string(member.key()) +
                                         " is not a string");
        }
        labels.emplace_back(std::string(member.key()), std::string(member.value().get_string()));
      }
    }
    const json::value* values = stream.get_object().if_contains("values");
    if (values == nullptr || !values->is_array()) {
      return Status::InvalidArgument(where + ": missing \"values\" array");
    }
    size_t value_index = 0;
    for (const json::value& entry : values->get_array()) {
      const std::string at = where + ".values[" + std::to_string(value_index++) + "]";
      if (!entry.is_array() || entry.get_array().size() < 2 || entry.get_array().size() > 3) {
        return Status::InvalidArgument(at + ": expected [\"<unix ns>\", \"<line>\"(, {metadata})]");
      }
      const json::array& tuple = entry.get_array();
      std::optional<int64_t> ts;
      if (tuple[0].is_string()) {
        ts = ParseNanos(std::string_view(tuple[0].get_string()));
      } else if (tuple[0].is_int64()) {
        ts = tuple[0].get_int64();
      } else if (tuple[0].is_uint64()) {
        ts = static_cast<int64_t>(tuple[0].get_uint64());
      }
      if (!ts.has_value()) {
        return Status::InvalidArgument(at + ": timestamp is not a Unix epoch in nanoseconds");
      }
      if (!tuple[1].is_string()) return Status::InvalidArgument(at + ": line is not a string");
      LabelSet metadata;
      if (tuple.size() == 3) {
        if (!tuple[2].is_object()) {
          return Status::InvalidArgument(at + ": structured metadata is not an object");
        }
        for (const auto& member : tuple[2].get_object()) {
          std::string value = member.value().is_string() ? std::string(member.value().get_string())
                                                         : json::serialize(member.value());
          metadata.emplace_back(std::string(member.key()), std::move(value));
        }
      }
      if (records.size() >= context.max_records) {
        return Status::InvalidArgument("loki push: too many entries in one request (limit " +
                                       std::to_string(context.max_records) + ")");
      }
      Record record;
      MapLokiEntry(labels, metadata, *ts, std::string(tuple[1].get_string()), context, &record);
      records.push_back(std::move(record));
    }
  }
  return records;
}

size_t LokiPushDeclaredLength(std::string_view body) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &length)) return 0;
  return length;
}

Result<std::vector<Record>> DecodeLokiPushProtobuf(std::string_view body,
                                                   const ShipperContext& context,
                                                   size_t max_decoded_bytes) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &length)) {
    return Status::InvalidArgument("loki push: body is not snappy-compressed (bad length header)");
  }
  if (length > max_decoded_bytes) {
    return Status::ResourceExhausted("loki push: uncompressed body of " + std::to_string(length) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(max_decoded_bytes));
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    return Status::InvalidArgument("loki push: corrupt snappy block");
  }
  // streams (1) > entries (2), counted before anything is parsed.
  if (CountProtobufFields(raw, {1, 2}, context.max_records) > context.max_records) {
    return Status::InvalidArgument("loki push: too many entries in one request (limit " +
                                   std::to_string(context.max_records) +
                                   "); split the batch into smaller requests");
  }
  logproto::PushRequest request;
  if (!request.ParseFromString(raw)) {
    return Status::InvalidArgument("loki push: body is not a valid logproto.PushRequest");
  }
  std::vector<Record> records;
  for (int s = 0; s < request.streams_size(); ++s) {
    const logproto::StreamAdapter& stream = request.streams(s);
    Result<LabelSet> labels = ParsePrometheusLabels(stream.labels());
    if (!labels.ok()) {
      return labels.status().WithContext("loki push: streams[" + std::to_string(s) + "]");
    }
    for (const logproto::EntryAdapter& entry : stream.entries()) {
      if (records.size() >= context.max_records) {
        return Status::InvalidArgument("loki push: too many entries in one request (limit " +
                                       std::to_string(context.max_records) + ")");
      }
      LabelSet metadata;
      for (const auto& pair : entry.structuredmetadata()) {
        metadata.emplace_back(pair.name(), pair.value());
      }
      int64_t ts = 0;
      // Seconds beyond year 2255 would overflow int64 nanoseconds: treated as unknown.
      if (entry.has_timestamp() && entry.timestamp().seconds() >= 0 &&
          entry.timestamp().seconds() < 9'000'000'000) {
        ts = entry.timestamp().seconds() * 1'000'000'000 + entry.timestamp().nanos();
      }
      Record record;
      MapLokiEntry(*labels, metadata, ts, entry.line(), context, &record);
      records.push_back(std::move(record));
    }
  }
  return records;
}

}  // namespace sawmill::ingest
