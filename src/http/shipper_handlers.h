// The HTTP handlers of the shipper protocols, as plain functions of (request, pipeline) so that
// they can be tested without a server. RegisterShipperRoutes (shipper_routes.h) binds them to
// paths. Every handler answers in the format its protocol's clients understand, errors included;
// the HTTP status of a Status is always StatusToHttp's (router.h).
#pragma once

#include "http/router.h"
#include "ingest/pipeline.h"

namespace sawmill::http {

// Elasticsearch: POST .../_bulk and the calls clients make before their first bulk (GET / with
// a version, HEAD /, GET /_license, GET /_nodes/http, index template and ILM calls). Every
// answer carries "X-Elastic-Product: Elasticsearch".
HttpResponse HandleElasticsearchBulk(const HttpRequest& request, ingest::Pipeline* pipeline);
HttpResponse HandleElasticsearchApi(const HttpRequest& request);
// The single-document index API: POST /{index}/_doc, PUT|POST /{index}/_doc/{id} and
// /{index}/_create/{id}; answers 201 like Elasticsearch.
HttpResponse HandleElasticsearchDocument(const HttpRequest& request, ingest::Pipeline* pipeline);

// Loki: POST /loki/api/v1/push (JSON or snappy protobuf); 204 on success, text/plain errors.
HttpResponse HandleLokiPush(const HttpRequest& request, ingest::Pipeline* pipeline);
// GET /loki/api/v1/status/buildinfo and /ready: some clients probe them.
HttpResponse HandleLokiProbe(const HttpRequest& request);

// OTLP/HTTP: POST /v1/logs (application/x-protobuf or application/json); the answer uses the
// request's encoding.
HttpResponse HandleOtlpLogs(const HttpRequest& request, ingest::Pipeline* pipeline);

}  // namespace sawmill::http
