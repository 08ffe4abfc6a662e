#include "http/tenant_routes.h"

#include <map>
#include <mutex>
#include <set>

#include "common/json_string.h"
#include "common/metrics.h"

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
  body += "],\"note\":\"segments only: lines not yet flushed from memory are not counted\"}";
  return HttpResponse::Json(200, std::move(body));
}

}  // namespace

void RegisterTenantRoutes(Router* router, ApiState* state) {
  router->Add("GET", "/api/v1/admin/tenants",
              [state](const HttpRequest&) { return HandleTenants(state); });
}

Status RefreshTenantMetrics(ApiState* state) {
  auto usage = Collect(state);
  if (usage.status().code() == StatusCode::kUnavailable) return Status::OK();
  if (!usage.ok()) return usage.status();
  Publish(*usage);
  return Status::OK();
}

}  // namespace sawmill::http
