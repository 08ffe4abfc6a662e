// The token and audit routes (auth_gate.h, RegisterAuthRoutes; docs/api.md "Tokens" and
// "Audit log"). The gate has checked the route's right before these run; here is only what a
// caller may create, see or revoke.
#include <algorithm>
#include <mutex>

#include "common/json_string.h"
#include "common/time_format.h"
#include "http/api_routes.h"
#include "http/auth_gate.h"
#include "http/server_config.h"
#include "query/time_range.h"

namespace sawmill::http {

namespace {

using auth::Role;

std::vector<std::string> TenantsOf(const HttpRequest& request) {
  std::vector<std::string> out;
  auto range = request.query.equal_range("tenant");
  for (auto it = range.first; it != range.second; ++it) {
    for (const std::string& t : SplitList(it->second)) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
  }
  return out;
}

bool Subset(const std::vector<std::string>& inner, const std::vector<std::string>& outer) {
  return std::all_of(inner.begin(), inner.end(), [&outer](const std::string& t) {
    return std::find(outer.begin(), outer.end(), t) != outer.end();
  });
}

void AppendTokenJson(const catalog::TokenRow& row, std::string* out) {
  *out += "{\"id\":" + JsonString(row.id) + ",\"name\":" + JsonString(row.name) +
          ",\"role\":" + JsonString(row.role) + ",\"tenants\":[";
  for (size_t i = 0; i < row.tenants.size(); ++i) {
    if (i > 0) *out += ',';
    AppendJsonString(row.tenants[i], out);
  }
  *out += "],\"created\":" + JsonString(FormatRfc3339(row.created_ns));
  *out +=
      ",\"expires\":" + (row.expires_ns == 0 ? "null" : JsonString(FormatRfc3339(row.expires_ns)));
  *out +=
      ",\"revoked\":" + (row.revoked_ns == 0 ? "null" : JsonString(FormatRfc3339(row.revoked_ns)));
  *out += ",\"created_by\":" + JsonString(row.created_by) + "}";
}

// Whether a tenant-admin caller may see or revoke "row": a token of its own tenants that is not
// platform-wide.
bool WithinCaller(const Caller& caller, const catalog::TokenRow& row) {
  if (!caller.authenticated || caller.role == "platform-admin") return true;
  if (row.role == "platform-admin" || row.role == "auditor") return false;
  return Subset(row.tenants, caller.tenants);
}

HttpResponse NotReady() {
  return HttpResponse::Error(Status::Unavailable("the server is starting: retry shortly"));
}

HttpResponse CreateToken(AuthGate* gate, Clock* clock, const HttpRequest& request) {
  static std::mutex bootstrap;  // two first tokens at once: only one is the bootstrap
  auth::TokenStore* tokens = gate->tokens();
  if (tokens == nullptr) return NotReady();
  const std::string name = request.Query("name");
  auto role = auth::ParseRole(request.Query("role"));
  if (!role) {
    return HttpResponse::Error(Status::InvalidArgument("role: expected one of " +
                                                       std::string(auth::RoleNames()) + ", got '" +
                                                       request.Query("role") + "'"));
  }
  std::vector<std::string> tenants = TenantsOf(request);
  for (const std::string& t : tenants) {
    if (auto valid = TenantFromHeader(t); !valid.ok() || *valid != t) {
      return HttpResponse::Error(Status::InvalidArgument(
          "tenant '" + t + "': a tenant id is 1 to 150 letters, digits and !-_.*'()"));
    }
  }
  int64_t expires_ns = 0;
  if (request.HasQuery("expires_in")) {
    auto d = query::ParseDuration(request.Query("expires_in"));
    if (!d || *d <= 0) {
      return HttpResponse::Error(
          Status::InvalidArgument("expires_in: expected a duration such as 30d, 12h or 90m, got '" +
                                  request.Query("expires_in") + "'"));
    }
    expires_ns = clock->NowNanos() + *d;
  } else if (request.HasQuery("expires")) {
    auto at = query::ParseInstant(request.Query("expires"));
    if (!at) {
      return HttpResponse::Error(Status::InvalidArgument(
          "expires: expected RFC 3339 or epoch seconds, got '" + request.Query("expires") + "'"));
    }
    expires_ns = *at;
  }
  const Caller& caller = request.caller;
  std::unique_lock<std::mutex> lock(bootstrap, std::defer_lock);
  if (!caller.authenticated) {
    // The gate lets a request through without a token only while no token exists.
    lock.lock();
    if (tokens->enabled()) {
      return HttpResponse::Error(Status::Unauthenticated(
          "POST /api/v1/admin/tokens needs an API token: tokens exist now"));
    }
    if (!IsLoopbackAddress(request.remote_address)) {
      return HttpResponse::Error(Status::PermissionDenied(
          "the first token can only be created from the server's own machine (a loopback "
          "address), not from " +
          request.remote_address));
    }
    if (*role != Role::kPlatformAdmin) {
      return HttpResponse::Error(Status::InvalidArgument(
          "the first token must be a platform-admin token (--role platform-admin): once it "
          "exists every route needs a token, and only a platform-admin can make the others"));
    }
  } else if (caller.role != "platform-admin") {
    if (*role == Role::kPlatformAdmin || *role == Role::kAuditor) {
      return HttpResponse::Error(Status::PermissionDenied(
          "token '" + caller.name + "' (tenant-admin) may not create a " +
          std::string(auth::RoleName(*role)) + " token; only a platform-admin can"));
    }
    if (!Subset(tenants, caller.tenants)) {
      return HttpResponse::Error(Status::PermissionDenied(
          "token '" + caller.name + "' may create tokens only for its own tenants"));
    }
  }
  auth::NewToken spec;
  spec.name = name;
  spec.tenants = tenants;
  spec.role = *role;
  spec.expires_ns = expires_ns;
  spec.created_by = caller.name;
  auto created = tokens->Create(spec);
  if (!created.ok()) return HttpResponse::Error(created.status());
  std::string body = "{\"token\":" + JsonString(created->token) + ",\"info\":";
  AppendTokenJson(created->row, &body);
  body += ",\"note\":\"shown once: store it now; the server keeps only a hash of its secret\"}";
  return HttpResponse::Json(201, std::move(body));
}

HttpResponse ListTokens(AuthGate* gate, const HttpRequest& request) {
  auth::TokenStore* tokens = gate->tokens();
  if (tokens == nullptr) return NotReady();
  std::string body = "{\"tokens\":[";
  bool first = true;
  for (const catalog::TokenRow& row : tokens->List()) {
    if (!WithinCaller(request.caller, row)) continue;
    if (!first) body += ',';
    first = false;
    AppendTokenJson(row, &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse RevokeToken(AuthGate* gate, const HttpRequest& request) {
  auth::TokenStore* tokens = gate->tokens();
  if (tokens == nullptr) return NotReady();
  const std::string id = request.path.substr(request.path.rfind('/') + 1);
  auto row = tokens->Get(id);
  if (!row) return HttpResponse::Error(Status::NotFound("no token with id '" + id + "'"));
  if (!WithinCaller(request.caller, *row)) {
    return HttpResponse::Error(Status::PermissionDenied(
        "token '" + request.caller.name + "' may revoke only tokens of its own tenants"));
  }
  if (Status status = tokens->Revoke(id); !status.ok()) return HttpResponse::Error(status);
  std::string body = "{\"revoked\":";
  AppendTokenJson(*tokens->Get(id), &body);
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}

Result<int64_t> InstantOrAgo(Clock* clock, std::string_view name, const std::string& text) {
  if (auto d = query::ParseDuration(text); d && *d > 0) return clock->NowNanos() - *d;
  if (auto at = query::ParseInstant(text)) return *at;
  return Status::InvalidArgument(std::string(name) +
                                 ": expected RFC 3339, epoch seconds or a "
                                 "duration ago (1h, 7d), got '" +
                                 text + "'");
}

void AppendAuditJson(const catalog::AuditRow& row, std::string* out) {
  *out += "{\"seq\":" + std::to_string(row.seq) +
          ",\"at\":" + JsonString(FormatRfc3339(row.at_ns)) + ",\"who\":" + JsonString(row.who) +
          ",\"token_id\":" + JsonString(row.token_id) + ",\"tenant\":" + JsonString(row.tenant) +
          ",\"action\":" + JsonString(row.action) + ",\"query\":" + JsonString(row.query);
  if (row.from_ns != 0 || row.to_ns != 0) {
    *out += ",\"from\":" + JsonString(FormatRfc3339(row.from_ns)) +
            ",\"to\":" + JsonString(FormatRfc3339(row.to_ns));
  }
  *out += ",\"rows\":" + (row.rows < 0 ? std::string("null") : std::to_string(row.rows)) +
          ",\"address\":" + JsonString(row.address) + ",\"status\":" + std::to_string(row.status) +
          ",\"prev_hash\":" + JsonString(row.prev_hash) + ",\"hash\":" + JsonString(row.hash) + "}";
}

HttpResponse ListAudit(AuthGate* gate, Clock* clock, const HttpRequest& request) {
  auth::AuditLog* log = gate->audit_log();
  if (log == nullptr) return NotReady();
  catalog::AuditFilter filter;
  if (request.HasQuery("since")) {
    auto at = InstantOrAgo(clock, "since", request.Query("since"));
    if (!at.ok()) return HttpResponse::Error(at.status());
    filter.since_ns = *at;
  }
  if (request.HasQuery("until")) {
    auto at = InstantOrAgo(clock, "until", request.Query("until"));
    if (!at.ok()) return HttpResponse::Error(at.status());
    filter.until_ns = *at;
  }
  if (request.HasQuery("tenant")) filter.tenant = request.Query("tenant");
  if (request.HasQuery("who")) filter.who = request.Query("who");
  if (request.HasQuery("action")) filter.action = request.Query("action");
  filter.limit = 1000;
  for (const char* name : {"after", "limit"}) {
    if (!request.HasQuery(name)) continue;
    const std::string text = request.Query(name);
    uint64_t value = 0;
    bool ok = !text.empty() && text.size() <= 19 &&
              std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) value = std::stoull(text);
    if (!ok || (std::string_view(name) == "limit" && (value == 0 || value > 10'000))) {
      return HttpResponse::Error(Status::InvalidArgument(
          std::string(name) + ": expected " +
          (std::string_view(name) == "limit" ? "1 to 10000" : "an entry's seq") + ", got '" + text +
          "'"));
    }
    (std::string_view(name) == "after" ? filter.after_seq : filter.limit) = value;
  }
  auto rows = log->List(filter);
  if (!rows.ok()) return HttpResponse::Error(rows.status());
  std::string body = "{\"entries\":[";
  for (size_t i = 0; i < rows->size(); ++i) {
    if (i > 0) body += ',';
    AppendAuditJson((*rows)[i], &body);
  }
  body += "]";
  if (rows->size() == filter.limit) {
    body += ",\"next_after\":" + std::to_string(rows->back().seq);
  }
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse VerifyAudit(AuthGate* gate) {
  auth::AuditLog* log = gate->audit_log();
  if (log == nullptr) return NotReady();
  auto verified = log->Verify();
  if (!verified.ok()) return HttpResponse::Error(verified.status());
  std::string body = std::string("{\"ok\":") + (verified->problems.empty() ? "true" : "false") +
                     ",\"entries\":" + std::to_string(verified->entries) +
                     ",\"first_seq\":" + std::to_string(verified->first_seq) +
                     ",\"last_seq\":" + std::to_string(verified->last_seq) + ",\"problems\":[";
  for (size_t i = 0; i < verified->problems.size(); ++i) {
    if (i > 0) body += ',';
    AppendJsonString(verified->problems[i], &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse ListRoutes(const Router* router) {
  std::string body = "{\"routes\":[";
  bool first = true;
  for (const auto& [method, pattern] : router->Routes()) {
    if (!first) body += ',';
    first = false;
    auto declared = DeclaredRight(method, pattern);
    body += "{\"method\":" + JsonString(method) + ",\"pattern\":" + JsonString(pattern) +
            ",\"right\":" + JsonString(auth::RightName(RequiredRight(method, pattern))) +
            ",\"declared\":" + (declared ? "true" : "false") + "}";
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

}  // namespace

void RegisterAuthRoutes(Router* router, AuthGate* gate, Clock* clock) {
  router->Add("POST", "/api/v1/admin/tokens", [gate, clock](const HttpRequest& request) {
    return CreateToken(gate, clock, request);
  });
  router->Add("GET", "/api/v1/admin/tokens",
              [gate](const HttpRequest& request) { return ListTokens(gate, request); });
  router->Add("DELETE", "/api/v1/admin/tokens/{id}",
              [gate](const HttpRequest& request) { return RevokeToken(gate, request); });
  router->Add("GET", "/api/v1/audit", [gate, clock](const HttpRequest& request) {
    return ListAudit(gate, clock, request);
  });
  router->Add("GET", "/api/v1/audit/verify",
              [gate](const HttpRequest&) { return VerifyAudit(gate); });
  router->Add("GET", "/api/v1/admin/routes",
              [router](const HttpRequest&) { return ListRoutes(router); });
}

}  // namespace sawmill::http
