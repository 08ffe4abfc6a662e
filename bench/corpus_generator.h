// The benchmark corpus: real message lines from shared/data/real replayed with generated
// fields, written as NDJSON. Deterministic: the same line count and the same message files
// give the same bytes on every machine (own PRNG and Zipf sampler, no std distributions).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::bench {

// Bump whenever the output for a given line count changes: cached corpora are regenerated.
inline constexpr int kCorpusGeneratorVersion = 1;

inline constexpr int kServiceCount = 50;
inline constexpr int kHostsPerService = 10;  // hosts = kServiceCount * kHostsPerService = 500
inline constexpr int kUserCount = 100'000;
// 2026-11-29T00:00:00Z: the 24 h window starts here, so the corpus never depends on the clock.
inline constexpr int64_t kWindowStartSeconds = 1795910400;
inline constexpr int64_t kWindowSeconds = 24 * 3600;

// The real lines the corpus replays, in a fixed order.
struct MessagePool {
  std::vector<std::string> lines;
  std::vector<std::string> files;  // relative paths that contributed, sorted
};

// Reads every plain-text log file under "data_dir" (recursively, sorted by path): files named
// *.csv, *.json, *.md or LICENSE, and files whose first line starts with '{' (NDJSON), are left
// out. Lines lose a trailing '\r'; empty lines and lines over "max_line_bytes" are skipped.
// Errors: NotFound when the directory does not exist or holds no usable line.
Result<MessagePool> LoadMessagePool(const std::string& data_dir, size_t max_line_bytes = 4096);

// What the query benchmarks need to know about a corpus (the manifest beside it).
struct CorpusFacts {
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t xxh3 = 0;                        // of all the bytes written
  uint64_t level_counts[4] = {0, 0, 0, 0};  // DEBUG INFO WARN ERROR
  uint64_t shared_trace_ids = 0;            // lines whose trace_id equals the previous line's
  std::string needle_trace_id;  // the trace_id of the middle line (not shared with neighbours)
  std::string rare_word;        // a word in very few lines
  uint64_t rare_word_lines = 0;
  std::string common_word;  // a word in about 10% of the lines
  uint64_t common_word_lines = 0;
  std::string error_service;  // a mid-popularity service, for `service=X level=ERROR`
  uint64_t error_service_error_lines = 0;
};

// The 50 service names, most popular first.
const std::vector<std::string>& ServiceNames();
// The name of host "index" (0..499); service s runs on hosts s*10 .. s*10+9.
std::string HostName(int index);

// Writes "lines" NDJSON lines to "out", one record per line:
// {"ts":"2026-11-29T00:00:01.234567Z","service":"...","host":"...","level":"INFO",
//  "trace_id":"<32 hex>","user_id":"u012345","message":"..."}.
// "max_line_bytes" > 0 shortens each message (at a character boundary) so that no line,
// newline included, is longer: the fixed-size lines of the write-path goal.
// Errors: Internal when writing fails.
Result<CorpusFacts> GenerateCorpus(const MessagePool& pool, uint64_t lines, std::FILE* out,
                                   size_t max_line_bytes = 0);

// The manifest as JSON (one object).
std::string FactsToJson(const CorpusFacts& facts, const MessagePool& pool);

}  // namespace sawmill::bench
