// The answers of the commands that read a JSON object back (admin, auth, alerts).
#pragma once

#include <boost/json.hpp>
#include <optional>

#include "cli/http_client.h"

namespace sawmill::cli {

// "result" as a JSON object when the server answered "expected"; otherwise nullopt, with the
// error printed on stderr (PrintError) after "sawmill <command> <what>: " (command "admin",
// what "list": "sawmill admin list: "): the client's error, "the server answered STATUS: ERROR",
// or "unexpected answer: BODY".
std::optional<boost::json::object> JsonObjectAnswer(const Result<HttpResult>& result,
                                                    const char* command, const char* what,
                                                    int expected = 200);

}  // namespace sawmill::cli
