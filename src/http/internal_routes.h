// Cluster routes (docs/cluster.md, docs/api.md "Cluster"): GET /api/v1/admin/nodes (the nodes
// registered in the catalog, live or not; platform-admin) and the internal routes nodes call on
// each other (/internal/v1/..., authenticated by the cluster secret, not by an API token).
#pragma once

#include <atomic>
#include <string>

#include "cluster/node_registry.h"
#include "cluster/tail_feed.h"
#include "http/api_routes.h"
#include "http/router.h"

namespace sawmill::http {

struct ClusterRouteState {
  // Set once the node registered itself (nullptr before: 503).
  std::atomic<cluster::NodeRegistry*> registry{nullptr};
  // The cluster_secret ("": every internal route refused, saying so).
  std::string secret;
  // This node's own query engine (not the fan-out: a part never asks further), set once ready.
  std::atomic<query::QueryEngine*> local_query{nullptr};
  // This node's acknowledged batches for the other nodes' live tails (GET /internal/v1/tail-feed).
  std::shared_ptr<cluster::FeedSource> feed_source;
};

// The header an internal request carries the cluster secret in.
inline constexpr const char* kClusterSecretHeader = "x-sawmill-cluster-secret";

// Registers the routes; "api" and "cluster" must outlive them.
void RegisterClusterRoutes(Router* router, ApiState* api, ClusterRouteState* cluster);

// OK when "request" carries the cluster secret "secret" (compared in constant time); else
// Unauthenticated (missing or wrong) or FailedPrecondition (this node has no secret), each
// saying what to do.
Status CheckClusterSecret(const HttpRequest& request, const std::string& secret);

}  // namespace sawmill::http
