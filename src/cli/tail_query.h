// The query behind `sawmill tail --service=X --level=ERROR --host=H [QUERY]`.
#pragma once

#include <string>
#include <string_view>

#include "sawmill/status.h"

namespace sawmill::cli {

struct TailFilter {
  std::string service;
  std::string level;  // a minimum: --level=ERROR means level>=ERROR
  std::string host;
  std::string query;  // the rest, ANDed
};

// "service=checkout level>=ERROR host=web-1 (timeout OR refused)". Values that are not a plain
// word are quoted. Errors: InvalidArgument for a level that is not one ("--level: 'LOUD' is not
// a level; use TRACE, DEBUG, INFO, WARN, ERROR or FATAL").
Result<std::string> BuildTailQuery(const TailFilter& filter);

// A value as the query language reads it back: bare when it is one plain word (letters, digits,
// "_-.:/@*"), else in double quotes with '"' and '\' escaped.
std::string QuoteValue(std::string_view value);

}  // namespace sawmill::cli
