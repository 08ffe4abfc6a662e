#include "ingest/shippers.h"

#include "ingest/shipper_handlers.h"

namespace sawmill::ingest {

void RegisterShipperRoutes(http::Router* router, http::IngestSink* sink) {
  auto bulk = [sink](const http::HttpRequest& request) {
    return HandleElasticsearchBulk(request, sink);
  };
  auto document = [sink](const http::HttpRequest& request) {
    return HandleElasticsearchDocument(request, sink);
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
              [sink](const http::HttpRequest& request) { return HandleLokiPush(request, sink); });
  router->Add("GET", "/loki/api/v1/status/buildinfo", HandleLokiProbe);
  router->Add("GET", "/loki/ready", HandleLokiProbe);

  auto otlp = [sink](const http::HttpRequest& request) { return HandleOtlpLogs(request, sink); };
  router->Add("POST", "/v1/logs", otlp);
  router->Add("POST", "/otlp/v1/logs", otlp);
}

}  // namespace sawmill::ingest
