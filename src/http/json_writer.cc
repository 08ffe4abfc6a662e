#include "http/json_writer.h"

#include <cinttypes>
#include <cstdio>

namespace sawmill::http {

namespace {

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  if (value.empty()) return;
  out->push_back(',');
  AppendJsonString(name, out);
  out->push_back(':');
  AppendJsonString(value, out);
}

}  // namespace

void AppendRecordJson(const Record& record, std::string* out) {
  out->append("{\"id\":\"");
  out->append(std::to_string(record.seq));
  out->append("\",\"ts\":\"");
  out->append(FormatRfc3339Nanos(record.ts));
  out->append("\",\"ingest_ts\":\"");
  out->append(FormatRfc3339Nanos(record.ingest_ts));
  out->push_back('"');
  AppendField("service", record.service, out);
  AppendField("host", record.host, out);
  if (record.level != Level::kUnknown) AppendField("level", LevelName(record.level), out);
  AppendField("message", record.message, out);
  AppendField("trace_id", record.trace_id, out);
  AppendField("span_id", record.span_id, out);
  AppendField("user_id", record.user_id, out);
  if (!record.fields.empty()) {
    out->append(",\"fields\":{");
    bool first = true;
    for (const auto& [key, value] : record.fields) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(key, out);
      out->push_back(':');
      AppendJsonString(value, out);
    }
    out->push_back('}');
  }
  if (record.flags != 0) {
    out->append(",\"flags\":[");
    bool first = true;
    for (std::string_view name : FlagNames(record.flags)) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(name, out);
    }
    out->push_back(']');
  }
  out->push_back('}');
}

std::string RecordToJson(const Record& record) {
  std::string out;
  AppendRecordJson(record, &out);
  return out;
}

void AppendRowJson(const query::Row& row, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : row) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(name, out);
    out->push_back(':');
    if (const auto* number = std::get_if<int64_t>(&value)) {
      out->append(std::to_string(*number));
    } else {
      AppendJsonString(std::get<std::string>(value), out);
    }
  }
  out->push_back('}');
}

void AppendStatsJson(const query::QueryStats& s, std::string* out) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.3f", s.elapsed_ms);
  auto num = [&](const char* name, uint64_t value) {
    out->push_back('"');
    out->append(name);
    out->append("\":");
    out->append(std::to_string(value));
    out->push_back(',');
  };
  out->push_back('{');
  num("segments_total", s.segments_total);
  num("segments_after_time", s.segments_after_time);
  num("segments_after_index", s.segments_after_index);
  num("segments_after_bloom", s.segments_after_bloom);
  num("segments_pruned_by_index", s.segments_pruned_by_index);
  num("segments_not_needed", s.segments_not_needed);
  num("blocks_total", s.blocks_total);
  num("blocks_read", s.blocks_read);
  num("bytes_read_compressed", s.bytes_read_compressed);
  num("bytes_read_raw", s.bytes_read_raw);
  num("rows_scanned", s.rows_scanned);
  num("rows_matched", s.rows_matched);
  num("memtable_rows_scanned", s.memtable_rows_scanned);
  num("rows_counted_from_index", s.rows_counted_from_index);
  num("rows_from_columns", s.rows_from_columns);
  num("cold_segments", s.cold_segments);
  num("cold_segments_read", s.cold_segments_read);
  num("cold_bytes", s.cold_bytes);
  num("cold_bytes_fetched", s.cold_bytes_fetched);
  num("cold_bytes_cached", s.cold_bytes_cached);
  out->append("\"elapsed_ms\":");
  out->append(elapsed);
  out->append(",\"cache_hit\":");
  out->append(s.cache_hit ? "true" : "false");
  out->push_back('}');
}

}  // namespace sawmill::http
