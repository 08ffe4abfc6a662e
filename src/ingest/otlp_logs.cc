#include "ingest/otlp_logs.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "common/base64.h"
#include "ingest/field_map.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "rpc_status.pb.h"

namespace sawmill::ingest {

namespace json = boost::json;
namespace otlp = opentelemetry::proto;
using otlp::collector::logs::v1::ExportLogsServiceRequest;
using otlp::common::v1::AnyValue;
using otlp::common::v1::KeyValue;

namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxWarnings = 5;

// Problems found while decoding that do not fail the request.
struct Notes {
  int64_t rejected = 0;
  std::vector<std::string> messages;
  size_t total = 0;

  void Add(std::string message) {
    ++total;
    if (messages.size() < kMaxWarnings) messages.push_back(std::move(message));
  }
  std::string Summary() const {
    std::string out;
    for (const std::string& m : messages) {
      if (!out.empty()) out += "; ";
      out += m;
    }
    if (total > messages.size()) {
      out += "; and " + std::to_string(total - messages.size()) + " more";
    }
    return out;
  }
};

// ---- OTLP/JSON into the protobuf message ------------------------------------------------

// Finds a member by its lowerCamelCase or its snake_case name (the protobuf JSON mapping
// accepts both).
const json::value* Member(const json::object& object, std::string_view camel,
                          std::string_view snake = {}) {
  if (const json::value* v = object.if_contains(json::string_view(camel.data(), camel.size()))) {
    return v;
  }
  if (!snake.empty()) return object.if_contains(json::string_view(snake.data(), snake.size()));
  return nullptr;
}

std::optional<int64_t> JsonInt64(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    if (value.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(value.get_uint64());
  }
  if (value.is_double()) {
    double d = value.get_double();
    if (!(std::abs(d) < 9.2e18)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (value.is_string()) {
    std::string_view text = value.get_string();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size()) return out;
  }
  return std::nullopt;
}

std::optional<uint64_t> JsonUint64(const json::value& value) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_string()) {
    std::string_view text = value.get_string();
    uint64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size()) return out;
    return std::nullopt;
  }
  auto signed_value = JsonInt64(value);
  if (!signed_value.has_value() || *signed_value < 0) return std::nullopt;
  return static_cast<uint64_t>(*signed_value);
}

std::optional<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::optional<int> SeverityFromName(std::string_view name) {
  static constexpr std::string_view kNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
  constexpr std::string_view kPrefix = "SEVERITY_NUMBER_";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  if (name == "UNSPECIFIED") return 0;
  for (int group = 0; group < 6; ++group) {
    std::string_view base = kNames[group];
    if (name.substr(0, base.size()) != base) continue;
    std::string_view rest = name.substr(base.size());
    if (rest.empty()) return group * 4 + 1;
    if (rest.size() == 1 && rest[0] >= '2' && rest[0] <= '4') return group * 4 + (rest[0] - '0');
  }
  return std::nullopt;
}

Status JsonToAnyValue(const json::value& in, const std::string& where, AnyValue* out);

Status JsonToKeyValues(const json::value& in, const std::string& where,
                       google::protobuf::RepeatedPtrField<KeyValue>* out) {
  if (in.is_null()) return Status::OK();
  if (!in.is_array()) return Status::InvalidArgument(where + " is not an array");
  size_t index = 0;
  for (const json::value& item : in.get_array()) {
    const std::string at = where + "[" + std::to_string(index++) + "]";
    if (!item.is_object()) return Status::InvalidArgument(at + " is not an object");
    const json::value* key = Member(item.get_object(), "key");
    if (key == nullptr || !key->is_string()) {
      return Status::InvalidArgument(at + ".key is missing or not a string");
    }
    KeyValue* kv = out->Add();
    kv->set_key(std::string(key->get_string()));
    if (const json::value* value = Member(item.get_object(), "value")) {
      RETURN_IF_ERROR(JsonToAnyValue(*value, at + ".value", kv->mutable_value()));
    }
  }
  return Status::OK();
}

Status JsonToAnyValue(const json::value& in, const std::string& where, AnyValue* out) {
  if (in.is_null()) return Status::OK();
  if (!in.is_object()) return Status::InvalidArgument(where + " is not an AnyValue object");
  const json::object& object = in.get_object();
  if (const json::value* v = Member(object, "stringValue", "string_value")) {
    if (!v->is_string()) return Status::InvalidArgument(where + ".stringValue is not a string");
    out->set_string_value(std::string(v->get_string()));
  } else if (const json::value* v = Member(object, "boolValue", "bool_value")) {
    if (!v->is_bool()) return Status::InvalidArgument(where + ".boolValue is not a boolean");
    out->set_bool_value(v->get_bool());
  } else if (const json::value* v = Member(object, "intValue", "int_value")) {
    auto number = JsonInt64(*v);
    if (!number) return Status::InvalidArgument(where + ".intValue is not an int64");
    out->set_int_value(*number);
  } else if (const json::value* v = Member(object, "doubleValue", "double_value")) {
    if (v->is_number()) {
      out->set_double_value(v->to_number<double>());
    } else if (v->is_string() && (v->get_string() == "NaN" || v->get_string() == "Infinity" ||
                                  v->get_string() == "-Infinity")) {
      std::string_view s = v->get_string();
      out->set_double_value(s == "NaN" ? std::nan("") : (s == "Infinity" ? HUGE_VAL : -HUGE_VAL));
    } else {
      return Status::InvalidArgument(where + ".doubleValue is not a number");
    }
  } else if (const json::value* v = Member(object, "bytesValue", "bytes_value")) {
    std::optional<std::string> bytes;
    if (v->is_string()) bytes = Base64Decode(std::string_view(v->get_string()));
    if (!bytes) return Status::InvalidArgument(where + ".bytesValue is not base64");
    out->set_bytes_value(std::move(*bytes));
  } else if (const json::value* v = Member(object, "arrayValue", "array_value")) {
    if (!v->is_object()) return Status::InvalidArgument(where + ".arrayValue is not an object");
    auto* array = out->mutable_array_value();
    if (const json::value* values = Member(v->get_object(), "values")) {
      if (!values->is_array()) {
        return Status::InvalidArgument(where + ".arrayValue.values is not an array");
      }
      size_t index = 0;
      for (const json::value& item : values->get_array()) {
        RETURN_IF_ERROR(
            JsonToAnyValue(item, where + ".arrayValue.values[" + std::to_string(index++) + "]",
                           array->add_values()));
      }
    }
  } else if (const json::value* v = Member(object, "kvlistValue", "kvlist_value")) {
    if (!v->is_object()) return Status::InvalidArgument(where + ".kvlistValue is not an object");
    auto* list = out->mutable_kvlist_value();
    if (const json::value* values = Member(v->get_object(), "values")) {
      RETURN_IF_ERROR(
          JsonToKeyValues(*values, where + ".kvlistValue.values", list->mutable_values()));
    }
  }
  return Status::OK();
}

// Converts one logRecord; a record that cannot be converted is counted as rejected.
Status JsonToLogRecord(const json::object& in, const std::string& where,
                       otlp::logs::v1::LogRecord* out, Notes* notes) {
  if (const json::value* v = Member(in, "timeUnixNano", "time_unix_nano")) {
    auto ns = JsonUint64(*v);
    if (!ns) return Status::InvalidArgument(where + ".timeUnixNano is not a uint64");
    out->set_time_unix_nano(*ns);
  }
  if (const json::value* v = Member(in, "observedTimeUnixNano", "observed_time_unix_nano")) {
    auto ns = JsonUint64(*v);
    if (!ns) return Status::InvalidArgument(where + ".observedTimeUnixNano is not a uint64");
    out->set_observed_time_unix_nano(*ns);
  }
  if (const json::value* v = Member(in, "severityNumber", "severity_number")) {
    std::optional<int64_t> number;
    if (v->is_string()) {
      if (auto named = SeverityFromName(std::string_view(v->get_string()))) number = *named;
    }
    if (!number) number = JsonInt64(*v);
    if (!number || *number < 0 || *number > 24) {
      return Status::InvalidArgument(where + ".severityNumber is not a SeverityNumber");
    }
    out->set_severity_number(static_cast<int>(*number));
  }
  if (const json::value* v = Member(in, "severityText", "severity_text"); v && v->is_string()) {
    out->set_severity_text(std::string(v->get_string()));
  }
  if (const json::value* v = Member(in, "eventName", "event_name"); v && v->is_string()) {
    out->set_event_name(std::string(v->get_string()));
  }
  if (const json::value* v = Member(in, "body")) {
    RETURN_IF_ERROR(JsonToAnyValue(*v, where + ".body", out->mutable_body()));
  }
  if (const json::value* v = Member(in, "attributes")) {
    RETURN_IF_ERROR(JsonToKeyValues(*v, where + ".attributes", out->mutable_attributes()));
  }
  for (auto [camel, snake, is_trace] :
       {std::tuple{"traceId", "trace_id", true}, std::tuple{"spanId", "span_id", false}}) {
    const json::value* v = Member(in, camel, snake);
    if (v == nullptr || (v->is_string() && v->get_string().empty())) continue;
    std::optional<std::string> bytes;
    if (v->is_string()) bytes = HexDecode(std::string_view(v->get_string()));
    if (!bytes) {
      notes->Add(where + "." + camel + " is not hex; the id was dropped");
      continue;
    }
    if (is_trace) {
      out->set_trace_id(std::move(*bytes));
    } else {
      out->set_span_id(std::move(*bytes));
    }
  }
  return Status::OK();
}

Status JsonToRequest(const json::value& doc, ExportLogsServiceRequest* request, Notes* notes) {
  if (!doc.is_object()) return Status::InvalidArgument("body is not a JSON object");
  const json::value* resource_logs = Member(doc.get_object(), "resourceLogs", "resource_logs");
  if (resource_logs == nullptr) return Status::OK();
  if (!resource_logs->is_array()) return Status::InvalidArgument("resourceLogs is not an array");
  size_t r = 0;
  for (const json::value& rl_json : resource_logs->get_array()) {
    const std::string rl_where = "resourceLogs[" + std::to_string(r++) + "]";
    if (!rl_json.is_object()) return Status::InvalidArgument(rl_where + " is not an object");
    auto* rl = request->add_resource_logs();
    const json::object& rl_object = rl_json.get_object();
    if (const json::value* resource = Member(rl_object, "resource");
        resource && resource->is_object()) {
      if (const json::value* attrs = Member(resource->get_object(), "attributes")) {
        RETURN_IF_ERROR(JsonToKeyValues(*attrs, rl_where + ".resource.attributes",
                                        rl->mutable_resource()->mutable_attributes()));
      }
    }
    const json::value* scope_logs = Member(rl_object, "scopeLogs", "scope_logs");
    if (scope_logs == nullptr) continue;
    if (!scope_logs->is_array())
      return Status::InvalidArgument(rl_where + ".scopeLogs is not an array");
    size_t s = 0;
    for (const json::value& sl_json : scope_logs->get_array()) {
      const std::string sl_where = rl_where + ".scopeLogs[" + std::to_string(s++) + "]";
      if (!sl_json.is_object()) return Status::InvalidArgument(sl_where + " is not an object");
      auto* sl = rl->add_scope_logs();
      const json::object& sl_object = sl_json.get_object();
      if (const json::value* scope = Member(sl_object, "scope"); scope && scope->is_object()) {
        const json::object& scope_object = scope->get_object();
        if (const json::value* v = Member(scope_object, "name"); v && v->is_string()) {
          sl->mutable_scope()->set_name(std::string(v->get_string()));
        }
        if (const json::value* v = Member(scope_object, "version"); v && v->is_string()) {
          sl->mutable_scope()->set_version(std::string(v->get_string()));
        }
      }
      const json::value* log_records = Member(sl_object, "logRecords", "log_records");
      if (log_records == nullptr) continue;
      if (!log_records->is_array()) {
        return Status::InvalidArgument(sl_where + ".logRecords is not an array");
      }
      size_t l = 0;
      for (const json::value& lr_json : log_records->get_array()) {
        const std::string lr_where = sl_where + ".logRecords[" + std::to_string(l++) + "]";
        otlp::logs::v1::LogRecord record;
        Status status = lr_json.is_object()
                            ? JsonToLogRecord(lr_json.get_object(), lr_where, &record, notes)
                            : Status::InvalidArgument(lr_where + " is not an object");
        if (!status.ok()) {
          ++notes->rejected;
          notes->Add(status.message());
          continue;
        }
        *sl->add_log_records() = std::move(record);
      }
    }
  }
  return Status::OK();
}

// ---- The protobuf message into records --------------------------------------------------

std::string DoubleText(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json::value AnyToJson(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kStringValue: return json::string(value.string_value());
    case AnyValue::kBoolValue: return value.bool_value();
    case AnyValue::kIntValue: return value.int_value();
    case AnyValue::kDoubleValue:
      if (!std::isfinite(value.double_value()))
        return json::string(DoubleText(value.double_value()));
      return value.double_value();
    case AnyValue::kBytesValue: return json::string(Base64Encode(value.bytes_value()));
    case AnyValue::kArrayValue: {
      json::array array;
      for (const AnyValue& item : value.array_value().values()) array.push_back(AnyToJson(item));
      return array;
    }
    case AnyValue::kKvlistValue: {
      json::object object;
      for (const KeyValue& kv : value.kvlist_value().values()) {
        object[kv.key()] = AnyToJson(kv.value());
      }
      return object;
    }
    case AnyValue::VALUE_NOT_SET: break;
  }
  return nullptr;
}

// Scalars as text, arrays as JSON, maps flattened with dots under "key".
void FlattenAny(const AnyValue& value, std::string& key,
                std::vector<std::pair<std::string, std::string>>* fields) {
  switch (value.value_case()) {
    case AnyValue::kStringValue: fields->emplace_back(key, value.string_value()); return;
    case AnyValue::kBoolValue:
      fields->emplace_back(key, value.bool_value() ? "true" : "false");
      return;
    case AnyValue::kIntValue: fields->emplace_back(key, std::to_string(value.int_value())); return;
    case AnyValue::kDoubleValue:
      fields->emplace_back(key, DoubleText(value.double_value()));
      return;
    case AnyValue::kBytesValue:
      fields->emplace_back(key, Base64Encode(value.bytes_value()));
      return;
    case AnyValue::kArrayValue:
      fields->emplace_back(key, json::serialize(AnyToJson(value)));
      return;
    case AnyValue::kKvlistValue: {
      const size_t base = key.size();
      for (const KeyValue& kv : value.kvlist_value().values()) {
        if (base > 0) key += '.';
        key += kv.key();
        FlattenAny(kv.value(), key, fields);
        key.resize(base);
      }
      return;
    }
    case AnyValue::VALUE_NOT_SET: return;
  }
}

void FlattenAttributes(const google::protobuf::RepeatedPtrField<KeyValue>& attributes,
                       std::vector<std::pair<std::string, std::string>>* fields) {
  std::string key;
  for (const KeyValue& kv : attributes) {
    key = kv.key();
    FlattenAny(kv.value(), key, fields);
  }
}

int64_t NanosOrZero(uint64_t ns) {
  return ns > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? 0
                                                                         : static_cast<int64_t>(ns);
}

Status MapRequest(const ExportLogsServiceRequest& request, const ShipperContext& context,
                  OtlpBatch* batch) {
  for (const auto& rl : request.resource_logs()) {
    std::vector<std::pair<std::string, std::string>> resource;
    FlattenAttributes(rl.resource().attributes(), &resource);
    std::string service;
    std::string host;
    for (auto it = resource.begin(); it != resource.end();) {
      if (it->first == "service.name" && service.empty()) {
        service = std::move(it->second);
      } else if ((it->first == "host.name" || it->first == "host.hostname") && host.empty()) {
        host = std::move(it->second);
      } else {
        ++it;
        continue;
      }
      it = resource.erase(it);
    }
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        if (batch->records.size() >= context.max_records) {
          return Status::InvalidArgument("too many log records in one request (limit " +
                                         std::to_string(context.max_records) + ")");
        }
        Record record;
        record.service = service;
        record.host = host;
        record.ts = NanosOrZero(lr.time_unix_nano());
        if (record.ts == 0) record.ts = NanosOrZero(lr.observed_time_unix_nano());
        if (auto level = LevelFromOtelSeverity(lr.severity_number())) {
          record.level = *level;
        } else if (auto parsed = ParseLevel(lr.severity_text())) {
          record.level = *parsed;
        }
        if (!lr.trace_id().empty() && lr.trace_id().find_first_not_of('\0') != std::string::npos) {
          record.trace_id = HexLower(lr.trace_id());
        }
        if (!lr.span_id().empty() && lr.span_id().find_first_not_of('\0') != std::string::npos) {
          record.span_id = HexLower(lr.span_id());
        }
        record.fields = resource;
        if (!sl.scope().name().empty()) record.fields.emplace_back("scope.name", sl.scope().name());
        if (!sl.scope().version().empty()) {
          record.fields.emplace_back("scope.version", sl.scope().version());
        }
        if (!lr.severity_text().empty())
          record.fields.emplace_back("severity_text", lr.severity_text());
        if (!lr.event_name().empty()) record.fields.emplace_back("event.name", lr.event_name());
        const AnyValue& body = lr.body();
        if (body.has_kvlist_value()) {
          size_t first = record.fields.size();
          std::string key;
          FlattenAny(body, key, &record.fields);
          for (size_t i = first; i < record.fields.size(); ++i) {
            const std::string& k = record.fields[i].first;
            if (k == "message" || k == "msg" || k == "log") {
              record.message = std::move(record.fields[i].second);
              record.fields.erase(record.fields.begin() + static_cast<std::ptrdiff_t>(i));
              break;
            }
          }
          if (record.message.empty()) record.message = json::serialize(AnyToJson(body));
        } else if (body.has_string_value()) {
          record.message = body.string_value();
        } else if (body.value_case() != AnyValue::VALUE_NOT_SET) {
          std::string key = "body";
          std::vector<std::pair<std::string, std::string>> text;
          FlattenAny(body, key, &text);
          if (!text.empty()) record.message = std::move(text.front().second);
        }
        FlattenAttributes(lr.attributes(), &record.fields);
        // Attributes (and a map body's keys) named in the field-mapping table fill the columns
        // the protocol's own slots left empty: user.id, trace_id, level, ...
        ApplyFieldMap(&record);
        FinishShipperRecord(context, &record);
        batch->records.push_back(std::move(record));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<OtlpBatch> DecodeOtlpLogsJson(std::string_view body, const ShipperContext& context) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  options.allow_invalid_utf8 = true;
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec, {}, options);
  if (ec) return Status::InvalidArgument("OTLP/JSON: invalid JSON: " + ec.message());
  ExportLogsServiceRequest request;
  Notes notes;
  Status status = JsonToRequest(doc, &request, &notes);
  if (!status.ok()) return status.WithContext("OTLP/JSON");
  OtlpBatch batch;
  RETURN_IF_ERROR(MapRequest(request, context, &batch));
  batch.rejected = notes.rejected;
  batch.error_message = notes.Summary();
  return batch;
}

Result<OtlpBatch> DecodeOtlpLogsProtobuf(std::string_view body, const ShipperContext& context) {
  // resource_logs (1) > scope_logs (2) > log_records (2), counted before anything is parsed.
  if (CountProtobufFields(body, {1, 2, 2}, context.max_records) > context.max_records) {
    return Status::InvalidArgument("too many log records in one request (limit " +
                                   std::to_string(context.max_records) +
                                   "); split the batch into smaller requests");
  }
  ExportLogsServiceRequest request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::InvalidArgument("OTLP/protobuf: body is not a valid ExportLogsServiceRequest (" +
                                   std::to_string(body.size()) + " bytes)");
  }
  OtlpBatch batch;
  RETURN_IF_ERROR(MapRequest(request, context, &batch));
  return batch;
}

std::string EncodeOtlpResponse(const OtlpBatch& batch, bool json_encoding) {
  const bool partial = batch.rejected > 0 || !batch.error_message.empty();
  if (json_encoding) {
    if (!partial) return "{}";
    json::object success;
    success["rejectedLogRecords"] = std::to_string(batch.rejected);
    success["errorMessage"] = batch.error_message;
    json::object root;
    root["partialSuccess"] = std::move(success);
    return json::serialize(root);
  }
  otlp::collector::logs::v1::ExportLogsServiceResponse response;
  if (partial) {
    response.mutable_partial_success()->set_rejected_log_records(batch.rejected);
    response.mutable_partial_success()->set_error_message(batch.error_message);
  }
  return response.SerializeAsString();
}

std::string EncodeOtlpStatus(int grpc_code, std::string_view message, bool json_encoding) {
  if (json_encoding) {
    json::object root;
    root["code"] = grpc_code;
    root["message"] = json::string_view(message.data(), message.size());
    return json::serialize(root);
  }
  google::rpc::Status status;
  status.set_code(grpc_code);
  status.set_message(std::string(message));
  return status.SerializeAsString();
}

}  // namespace sawmill::ingest
