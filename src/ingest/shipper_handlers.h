// The HTTP handlers of the shipper protocols, as plain functions of (request, sink) so that
// they can be tested without a server. RegisterShipperRoutes (shippers.h) binds them to paths.
// Every handler answers in the format its protocol's clients understand, errors included.
#pragma once

#include "http/router.h"

namespace sawmill::ingest {

// Elasticsearch: POST .../_bulk and the calls clients make before their first bulk (GET / with
// a version, HEAD /, GET /_license, GET /_nodes/http, index template and ILM calls). Every
// answer carries "X-Elastic-Product: Elasticsearch".
http::HttpResponse HandleElasticsearchBulk(const http::HttpRequest& request,
                                           http::IngestSink* sink);
http::HttpResponse HandleElasticsearchApi(const http::HttpRequest& request);
// The single-document index API: POST /{index}/_doc, PUT|POST /{index}/_doc/{id} and
// /{index}/_create/{id}; answers 201 like Elasticsearch.
http::HttpResponse HandleElasticsearchDocument(const http::HttpRequest& request,
                                               http::IngestSink* sink);

// Loki: POST /loki/api/v1/push (JSON or snappy protobuf); 204 on success, text/plain errors.
http::HttpResponse HandleLokiPush(const http::HttpRequest& request, http::IngestSink* sink);
// GET /loki/api/v1/status/buildinfo and /ready: some clients probe them.
http::HttpResponse HandleLokiProbe(const http::HttpRequest& request);

// OTLP/HTTP: POST /v1/logs (application/x-protobuf or application/json); the answer uses the
// request's encoding.
http::HttpResponse HandleOtlpLogs(const http::HttpRequest& request, http::IngestSink* sink);

}  // namespace sawmill::ingest
