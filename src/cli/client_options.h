// The options every client command shares (search, context, fields, values, tail, ingest,
// admin, alerts): where the server is, which tenant, which token, how long to wait, colour.
// One definition so that each command spells, documents and reads them the same way
// (docs/cli.md "Client options").
#pragma once

#include <string>

#include "cli/http_client.h"
#include "sawmill/status.h"

namespace CLI {
class App;
}

namespace sawmill::cli {

struct ClientOptions {
  std::string server = kDefaultServer;  // --server, SAWMILL_SERVER
  std::string tenant;                   // --tenant, SAWMILL_TENANT ("": the server's default)
  std::string token;                    // --token, SAWMILL_TOKEN ("": none)
  int timeout_s = 60;                   // --timeout: set the command's default before adding
  int max_timeout_s = 3600;             // the largest --timeout accepted
  const char* timeout_help = "seconds to wait for the answer";
  std::string color = "auto";  // --color auto|always|never
  // Commands that print nothing coloured (admin, alerts, ingest) set this false before
  // AddClientOptions: they take no --color.
  bool has_color = true;
  // https:// servers: --ca-file, --insecure-skip-verify, --client-cert, --client-key.
  ClientTlsOptions tls;

  // The server URL with the tenant and token set. Errors: InvalidArgument, saying what to
  // change ("--server ..." or SAWMILL_SERVER).
  Result<ServerUrl> Url() const;
  // Whether stdout (or "file") gets colours: --color, a terminal, NO_COLOR.
  bool Color(FILE* file) const;
};

// Adds --server, --tenant, --token, --timeout, (when has_color) --color and the TLS options
// (--ca-file, --insecure-skip-verify, --client-cert, --client-key) to "app", bound to "options",
// with their environment variables (SAWMILL_SERVER, SAWMILL_TENANT, SAWMILL_TOKEN,
// SAWMILL_CA_FILE, SAWMILL_INSECURE_SKIP_VERIFY, SAWMILL_CLIENT_CERT, SAWMILL_CLIENT_KEY).
void AddClientOptions(CLI::App* app, ClientOptions* options);

}  // namespace sawmill::cli
