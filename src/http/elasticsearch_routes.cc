// Elasticsearch-compatible endpoints: _bulk and the handshake calls of clients and shippers.
#include <chrono>

#include "common/json_string.h"
#include "http/shipper_handlers.h"
#include "http/shipper_routes.h"
#include "ingest/elasticsearch_bulk.h"

namespace sawmill::http {

using ingest::EsBulkBatch;

namespace {

// The Elasticsearch version we claim: new enough for the 8.x clients, Filebeat 8 and Logstash.
constexpr std::string_view kVersion = "8.11.0";
constexpr std::string_view kPrefix = "/api/v1/ingest/elasticsearch";

HttpResponse EsResponse(const HttpRequest& request, int status, std::string body) {
  HttpResponse response;
  response.status = status;
  // The 8.x clients ask for the compatible-with media type and accept it back.
  const std::string accept = request.Header("accept");
  response.content_type = accept.find("vnd.elasticsearch+json") != std::string::npos
                              ? "application/vnd.elasticsearch+json;compatible-with=8"
                              : "application/json; charset=UTF-8";
  response.headers.emplace_back("X-Elastic-Product", "Elasticsearch");
  response.body = std::move(body);
  return response;
}

HttpResponse EsError(const HttpRequest& request, int status, std::string_view type,
                     std::string_view reason) {
  return EsResponse(request, status, ingest::ElasticsearchErrorBody(status, type, reason));
}

// The path with the /api/v1/ingest/elasticsearch prefix removed ("/" for the root).
std::string_view EsPath(std::string_view path) {
  if (path.substr(0, kPrefix.size()) == kPrefix) path.remove_prefix(kPrefix.size());
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return "/";
  return path;
}

// "/{index}/_bulk" gives the index; "/_bulk" gives "".
std::string IndexFromBulkPath(std::string_view path) {
  path = EsPath(path);
  constexpr std::string_view kBulk = "/_bulk";
  if (path.size() <= kBulk.size() || path.substr(path.size() - kBulk.size()) != kBulk) return "";
  std::string_view index = path.substr(1, path.size() - kBulk.size() - 1);
  return std::string(index);
}

std::string InfoBody() {
  return std::string(
             "{\"name\":\"sawmill\",\"cluster_name\":\"sawmill\",\"cluster_uuid\":"
             "\"c2F3bWlsbC1zYXdtaWxs\",\"version\":{\"number\":\"") +
         std::string(kVersion) +
         "\",\"build_flavor\":\"default\",\"build_type\":\"sawmill\",\"build_hash\":"
         "\"sawmill-" SAWMILL_VERSION
         "\",\"build_date\":\"2023-11-04T10:04:57.184859352Z\",\"build_snapshot\""
         ":false,\"lucene_version\":\"9.8.0\",\"minimum_wire_compatibility_version\":\"7.17.0\","
         "\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":\"You Know, for "
         "Search\"}";
}

std::string LicenseBody() {
  return "{\"license\":{\"status\":\"active\",\"uid\":\"sawmill\",\"type\":\"basic\","
         "\"issue_date\":\"2023-01-01T00:00:00.000Z\",\"issue_date_in_millis\":1672531200000,"
         "\"max_nodes\":1000,\"max_resource_units\":null,\"issued_to\":\"sawmill\",\"issuer\":"
         "\"elasticsearch\",\"start_date_in_millis\":-1}}";
}

std::string NodesBody(const HttpRequest& request) {
  std::string host = request.Header("host");
  if (host.empty()) host = "127.0.0.1:9640";
  return "{\"_nodes\":{\"total\":1,\"successful\":1,\"failed\":0},\"cluster_name\":\"sawmill\","
         "\"nodes\":{\"c2F3bWlsbA\":{\"name\":\"sawmill\",\"transport_address\":" +
         JsonString(host) + ",\"host\":" + JsonString(host.substr(0, host.rfind(':'))) +
         ",\"ip\":" + JsonString(host.substr(0, host.rfind(':'))) + ",\"version\":\"" +
         std::string(kVersion) +
         "\",\"roles\":[\"data\",\"ingest\",\"master\"],\"http\":{\"bound_address\":[" +
         JsonString(host) + "],\"publish_address\":" + JsonString(host) +
         ",\"max_content_length_in_bytes\":104857600}}}}";
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

HttpResponse HandleElasticsearchBulk(const HttpRequest& request, ingest::Pipeline* pipeline) {
  const auto start = std::chrono::steady_clock::now();
  Result<ingest::ShipperContext> context =
      pipeline->Begin(IngestCallFromRequest(request, "elasticsearch"));
  if (!context.ok()) {
    return EsError(request, StatusToHttp(context.status()), "illegal_argument_exception",
                   context.status().message());
  }
  Result<EsBulkBatch> batch =
      ingest::DecodeElasticsearchBulk(request.body, IndexFromBulkPath(request.path), *context);
  if (!batch.ok()) {
    return EsError(request, StatusToHttp(batch.status()), "illegal_argument_exception",
                   batch.status().message());
  }
  Status stored = pipeline->Submit(*context, "elasticsearch", &batch->records);
  const int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  return EsResponse(
      request, 200,
      ingest::EncodeElasticsearchBulkResponse(
          batch->items, took, stored.ok() ? 0 : StatusToHttp(stored), stored.message()));
}

HttpResponse HandleElasticsearchDocument(const HttpRequest& request, ingest::Pipeline* pipeline) {
  // "/{index}/_doc", "/{index}/_doc/{id}" or "/{index}/_create/{id}".
  std::string_view path = EsPath(request.path);
  path.remove_prefix(1);
  const size_t slash = path.find('/');
  const std::string index(path.substr(0, slash));
  std::string_view rest = slash == std::string_view::npos ? "" : path.substr(slash + 1);
  const size_t id_slash = rest.find('/');
  std::string id(id_slash == std::string_view::npos ? "" : rest.substr(id_slash + 1));
  Result<ingest::ShipperContext> context =
      pipeline->Begin(IngestCallFromRequest(request, "elasticsearch"));
  if (!context.ok()) {
    return EsError(request, StatusToHttp(context.status()), "illegal_argument_exception",
                   context.status().message());
  }
  const bool had_id = !id.empty();
  if (!had_id) id = "sm-" + std::to_string(context->now_ns);
  std::vector<Record> records(1);
  ingest::MapElasticsearchDocument(request.body, index, *context, &records[0]);
  if (had_id) records[0].fields.emplace_back("_id", id);
  Status status = pipeline->Submit(*context, "elasticsearch", &records);
  if (!status.ok()) {
    const int code = StatusToHttp(status);
    return EsError(request, code,
                   code == 429 ? "es_rejected_execution_exception" : "unavailable_shards_exception",
                   status.message());
  }
  return EsResponse(request, 201,
                    "{\"_index\":" + JsonString(index) + ",\"_id\":" + JsonString(id) +
                        ",\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,"
                        "\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1}");
}

HttpResponse HandleElasticsearchApi(const HttpRequest& request) {
  const std::string_view path = EsPath(request.path);
  const std::string& method = request.method;
  if (path == "/") {
    if (method == "HEAD") return EsResponse(request, 200, "");
    return EsResponse(request, 200, InfoBody());
  }
  if (path == "/_license" || path == "/_xpack/license") {
    return EsResponse(request, 200, LicenseBody());
  }
  if (path == "/_xpack") {
    return EsResponse(request, 200,
                      "{\"build\":{},\"license\":{\"uid\":\"sawmill\",\"type\":\"basic\","
                      "\"mode\":\"basic\",\"status\":\"active\"},\"features\":{}}");
  }
  if (path == "/_nodes/http" || path == "/_nodes" || path == "/_nodes/_all/http") {
    return EsResponse(request, 200, NodesBody(request));
  }
  if (path == "/_cluster/health") {
    return EsResponse(request, 200,
                      "{\"cluster_name\":\"sawmill\",\"status\":\"green\",\"timed_out\":false,"
                      "\"number_of_nodes\":1,\"number_of_data_nodes\":1}");
  }
  // Templates, ILM policies, ingest pipelines, data streams: Sawmill has no mappings to manage,
  // so every such object "exists" and every change is acknowledged, which lets Filebeat,
  // Logstash and the clients' setup steps proceed.
  for (std::string_view kind :
       {"/_index_template", "/_template", "/_component_template", "/_ilm/policy",
        "/_ingest/pipeline", "/_data_stream", "/_alias", "/_aliases"}) {
    if (!StartsWith(path, kind)) continue;
    if (method == "PUT" || method == "POST" || method == "DELETE") {
      return EsResponse(request, 200, "{\"acknowledged\":true}");
    }
    if (method == "HEAD") return EsResponse(request, 200, "");
    std::string name(path.size() > kind.size() + 1 ? path.substr(kind.size() + 1) : "");
    if (kind == "/_index_template") {
      return EsResponse(request, 200,
                        "{\"index_templates\":[{\"name\":" + JsonString(name) +
                            ",\"index_template\":{\"index_patterns\":[" + JsonString(name + "*") +
                            "],\"composed_of\":[]}}]}");
    }
    if (kind == "/_data_stream") return EsResponse(request, 200, "{\"data_streams\":[]}");
    if (name.empty()) return EsResponse(request, 200, "{}");
    return EsResponse(request, 200, "{" + JsonString(name) + ":{}}");
  }
  return EsError(request, 404, "sawmill_unsupported_api_exception",
                 "Sawmill answers only _bulk and the handshake calls of Elasticsearch clients; "
                 "not " +
                     std::string(method) + " " + std::string(path));
}

}  // namespace sawmill::http
