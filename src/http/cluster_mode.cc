#include "http/cluster_mode.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "catalog/pg_catalog.h"
#include "cluster/cluster_settings.h"
#include "http/cold_store.h"
#include "objstore/s3_store.h"

namespace sawmill::http {
namespace {

// The cluster-wide settings of "*config" (cluster::ClusterWideSettings()), pointing into it.
std::vector<cluster::NodeSetting> ClusterWideOf(ServerConfig* config) {
  std::vector<cluster::NodeSetting> settings;
  for (const ConfigOption& option : ServerOptions(config)) {
    const cluster::ClusterWideSetting* setting = cluster::FindClusterWideSetting(option.key);
    if (setting == nullptr) continue;
    settings.push_back({setting->name, option.number, config->given.count(option.key) > 0});
  }
  return settings;
}

// Tests only (e2e_cluster_settings changes a setting here): a pause of
// SAWMILL_TEST_PAUSE_BEFORE_REGISTRATION_MS between the settle and the node's registration.
void TestPauseBeforeRegistration() {
  static const int64_t pause_ms = [] {
    const char* env = std::getenv("SAWMILL_TEST_PAUSE_BEFORE_REGISTRATION_MS");
    return env != nullptr ? std::atoll(env) : 0;
  }();
  if (pause_ms <= 0) return;
  spdlog::warn("test hook: cluster-wide settings settled; pausing {} ms before the node registers",
               pause_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
}

}  // namespace

Result<cluster::NodeRegistryOptions> NodeRegistryOptionsFor(const ServerConfig& config,
                                                            const std::string& scheme,
                                                            const std::string& address, int port) {
  cluster::NodeRegistryOptions options;
  if (!config.node_id.empty()) {
    options.id = config.node_id;  // checked by NodeRegistry::Start
  } else {
    ASSIGN_OR_RETURN(options.id, cluster::LoadOrCreateNodeId(config.data_dir));
  }
  options.url = !config.advertise_url.empty() ? config.advertise_url
                                              : cluster::DefaultAdvertiseUrl(scheme, address, port);
  options.heartbeat_interval_ns = MillisToNanos(config.node_heartbeat_ms);
  options.node_timeout_ns = MillisToNanos(config.node_timeout_ms);
  // Recorded with the registration, so that `sawmill admin settings set` checks a change against
  // what this node runs (docs/cluster.md "Cluster-wide settings"; settled already).
  ServerConfig values = config;
  for (const cluster::NodeSetting& setting : ClusterWideOf(&values)) {
    options.settings[std::string(setting.name)] = *setting.value;
  }
  return options;
}

Status SettleClusterSettings(ServerConfig* config, std::vector<std::string>* adopted) {
  if (config->store.empty()) return Status::OK();
  const std::string where = catalog::RedactPostgresUrl(config->catalog);
  const std::vector<cluster::NodeSetting> settings = ClusterWideOf(config);
  ASSIGN_OR_RETURN(auto catalog, catalog::OpenPostgresCatalog(config->catalog));
  std::vector<std::string> taken;
  RETURN_IF_ERROR(cluster::SettleNodeSettings(catalog.get(), where, settings, &taken));
  if (adopted != nullptr) adopted->insert(adopted->end(), taken.begin(), taken.end());
  if (taken.empty()) return Status::OK();
  // A value taken from the catalog must still fit this node's own options (e.g.
  // segment_orphan_grace longer than node_timeout).
  if (Status valid = ValidateServerConfig(*config); !valid.ok()) {
    return valid.WithContext("with the cluster-wide settings of catalog " + where);
  }
  return Status::OK();
}

Result<std::unique_ptr<cluster::ClusterNode>> OpenClusterNode(
    const ServerConfig& config, cluster::NodeRegistryOptions registry,
    storage::EngineOptions* engine_options) {
  if (config.store.empty()) return std::unique_ptr<cluster::ClusterNode>();
  ASSIGN_OR_RETURN(const objstore::S3Options base, ServerS3Options(config, config.store, "store"));
  const std::string root = base.prefix;

  // WAL objects: on the acknowledgement path, so one PUT's retries stop early (the writer
  // retries the whole object until its own deadline, then answers 503).
  objstore::S3Options wal = base;
  wal.retry_budget_ms = 3000;
  wal.request_timeout_ms = 10000;
  wal.stall_timeout_ms = 5000;
  ASSIGN_OR_RETURN(auto wal_store, objstore::S3Store::Create(std::move(wal)));
  RETURN_IF_ERROR(wal_store->CheckAccess().WithContext("store"));

  objstore::S3Options segments = base;
  segments.prefix = root.empty() ? "segments" : root + "/segments";
  ASSIGN_OR_RETURN(auto segment_s3, objstore::S3Store::Create(std::move(segments)));
  ASSIGN_OR_RETURN(auto segment_store, WithColdCache(config, std::move(segment_s3)));

  cluster::ClusterNodeOptions options;
  options.catalog_url = config.catalog;
  // Its settings are the settled values (SettleClusterSettings; NodeRegistryOptionsFor),
  // checked again once the node is live.
  options.registry = std::move(registry);
  options.wal_store = std::shared_ptr<objstore::ObjectStore>(std::move(wal_store));
  options.wal.interval_ns = static_cast<int64_t>(config.wal_object_interval_ms) * kNanosPerMilli;
  options.wal.max_bytes = config.wal_object_bytes;
  options.segment_sweep_interval_ns = MillisToNanos(config.segment_sweep_interval_ms);
  options.segment_orphan_grace_ns = MillisToNanos(config.segment_orphan_grace_ms);
  spdlog::info("cluster store: {} at {}", config.store, options.wal_store->Location("wal/"));
  TestPauseBeforeRegistration();
  ASSIGN_OR_RETURN(auto node, cluster::ClusterNode::Open(std::move(options)));
  node->Configure(engine_options, std::move(segment_store));
  return node;
}

}  // namespace sawmill::http
