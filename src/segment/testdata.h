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

// A dataset: a top-level folder of data/real and its log files (absolute paths), without
// LICENSE files, notes and loghub's derived *_structured.csv / *_templates.csv.
struct Dataset {
  std::string name;
  std::vector<std::string> files;
};
std::vector<Dataset> RealDatasets();

// Reads up to "max_lines" lines of "path" (0: all). Empty lines are kept (empty messages).
// Every record gets "service" and "host"; empty ones default to the file's name and the name
// of the folder holding it (one file is one stream of one host, as a shipper labels it).
std::vector<Record> LoadRecords(const std::string& path, size_t max_lines = 0,
                                std::string service = "", std::string host = "");

// Every file of "d", in order, through LoadRecords.
std::vector<Record> LoadDataset(const Dataset& d);
// The raw bytes of the first "max_lines" lines of "path" (0: all), as LoadRecords read them.
std::string RawText(const std::string& path, size_t max_lines = 0);

}  // namespace sawmill::segment::testdata
