// The log record: the one in-memory shape every path (ingest, WAL, segments, query, tail)
// agrees on. Its fields are described below; how a line becomes one: docs/ingest.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sawmill {

// Ordered by severity so that `level>=WARN` is a numeric comparison. Serialised as one byte.
enum class Level : uint8_t {
  kUnknown = 0,
  kTrace = 1,
  kDebug = 2,
  kInfo = 3,
  kWarn = 4,
  kError = 5,
  kFatal = 6,
};
inline constexpr int kLevelCount = 7;

// "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN".
std::string_view LevelName(Level level);

// Parses the spellings real logs use, case-insensitively: ERROR, error, ERR, E, Error, WARNING,
// warn, W, FATAL, CRITICAL, crit, panic, alert, emerg, notice, INFO, I, DEBUG, D, TRACE, T,
// `<err>`-style bracketed forms, and numeric syslog severities "0".."7".
// Returns nullopt when the text is not a level.
std::optional<Level> ParseLevel(std::string_view text);

// Syslog severity 0..7 (RFC 5424 table 2): 0-2 FATAL, 3 ERROR, 4 WARN, 5-6 INFO, 7 DEBUG.
std::optional<Level> LevelFromSyslogSeverity(int severity);

// OpenTelemetry SeverityNumber 1..24: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN,
// 17-20 ERROR, 21-24 FATAL. 0 (unspecified) and out-of-range numbers give nullopt.
std::optional<Level> LevelFromOtelSeverity(int severity_number);

// Flag bits of Record::flags. Serialised: values never change.
enum RecordFlag : uint32_t {
  kFlagParseFailed = 1u << 0,  // the line was not what it claimed (e.g. bad JSON); kept raw
  kFlagTruncated = 1u << 1,    // the line was longer than the limit and was cut
  kFlagRedacted = 1u << 2,     // something in the line was replaced with [REDACTED]
  kFlagInvalidUtf8 = 1u << 3,  // invalid UTF-8 sequences were replaced with U+FFFD
};

// "parse_failed", "truncated", "redacted", "invalid_utf8" for each bit set, in bit order.
std::vector<std::string_view> FlagNames(uint32_t flags);

struct Record {
  int64_t ts = 0;         // source timestamp, ns since the Unix epoch; == ingest_ts if unknown
  int64_t ingest_ts = 0;  // server clock at ingest, ns since the Unix epoch
  uint64_t seq = 0;       // server-assigned, unique and increasing per server; the record id
  std::string tenant;
  std::string service;
  std::string host;
  Level level = Level::kUnknown;
  std::string trace_id;
  std::string span_id;
  std::string user_id;
  std::string message;
  // Every other key of a structured line, nested keys flattened with dots. Order as received.
  std::vector<std::pair<std::string, std::string>> fields;
  uint32_t flags = 0;

  // Returns the value of a dynamic field, or nullptr.
  const std::string* FindField(std::string_view key) const;

  // Approximate bytes of memory this record holds (for memtable accounting).
  size_t ApproximateSize() const;

  friend bool operator==(const Record&, const Record&) = default;
};

}  // namespace sawmill
