// The HTTP routes of the shipper protocols, registered by the server (src/http) at start-up:
//   Elasticsearch: POST /_bulk, /{index}/_bulk, /api/v1/ingest/elasticsearch/_bulk (and
//                  .../{index}/_bulk); GET and HEAD /, GET /_license, /_nodes/http, template,
//                  ILM and pipeline calls, at the root and under /api/v1/ingest/elasticsearch.
//   Loki:          POST /loki/api/v1/push; GET /loki/api/v1/status/buildinfo, /ready.
//   OTLP/HTTP:     POST /v1/logs (also /otlp/v1/logs).
// The syslog listener is separate: see syslog_server.h. docs/shippers.md has the mappings.
#pragma once

#include "http/router.h"

namespace sawmill::ingest {

// "*router" and "*sink" must outlive the routes. Call once, before serving.
void RegisterShipperRoutes(http::Router* router, http::IngestSink* sink);

}  // namespace sawmill::ingest

namespace sawmill::http {
// The server (src/http/server_app.cc) calls it unqualified from this namespace.
using ingest::RegisterShipperRoutes;
}  // namespace sawmill::http
