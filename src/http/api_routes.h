// The native API's routes (docs/api.md): ingest, search, context, flush, health, readiness and
// metrics. Handlers are plain functions of HttpRequest; the server (http_server.h) owns the
// sockets, the body limit and Content-Encoding decoding, and drives live tail itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "http/engine_ingest_sink.h"
#include "http/idempotency_cache.h"
#include "http/router.h"
#include "http/search_progress.h"
#include "http/tenant_limits.h"
#include "ingest/pipeline.h"
#include "query/query_engine.h"
#include "storage/engine.h"

namespace sawmill::ingest {
class TenantMasking;
}

namespace sawmill::http {

struct ApiOptions {
  size_t max_line_bytes = 256 * 1024;
  size_t max_search_limit = 10'000;
  size_t max_context_lines = 1'000;
};

// What the handlers share. The pointers are set once the engine is open (after WAL replay);
// until "ready" is true, data routes answer 503. Everything pointed to must outlive the routes.
struct ApiState {
  ApiOptions options;
  Clock* clock = Clock::Real();
  std::atomic<storage::Engine*> engine{nullptr};
  std::atomic<query::QueryEngine*> query{nullptr};
  std::atomic<bool> ready{false};
  std::atomic<bool> stopping{false};
  EngineIngestSink sink;
  // Every front door's way into storage (the native route, the shipper routes, syslog).
  ingest::Pipeline pipeline{&sink};
  IdempotencyGate idempotency;
  // Per-tenant concurrent searches and context reads (tenant_limits.h); null: no limit.
  TenantLimiter* query_limiter = nullptr;
  // Per-tenant PII masking (ingest/masking.h), shown by GET /api/v1/admin/tenants; null: none.
  const ingest::TenantMasking* masking = nullptr;
  SearchProgressRegistry search_progress;  // searches sent with ?progress_id
};

// Also configures state->pipeline from state->options and state->clock (set them first) and
// registers its ingest-metrics listener.
void RegisterApiRoutes(Router* router, ApiState* state);

// The tenant named by an X-Scope-OrgID header value ("" gives "default"): 1 to 150 characters
// among letters, digits and !-_.*'(), not "." or "..". Errors: InvalidArgument.
Result<std::string> TenantFromHeader(std::string_view header);

// Finds "at LINE:COL" in a query error message and turns it into a 0-based byte offset into
// "query"; -1 when the message names no position.
int ErrorPosition(std::string_view message, std::string_view query);

}  // namespace sawmill::http
