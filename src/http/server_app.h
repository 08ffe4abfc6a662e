// `sawmill server`: composes the storage engine, the query engine, the tail hub and the HTTP
// server, and runs them until SIGTERM or SIGINT. The command line (src/cli/server_command.cc)
// only parses options and calls RunServer.
#pragma once

#include "http/server_config.h"

namespace sawmill::http {

// Listens first (so /healthz answers and /readyz says "replaying" during WAL replay), opens the
// engine, then serves until a signal arrives. Shutdown: stop accepting, let in-flight requests
// finish (up to shutdown_timeout), sync the WAL (Engine::Close), close tail sessions with a
// close frame. Returns 0 after a clean shutdown, 1 when the server cannot start or the WAL
// cannot be synced. A second signal during shutdown exits at once with 1 (acknowledged data is
// already durable).
int RunServer(const ServerConfig& config);

}  // namespace sawmill::http
