// CONTRACT: turning what a client sent into Records. Shared by native ingestion, every shipper
// protocol (src/ingest/*), and the agent (src/agent), so that level and timestamp extraction is
// the same code everywhere. The ingest owner implements it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill {
class TimeZone;
}  // namespace sawmill

namespace sawmill::ingest {

// Values for records that lack them (from query parameters, protocol labels, agent config).
struct Defaults {
  std::string service;
  std::string host;
  std::optional<Level> level;
  // The zone of a timestamp written without one ("2015-10-18 18:01:47,978"); one written with a
  // zone or offset keeps it, an epoch number is UTC. Null: UTC. Zones come from TimeZone::Find
  // and live for the whole process. See docs/ingest.md "Time zones".
  const TimeZone* zone = nullptr;
};

struct NormalizeOptions {
  size_t max_line_bytes = 256 * 1024;  // longer lines are truncated and flagged
};

struct IngestCounts {
  uint64_t accepted = 0;
  uint64_t skipped = 0;  // empty or whitespace-only lines
  uint64_t truncated = 0;
  uint64_t parse_failed = 0;
};

// Parses a timestamp written as text: RFC 3339 / ISO 8601 with any fraction and zone (also with
// a space instead of 'T', and a comma before the fraction), epoch s/ms/us/ns digits (by
// magnitude), syslog "Mon dd hh:mm:ss" (year inferred from "now_ns": the most recent such time
// not more than a day ahead), Apache "10/Oct/2000:13:55:36 -0700", "081109 203615" (HDFS).
// A time written without a zone is local to "zone" (null: UTC); a written zone or offset wins.
// Returns ns since the epoch, or nullopt.
std::optional<int64_t> ParseTimestamp(std::string_view text, int64_t now_ns,
                                      const TimeZone* zone = nullptr);

// An epoch number of unknown unit, by magnitude (s, ms, us or ns).
std::optional<int64_t> EpochToNanos(double value);

// Best effort on a plain text line: finds a timestamp at or near the start and a level token
// among the first words. Sets *ts_ns/*level only when found; returns nothing else. A time
// written without a zone is local to "zone" (null: UTC).
void SniffPlainLine(std::string_view line, int64_t now_ns, std::optional<int64_t>* ts_ns,
                    std::optional<Level>* level, const TimeZone* zone = nullptr);

// One line of a native ingest body (NDJSON or plain text) into "*out". A JSON object is mapped
// (timestamp|ts|time|@timestamp, level|severity|lvl, message|msg|log, service|app,
// host|hostname, trace_id|traceId, span_id|spanId, user_id|userId, everything else into fields,
// nested objects flattened with dots); a line that starts with '{' but is not valid JSON is
// kept raw with kFlagParseFailed; anything else is plain text. Long lines are truncated and
// flagged, invalid UTF-8 replaced with U+FFFD and flagged.
// Returns false (and counts "skipped") for an empty or whitespace-only line.
bool NormalizeLine(std::string_view line, const Defaults& defaults, const NormalizeOptions& options,
                   int64_t now_ns, Record* out, IngestCounts* counts);

// Splits a body into lines (LF or CRLF; a final line without a newline counts) and normalises
// each. Appends the records to "*out".
void NormalizeBody(std::string_view body, const Defaults& defaults, const NormalizeOptions& options,
                   int64_t now_ns, std::vector<Record>* out, IngestCounts* counts);

// Replaces invalid UTF-8 with U+FFFD; returns true when something was replaced.
bool SanitizeUtf8(std::string* text);

// Decodes a request body by its Content-Encoding ("", "identity", "gzip", "zstd", "lz4").
// "max_bytes" bounds the decoded size. Errors: InvalidArgument saying why and at which byte
// ("gzip: invalid block type at byte 10"); ResourceExhausted when the decoded body is too big.
Result<std::string> DecodeBody(std::string_view body, std::string_view content_encoding,
                               size_t max_bytes);

// Bounds on a decoded request body, checked while it is decoded (64 KiB at a time), so that a
// compression bomb is refused after at most one chunk past a bound instead of being inflated.
struct BodyLimits {
  size_t max_bytes = 64ull << 20;  // decoded bytes
  size_t max_lines = 0;            // lines as CountLines counts them; 0: not counted
  // Called before the decoded body grows, with the bytes it is about to hold and the newlines
  // seen so far (counted only when max_lines is set); returning false stops decoding with
  // BodyLimitHit::kAdmission (the server's memory budget has no room). Unset: no check.
  std::function<bool(size_t bytes, size_t newlines)> admit;
};

// Which bound a ResourceExhausted from DecodeBody hit.
enum class BodyLimitHit { kNone, kBytes, kLines, kAdmission };

// As above, with both bounds. On ResourceExhausted, "*hit" (if not null) says which bound.
Result<std::string> DecodeBody(std::string_view body, std::string_view content_encoding,
                               const BodyLimits& limits, BodyLimitHit* hit);

// Lines of a body as NormalizeBody splits it: one per LF, plus a final line without one.
size_t CountLines(std::string_view body);

}  // namespace sawmill::ingest
