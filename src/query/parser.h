// Turns query text into a Query (ast.h). Grammar: docs/query-language.md.
#pragma once

#include <string_view>

#include "query/ast.h"
#include "query/query_engine.h"

namespace sawmill::query {

// Parses "text". On failure returns false and fills "*error" with a message that names the
// position ("expected a value after '=' at 1:9").
bool Parse(std::string_view text, Query* out, ParseError* error);

// Parse() wrapped into a Status: InvalidArgument whose message is the error message followed
// by the query echoed with a caret (ParseError::Pretty).
Result<Query> ParseQuery(std::string_view text);

}  // namespace sawmill::query
