// The wire form of a cluster query's parts (docs/cluster.md "Read path"): what
// POST /internal/v1/memtable-search is asked (JSON, readable in a log) and what it answers
// (binary: hits as WAL record encodings, groups as varints; docs/format/cluster.md).
#pragma once

#include <string>
#include <string_view>

#include "query/query_engine.h"
#include "sawmill/status.h"

namespace sawmill::cluster {

// The request body: {"tenant":..,"q":..,"from_ns":..,"to_ns":..,"all_time":..,
// "time_field":"ingest_ts"|"ts","limit":..,"timeout_ms":..}.
std::string EncodePartRequest(const query::PartRequest& request);
// Errors: InvalidArgument naming the field that is missing or of the wrong type.
Result<query::PartRequest> DecodePartRequest(std::string_view body);

// The answer body (Content-Type application/x-sawmill-part).
std::string EncodePartAnswer(const query::PartAnswer& answer);
// Errors: DataLoss naming what did not decode.
Result<query::PartAnswer> DecodePartAnswer(std::string_view body);

inline constexpr const char* kPartAnswerContentType = "application/x-sawmill-part";

}  // namespace sawmill::cluster
