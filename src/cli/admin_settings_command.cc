// `sawmill admin settings`: shows the settings a cluster's catalog holds and changes a
// cluster-wide one (docs/cluster.md "Cluster-wide settings"). It talks to the catalog, not to a
// server: a change must be possible with every node stopped, and it is what nodes read at start.
#include "cli/admin_settings_command.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

#include "catalog/pg_catalog.h"
#include "cluster/cluster_settings.h"
#include "common/config_values.h"
#include "http/server_config.h"

namespace sawmill::cli {
namespace {

// Every cluster-wide setting as the running nodes have it: the recorded value, else the
// server's default (what the first node to start records unless it is given another).
std::map<std::string, uint64_t> CurrentValues(const std::map<std::string, uint64_t>& recorded) {
  http::ServerConfig defaults;
  std::map<std::string, uint64_t> current;
  for (const http::ConfigOption& option : http::ServerOptions(&defaults)) {
    if (cluster::FindClusterWideSetting(option.key) == nullptr) continue;
    auto it = recorded.find(option.key);
    current[option.key] = it != recorded.end() ? it->second : *option.number;
  }
  return current;
}

// The ids of the nodes whose heartbeat is younger than node_timeout ("timeout_ms").
Result<std::vector<std::string>> LiveNodes(catalog::Catalog* catalog, uint64_t timeout_ms) {
  ASSIGN_OR_RETURN(std::vector<catalog::NodeRow> nodes, catalog->ListNodes());
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<std::string> live;
  for (const catalog::NodeRow& node : nodes) {
    if (node.heartbeat_ns >= now - static_cast<int64_t>(timeout_ms) * 1'000'000) {
      live.push_back(node.id);
    }
  }
  return live;
}

int Fail(const char* what, const Status& status) {
  std::fprintf(stderr, "sawmill admin settings%s: %s\n", what, status.message().c_str());
  return 1;
}

int Show(catalog::Catalog* catalog, const std::string& where) {
  auto recorded = catalog->ReadSettings();
  if (!recorded.ok()) return Fail("", recorded.status());
  const std::map<std::string, uint64_t> current = CurrentValues(*recorded);
  auto live = LiveNodes(catalog, current.at("node_timeout"));
  if (!live.ok()) return Fail("", live.status());
  std::printf("cluster-wide settings of catalog %s (each node takes them at start):\n",
              where.c_str());
  for (const cluster::ClusterWideSetting& setting : cluster::ClusterWideSettings()) {
    const std::string name(setting.name);
    if (recorded->count(name) > 0) {
      std::printf("  %-20s %s\n", name.c_str(), cluster::FormatMillis(current.at(name)).c_str());
    } else {
      std::printf("  %-20s %-8s  (not recorded: the default, until a node starts)\n", name.c_str(),
                  cluster::FormatMillis(current.at(name)).c_str());
    }
  }
  for (const auto& [name, value] : *recorded) {
    if (cluster::FindClusterWideSetting(name) != nullptr) continue;
    std::printf("  %-20s %llu  (the store's own: not changed here)\n", name.c_str(),
                static_cast<unsigned long long>(value));
  }
  std::printf("live nodes: %zu", live->size());
  for (size_t i = 0; i < live->size(); ++i)
    std::printf("%s%s", i == 0 ? " (" : ", ", (*live)[i].c_str());
  std::printf("%s\n", live->empty() ? "" : ")");
  return 0;
}

int Set(catalog::Catalog* catalog, const SettingsCommands& commands, const std::string& where) {
  const std::string& name = commands.name;
  if (cluster::FindClusterWideSetting(name) == nullptr) {
    return Fail(" set", cluster::CheckSettingChange(name, 0, {}, {}));
  }
  Result<int64_t> ns = ParseDuration(commands.value);
  if (!ns.ok()) return Fail(" set", ns.status().WithContext(name));
  const uint64_t value = static_cast<uint64_t>(*ns / 1'000'000);
  auto recorded = catalog->ReadSettings();
  if (!recorded.ok()) return Fail(" set", recorded.status());
  const std::map<std::string, uint64_t> current = CurrentValues(*recorded);
  // The value must be one a cluster node would start with, beside the others.
  http::ServerConfig config;
  config.store = "s3://bucket/prefix";
  config.catalog = commands.catalog;
  for (const http::ConfigOption& option : http::ServerOptions(&config)) {
    if (auto it = current.find(option.key); it != current.end()) *option.number = it->second;
    if (option.key == name) *option.number = value;
  }
  if (Status valid = http::ValidateServerConfig(config); !valid.ok()) return Fail(" set", valid);
  auto live = LiveNodes(catalog, current.at("node_timeout"));
  if (!live.ok()) return Fail(" set", live.status());
  if (Status safe = cluster::CheckSettingChange(name, value, current, *live); !safe.ok()) {
    return Fail(" set", safe);
  }
  if (Status changed = catalog->ChangeSetting(name, value); !changed.ok()) {
    return Fail(" set", changed);
  }
  std::printf("%s: %s -> %s in catalog %s.\n", name.c_str(),
              cluster::FormatMillis(current.at(name)).c_str(), cluster::FormatMillis(value).c_str(),
              where.c_str());
  std::printf(
      "Each node takes it at its next start: restart them one by one. A node given %s by a flag "
      "or its --config file is refused until that says %s or is removed.\n",
      name.c_str(), cluster::FormatMillis(value).c_str());
  if (name == "idempotency_window" && !live->empty() && value != current.at(name)) {
    std::printf(
        "Until every node restarted, a retried batch is recognised within the shorter window.\n");
  }
  return 0;
}

}  // namespace

void AddSettingsCommands(CLI::App* admin, SettingsCommands* commands) {
  commands->settings = admin->add_subcommand(
      "settings",
      "the cluster-wide settings a cluster's catalog holds (node_heartbeat, node_timeout, "
      "query_timeout, idempotency_window); 'settings set' changes one");
  commands->settings->fallthrough();
  commands->settings->require_subcommand(0, 1);
  commands->settings
      ->add_option("--catalog", commands->catalog,
                   "the cluster's catalog, postgresql://USER@HOST:PORT/DB (as given to its nodes)")
      ->required();
  commands->set = commands->settings->add_subcommand(
      "set",
      "record a new value; each node takes it at its next start (refused while nodes run when "
      "nodes of the old and the new value side by side could count lines twice)");
  commands->set->fallthrough();
  commands->set
      ->add_option("NAME", commands->name,
                   "node_heartbeat, node_timeout, query_timeout "
                   "or idempotency_window")
      ->required();
  commands->set->add_option("VALUE", commands->value, "a duration: 500ms, 10s, 5m, 24h")
      ->required();
}

int RunSettingsCommand(const SettingsCommands& commands) {
  if (commands.settings == nullptr || !commands.settings->parsed()) return -1;
  if (!catalog::IsPostgresUrl(commands.catalog)) {
    std::fprintf(stderr,
                 "sawmill admin settings: --catalog must be a cluster's catalog "
                 "(postgresql://...); a server on its own takes these settings from its "
                 "configuration (docs/cluster.md \"Cluster-wide settings\")\n");
    return 2;
  }
  const std::string where = catalog::RedactPostgresUrl(commands.catalog);
  catalog::PgCatalogOptions options;
  options.application_name = "sawmill admin settings";
  auto opened = catalog::OpenPostgresCatalog(commands.catalog, options);
  if (!opened.ok()) return Fail("", opened.status());
  return commands.set->parsed() ? Set(opened->get(), commands, where) : Show(opened->get(), where);
}

}  // namespace sawmill::cli
