// `sawmill server`: parses the options (flags, then --config FILE for the rest) and runs the
// server (src/http/server_app.h). Every option is declared once in http/server_config.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "cli/command_error.h"
#include "http/server_app.h"
#include "http/server_config.h"

namespace sawmill::cli {

int RunServerCommand(int argc, char** argv) {
  http::ServerConfig config;
  std::vector<http::ConfigOption> options = http::ServerOptions(&config);
  CLI::App app{
      "Run the Sawmill server: HTTP API, ingestion, search, live tail and metrics.\n"
      "Every option can also be set in a YAML --config file under its name with\n"
      "underscores (e.g. max_body: 32MiB); flags win over the file.",
      "sawmill server"};
  app.footer(
      "Examples:\n"
      "  sawmill server --data /var/lib/sawmill            # http://127.0.0.1:9640\n"
      "  sawmill server --data /var/lib/sawmill --http 127.0.0.1:9700\n"
      "  sawmill server --config /etc/sawmill/server.yaml");
  std::string config_path;
  app.add_option("--config", config_path, "YAML file with any of the options below")
      ->check(CLI::ExistingFile);
  http::RunOptions run;
  app.add_option("--welcome", run.welcome_cli,
                 "once ready, print the URL, the data directory and three commands to try, "
                 "run as this command (make run: ./build/sawmill)");
  app.add_flag("--insecure-no-auth", config.insecure_no_auth,
               "listen on a non-loopback address although no API token exists, so that anyone "
               "who can connect may read, write and administer (docs/security.md)");
  std::vector<std::string> raw(options.size());
  std::vector<CLI::Option*> flags(options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    std::string description = options[i].description;
    if (std::string value = http::FormatOption(options[i]); !value.empty()) {
      description += " (default " + value + ")";
    }
    flags[i] = app.add_option(http::FlagName(options[i]), raw[i], description);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::set<std::string> set_by_flags;
  for (size_t i = 0; i < options.size(); ++i) {
    if (flags[i]->count() == 0) continue;
    set_by_flags.insert(options[i].key);
    config.given.insert(options[i].key);
    Status status = http::SetOption(options[i], raw[i]);
    if (!status.ok()) {
      PrintError("server", "%s: %s\n", http::FlagName(options[i]).c_str(),
                 status.message().c_str());
      return 2;
    }
  }
  if (!config_path.empty()) {
    Status status = http::LoadServerConfigFile(config_path, set_by_flags, &config);
    if (!status.ok()) {
      PrintError("server", status);
      return 2;
    }
  }
  if (config.data_dir.empty()) {
    PrintError("server",
               "--data DIR is required (flag or 'data:' in --config)\n"
               "Run 'sawmill server --help' for the options.\n");
    return 2;
  }
  if (Status status = http::ValidateServerConfig(config); !status.ok()) {
    PrintError("server", status);
    return 2;
  }
  run.ui_files = http::EmbeddedUiFiles();  // web/CMakeLists.txt builds and embeds them
  return http::RunServer(config, run);
}

}  // namespace sawmill::cli
