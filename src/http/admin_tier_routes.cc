// The storage tiers' admin routes (docs/api.md "Tiers"): GET /api/v1/admin/tiers (bytes,
// segments, oldest and newest per tier, and per tier and tenant) and POST
// /api/v1/admin/tiers/move?older_than=DURATION&to=warm|cold (runs the transitions now).
#include "http/admin_tier_routes.h"

#include <string>

#include "common/config_values.h"
#include "common/json_string.h"
#include "common/time_format.h"
#include "storage/job_gate.h"

namespace sawmill::http {
namespace {

HttpResponse NotReady(const ApiState& state) {
  if (state.stopping.load()) {
    return HttpResponse::Error(Status::Unavailable("the server is stopping"));
  }
  return HttpResponse::Error(
      Status::Unavailable("the server is starting (replaying the write-ahead log)"));
}

void AppendUsage(const storage::TierUsage& u, std::string* out) {
  *out += "{\"tier\":";
  AppendJsonString(u.tier, out);
  if (!u.tenant.empty()) {
    *out += ",\"tenant\":";
    AppendJsonString(u.tenant, out);
  }
  *out += ",\"segments\":" + std::to_string(u.segments) + ",\"bytes\":" + std::to_string(u.bytes) +
          ",\"rows\":" + std::to_string(u.rows) + ",\"oldest\":";
  if (u.segments == 0) {
    *out += "null,\"newest\":null}";
    return;
  }
  AppendJsonString(FormatRfc3339Nanos(u.oldest_ts), out);
  *out += ",\"newest\":";
  AppendJsonString(FormatRfc3339Nanos(u.newest_ts), out);
  *out += "}";
}

HttpResponse HandleTiers(ApiState* state, const HttpRequest&) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return NotReady(*state);
  auto usage = engine->ListTierUsage();
  if (!usage.ok()) return HttpResponse::Error(usage.status());
  std::string tiers, tenants;
  for (const storage::TierUsage& u : *usage) {
    std::string* list = u.tenant.empty() ? &tiers : &tenants;
    if (!list->empty()) *list += ",";
    AppendUsage(u, list);
  }
  return HttpResponse::Json(200, "{\"tiers\":[" + tiers + "],\"tenants\":[" + tenants + "]}");
}

HttpResponse HandleTierMove(ApiState* state, const HttpRequest& request) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return NotReady(*state);
  if (!request.HasQuery("older_than") || !request.HasQuery("to")) {
    return HttpResponse::Error(Status::InvalidArgument(
        "give older_than=DURATION (e.g. 3d, 12h, 0s) and to=warm or to=cold"));
  }
  const std::string to = request.Query("to");
  if (to != "warm" && to != "cold") {
    return HttpResponse::Error(
        Status::InvalidArgument("to: expected warm or cold, got '" + to + "'"));
  }
  auto older = ParseDuration(request.Query("older_than"));
  if (!older.ok()) {
    return HttpResponse::Error(Status::InvalidArgument("older_than: " + older.status().message()));
  }
  const int64_t start = state->clock->MonotonicNanos();
  // A round of the job like the background ones: in a cluster it moves only partitions whose
  // lease it claims, each move fenced by that lease (docs/cluster.md "Job leases as built").
  auto move = [&] {
    storage::JobRound job("tiers", storage::JobRound::kPerPartition);
    return engine->MoveTiers(*older, to);
  };
  auto report = move();
  if (!report.ok()) return HttpResponse::Error(report.status());
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.3f",
                static_cast<double>(state->clock->MonotonicNanos() - start) / 1e6);
  std::string body = "{\"to\":";
  AppendJsonString(to, &body);
  body += ",\"to_warm\":" + std::to_string(report->to_warm) +
          ",\"to_cold\":" + std::to_string(report->to_cold) +
          ",\"failed\":" + std::to_string(report->failed) +
          ",\"bytes_read\":" + std::to_string(report->bytes_read) +
          ",\"bytes_written\":" + std::to_string(report->bytes_written) +
          ",\"elapsed_ms\":" + elapsed;
  if (!report->error.empty()) {
    body += ",\"error\":";
    AppendJsonString(report->error, &body);
  }
  body += "}";
  // A failed transition left its segment where it was; the move is incomplete.
  return HttpResponse::Json(report->failed > 0 ? 500 : 200, body);
}

}  // namespace

void RegisterAdminTierRoutes(Router* router, ApiState* state) {
  router->Add("GET", "/api/v1/admin/tiers",
              [state](const HttpRequest& r) { return HandleTiers(state, r); });
  router->Add("POST", "/api/v1/admin/tiers/move",
              [state](const HttpRequest& r) { return HandleTierMove(state, r); });
}

}  // namespace sawmill::http
