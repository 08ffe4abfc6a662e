#include "http/auth_gate.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <mutex>

#include "common/base64.h"
#include "common/metrics.h"
#include "query/query_engine.h"

namespace sawmill::http {

namespace {

using auth::Right;

std::vector<RouteRight> BuildRouteRights() {
  std::vector<RouteRight> t;
  auto add = [&t](std::string method, std::string pattern, Right right) {
    t.push_back({std::move(method), std::move(pattern), right});
  };
  // Probes: no token (load balancers and orchestrators call them).
  add("GET", "/healthz", Right::kPublic);
  add("GET", "/readyz", Right::kPublic);
  // The web UI's page and assets hold no data (docs/ui.md); the API they call needs a token.
  // "/" redirects a browser to /ui/ and otherwise answers the Elasticsearch handshake (a
  // version), which shippers read before they send anything.
  add("GET", "/ui", Right::kPublic);
  add("GET", "/ui/*", Right::kPublic);
  add("GET", "/", Right::kPublic);
  add("HEAD", "/", Right::kPublic);
  // Server administration and its metrics.
  add("GET", "/metrics", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/flush", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/compact", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/segments", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/damage", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/damage/ack", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/routes", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/tenants", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/quotas", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/quotas", Right::kPlatformAdmin);
  // Retention, holds and the deletion record (docs/api.md "Retention and holds"): a hold or a
  // policy names any tenant, so these are the platform's.
  add("GET", "/api/v1/admin/retention", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/retention", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/retention/compliance/remove", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/retention/run", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/retention/events", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/deletions", Right::kPlatformAdmin);
  add("GET", "/api/v1/admin/holds", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/holds", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/holds/release", Right::kPlatformAdmin);
  // Storage tiers (admin_tier_routes.cc).
  add("GET", "/api/v1/admin/tiers", Right::kPlatformAdmin);
  add("POST", "/api/v1/admin/tiers/move", Right::kPlatformAdmin);
  // Cluster nodes (internal_routes.cc). The internal routes between nodes carry no API token:
  // their handlers check the cluster secret (CheckClusterSecret) before anything else.
  add("GET", "/api/v1/admin/nodes", Right::kPlatformAdmin);
  add("POST", "/internal/v1/memtable-search", Right::kPublic);
  add("POST", "/internal/v1/memtable-context", Right::kPublic);
  add("GET", "/internal/v1/tail-feed", Right::kPublic);
  // Tokens: a tenant-admin manages its own tenant's (auth_routes.cc decides which).
  add("POST", "/api/v1/admin/tokens", Right::kTenantAdmin);
  add("GET", "/api/v1/admin/tokens", Right::kTenantAdmin);
  add("DELETE", "/api/v1/admin/tokens/{id}", Right::kTenantAdmin);
  // The audit log.
  add("GET", "/api/v1/audit", Right::kAudit);
  add("GET", "/api/v1/audit/verify", Right::kAudit);
  // Reading.
  add("GET", "/api/v1/search", Right::kRead);
  add("GET", "/api/v1/search/progress", Right::kRead);
  add("GET", "/api/v1/export", Right::kRead);  // every hit of a search, streamed (audited)
  add("GET", "/api/v1/context", Right::kRead);
  add("GET", "/api/v1/tail", Right::kRead);
  // Loki's read API (loki_read_routes.cc): searches, like /api/v1/search.
  for (const char* path :
       {"/loki/api/v1/query_range", "/loki/api/v1/query", "/loki/api/v1/series",
        "/loki/api/v1/labels", "/loki/api/v1/label", "/loki/api/v1/label/*",
        "/loki/api/v1/index/stats", "/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range",
        "/loki/api/v1/detected_labels", "/loki/api/v1/detected_fields", "/loki/api/v1/tail",
        "/loki/api/v1/patterns"}) {
    add("GET", path, Right::kRead);
  }
  add("GET", "/ready", Right::kPublic);
  // Alerting (docs/alerting.md): reading states and backtests is reading; rules and silences
  // are a tenant's administration.
  add("GET", "/api/v1/alerts", Right::kRead);
  add("GET", "/api/v1/alerts/history", Right::kRead);
  add("GET", "/api/v1/alerts/rules", Right::kRead);
  add("POST", "/api/v1/alerts/test", Right::kRead);
  add("POST", "/api/v1/alerts/rules", Right::kTenantAdmin);
  add("DELETE", "/api/v1/alerts/rules", Right::kTenantAdmin);
  add("POST", "/api/v1/alerts/silences", Right::kTenantAdmin);
  // Writing: the native door and every shipper door, with the probes shippers make first.
  add("POST", "/api/v1/ingest", Right::kIngest);
  for (const char* p : {"", "/api/v1/ingest/elasticsearch"}) {
    const std::string prefix(p);
    for (const char* method : {"POST", "PUT"}) {
      add(method, prefix + "/_bulk", Right::kIngest);
      add(method, prefix + "/{index}/_bulk", Right::kIngest);
      add(method, prefix + "/{index}/_doc/{id}", Right::kIngest);
      add(method, prefix + "/{index}/_create/{id}", Right::kIngest);
    }
    add("POST", prefix + "/{index}/_doc", Right::kIngest);
    for (const char* path : {"/_license", "/_xpack", "/_xpack/license", "/_nodes", "/_nodes/http",
                             "/_nodes/_all/http", "/_cluster/health"}) {
      add("GET", prefix + path, Right::kIngest);
    }
    for (const char* kind : {"/_index_template", "/_template", "/_component_template",
                             "/_ilm/policy", "/_ingest/pipeline", "/_data_stream"}) {
      for (const char* method : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
        add(method, prefix + kind, Right::kIngest);
        add(method, prefix + kind + "/*", Right::kIngest);
      }
    }
  }
  for (const char* path : {"/api/v1/ingest/elasticsearch", "/api/v1/ingest/elasticsearch/"}) {
    add("GET", path, Right::kIngest);
    add("HEAD", path, Right::kIngest);
  }
  add("POST", "/loki/api/v1/push", Right::kIngest);
  add("GET", "/loki/api/v1/status/buildinfo", Right::kIngest);
  add("GET", "/loki/ready", Right::kIngest);
  add("POST", "/v1/logs", Right::kIngest);
  add("POST", "/otlp/v1/logs", Right::kIngest);
  return t;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (parsed.is_v6() && parsed.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, parsed.to_v6())
        .is_loopback();
  }
  return parsed.is_loopback();
}

namespace {

prometheus::Counter& AuditFailures() {
  static prometheus::Counter& counter = *UnlabelledCounter(
      "sawmill_audit_write_failures_total",
      "Audit log entries that could not be written to the catalog (each is logged)");
  return counter;
}

prometheus::Family<prometheus::Counter>& AuthRefusals() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_auth_refused_total")
          .Help("Requests refused by the auth gate, by reason (unauthenticated, forbidden)")
          .Register(MetricsRegistry());
  return family;
}

}  // namespace

const std::vector<RouteRight>& RouteRights() {
  static const std::vector<RouteRight>* table = new std::vector<RouteRight>(BuildRouteRights());
  return *table;
}

std::optional<auth::Right> DeclaredRight(std::string_view method, std::string_view pattern) {
  for (int pass = 0; pass < 2; ++pass) {
    std::string_view want = pass == 0 ? method : std::string_view("GET");
    if (pass == 1 && method != "HEAD") break;
    for (const RouteRight& row : RouteRights()) {
      if (row.method == want && row.pattern == pattern) return row.right;
    }
  }
  return std::nullopt;
}

auth::Right RequiredRight(std::string_view method, std::string_view pattern) {
  return DeclaredRight(method, pattern).value_or(Right::kPlatformAdmin);
}

bool Audited(std::string_view pattern, auth::Right right) {
  return right != Right::kPublic && right != Right::kIngest && pattern != "/metrics";
}

std::string TokenFromAuthorization(std::string_view header) {
  auto starts = [&header](std::string_view scheme) {
    if (header.size() <= scheme.size()) return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
      char c = header[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != scheme[i]) return false;
    }
    return true;
  };
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  };
  if (starts("bearer ")) return trim(header.substr(7));
  if (starts("basic ")) {
    std::string decoded = Base64Decode(trim(header.substr(6))).value_or("");
    size_t colon = decoded.find(':');
    return colon == std::string::npos ? "" : decoded.substr(colon + 1);
  }
  return "";
}

void AuthGate::Attach(auth::TokenStore* tokens, auth::AuditLog* audit) {
  audit_.store(audit);
  tokens_.store(tokens);
  PruneAudit();
}

void AuthGate::PruneAudit() {
  auth::AuditLog* log = audit_.load();
  const int64_t retention = audit_retention_ns_.load();
  const int64_t now = clock_->NowNanos();
  last_prune_ns_.store(now);
  if (log == nullptr || retention <= 0) return;
  auto pruned = log->Prune(now - retention);
  if (!pruned.ok()) {
    spdlog::error("audit log: removing entries past audit_retention: {}",
                  pruned.status().ToString());
  } else if (*pruned > 0) {
    spdlog::info("audit log: removed {} entries older than audit_retention", *pruned);
  }
}

Status AuthGate::Authorize(HttpRequest* request, std::string_view pattern) const {
  const Right right = RequiredRight(request->method, pattern);
  if (right == Right::kPublic) return Status::OK();
  auth::TokenStore* tokens = tokens_.load();
  if (tokens == nullptr) {
    return Status::Unavailable(
        "the server is starting (replaying its write-ahead log); API tokens are checked once "
        "it is ready: retry shortly");
  }
  if (!tokens->enabled()) return Status::OK();  // no token exists: the embedded default
  const std::string route = request->method + " " + std::string(pattern);
  const std::string text = TokenFromAuthorization(request->Header("authorization"));
  if (text.empty()) {
    AuthRefusals().Add({{"reason", "unauthenticated"}}).Increment();
    return Status::Unauthenticated(
        route +
        " needs an API token: send 'Authorization: Bearer <token>' (the command line: "
        "--token or SAWMILL_TOKEN; the agent: token: in its config). Tokens are made "
        "with `sawmill admin token create`");
  }
  auto identity = tokens->Authenticate(text);
  if (!identity.ok()) {
    AuthRefusals().Add({{"reason", "unauthenticated"}}).Increment();
    return identity.status();
  }
  if (!auth::RoleHasRight(identity->role, right)) {
    AuthRefusals().Add({{"reason", "forbidden"}}).Increment();
    return Status::PermissionDenied("token '" + identity->name + "' (role " +
                                    std::string(auth::RoleName(identity->role)) + ") may not use " +
                                    route + ": it needs the " +
                                    std::string(auth::RightName(right)) + " right");
  }
  // The tenant comes from the token; X-Scope-OrgID only picks one of the token's tenants.
  if (request->Header("x-scope-orgid").empty()) {
    if (!identity->tenants.empty()) request->tenant = identity->tenants.front();
  } else if (!identity->HasTenant(request->tenant)) {
    AuthRefusals().Add({{"reason", "forbidden"}}).Increment();
    return Status::PermissionDenied("token '" + identity->name + "' is not granted tenant '" +
                                    request->tenant +
                                    "' (X-Scope-OrgID); its tenants: " + Join(identity->tenants));
  }
  request->caller.authenticated = true;
  request->caller.token_id = identity->token_id;
  request->caller.name = identity->name;
  request->caller.role = std::string(auth::RoleName(identity->role));
  request->caller.tenants = identity->tenants;
  return Status::OK();
}

void AuthGate::Audit(const HttpRequest& request, std::string_view pattern,
                     const HttpResponse& response) {
  const Right right = RequiredRight(request.method, pattern);
  if (!Audited(pattern, right)) return;
  // A 401 has no identity to record: it is counted (sawmill_auth_refused_total) and not
  // written, so that a flood of bad tokens cannot fill the log. A 403 is written: a known token
  // tried something it may not.
  if (response.status == 401) return;
  auth::AuditLog* log = audit_.load();
  if (log == nullptr) return;  // not ready: nothing was answered but 503
  catalog::AuditRow row;
  row.who = request.caller.name;
  row.token_id = request.caller.token_id;
  row.tenant = request.tenant;
  row.action = request.method + " " + std::string(pattern);
  row.query = request.HasQuery("q") ? request.Query("q") : request.target;
  if (request.HasQuery("q")) {
    auto range = query::ParseTimeRange(
        request.Query("since"), request.Query("from"), request.Query("to"),
        request.Query("all_time") == "1" || request.Query("all_time") == "true",
        clock_->NowNanos());
    if (range.ok()) {
      row.from_ns = range->from_ns;
      row.to_ns = range->to_ns;
    }
  }
  row.rows = response.rows;
  row.address = request.remote_address;
  row.status = response.status;
  if (clock_->NowNanos() - last_prune_ns_.load() > 3600 * kNanosPerSecond) PruneAudit();
  if (Status status = log->Append(std::move(row)); !status.ok()) {
    AuditFailures().Increment();
    spdlog::error("audit log: could not record {} {} from {}: {}", request.method, request.path,
                  request.remote_address, status.ToString());
  }
}

}  // namespace sawmill::http
