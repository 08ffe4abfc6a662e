// Evaluates a filter on one record: the reference semantics of the language. The brute-force
// scan, the tail hub's Matcher and the planned executor (after pruning) all use it, so the
// planner can only change which rows are looked at, never what a row's answer is.
#pragma once

#include <string>
#include <string_view>

#include "common/glob.h"
#include "query/ast.h"
#include "sawmill/record.h"

namespace sawmill::query {

// Thread-safe; "node" is immutable.
bool Evaluate(const Node& node, const Record& record);

// The value of "name" in "record" as text, or false when the record does not have it
// (built-in string fields are absent when empty; level is absent when UNKNOWN; ts, ingest_ts
// and seq are always present, as decimal integers).
bool FieldText(const Record& record, std::string_view name, std::string* out);
// The same with the name already resolved (FieldIdOf(name) == id): for per-row loops.
bool FieldText(const Record& record, FieldId id, std::string_view name, std::string* out);

// A whole word (lower case, word bytes only) in "text", case-insensitively; with "prefix", any
// word that starts with it.
bool ContainsWord(std::string_view text, std::string_view word, bool prefix);
// "words" adjacent and in order in "text", anything that is not a word byte between them.
bool ContainsPhrase(std::string_view text, const std::vector<std::string>& words);
// GlobMatch(text, pattern), '*' matching any run of bytes: common/glob.h (shared with retention).

}  // namespace sawmill::query
