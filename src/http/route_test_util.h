// Shared by the HTTP route tests: a request answered by a router's routes as the server
// dispatches it (http_server.cc), without a server.
#pragma once

#include <string>
#include <string_view>

#include "http/router.h"

namespace sawmill::http {

// The answer of "router"'s route for "request": 404 when no route has its path, 405 when the
// path's routes take other methods (the status only: the server's error bodies are its own).
inline HttpResponse Answer(const Router& router, const HttpRequest& request) {
  bool not_allowed = false;
  const Handler* handler = router.Find(request.method, request.path, &not_allowed);
  if (handler == nullptr) {
    HttpResponse missing;
    missing.status = not_allowed ? 405 : 404;
    return missing;
  }
  return (*handler)(request);
}

// The value of the response header "name" ("" when it has none).
inline std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace sawmill::http
