// `sawmill server`: composes the storage engine, the query engine, the tail hub and the HTTP
// server, and runs them until SIGTERM or SIGINT. The command line (src/cli/server_command.cc)
// only parses options and calls RunServer.
#pragma once

#include <string>

#include "http/server_config.h"
#include "http/ui_routes.h"

namespace sawmill::http {

// Listens first (so /healthz answers and /readyz says "replaying" during WAL replay), opens the
// engine, then serves until a signal arrives. Shutdown: stop accepting, let in-flight requests
// finish (up to shutdown_timeout), sync the WAL (Engine::Close), close tail sessions with a
// close frame. Returns 0 after a clean shutdown, 1 when the server cannot start or the WAL
// cannot be synced. A second signal during shutdown exits at once with 1 (acknowledged data is
// already durable).
// With "welcome_cli" (how to run the command line, e.g. "./build/sawmill"; `make run` sets it),
// once ready it also prints for a newcomer, on stdout: the URL, where the data lives and three
// commands to try.
struct RunOptions {
  std::string welcome_cli;
  UiFiles ui_files;  // the web UI served under /ui/ (unless ServerConfig::ui_dir names a directory)
};
int RunServer(const ServerConfig& config, const RunOptions& run = {});

// The text printed for RunOptions::welcome_cli ("url" like "http://127.0.0.1:9640").
std::string WelcomeText(const std::string& cli, const std::string& url,
                        const std::string& data_dir);

}  // namespace sawmill::http
