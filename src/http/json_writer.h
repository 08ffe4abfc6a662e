// JSON rendering of what the API returns: records, pipe rows, query stats. Hand-written (no DOM)
// because search answers and tail streams render many records per second.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/query_engine.h"
#include "sawmill/record.h"

namespace sawmill::http {

// Appends "text" as a JSON string (with quotes) to "*out". Control characters are escaped;
// bytes >= 0x80 are copied as they are (records are valid UTF-8 after normalisation).
void AppendJsonString(std::string_view text, std::string* out);

// "2026-11-30T11:28:46.123456789Z": RFC 3339, UTC, always nine fraction digits.
std::string FormatRfc3339Nanos(int64_t ns_since_epoch);

// {"id":"<seq>","ts":..,"ingest_ts":..,"service":..,"host":..,"level":..,"message":..,
//  "trace_id":..,"span_id":..,"user_id":..,"fields":{..},"flags":[..]}. Empty strings, an
// UNKNOWN level, empty fields and no flags are left out; id, ts and ingest_ts are always there.
void AppendRecordJson(const Record& record, std::string* out);
std::string RecordToJson(const Record& record);

// {"name":value,...} in the row's order; int64 values are JSON numbers.
void AppendRowJson(const query::Row& row, std::string* out);

// {"segments_total":..,...,"elapsed_ms":..,"cache_hit":false}.
void AppendStatsJson(const query::QueryStats& stats, std::string* out);

}  // namespace sawmill::http
