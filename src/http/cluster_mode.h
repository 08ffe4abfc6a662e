// `sawmill server --catalog postgresql://... --store s3://bucket/prefix`: the server as a node of
// a cluster (docs/cluster.md). Turns the server's configuration into a cluster::ClusterNode and
// the engine options of a cluster node.
#pragma once

#include <memory>

#include "cluster/cluster_node.h"
#include "cluster/node_registry.h"
#include "http/server_config.h"
#include "storage/engine.h"

namespace sawmill::http {

// The node registry's settings of this server (docs/cluster.md "Nodes"): its id (node_id, or the
// one kept in DATA/node_id), the URL other nodes reach it at (advertise_url, or from the bind
// "address" and "port"), node_heartbeat and node_timeout. Errors: IOError/DataLoss of
// DATA/node_id.
Result<cluster::NodeRegistryOptions> NodeRegistryOptionsFor(const ServerConfig& config,
                                                            const std::string& scheme,
                                                            const std::string& address, int port);

// nullptr when config.store is empty (one server on its own data directory). Otherwise opens
// the shared store (WAL objects under PREFIX/wal/, segments under PREFIX/segments/ through a
// local cache of cold_cache_bytes; endpoint, region and keys from the cold_store_* settings or
// AWS_*), checks the keys and bucket with one request, registers the node in the catalog, and
// makes "engine_options" a cluster node's. "registry": NodeRegistryOptionsFor's; the node's
// registry (ClusterNode::registry) is the server's.
// Errors: InvalidArgument (settings), FailedPrecondition (refused keys, no bucket), IOError,
// the catalog's Unavailable.
Result<std::unique_ptr<cluster::ClusterNode>> OpenClusterNode(
    const ServerConfig& config, cluster::NodeRegistryOptions registry,
    storage::EngineOptions* engine_options);

}  // namespace sawmill::http
