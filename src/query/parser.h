// Turns query text into a Query (ast.h). Grammar: docs/query-language.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "query/ast.h"
#include "query/query_engine.h"

namespace sawmill::query {

// What one query may hold (docs/query-language.md, "Limits"). Each is a 400 that names the
// limit and points at the place in the query that crossed it.
// The query text: room for hundreds of OR terms, and still well within what a GET request's
// 64 KiB of headers carries, so that it is this clear 400 and not a 431 that refuses it.
inline constexpr size_t kMaxQueryTextBytes = 32 * 1024;
// Nodes of the filter tree: words, phrases, field filters, AND, OR and NOT.
inline constexpr size_t kMaxFilterNodes = 2000;
// Alternatives of one OR (after "(a OR b) OR c" is flattened to "a OR b OR c").
inline constexpr size_t kMaxOrAlternatives = 1000;
// Per regular expression: alternatives ('|'), RE2 program instructions, RE2 memory budget.
inline constexpr size_t kMaxRegexAlternativesPerRegex = 1000;
inline constexpr size_t kMaxRegexProgramPerRegex = 5000;
inline constexpr int64_t kRegexMaxMemBytes = 8 << 20;
// RE2 program instructions of all the query's regular expressions together.
inline constexpr size_t kMaxRegexProgramPerQuery = 10000;
// Regular expressions in one query: with kRegexMaxMemBytes each, at most 128 MiB of RE2 memory
// (a DFA cache only grows that large on adversarial patterns and text).
inline constexpr size_t kMaxRegexesPerQuery = 16;
// Bytes of all the query's wildcard patterns (field:pat*tern, each at most 256): the wildcard
// matcher costs up to text x pattern per line.
inline constexpr size_t kMaxGlobBytesPerQuery = 1024;

// Parses "text". On failure returns false and fills "*error" with a message that names the
// position ("expected a value after '=' at 1:9").
bool Parse(std::string_view text, Query* out, ParseError* error);

// Parse() wrapped into a Status: InvalidArgument whose message is the error message followed
// by the query echoed with a caret (ParseError::Pretty).
Result<Query> ParseQuery(std::string_view text);

}  // namespace sawmill::query
