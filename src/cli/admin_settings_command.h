// `sawmill admin settings [set NAME VALUE] --catalog postgresql://...` (admin_settings_command.cc):
// the cluster-wide settings a cluster's catalog holds (docs/cluster.md "Cluster-wide settings"),
// read and changed in the catalog itself, so that it works with every node stopped too. Added to
// `sawmill admin` by admin_command.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sawmill::cli {

struct SettingsCommands {
  CLI::App* settings = nullptr;
  CLI::App* set = nullptr;
  std::string catalog, name, value;
  std::string config;  // set --config: the nodes' configuration file, to check the value with
};

// Adds the subcommand to "admin"; its values land in "*commands" (which must outlive parsing).
void AddSettingsCommands(CLI::App* admin, SettingsCommands* commands);

// Runs it when it was parsed: the exit code, or -1 when it was not.
int RunSettingsCommand(const SettingsCommands& commands);

}  // namespace sawmill::cli
