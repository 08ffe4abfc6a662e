#include "http/tenant_routes.h"

#include <map>
#include <mutex>
#include <set>

#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"
#include "ingest/masking.h"

namespace sawmill::http {

namespace {

struct Usage {
  uint64_t segments = 0, rows = 0, bytes = 0;
};
// tenant -> tier -> usage
using UsageMap = std::map<std::string, std::map<std::string, Usage>>;

Result<UsageMap> Collect(ApiState* state) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) {
    return Status::Unavailable("the server is starting: retry shortly");
  }
  auto segments = engine->ListSegments();
  if (!segments.ok()) return segments.status();
  UsageMap out;
  for (const storage::SegmentStatus& s : *segments) {
    if (s.state == "missing") continue;  // its bytes are gone
    Usage& u = out[s.tenant][s.tier];
    ++u.segments;
    u.rows += s.rows;
    u.bytes += s.bytes;
  }
  return out;
}

void Publish(const UsageMap& usage) {
  static auto& bytes = prometheus::BuildGauge()
                           .Name("sawmill_tenant_stored_bytes")
                           .Help("Bytes of segment files each tenant stores, by tier (chargeback)")
                           .Register(MetricsRegistry());
  static auto& rows = prometheus::BuildGauge()
                          .Name("sawmill_tenant_stored_rows")
                          .Help("Rows in each tenant's segments, by tier")
                          .Register(MetricsRegistry());
  static std::mutex mu;
  static std::set<std::pair<std::string, std::string>> seen;  // tenants that had a gauge
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [tenant, tier] : seen) {  // gone: 0 (not removed: a scrape sees it drop)
    if (!usage.count(tenant) || !usage.at(tenant).count(tier)) {
      bytes.Add({{"tenant", tenant}, {"tier", tier}}).Set(0);
      rows.Add({{"tenant", tenant}, {"tier", tier}}).Set(0);
    }
  }
  for (const auto& [tenant, tiers] : usage) {
    for (const auto& [tier, u] : tiers) {
      bytes.Add({{"tenant", tenant}, {"tier", tier}}).Set(static_cast<double>(u.bytes));
      rows.Add({{"tenant", tenant}, {"tier", tier}}).Set(static_cast<double>(u.rows));
      seen.emplace(tenant, tier);
    }
  }
}

HttpResponse HandleTenants(ApiState* state) {
  auto usage = Collect(state);
  if (!usage.ok()) return HttpResponse::Error(usage.status());
  Publish(*usage);
  std::string body = "{\"tenants\":[";
  bool first = true;
  for (const auto& [tenant, tiers] : *usage) {
    Usage total;
    std::string by_tier;
    for (const auto& [tier, u] : tiers) {
      total.segments += u.segments;
      total.rows += u.rows;
      total.bytes += u.bytes;
      by_tier += (by_tier.empty() ? "" : ",") + JsonString(tier) +
                 ":{\"segments\":" + std::to_string(u.segments) +
                 ",\"rows\":" + std::to_string(u.rows) + ",\"bytes\":" + std::to_string(u.bytes) +
                 "}";
    }
    if (!first) body += ',';
    first = false;
    body += "{\"tenant\":" + JsonString(tenant) +
            ",\"segments\":" + std::to_string(total.segments) +
            ",\"rows\":" + std::to_string(total.rows) +
            ",\"bytes\":" + std::to_string(total.bytes) + ",\"tiers\":{" + by_tier + "}}";
  }
  body += "],\"masking\":{";  // each masked tenant's rules (docs/security.md "PII masking")
  if (state->masking != nullptr) {
    bool first_tenant = true;
    for (const auto& [tenant, rules] : state->masking->RulesByTenant()) {
      body += (first_tenant ? "" : ",") + JsonString(tenant) + ":[";
      first_tenant = false;
      for (size_t i = 0; i < rules.size(); ++i) body += (i > 0 ? "," : "") + JsonString(rules[i]);
      body += ']';
    }
  }
  body += "},\"note\":\"segments only: lines not yet flushed from memory are not counted\"}";
  return HttpResponse::Json(200, std::move(body));
}

void AppendValues(const QuotaValues& values, std::string* out) {
  *out += '{';
  bool first = true;
  for (const QuotaKeyInfo& info : QuotaKeyTable()) {
    if (!values[info.key]) continue;
    if (!first) *out += ',';
    first = false;
    *out += JsonString(info.name) + ":" + JsonString(FormatQuotaValue(info.key, *values[info.key]));
  }
  *out += '}';
}

void AppendEntry(const TenantQuotaState& q, const std::string& tenant, std::string* out) {
  TenantQuotaTable::Entry e = q.table->Describe(tenant);
  *out += "{\"tenant\":" + JsonString(tenant) + ",\"effective\":";
  AppendValues(e.effective, out);
  *out += ",\"config_file\":";
  AppendValues(e.config, out);
  *out += ",\"api\":";
  AppendValues(e.api, out);
  if (e.updated_ns != 0) {
    *out += ",\"api_updated_at\":" + JsonString(FormatRfc3339(e.updated_ns)) +
            ",\"api_updated_by\":" + JsonString(e.updated_by);
  }
  *out += ",\"usage\":{\"scanned_bytes_last_hour\":" + std::to_string(q.scan->Used(tenant)) +
          ",\"queries\":" + std::to_string(q.queries->held(tenant)) +
          ",\"tail_sessions\":" + std::to_string(q.tails->held(tenant)) + "}}";
}

HttpResponse HandleQuotas(const TenantQuotaState& q, const HttpRequest& request) {
  std::vector<std::string> tenants = q.table->Tenants();
  if (request.HasQuery("tenant")) {
    auto tenant = TenantFromHeader(request.Query("tenant"));
    if (!tenant.ok()) return HttpResponse::Error(tenant.status().WithContext("tenant"));
    tenants = {*tenant};
  }
  std::string body = "{\"defaults\":";
  AppendValues(q.table->defaults(), &body);
  body += ",\"tenants\":[";
  for (size_t i = 0; i < tenants.size(); ++i) {
    if (i > 0) body += ',';
    AppendEntry(q, tenants[i], &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleSetQuotas(const TenantQuotaState& q, const HttpRequest& request) {
  if (!request.HasQuery("tenant")) {
    return HttpResponse::Error(Status::InvalidArgument(
        "tenant: required (the tenant whose quotas to set, e.g. ?tenant=acme&max_queries=4)"));
  }
  auto tenant = TenantFromHeader(request.Query("tenant"));
  if (!tenant.ok()) return HttpResponse::Error(tenant.status().WithContext("tenant"));
  std::vector<std::pair<std::string, std::string>> changes;
  bool reset = false;
  for (const auto& [name, value] : request.query) {
    if (name == "tenant") continue;
    if (name == "reset") {
      reset = value == "1" || value == "true";
      continue;
    }
    changes.emplace_back(name, value);
  }
  if (changes.empty() && !reset) {
    return HttpResponse::Error(Status::InvalidArgument(
        "nothing to set: give KEY=VALUE (VALUE 'default' removes the override) or reset=1"));
  }
  Status status = q.table->Set(*tenant, changes, reset, request.caller.name);
  if (!status.ok()) return HttpResponse::Error(status);
  std::string body;
  AppendEntry(q, *tenant, &body);
  return HttpResponse::Json(200, std::move(body));
}

}  // namespace

void RegisterTenantRoutes(Router* router, ApiState* state, TenantQuotaState quotas) {
  router->Add("GET", "/api/v1/admin/tenants",
              [state](const HttpRequest&) { return HandleTenants(state); });
  router->Add("GET", "/api/v1/admin/quotas",
              [quotas](const HttpRequest& r) { return HandleQuotas(quotas, r); });
  router->Add("POST", "/api/v1/admin/quotas",
              [quotas](const HttpRequest& r) { return HandleSetQuotas(quotas, r); });
}

Status RefreshTenantMetrics(ApiState* state) {
  auto usage = Collect(state);
  if (usage.status().code() == StatusCode::kUnavailable) return Status::OK();
  if (!usage.ok()) return usage.status();
  Publish(*usage);
  return Status::OK();
}

}  // namespace sawmill::http
