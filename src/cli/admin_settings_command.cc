// `sawmill admin settings`: shows the settings a cluster's catalog holds and changes a
// cluster-wide one (docs/cluster.md "Cluster-wide settings"). It talks to the catalog, not to a
// server: a change must be possible with every node stopped, and it is what nodes read at start.
// The live nodes are told by their heartbeats advancing (cluster::WatchLiveNodes), not by this
// machine's clock, and a change is checked against the values each of them runs
// (cluster::CheckSettingChangeNow).
#include "cli/admin_settings_command.h"

#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "catalog/pg_catalog.h"
#include "cli/command_error.h"
#include "cluster/cluster_settings.h"
#include "cluster/settings_admin.h"
#include "common/config_values.h"
#include "http/server_config.h"

namespace sawmill::cli {
namespace {

// The server's default of every cluster-wide setting (what the first node to start records
// unless it is given another).
std::map<std::string, uint64_t> Defaults() {
  http::ServerConfig defaults;
  std::map<std::string, uint64_t> out;
  for (const http::ConfigOption& option : http::ServerOptions(&defaults)) {
    if (cluster::FindClusterWideSetting(option.key) != nullptr) out[option.key] = *option.number;
  }
  return out;
}

int Fail(const char* what, const Status& status) {
  PrintError(std::string("admin settings") + what, status);
  return 1;
}

void PrintLiveNodes(const cluster::ClusterSettingsView& view) {
  std::printf("live nodes: %zu", view.live.size());
  for (size_t i = 0; i < view.live.size(); ++i)
    std::printf("%s%s", i == 0 ? " (" : ", ", view.live[i].id.c_str());
  std::printf("%s, told by their heartbeats over %.1fs\n", view.live.empty() ? "" : ")",
              static_cast<double>(view.watched_ns) / 1e9);
  for (const std::string& line : cluster::DescribeLiveNodeValues(view)) {
    std::printf("  %s\n", line.c_str());
  }
}

int Show(const cluster::ClusterSettingsView& view, const std::string& where) {
  std::printf("cluster-wide settings of catalog %s (each node takes them at start):\n",
              where.c_str());
  for (const cluster::ClusterWideSetting& setting : cluster::ClusterWideSettings()) {
    const std::string name(setting.name);
    if (view.recorded.count(name) > 0) {
      std::printf("  %-20s %s\n", name.c_str(),
                  cluster::FormatMillis(view.current.at(name)).c_str());
    } else {
      // Nodes of a build before session 14 record nothing and may run any value; the first
      // node of a later build records its own.
      std::printf(
          "  %-20s not recorded (nodes of an earlier build may run another value; the first node "
          "of this build to start records its own, %s by default)\n",
          name.c_str(), cluster::FormatMillis(view.current.at(name)).c_str());
    }
  }
  for (const auto& [name, value] : view.recorded) {
    if (cluster::FindClusterWideSetting(name) != nullptr) continue;
    std::printf("  %-20s %llu  (the store's own: not changed here)\n", name.c_str(),
                static_cast<unsigned long long>(value));
  }
  PrintLiveNodes(view);
  return 0;
}

// The value must be one a cluster node would start with, beside the others: checked with the
// nodes' configuration file when given ("--config"), else with the defaults of the options that
// are each node's own (segment_orphan_grace, segment_refresh_interval).
Status Validate(const SettingsCommands& commands, const std::map<std::string, uint64_t>& values) {
  http::ServerConfig config;
  if (!commands.config.empty()) {
    RETURN_IF_ERROR(http::LoadServerConfigFile(commands.config, {}, &config));
    config.ui_dir.clear();  // a directory of the nodes' machines, not this one's
  }
  if (config.store.empty()) config.store = "s3://bucket/prefix";
  config.catalog = commands.catalog;
  for (const http::ConfigOption& option : http::ServerOptions(&config)) {
    if (auto it = values.find(option.key); it != values.end()) *option.number = it->second;
  }
  Status valid = http::ValidateServerConfig(config);
  if (valid.ok()) return valid;
  // Refused only for a node's own option (a rule with segment_orphan_grace): say which value it
  // was checked with and how to check with the nodes' own.
  http::ServerConfig own = config;
  own.segment_orphan_grace_ms = uint64_t{1} << 60;
  if (!http::ValidateServerConfig(own).ok()) return valid;
  return Status::InvalidArgument(
      valid.message() + " (checked with segment_orphan_grace " +
      cluster::FormatMillis(config.segment_orphan_grace_ms) + " and segment_refresh_interval " +
      cluster::FormatMillis(config.segment_refresh_interval_ms) +
      (commands.config.empty() ? ", the defaults: if the nodes run others, give their "
                                 "configuration file with --config FILE to check with theirs"
                               : " of " + commands.config) +
      "; each node checks again at its start and is refused when its own does not fit)");
}

int Set(catalog::Catalog* catalog, const SettingsCommands& commands, const std::string& where) {
  const std::string& name = commands.name;
  if (cluster::FindClusterWideSetting(name) == nullptr) {
    return Fail(" set", cluster::CheckSettingChange(name, 0, {}, {}));
  }
  Result<int64_t> ns = ParseDuration(commands.value);
  if (!ns.ok()) return Fail(" set", ns.status().WithContext(name));
  const uint64_t value = static_cast<uint64_t>(*ns / 1'000'000);
  // Validated against the recorded values first: a value no node could run is refused at once,
  // not after watching the heartbeats (up to node_timeout + node_heartbeat).
  auto view = cluster::ReadClusterSettings(catalog, Defaults());
  if (!view.ok()) return Fail(" set", view.status());
  std::map<std::string, uint64_t> next = view->current;
  next[name] = value;
  if (Status valid = Validate(commands, next); !valid.ok()) return Fail(" set", valid);
  if (Status watched = cluster::WatchLiveNodeValues(catalog, &*view); !watched.ok()) {
    return Fail(" set", watched);
  }
  if (Status safe = cluster::CheckSettingChangeNow(*view, name, value); !safe.ok()) {
    return Fail(" set", safe);
  }
  // Compared with what was checked above in the write's own transaction: another operator's
  // change meanwhile (the other half of the heartbeat/timeout pair) refuses this one, and so
  // does a node registered since the watch (it may run the old value, unchecked).
  if (Status changed = catalog->ChangeSettingIf(view->recorded, view->registered, name, value);
      !changed.ok()) {
    return Fail(" set", changed);
  }
  std::printf("%s: %s -> %s in catalog %s.\n", name.c_str(),
              cluster::FormatMillis(view->current.at(name)).c_str(),
              cluster::FormatMillis(value).c_str(), where.c_str());
  std::printf(
      "Each node takes it at its next start: restart them one by one. A node given %s by a flag "
      "or its --config file is refused until that says %s or is removed.\n",
      name.c_str(), cluster::FormatMillis(value).c_str());
  if (name == cluster::kIdempotencyWindow && !view->live.empty() &&
      value != view->current.at(name)) {
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
      "query_timeout, idempotency_window) and the live nodes (told by their heartbeats over about "
      "one node_heartbeat); 'settings set' changes one");
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
  commands->set->add_option(
      "--config", commands->config,
      "the nodes' configuration file (as given to sawmill server --config): the value is checked "
      "with its options, e.g. segment_orphan_grace, instead of the defaults");
}

int RunSettingsCommand(const SettingsCommands& commands) {
  if (commands.settings == nullptr || !commands.settings->parsed()) return -1;
  if (!catalog::IsPostgresUrl(commands.catalog)) {
    PrintError("admin settings",
               "--catalog must be a cluster's catalog "
               "(postgresql://...); a server on its own takes these settings from its "
               "configuration (docs/cluster.md \"Cluster-wide settings\")\n");
    return 2;
  }
  const std::string where = catalog::RedactPostgresUrl(commands.catalog);
  catalog::PgCatalogOptions options;
  options.application_name = "sawmill admin settings";
  // A server on its own (--catalog postgresql://... without --store) holds its catalog under an
  // exclusive lock and never reads these settings: showing or changing them would mislead.
  auto held = catalog::PostgresCatalogHeldExclusively(commands.catalog, options);
  if (!held.ok()) return Fail("", held.status());
  if (*held) {
    std::fprintf(
        stderr,
        "sawmill admin settings: catalog %s is held by a server on its own (sawmill server "
        "--catalog postgresql://... without --store), which shares node_heartbeat, node_timeout, "
        "query_timeout and idempotency_window with no node and never reads them from the "
        "catalog: it takes them from its own flags and --config file. Change them there and "
        "restart it (docs/cluster.md \"Cluster-wide settings\")\n",
        where.c_str());
    return 1;
  }
  auto opened = catalog::OpenPostgresCatalog(commands.catalog, options);
  if (!opened.ok()) return Fail("", opened.status());
  if (commands.set->parsed()) return Set(opened->get(), commands, where);
  auto view = cluster::ReadClusterSettingsView(opened->get(), Defaults());
  if (!view.ok()) return Fail("", view.status());
  return Show(*view, where);
}

}  // namespace sawmill::cli
