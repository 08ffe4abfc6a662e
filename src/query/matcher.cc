// CompileFilter: the filter part of a query as a Matcher for the live-tail hub.
#include <utility>

#include "query/evaluator.h"
#include "query/parser.h"
#include "query/query_engine.h"

namespace sawmill::query {

namespace {

class AstMatcher final : public Matcher {
 public:
  explicit AstMatcher(NodePtr filter) : filter_(std::move(filter)) {}
  bool Matches(const Record& record) const override { return Evaluate(*filter_, record); }

 private:
  NodePtr filter_;
};

}  // namespace

Result<std::shared_ptr<const Matcher>> CompileFilter(std::string_view query) {
  ASSIGN_OR_RETURN(Query q, ParseQuery(query));
  if (!q.pipes.empty()) {
    // The first pipe's '|': the lexer never yields a pipe inside a quoted string, so find the
    // first '|' outside quotes.
    ParseError error;
    bool quoted = false;
    for (size_t i = 0; i < query.size(); ++i) {
      if (query[i] == '\\' && quoted) {
        ++i;
      } else if (query[i] == '"') {
        quoted = !quoted;
      } else if (query[i] == '|' && !quoted) {
        error.offset = i;
        break;
      }
    }
    for (size_t i = 0; i < error.offset; ++i) {
      if (query[i] == '\n') {
        ++error.line;
        error.column = 1;
      } else {
        ++error.column;
      }
    }
    error.message = "pipes are not allowed here (live tail takes a filter only) at " +
                    std::to_string(error.line) + ":" + std::to_string(error.column);
    return Status::InvalidArgument(error.message + "\n" + error.Pretty(query));
  }
  return std::shared_ptr<const Matcher>(std::make_shared<AstMatcher>(std::move(q.filter)));
}

}  // namespace sawmill::query
