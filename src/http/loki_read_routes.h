// Loki's read API (/loki/api/v1/query_range, /query, /labels, /label/<name>/values, /series,
// /status/buildinfo and /ready) over Sawmill's query engine, so that Grafana's Loki data source
// and logcli work unchanged. LogQL is translated into native queries by src/logql; the shapes
// of the answers are Loki's (docs/loki-api.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/api_routes.h"
#include "http/http_server.h"
#include "http/router.h"
#include "tail/tail_hub.h"

namespace sawmill::http {

void RegisterLokiReadRoutes(Router* router, ApiState* state);

// Loki's live tail, GET /loki/api/v1/tail over WebSocket (HttpServerOptions::framed_tails):
// query (a LogQL log query), start (default an hour ago) and limit (default 100) for the lines
// sent first, then every new matching line as it is acknowledged. Each message is
// {"streams":[{"stream":{labels},"values":[["<ns>","<line>"]]}],"dropped_entries":[...]}.
FramedTailSubscriber LokiTailSubscriber(ApiState* state, tail::TailHub* hub);

// A Loki timestamp parameter: RFC 3339, float seconds ("1733340000.5"), or an integer of
// seconds (up to 10 digits) or nanoseconds. nullopt for anything else.
std::optional<int64_t> ParseLokiTime(std::string_view text);

// A Loki step or duration parameter: a Prometheus duration ("30s", "1m30s") or float seconds.
std::optional<int64_t> ParseLokiStep(std::string_view text);

}  // namespace sawmill::http
