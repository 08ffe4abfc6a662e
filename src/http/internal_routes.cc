// Cluster routes (docs/cluster.md; docs/api.md "Cluster").
#include "http/internal_routes.h"

#include <openssl/crypto.h>

#include <string>

#include "cluster/fanout.h"
#include "cluster/part_codec.h"
#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"

namespace sawmill::http {
namespace {

HttpResponse HandleNodes(ClusterRouteState* cluster, const HttpRequest&) {
  cluster::NodeRegistry* registry = cluster->registry.load();
  if (registry == nullptr) {
    return HttpResponse::Error(
        Status::Unavailable("the server is starting (it has not registered itself yet)"));
  }
  auto nodes = registry->List();
  if (!nodes.ok()) return HttpResponse::Error(nodes.status());
  const int64_t now = Clock::Real()->NowNanos();
  std::string body = "{\"nodes\":[";
  size_t live = 0;
  for (size_t i = 0; i < nodes->size(); ++i) {
    const cluster::NodeView& n = (*nodes)[i];
    live += n.live ? 1 : 0;
    if (i > 0) body += ",";
    body += "{\"id\":";
    AppendJsonString(n.row.id, &body);
    body += ",\"url\":";
    AppendJsonString(n.row.url, &body);
    body += ",\"incarnation\":" + std::to_string(n.row.started_ns) + ",\"started\":";
    AppendJsonString(FormatRfc3339Nanos(n.row.started_ns), &body);
    body += ",\"heartbeat\":";
    AppendJsonString(FormatRfc3339Nanos(n.row.heartbeat_ns), &body);
    body += ",\"heartbeat_age_ms\":" + std::to_string((now - n.row.heartbeat_ns) / kNanosPerMilli);
    body += std::string(",\"live\":") + (n.live ? "true" : "false");
    body += std::string(",\"self\":") + (n.self ? "true" : "false") + "}";
  }
  body += "],\"live\":" + std::to_string(live) +
          ",\"node_timeout_ms\":" + std::to_string(registry->node_timeout_ns() / kNanosPerMilli) +
          ",\"self\":";
  AppendJsonString(registry->id(), &body);
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}

prometheus::Family<prometheus::Counter>& InternalRefusals() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_internal_refused_total")
          .Help(
              "Internal (node-to-node) requests refused, by reason (no_secret: this node has "
              "no cluster_secret; unauthenticated: missing or wrong secret)")
          .Register(MetricsRegistry());
  return family;
}

// The first step of every internal route: CheckClusterSecret, a refusal counted by its reason.
Status AdmitPeer(const ClusterRouteState& cluster, const HttpRequest& request) {
  Status allowed = CheckClusterSecret(request, cluster.secret);
  if (!allowed.ok()) {
    InternalRefusals()
        .Add({{"reason", allowed.code() == StatusCode::kFailedPrecondition ? "no_secret"
                                                                           : "unauthenticated"}})
        .Increment();
  }
  return allowed;
}

// A part route's steps: the cluster secret, this node's own engine, the request decoded
// ("decode"), the part run ("run") and answered in the highest version both nodes know (an
// asking node of an older build, which does not say, gets what it reads: docs/cluster.md
// "Fenced answers").
template <class Decode, class Run>
HttpResponse AnswerPart(ClusterRouteState* cluster, const HttpRequest& request, Decode decode,
                        Run run) {
  if (Status allowed = AdmitPeer(*cluster, request); !allowed.ok()) {
    return HttpResponse::Error(allowed);
  }
  query::QueryEngine* engine = cluster->local_query.load();
  if (engine == nullptr) {
    return HttpResponse::Error(Status::Unavailable("the node is starting or stopping"));
  }
  auto part = decode(request.body);
  if (!part.ok()) return HttpResponse::Error(part.status());
  Result<query::PartAnswer> answer = run(engine, *part);
  if (!answer.ok()) return HttpResponse::Error(answer.status());
  HttpResponse response;
  response.status = 200;
  response.content_type = cluster::kPartAnswerContentType;
  response.body = cluster::EncodePartAnswer(*answer, cluster::PartAnswerVersionFor(*part));
  return response;
}

// POST /internal/v1/memtable-search: this node's part of a cluster query (its memtables only).
HttpResponse HandleMemtableSearch(ClusterRouteState* cluster, const HttpRequest& request) {
  return AnswerPart(cluster, request, cluster::DecodePartRequest,
                    [](query::QueryEngine* engine, const query::PartRequest& part) {
                      return engine->SearchMemtables(part);
                    });
}

// POST /internal/v1/memtable-context: this node's part of a cluster context (its memtables
// only): the hit when asked for it and found here, and its neighbours (docs/cluster.md "Context
// across nodes").
HttpResponse HandleMemtableContext(ClusterRouteState* cluster, const HttpRequest& request) {
  return AnswerPart(cluster, request, cluster::DecodeContextPartRequest,
                    [](query::QueryEngine* engine, const query::ContextPartRequest& part) {
                      return engine->ContextPart(part);
                    });
}

// GET /internal/v1/tail-feed: this node's acknowledged batches, streamed to another node for its
// live-tail sessions until either side stops (one worker thread per open feed).
HttpResponse HandleTailFeed(ClusterRouteState* cluster, const HttpRequest& request) {
  if (Status allowed = AdmitPeer(*cluster, request); !allowed.ok()) {
    return HttpResponse::Error(allowed);
  }
  if (cluster->feed_source == nullptr) {
    return HttpResponse::Error(Status::Unavailable("the node has no tail feed"));
  }
  auto feed = cluster->feed_source->Open();
  if (!feed.ok()) return HttpResponse::Error(feed.status());
  HttpResponse response;
  response.status = 200;
  response.content_type = cluster::kTailFeedContentType;
  std::shared_ptr<cluster::Feed> held(std::move(feed).value());
  response.stream = [held](std::string* chunk) { return held->Next(chunk); };
  return response;
}

}  // namespace

Status CheckClusterSecret(const HttpRequest& request, const std::string& secret) {
  if (secret.empty()) {
    return Status::FailedPrecondition(
        "this node has no cluster_secret, so it answers no internal request: give every node "
        "of the cluster the same cluster_secret (docs/cluster.md)");
  }
  const std::string given = request.Header(kClusterSecretHeader);
  if (given.empty()) {
    return Status::Unauthenticated(request.path +
                                   " is a route between cluster nodes: it needs the cluster "
                                   "secret in X-Sawmill-Cluster-Secret");
  }
  // Constant time in the secret's content (the length is not a secret worth hiding).
  if (given.size() != secret.size() ||
      CRYPTO_memcmp(given.data(), secret.data(), secret.size()) != 0) {
    return Status::Unauthenticated(
        "wrong cluster secret in X-Sawmill-Cluster-Secret: every node of a cluster needs the "
        "same cluster_secret");
  }
  return Status::OK();
}

void RegisterClusterRoutes(Router* router, ApiState* /*api*/, ClusterRouteState* cluster) {
  router->Add("GET", "/api/v1/admin/nodes",
              [cluster](const HttpRequest& request) { return HandleNodes(cluster, request); });
  router->Add("POST", "/internal/v1/memtable-search", [cluster](const HttpRequest& request) {
    return HandleMemtableSearch(cluster, request);
  });
  router->Add("POST", cluster::kMemtableContextRoute, [cluster](const HttpRequest& request) {
    return HandleMemtableContext(cluster, request);
  });
  router->Add("GET", "/internal/v1/tail-feed",
              [cluster](const HttpRequest& request) { return HandleTailFeed(cluster, request); });
}

}  // namespace sawmill::http
