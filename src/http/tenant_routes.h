// Chargeback (docs/security.md "Quotas"): GET /api/v1/admin/tenants lists the bytes, rows and
// segments each tenant stores, per tier, from the segment catalog; the same figures are the
// gauges sawmill_tenant_stored_bytes{tenant,tier} and sawmill_tenant_stored_rows{tenant,tier},
// refreshed by RefreshTenantMetrics (the server calls it every 30 s and on each request here).
//
// Quotas (docs/security.md "Quotas"): GET /api/v1/admin/quotas[?tenant=T] shows the defaults
// and, for each tenant with an override (and T), where each value comes from, its effective
// value and its usage now; POST /api/v1/admin/quotas?tenant=T&KEY=VALUE... sets overrides
// (VALUE "default" removes one; reset=1 removes all first). Both platform-admin.
#pragma once

#include "http/api_routes.h"
#include "http/router.h"
#include "http/tenant_limits.h"
#include "http/tenant_quotas.h"

namespace sawmill::http {

// The quota objects the routes read and change; all must outlive the routes.
struct TenantQuotaState {
  TenantQuotaTable* table = nullptr;
  TenantLimiter* queries = nullptr;
  TenantLimiter* tails = nullptr;
  ScanQuota* scan = nullptr;
};

void RegisterTenantRoutes(Router* router, ApiState* state, TenantQuotaState quotas);
// Recomputes the per-tenant gauges from the catalog. Errors: the engine's (not ready: OK).
Status RefreshTenantMetrics(ApiState* state);

}  // namespace sawmill::http
