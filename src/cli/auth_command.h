// `sawmill admin token create|list|revoke`, `sawmill admin audit list|verify` and
// `sawmill admin tenants`
// (docs/cli.md, docs/security.md): added to `sawmill admin`'s command line by admin_command.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/http_client.h"

namespace sawmill::cli {

struct AuthCommands;

// Adds the "token" and "audit" subcommands to "admin" (which must outlive the result).
std::shared_ptr<AuthCommands> AddAuthCommands(CLI::App* admin);
// Runs the one that was parsed and returns its exit code; -1 when none was.
int RunAuthCommands(const AuthCommands& commands, HttpClient* client);

}  // namespace sawmill::cli
