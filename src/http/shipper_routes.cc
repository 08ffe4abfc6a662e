#include "http/shipper_routes.h"

#include "http/shipper_handlers.h"

namespace sawmill::http {

ingest::IngestCall IngestCallFromRequest(const HttpRequest& request, std::string_view protocol) {
  ingest::IngestCall call;
  call.tenant = request.tenant;
  call.protocol = protocol;
  call.service = request.Query("service");
  call.host = request.Query("host");
  call.level = request.Query("level");
  call.timezone = request.Query("tz");
  call.max_records = request.max_records;
  return call;
}

void RegisterShipperRoutes(Router* router, ingest::Pipeline* pipeline) {
  auto bulk = [pipeline](const HttpRequest& request) {
    return HandleElasticsearchBulk(request, pipeline);
  };
  auto document = [pipeline](const HttpRequest& request) {
    return HandleElasticsearchDocument(request, pipeline);
  };
  for (const char* prefix : {"", "/api/v1/ingest/elasticsearch"}) {
    const std::string p(prefix);
    for (const char* method : {"POST", "PUT"}) {
      router->Add(method, p + "/_bulk", bulk);
      router->Add(method, p + "/{index}/_bulk", bulk);
      router->Add(method, p + "/{index}/_doc/{id}", document);
      router->Add(method, p + "/{index}/_create/{id}", document);
    }
    router->Add("POST", p + "/{index}/_doc", document);
    for (const char* path : {"/_license", "/_xpack", "/_xpack/license", "/_nodes", "/_nodes/http",
                             "/_nodes/_all/http", "/_cluster/health"}) {
      router->Add("GET", p + path, HandleElasticsearchApi);
    }
    for (const char* kind : {"/_index_template", "/_template", "/_component_template",
                             "/_ilm/policy", "/_ingest/pipeline", "/_data_stream"}) {
      for (const char* method : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
        router->Add(method, p + kind, HandleElasticsearchApi);
        router->Add(method, p + kind + "/*", HandleElasticsearchApi);
      }
    }
  }
  // The root answers like an Elasticsearch node: clients and shippers read the version from it
  // (and the official JavaScript client refuses to go on without the product header).
  for (const char* path : {"/", "/api/v1/ingest/elasticsearch", "/api/v1/ingest/elasticsearch/"}) {
    router->Add("GET", path, HandleElasticsearchApi);
    router->Add("HEAD", path, HandleElasticsearchApi);
  }

  router->Add("POST", "/loki/api/v1/push",
              [pipeline](const HttpRequest& request) { return HandleLokiPush(request, pipeline); });
  router->Add("GET", "/loki/api/v1/status/buildinfo", HandleLokiProbe);
  router->Add("GET", "/loki/ready", HandleLokiProbe);

  auto otlp = [pipeline](const HttpRequest& request) { return HandleOtlpLogs(request, pipeline); };
  router->Add("POST", "/v1/logs", otlp);
  router->Add("POST", "/otlp/v1/logs", otlp);
}

}  // namespace sawmill::http
