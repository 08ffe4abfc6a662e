// JSON string literals, written once for every writer of JSON: the API's answers and error
// bodies (http/), the agent's NDJSON batches (agent/), the segment tools' dumps (segment/) and
// the Elasticsearch-compatible answers (ingest/).
#pragma once

#include <string>
#include <string_view>

namespace sawmill {

// Appends "text" as a JSON string literal, quotes included, to "*out". '"' and '\' are escaped
// with a backslash; \n, \r and \t by their short escapes; every other byte below 0x20 as \u00XX
// (lower-case hex). Well-formed UTF-8 is copied as it is (DEL and non-ASCII are not escaped);
// each maximal invalid subpart of ill-formed UTF-8 becomes one U+FFFD, so the result is always
// valid JSON whatever the bytes. Records are valid UTF-8 after normalisation, so for them the
// output is the text with only the escapes above.
void AppendJsonString(std::string_view text, std::string* out);

// The same, returned.
std::string JsonString(std::string_view text);

}  // namespace sawmill
