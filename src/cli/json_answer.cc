#include "cli/json_answer.h"

#include <string>

#include "cli/command_error.h"

namespace sawmill::cli {

std::optional<boost::json::object> JsonObjectAnswer(const Result<HttpResult>& result,
                                                    const char* command, const char* what,
                                                    int expected) {
  const std::string name = std::string(command) + " " + what;
  if (!result.ok()) {
    PrintError(name, result.status());
    return std::nullopt;
  }
  if (result->status != expected) {
    PrintError(name, "the server answered %d: %s\n", result->status, ErrorText(*result).c_str());
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result->body, ec);
  if (ec || !v.is_object()) {
    PrintError(name, "unexpected answer: %s\n", result->body.c_str());
    return std::nullopt;
  }
  return v.as_object();
}

}  // namespace sawmill::cli
