// JSON rendering of what the API returns: records, pipe rows, query stats. Hand-written (no DOM)
// because search answers and tail streams render many records per second.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_string.h"
#include "common/time_format.h"
#include "query/query_engine.h"
#include "sawmill/record.h"

namespace sawmill::http {

// Strings are written by AppendJsonString (common/json_string.h), timestamps by
// FormatRfc3339Nanos (common/time_format.h): RFC 3339, UTC, always nine fraction digits.

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
