// The agent's wire format: one parsed record as one NDJSON line, using the keys the server's
// JSON mapping (ingest/normalize.h) reads back: ts, level, service, host, message, trace_id,
// span_id, user_id, then every field. Flags travel in "sawmill.flags" (comma-separated names).
#pragma once

#include <string>
#include <string_view>

#include "sawmill/record.h"

namespace sawmill::agent {

// Appends the record as one JSON object followed by '\n'. "ts" is written in ns.
void AppendRecordJson(std::string* out, const Record& record);

}  // namespace sawmill::agent
