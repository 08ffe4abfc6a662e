// The HTTP routes of the shipper protocols, registered by the server at start-up:
//   Elasticsearch: POST /_bulk, /{index}/_bulk, /api/v1/ingest/elasticsearch/_bulk (and
//                  .../{index}/_bulk); GET and HEAD /, GET /_license, /_nodes/http, template,
//                  ILM and pipeline calls, at the root and under /api/v1/ingest/elasticsearch.
//   Loki:          POST /loki/api/v1/push; GET /loki/api/v1/status/buildinfo, /ready.
//   OTLP/HTTP:     POST /v1/logs (also /otlp/v1/logs).
// Each maps a request to ingest::Pipeline calls (decoders in src/ingest) and the answer back to
// the protocol's format. The syslog listener is src/ingest/syslog_server.h. docs/shippers.md has
// the mappings.
#pragma once

#include <string_view>

#include "http/router.h"
#include "ingest/pipeline.h"

namespace sawmill::http {

// "*router" and "*pipeline" must outlive the routes. Call once, before serving.
void RegisterShipperRoutes(Router* router, ingest::Pipeline* pipeline);

// The pipeline call a request makes: the authenticated tenant, the `service`, `host` and
// `level` query parameters as defaults, the server's max_request_lines. Shippers keep lines
// with a bad `level` default (BadLevel::kKeepAsField); native ingestion sets kReject.
ingest::IngestCall IngestCallFromRequest(const HttpRequest& request, std::string_view protocol);

}  // namespace sawmill::http
