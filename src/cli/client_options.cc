#include "cli/client_options.h"

#include <CLI/CLI.hpp>

#include "cli/terminal.h"

namespace sawmill::cli {

Result<ServerUrl> ClientOptions::Url() const {
  Result<ServerUrl> url = ServerUrl::Parse(server);
  if (!url.ok()) {
    return Status::InvalidArgument(url.status().message() +
                                   " (set it with --server http://HOST:PORT or SAWMILL_SERVER)");
  }
  url->tenant = tenant;
  url->token = token;
  url->tls = tls;
  return url;
}

bool ClientOptions::Color(FILE* file) const { return has_color && UseColor(color, file); }

void AddClientOptions(CLI::App* app, ClientOptions* options) {
  app->add_option("--server", options->server, "server URL")
      ->envname("SAWMILL_SERVER")
      ->capture_default_str();
  app->add_option("--tenant", options->tenant,
                  "tenant (sent as X-Scope-OrgID; default: the token's first tenant, or the "
                  "server's 'default')")
      ->envname("SAWMILL_TENANT");
  app->add_option("--token", options->token,
                  "API token, when the server requires one (docs/security.md)")
      ->envname("SAWMILL_TOKEN");
  app->add_option("--timeout", options->timeout_s, options->timeout_help)
      ->check(CLI::Range(1, options->max_timeout_s))
      ->capture_default_str();
  ClientTlsOptions* tls = &options->tls;
  app->add_option("--ca-file", tls->ca_file,
                  "PEM file of the CA(s) that signed an https:// server's certificate (default: "
                  "the system's CAs)")
      ->envname("SAWMILL_CA_FILE");
  app->add_flag("--insecure-skip-verify", tls->insecure_skip_verify,
                "do not check an https:// server's certificate (unsafe: for tests only)")
      ->envname("SAWMILL_INSECURE_SKIP_VERIFY");
  app->add_option("--client-cert", tls->cert_file,
                  "PEM client certificate, for a server that asks for one (mTLS)")
      ->envname("SAWMILL_CLIENT_CERT");
  app->add_option("--client-key", tls->key_file, "PEM private key of --client-cert")
      ->envname("SAWMILL_CLIENT_KEY");
  if (options->has_color) {
    app->add_option("--color", options->color, "auto (colours on a terminal), always or never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
  }
}

}  // namespace sawmill::cli
