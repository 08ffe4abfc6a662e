#include "ingest/elasticsearch_bulk.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "common/json_string.h"
#include "ingest/field_map.h"

namespace sawmill::ingest {

namespace json = boost::json;

namespace {

constexpr int kMaxDepth = 64;

json::parse_options ParseOptions() {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  options.allow_invalid_utf8 = true;  // repaired later, and flagged, instead of rejected
  return options;
}

// Flattens "value" into "*fields" with dotted keys; arrays become their JSON text.
void Flatten(const json::value& value, std::string& key,
             std::vector<std::pair<std::string, std::string>>* fields) {
  switch (value.kind()) {
    case json::kind::object: {
      const size_t base = key.size();
      for (const auto& member : value.get_object()) {
        if (base > 0) key += '.';
        key.append(member.key().data(), member.key().size());
        Flatten(member.value(), key, fields);
        key.resize(base);
      }
      return;
    }
    case json::kind::null: return;
    case json::kind::string: {
      const json::string& s = value.get_string();
      fields->emplace_back(key, std::string(s.data(), s.size()));
      return;
    }
    case json::kind::bool_: fields->emplace_back(key, value.get_bool() ? "true" : "false"); return;
    default: fields->emplace_back(key, json::serialize(value)); return;
  }
}

// Removes and returns the value of the first key of "names" present in "*fields".
std::optional<std::string> Take(std::vector<std::pair<std::string, std::string>>* fields,
                                const std::vector<std::string_view>& names) {
  for (std::string_view name : names) {
    for (auto it = fields->begin(); it != fields->end(); ++it) {
      if (it->first == name) {
        std::string value = std::move(it->second);
        fields->erase(it);
        return value;
      }
    }
  }
  return std::nullopt;
}

const std::string* Find(const std::vector<std::pair<std::string, std::string>>& fields,
                        const std::vector<std::string_view>& names, std::string_view* which) {
  for (std::string_view name : names) {
    for (const auto& [key, value] : fields) {
      if (key == name) {
        *which = name;
        return &value;
      }
    }
  }
  return nullptr;
}

std::string_view NextLine(std::string_view body, size_t* pos) {
  size_t end = body.find('\n', *pos);
  if (end == std::string_view::npos) end = body.size();
  std::string_view line = body.substr(*pos, end - *pos);
  *pos = end < body.size() ? end + 1 : body.size();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

}  // namespace

void MapElasticsearchDocument(std::string_view json_text, std::string_view index,
                              const ShipperContext& context, Record* record) {
  json::error_code ec;
  json::value doc =
      json::parse(json::string_view(json_text.data(), json_text.size()), ec, {}, ParseOptions());
  if (ec || !doc.is_object()) {
    record->message.assign(json_text);
    record->flags |= kFlagParseFailed;
  } else {
    std::string key;
    Flatten(doc, key, &record->fields);
    auto& fields = record->fields;
    static const std::vector<std::string_view> kTimestampNames = ColumnNames(Column::kTimestamp);
    static const std::vector<std::string_view> kMessageNames = ColumnNames(Column::kMessage);
    std::string_view which;
    if (const std::string* ts = Find(fields, kTimestampNames, &which)) {
      if (auto parsed = ParseTimestamp(*ts, context.now_ns, context.defaults.zone)) {
        record->ts = *parsed;
        Take(&fields, {which});
      }
    }
    if (auto v = Take(&fields, kMessageNames)) {
      record->message = std::move(*v);
    } else {
      // As for native JSON lines: without a message key the document itself is the message,
      // so that a word search finds it. Its keys are still fields.
      record->message.assign(json_text);
    }
    ApplyFieldMap(record);  // level, service, host and the ids: ECS names first
  }
  if (!index.empty()) record->fields.emplace_back("_index", std::string(index));
  FinishShipperRecord(context, record);
}

Result<EsBulkBatch> DecodeElasticsearchBulk(std::string_view body, std::string_view default_index,
                                            const ShipperContext& context) {
  static constexpr std::array<std::string_view, 4> kActions = {"index", "create", "delete",
                                                               "update"};
  EsBulkBatch batch;
  // Two lines per indexed document: reserve once instead of growing (bounded by max_records).
  const size_t lines = static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1;
  batch.items.reserve(std::min(lines / 2 + 1, context.max_records));
  batch.records.reserve(std::min(lines / 2 + 1, context.max_records));
  size_t pos = 0;
  int64_t line_number = 0;
  while (pos < body.size()) {
    std::string_view line = NextLine(body, &pos);
    ++line_number;
    if (IsBlank(line)) continue;
    json::error_code ec;
    json::value action =
        json::parse(json::string_view(line.data(), line.size()), ec, {}, ParseOptions());
    if (ec) {
      return Status::InvalidArgument("Malformed action/metadata line [" +
                                     std::to_string(line_number) + "]: " + ec.message());
    }
    if (!action.is_object() || action.get_object().size() != 1 ||
        !action.get_object().begin()->value().is_object()) {
      return Status::InvalidArgument("Malformed action/metadata line [" +
                                     std::to_string(line_number) +
                                     "], expected {\"<action>\":{...}}");
    }
    const auto& entry = *action.get_object().begin();
    std::string name(entry.key());
    bool known = false;
    for (std::string_view a : kActions) known = known || a == name;
    if (!known) {
      return Status::InvalidArgument("Malformed action/metadata line [" +
                                     std::to_string(line_number) +
                                     "], expected one of [create, delete, index, update] but "
                                     "found [" +
                                     name + "]");
    }
    if (batch.items.size() >= context.max_records) {
      return Status::InvalidArgument("too many actions in one bulk request (limit " +
                                     std::to_string(context.max_records) + ")");
    }
    const json::object& meta = entry.value().get_object();
    EsBulkItem item;
    item.action = name;
    item.index = std::string(default_index);
    if (const json::value* v = meta.if_contains("_index"); v != nullptr && v->is_string()) {
      item.index = std::string(v->get_string());
    }
    if (const json::value* v = meta.if_contains("_id"); v != nullptr) {
      item.id = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
    }
    // Repaired like every other text: the response echoes both, and _id becomes a field after
    // the record's own repair (it was stored and answered with invalid UTF-8).
    bool repaired_meta = SanitizeUtf8(&item.index);
    repaired_meta = SanitizeUtf8(&item.id) || repaired_meta;
    if (name == "delete") {
      item.status = 400;
      item.error_type = "illegal_argument_exception";
      item.error_reason = "Sawmill stores logs append-only: delete is not supported";
      batch.items.push_back(std::move(item));
      continue;
    }
    if (pos >= body.size()) {
      return Status::InvalidArgument(
          "The bulk request must be terminated by a newline [\\n]; "
          "no document after the action/metadata line [" +
          std::to_string(line_number) + "]");
    }
    std::string_view document = NextLine(body, &pos);
    ++line_number;
    if (name == "update") {
      item.status = 400;
      item.error_type = "illegal_argument_exception";
      item.error_reason = "Sawmill stores logs append-only: update is not supported";
      batch.items.push_back(std::move(item));
      continue;
    }
    if (item.id.empty()) {
      item.id = "sm-" + std::to_string(context.now_ns) + "-" + std::to_string(batch.items.size());
    }
    Record record;
    MapElasticsearchDocument(document, item.index, context, &record);
    if (meta.contains("_id")) record.fields.emplace_back("_id", item.id);
    if (repaired_meta) record.flags |= kFlagInvalidUtf8;
    item.record = static_cast<int64_t>(batch.records.size());
    batch.records.push_back(std::move(record));
    batch.items.push_back(std::move(item));
  }
  return batch;
}

std::string EncodeElasticsearchBulkResponse(const std::vector<EsBulkItem>& items, int64_t took_ms,
                                            int store_http_status, std::string_view store_error) {
  const bool store_failed = store_http_status >= 400;
  bool errors = false;
  std::string out;
  out.reserve(64 + items.size() * 160);
  out += "{\"took\":" + std::to_string(took_ms) + ",\"errors\":";
  std::string body;
  body.reserve(items.size() * 160);
  int64_t seq_no = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const EsBulkItem& item = items[i];
    int status = item.status;
    std::string type = item.error_type;
    std::string reason = item.error_reason;
    if (status < 400 && store_failed) {
      status = store_http_status;
      type = status == 429 ? "es_rejected_execution_exception" : "unavailable_shards_exception";
      reason = std::string(store_error);
    }
    if (i > 0) body += ',';
    body += "{" + JsonString(item.action) + ":{\"_index\":" + JsonString(item.index) +
            ",\"_id\":" + JsonString(item.id) + ",\"status\":" + std::to_string(status);
    if (status >= 400) {
      errors = true;
      body += ",\"error\":{\"type\":" + JsonString(type) + ",\"reason\":" + JsonString(reason) +
              ",\"index\":" + JsonString(item.index) + "}";
    } else {
      body +=
          ",\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,"
          "\"failed\":0},\"_seq_no\":" +
          std::to_string(seq_no++) + ",\"_primary_term\":1";
    }
    body += "}}";
  }
  out += errors ? "true" : "false";
  out += ",\"items\":[";
  out += body;
  out += "]}";
  return out;
}

std::string ElasticsearchErrorBody(int status, std::string_view type, std::string_view reason) {
  std::string cause = "{\"type\":" + JsonString(type) + ",\"reason\":" + JsonString(reason) + "}";
  return "{\"error\":{\"root_cause\":[" + cause + "],\"type\":" + JsonString(type) +
         ",\"reason\":" + JsonString(reason) + "},\"status\":" + std::to_string(status) + "}";
}

}  // namespace sawmill::ingest
