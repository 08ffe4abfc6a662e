// CONTRACT between the HTTP server (src/http/http_server.h) and the route handlers (the native
// API, the shipper protocols). Handlers see plain structs, never Beast types, so that heavy
// headers stay in a few translation units.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::http {

// Who sent a request, as the auth gate (auth_gate.h) found it from the request's token.
struct Caller {
  bool authenticated = false;  // false: the server runs without tokens (docs/security.md)
  std::string token_id;
  std::string name;  // the token's name
  std::string role;  // "ingest", "reader", "tenant-admin", "platform-admin", "auditor"
  std::vector<std::string> tenants;  // empty for platform-admin and auditor tokens
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "HEAD", ...
  std::string path;    // decoded path without the query string, e.g. "/loki/api/v1/push"
  std::string target;  // as received, with the query string
  std::multimap<std::string, std::string> query;    // decoded query parameters
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;  // already decoded from Content-Encoding (gzip, zstd, lz4, deflate)
  // The tenant acted on: from the token (X-Scope-OrgID selects among the token's tenants), or
  // from X-Scope-OrgID alone on a server without tokens; never from the body.
  std::string tenant = "default";
  Caller caller;  // set by the auth gate before the handler runs
  std::string remote_address;
  // The subject of the client certificate the TLS handshake verified (mTLS, docs/security.md
  // "TLS"), e.g. "CN=agent-7,O=Example"; "" over plain HTTP or without a client certificate.
  std::string tls_client;
  // Becomes true when the client closes the connection while the handler runs (the server
  // watches GET requests; null for others). A long handler (search) hands it on and stops.
  std::shared_ptr<const std::atomic<bool>> client_gone;
  // Bounds the server applies (0: the handler's own default), for handlers that decode further
  // (snappy, protobuf) or count records themselves. See docs/operations.md "Memory".
  size_t max_records = 0;        // max_request_lines
  size_t max_decoded_bytes = 0;  // max_decoded_body

  // First value or "" / fallback.
  std::string Query(std::string_view name, std::string_view fallback = "") const;
  std::string Header(std::string_view lower_name, std::string_view fallback = "") const;
  bool HasQuery(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Rows the answer returns (search hits or pipe rows, context lines), for the audit log; -1:
  // not a query.
  int64_t rows = -1;
  // A streamed answer (GET /api/v1/export): when set, "body" is ignored and the server calls
  // stream() on the handler's worker thread until it returns false, each call appending the
  // next piece to *chunk; each piece is written (chunked transfer encoding) before the next
  // call, so memory stays bounded by one piece. A client that goes away or stops reading for
  // read_timeout ends the stream at the next write. The connection closes after the stream.
  std::function<bool(std::string* chunk)> stream;
  // With "stream": the rows the stream has written so far. The audit entry of such an answer
  // is written when the stream ends (finished, failed, or its client gone), with this count;
  // null: it is written when the handler returns, with "rows".
  std::shared_ptr<const std::atomic<int64_t>> stream_rows;

  // {"error": message} (plus "position" when >= 0) with the status Status maps to (the one
  // place where a Status becomes an HTTP status: see StatusToHttp). 429 and 503 answers carry
  // Retry-After: 1; 401 answers WWW-Authenticate: Bearer.
  static HttpResponse Error(const Status& status, int position = -1);
  static HttpResponse Json(int status, std::string body);
};

// InvalidArgument 400, NotFound 404, ResourceExhausted 429, Unavailable 503,
// DeadlineExceeded 503, FailedPrecondition 409, AlreadyExists 409, Unauthenticated 401,
// PermissionDenied 403, others 500.
int StatusToHttp(const Status& status);

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Exact-path routing by method. Thread-safe for lookups after registration is done.
class Router {
 public:
  // "path" is exact ("/loki/api/v1/push") or ends in "/*" to match a prefix.
  // A pattern "/{index}/_bulk" matches any single segment in braces.
  void Add(std::string method, std::string path, Handler handler);
  // nullptr when nothing matches; "*method_not_allowed" tells 404 from 405.
  const Handler* Find(std::string_view method, std::string_view path,
                      bool* method_not_allowed) const;
  // The pattern "handler" (returned by Find) was registered with, for metric labels whose
  // cardinality must stay bounded; "unmatched" for nullptr.
  std::string_view PatternOf(const Handler* handler) const;
  // Every registered (method, pattern), in registration order (the auth gate's route check and
  // GET /api/v1/admin/routes).
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace sawmill::http
