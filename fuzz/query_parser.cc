// Fuzz target: query text (the `q` of /api/v1/search and tail) through the parser. A query that
// parses has a canonical text (ToString, the result cache's key) that parses again to the same
// canonical text.
// Input: the query text.
#include <string>

#include "fuzz_util.h"
#include "query/ast.h"
#include "query/parser.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsView(data, size);
  query::Query q;
  query::ParseError error;
  if (!query::Parse(text, &q, &error)) {
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(error.offset <= text.size());
    (void)error.Pretty(text);
    return 0;
  }
  FUZZ_CHECK(q.filter != nullptr);
  std::string canonical = query::ToString(q);
  (void)query::ColumnsOf(*q.filter);
  query::Query again;
  query::ParseError error2;
  if (!query::Parse(canonical, &again, &error2)) {
    std::fprintf(stderr, "canonical text does not parse: [%s]: %s\n", canonical.c_str(),
                 error2.message.c_str());
    FUZZ_CHECK(false);
  }
  std::string canonical2 = query::ToString(again);
  if (canonical2 != canonical) {
    std::fprintf(stderr, "canonical text not stable:\n  [%s]\n  [%s]\n", canonical.c_str(),
                 canonical2.c_str());
    FUZZ_CHECK(false);
  }
  return 0;
}
