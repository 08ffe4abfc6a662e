// Chargeback (docs/security.md "Quotas"): GET /api/v1/admin/tenants lists the bytes, rows and
// segments each tenant stores, per tier, from the segment catalog; the same figures are the
// gauges sawmill_tenant_stored_bytes{tenant,tier} and sawmill_tenant_stored_rows{tenant,tier},
// refreshed by RefreshTenantMetrics (the server calls it every 30 s and on each request here).
#pragma once

#include "http/api_routes.h"
#include "http/router.h"

namespace sawmill::http {

void RegisterTenantRoutes(Router* router, ApiState* state);
// Recomputes the per-tenant gauges from the catalog. Errors: the engine's (not ready: OK).
Status RefreshTenantMetrics(ApiState* state);

}  // namespace sawmill::http
