// `sawmill admin retention|hold|deletions` (admin_retention_command.cc), added to `sawmill
// admin` by admin_command.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/http_client.h"

namespace sawmill::cli {

struct RetentionCommands {
  CLI::App* retention = nullptr;
  CLI::App* get = nullptr;
  CLI::App* set = nullptr;
  CLI::App* compliance_remove = nullptr;
  CLI::App* run = nullptr;
  CLI::App* events = nullptr;
  CLI::App* hold = nullptr;
  CLI::App* hold_add = nullptr;
  CLI::App* hold_list = nullptr;
  CLI::App* hold_release = nullptr;
  CLI::App* deletions = nullptr;
  std::string tenant, retention_value, warm_after, cold_after, max_bytes, compliance, service;
  std::string reason, from, to, query;
  bool clear = false;
  bool all = false;
  uint64_t id = 0;
  int limit = 100;
};

// Adds the subcommands to "admin"; their values land in "*commands" (which must outlive parsing).
void AddRetentionCommands(CLI::App* admin, RetentionCommands* commands);

// Runs the one that was parsed: the exit code, or -1 when none of them was.
int RunRetentionCommand(const RetentionCommands& commands, HttpClient* client);

}  // namespace sawmill::cli
