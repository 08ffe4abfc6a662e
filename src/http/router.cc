#include "http/router.h"

#include <algorithm>

#include "common/json_string.h"

namespace sawmill::http {

namespace {

// Splits "/a/b/c" into {"a","b","c"}.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool PathMatches(std::string_view pattern, std::string_view path) {
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == "/*") {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '/'
    return path.substr(0, prefix.size()) == prefix || path == prefix.substr(0, prefix.size() - 1);
  }
  if (pattern.find('{') == std::string_view::npos) return pattern == path;
  auto want = Segments(pattern);
  auto have = Segments(path);
  if (want.size() != have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    bool wildcard = w.size() >= 2 && w.front() == '{' && w.back() == '}';
    if (wildcard ? have[i].empty() : w != have[i]) return false;
  }
  return true;
}

}  // namespace

std::string HttpRequest::Query(std::string_view name, std::string_view fallback) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? std::string(fallback) : it->second;
}

std::string HttpRequest::Header(std::string_view lower_name, std::string_view fallback) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string(fallback) : it->second;
}

bool HttpRequest::HasQuery(std::string_view name) const {
  return query.find(std::string(name)) != query.end();
}

HttpResponse HttpResponse::Error(const Status& status, int position) {
  std::string body = "{\"error\":" + JsonString(status.message().empty()
                                                    ? std::string(StatusCodeName(status.code()))
                                                    : status.message());
  if (position >= 0) body += ",\"position\":" + std::to_string(position);
  body += "}";
  HttpResponse response = Json(StatusToHttp(status), std::move(body));
  if (status.code() == StatusCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sawmill\"");
  }
  if (status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kDeadlineExceeded ||
      status.code() == StatusCode::kResourceExhausted) {
    // A message that knows when to come back says "(retry in N s)" (the scan quota's).
    std::string after = "1";
    const std::string_view message = status.message();
    if (size_t at = message.rfind("(retry in "); at != std::string_view::npos) {
      std::string_view rest = message.substr(at + 10);
      size_t digits = 0;
      while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9') {
        ++digits;
      }
      if (digits > 0 && rest.substr(digits).starts_with(" s)")) {
        after = std::string(rest.substr(0, digits));
      }
    }
    response.headers.emplace_back("Retry-After", after);
  }
  return response;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

int StatusToHttp(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 503;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    default: return 500;
  }
}

void Router::Add(std::string method, std::string path, Handler handler) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(handler)});
}

const Handler* Router::Find(std::string_view method, std::string_view path,
                            bool* method_not_allowed) const {
  bool path_seen = false;
  // Exact patterns win over wildcard ones, whatever the registration order.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& route : routes_) {
      bool exact = route.pattern.find('{') == std::string::npos &&
                   route.pattern.find('*') == std::string::npos;
      if (exact != (pass == 0)) continue;
      if (!PathMatches(route.pattern, path)) continue;
      path_seen = true;
      if (route.method == method || (method == "HEAD" && route.method == "GET")) {
        if (method_not_allowed != nullptr) *method_not_allowed = false;
        return &route.handler;
      }
    }
  }
  if (method_not_allowed != nullptr) *method_not_allowed = path_seen;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& route : routes_) out.emplace_back(route.method, route.pattern);
  return out;
}

std::string_view Router::PatternOf(const Handler* handler) const {
  for (const auto& route : routes_) {
    if (&route.handler == handler) return route.pattern;
  }
  return "unmatched";
}

}  // namespace sawmill::http
