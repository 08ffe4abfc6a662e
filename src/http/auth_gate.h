// The one place where HTTP requests are authenticated and authorised (docs/security.md): the
// route table that names the right each route requires, and the gate the server calls for every
// routed request and every tail session (HttpServerOptions::authorize), then for the audit log
// (HttpServerOptions::audit). Handlers never check tokens themselves; the token routes only
// decide what a caller may create or revoke.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/audit_log.h"
#include "auth/roles.h"
#include "auth/token_store.h"
#include "common/clock.h"
#include "http/router.h"

namespace sawmill::http {

// One row of the route table. "pattern" is exactly as registered with the Router.
struct RouteRight {
  std::string method;
  std::string pattern;
  auth::Right right;
};

// Every route of `sawmill server` and the right it requires (auth_gate.cc). A route that is not
// in the table requires platform-admin (fail closed) and is listed as "undeclared" by
// GET /api/v1/admin/routes; tests/e2e/e2e_auth_test.py fails on any undeclared route.
const std::vector<RouteRight>& RouteRights();
// The right of a route; nullopt when the table does not name it. HEAD uses GET's row.
std::optional<auth::Right> DeclaredRight(std::string_view method, std::string_view pattern);
// What the gate enforces: the declared right, or platform-admin for an undeclared route.
auth::Right RequiredRight(std::string_view method, std::string_view pattern);
// Whether requests to a route requiring "right" are written to the audit log: every route but
// the public ones, the write routes (ingest, shipper doors) and /metrics.
bool Audited(std::string_view pattern, auth::Right right);

// Whether "address" (an IP literal) is a loopback address (127.0.0.0/8, ::1, v4-mapped 127.x).
bool IsLoopbackAddress(const std::string& address);

// The token text of an Authorization header: "Bearer TOKEN", or "Basic base64(USER:TOKEN)"
// (for shippers that only know basic auth). Empty when the header holds neither.
std::string TokenFromAuthorization(std::string_view header);

// Thread-safe. Until Attach, every route but the public ones answers 503 (the catalog, which
// holds the tokens, is opened with the storage engine after WAL replay).
class AuthGate {
 public:
  explicit AuthGate(Clock* clock) : clock_(clock) {}

  // The token store and audit log, once the catalog is open; both must outlive the gate's use.
  void Attach(auth::TokenStore* tokens, auth::AuditLog* audit);
  auth::TokenStore* tokens() const { return tokens_.load(); }
  auth::AuditLog* audit_log() const { return audit_.load(); }

  // HttpServerOptions::authorize. Without any token in the catalog every request passes (the
  // embedded default; the server refuses to listen beyond loopback like that unless told to).
  Status Authorize(HttpRequest* request, std::string_view pattern) const;
  // HttpServerOptions::audit: one audit entry for an audited route. A failure to write it is
  // logged and counted (sawmill_audit_write_failures_total), never answered to the client.
  void Audit(const HttpRequest& request, std::string_view pattern, const HttpResponse& response);
  // The audit log's own retention: entries older than this are removed at Attach and then at
  // most once an hour, when an entry is written. 0: kept forever.
  void set_audit_retention(int64_t ns) { audit_retention_ns_.store(ns); }
  // Removes what audit_retention puts out of date now; logs how many.
  void PruneAudit();

 private:
  Clock* const clock_;
  std::atomic<int64_t> audit_retention_ns_{0};
  std::atomic<int64_t> last_prune_ns_{0};
  std::atomic<auth::TokenStore*> tokens_{nullptr};
  std::atomic<auth::AuditLog*> audit_{nullptr};
};

// The token and audit routes (auth_routes.cc): POST/GET /api/v1/admin/tokens,
// DELETE /api/v1/admin/tokens/{id}, GET /api/v1/audit, GET /api/v1/audit/verify and
// GET /api/v1/admin/routes (the route table as the router has it). "router" is read at request
// time, so routes registered later are listed too.
void RegisterAuthRoutes(Router* router, AuthGate* gate, Clock* clock);

}  // namespace sawmill::http
