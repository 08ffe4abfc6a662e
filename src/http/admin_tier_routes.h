// The storage tiers' admin routes: GET /api/v1/admin/tiers and POST /api/v1/admin/tiers/move
// (docs/api.md "Tiers").
#pragma once

#include "http/api_routes.h"
#include "http/router.h"

namespace sawmill::http {

// Registers the routes; "state" must outlive them.
void RegisterAdminTierRoutes(Router* router, ApiState* state);

}  // namespace sawmill::http
