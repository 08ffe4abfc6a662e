// `sawmill server --catalog postgresql://... --store s3://bucket/prefix`: the server as a node of
// a cluster (docs/cluster.md). Turns the server's configuration into a cluster::ClusterNode and
// the engine options of a cluster node.
#pragma once

#include <memory>
#include <string>
#include <vector>

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

// A cluster node's cluster-wide settings (cluster::ClusterWideSettings(); docs/cluster.md
// "Cluster-wide settings") are the cluster's: settled against the catalog
// (cluster::SettleNodeSettings, on a connection of its own), each one not given by a flag or the
// --config file (config->given) replaced by the recorded value, and the result validated again.
// Nothing is read or recorded for any other server (no store): one server shares them with
// nobody and takes them from its configuration. "adopted": the settings taken from the catalog,
// for the log. Errors: FailedPrecondition (a given value differs: both named, the catalog with
// its password hidden, how to start and how to change it), InvalidArgument (the settled values
// do not fit this node's other options), the catalog's errors.
Status SettleClusterSettings(ServerConfig* config, std::vector<std::string>* adopted);

// nullptr when config.store is empty (one server on its own data directory). Otherwise opens
// the shared store (WAL objects under PREFIX/wal/, segments under PREFIX/segments/ through a
// local cache of cold_cache_bytes; endpoint, region and keys from the cold_store_* settings or
// AWS_*), checks the keys and bucket with one request, registers the node in the catalog, and
// makes "engine_options" a cluster node's. Once registered (live to the others), the node's
// cluster-wide settings ("config"'s, as SettleClusterSettings left them) are compared with the
// catalog's again: a change made meanwhile refuses the start (ClusterNodeOptions::registry).
// "registry": NodeRegistryOptionsFor's; the node's registry (ClusterNode::registry) is the
// server's. Errors: InvalidArgument (settings), FailedPrecondition (refused keys, no bucket;
// "cluster-wide settings changed while this node started: restart it"), IOError, the catalog's
// Unavailable.
Result<std::unique_ptr<cluster::ClusterNode>> OpenClusterNode(
    const ServerConfig& config, cluster::NodeRegistryOptions registry,
    storage::EngineOptions* engine_options);

}  // namespace sawmill::http
