// Loki's read API (/loki/api/v1/query_range, /query, /labels, /label/<name>/values, /series,
// /status/buildinfo and /ready) over Sawmill's query engine, so that Grafana's Loki data source
// and logcli work unchanged. LogQL is translated into native queries by src/logql; the shapes
// of the answers are Loki's (docs/loki-api.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/api_routes.h"
#include "http/router.h"

namespace sawmill::http {

void RegisterLokiReadRoutes(Router* router, ApiState* state);

// A Loki timestamp parameter: RFC 3339, float seconds ("1733340000.5"), or an integer of
// seconds (up to 10 digits) or nanoseconds. nullopt for anything else.
std::optional<int64_t> ParseLokiTime(std::string_view text);

// A Loki step or duration parameter: a Prometheus duration ("30s", "1m30s") or float seconds.
std::optional<int64_t> ParseLokiStep(std::string_view text);

}  // namespace sawmill::http
