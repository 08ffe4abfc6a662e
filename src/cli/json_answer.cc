#include "cli/json_answer.h"

#include <cstdio>

namespace sawmill::cli {

std::optional<boost::json::object> JsonObjectAnswer(const Result<HttpResult>& result,
                                                    const char* command, const char* what,
                                                    int expected) {
  if (!result.ok()) {
    std::fprintf(stderr, "%s %s: %s\n", command, what, result.status().message().c_str());
    return std::nullopt;
  }
  if (result->status != expected) {
    std::fprintf(stderr, "%s %s: the server answered %d: %s\n", command, what, result->status,
                 ErrorText(*result).c_str());
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result->body, ec);
  if (ec || !v.is_object()) {
    std::fprintf(stderr, "%s %s: unexpected answer: %s\n", command, what, result->body.c_str());
    return std::nullopt;
  }
  return v.as_object();
}

}  // namespace sawmill::cli
