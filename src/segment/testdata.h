// Test and benchmark helper (not part of sawmill_segment): turns the real datasets in
// SAWMILL_SHARED_DIR/data/real into Records roughly as ingestion would. JSON lines become
// fields (nested keys flattened with dots; trace_id/span_id/user_id/level/message/service/host
// mapped), CSV files with a header become fields per column (TraceID, SpanID mapped), anything
// else is a plain message. Lines keep a trailing '\r' (CRLF files). Timestamps are synthetic,
// one per millisecond with some going backwards, so that out-of-order input is covered.
#pragma once

#include <string>
#include <vector>

#include "sawmill/record.h"

namespace sawmill::segment::testdata {

// The shared folder: $SAWMILL_SHARED_DIR, else the compile-time default, else "".
std::string SharedDir();

// One representative file per dataset (relative to SharedDir()/data/real), plus extra ones.
std::vector<std::string> RealFiles();

// Reads up to "max_lines" lines of "path" (0: all). Empty lines are kept (empty messages).
std::vector<Record> LoadRecords(const std::string& path, size_t max_lines = 0);

// The raw bytes of the first "max_lines" lines of "path" (0: all), as LoadRecords read them.
std::string RawText(const std::string& path, size_t max_lines = 0);

}  // namespace sawmill::segment::testdata
