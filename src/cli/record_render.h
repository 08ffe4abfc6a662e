// How the command-line clients show what the server answers: one line per record, tables for
// pipe rows, the stats line, the tail's dropped-lines notice. Pure functions over the JSON text
// of the API (docs/api.md), so they are unit-tested without a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::cli {

struct RenderOptions {
  bool color = false;  // ANSI colours (a terminal without NO_COLOR)
  // The limit the search asked for (0: unknown) and the most the server returns; with them a
  // full page says how many matched and how to see more instead of "100 hits".
  size_t limit = 0;
  size_t max_limit = 10000;
};

// "2026-11-30T10:01:02.123Z checkout web-1 ERROR card declined": the timestamp cut to
// milliseconds, "-" for a missing service or host, the level padded to five columns and
// coloured by severity. Fields are not shown (use --json). Errors: InvalidArgument when the text
// is not a JSON object.
Result<std::string> RenderRecord(std::string_view record_json, const RenderOptions& options);

// A search answer rendered for a terminal.
struct SearchOutput {
  std::string body;                   // hit lines or the table, each line ending in '\n'
  std::string stats;                  // one line, no newline
  std::vector<std::string> warnings;  // the server's warnings
  bool partial = false;
  size_t count = 0;  // hits or rows
};

// Renders {"hits":[...],"stats":{...},...} or {"rows":[...],"stats":{...}}. The stats line
// reads "100 newest of at least 4,211 matches; -n 1000 or --all for more, '| count' to count
// them · in 3.1 ms · read 2 of 40 segments: the time range ruled out 37, the index 1 · ...".
// Errors: InvalidArgument when the answer is not in that shape.
Result<SearchOutput> RenderSearch(std::string_view response_json, const RenderOptions& options);

// --output of search and context: "table" (RenderSearch: a line per hit, or a table), "json"
// (the server's answer as is), "jsonl" (one JSON object per hit or row), "raw" (the message of
// each hit as stored; the cells of a row separated by tabs).
enum class OutputMode { kTable, kJson, kJsonl, kRaw };
std::optional<OutputMode> OutputModeFromName(std::string_view name);

// The hits or rows of a search answer as jsonl or raw lines, each ending in '\n'.
// Errors: InvalidArgument when the answer is not a search answer.
Result<std::string> RenderLines(std::string_view response_json, OutputMode mode);

// The ids of a search answer's hits, newest first (for context around each).
Result<std::vector<std::string>> HitIds(std::string_view response_json);

// A context answer {"before":[...],"hit":{...},"after":[...]}, oldest first: in table mode the
// lines of RenderRecord, the hit marked with "> " and the others indented by two spaces; jsonl
// and raw as RenderLines. Errors: InvalidArgument when the answer is not in that shape.
Result<std::string> RenderContext(std::string_view context_json, OutputMode mode,
                                  const RenderOptions& options);

// The "partial" flag and "warnings" of an answer (a search's, or a cluster node's context:
// docs/cluster.md "Context across nodes"); false and none when it has neither.
struct AnswerNotes {
  bool partial = false;
  std::vector<std::string> warnings;
};
Result<AnswerNotes> NotesOf(std::string_view answer_json);
// For stderr: "warning: W\n" for each, then "partial results: see warnings\n" when partial.
std::string NotesText(const AnswerNotes& notes);

// One pipe row: (column, text, is_number) in the server's order.
struct TableCell {
  std::string column;
  std::string text;
  bool number = false;
};
using TableRow = std::vector<TableCell>;

// Rows as an aligned text table: the columns in the order they first appear, numbers aligned
// right, a header and a rule. An empty input gives "".
std::string RenderTable(const std::vector<TableRow>& rows);

// The N of a tail message {"dropped":N}, or nullopt for a record.
std::optional<uint64_t> DroppedCount(std::string_view message_json);

// The text of a tail message {"notice":"..."} (docs/cluster.md "Live tail"), or nullopt.
std::optional<std::string> NoticeText(std::string_view message_json);

// "... 12 lines dropped (the client read too slowly)".
std::string DroppedNotice(uint64_t dropped, const RenderOptions& options);

// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t bytes);

// 1234567 -> "1,234,567".
std::string Thousands(uint64_t n);

}  // namespace sawmill::cli
