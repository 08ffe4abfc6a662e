// `sawmill admin flush|compact`: operator actions against a running server.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/http_client.h"

namespace sawmill::cli {

int RunAdminCommand(int argc, char** argv) {
  CLI::App app{"Operator actions on a running server.", "sawmill admin"};
  std::string server = kDefaultServer;
  int timeout_s = 600;
  app.add_option("--server", server, "server URL")
      ->envname("SAWMILL_SERVER")
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds to wait for the answer")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  CLI::App* flush = app.add_subcommand(
      "flush", "write every memtable to segments; returns when they are registered");
  flush->fallthrough();  // "sawmill admin flush --server URL" works too
  CLI::App* compact = app.add_subcommand(
      "compact", "merge small segments now; returns when no more merges are due");
  compact->fallthrough();
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Result<ServerUrl> url = ServerUrl::Parse(server);
  if (!url.ok()) {
    std::fprintf(stderr, "sawmill admin: %s\n", url.status().message().c_str());
    return 2;
  }
  HttpClient client(*url, timeout_s * 1000);
  const char* action = flush->parsed() ? "flush" : "compact";
  Result<HttpResult> result = client.Request("POST", std::string("/api/v1/admin/") + action);
  if (!result.ok()) {
    std::fprintf(stderr, "sawmill admin %s: %s\n", action, result.status().message().c_str());
    return 1;
  }
  if (result->status != 200) {
    std::fprintf(stderr, "sawmill admin %s: the server answered %d: %s\n", action, result->status,
                 ErrorText(*result).c_str());
    return 1;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("segments")) {
    std::printf("%s: done\n", action);
    return 0;
  }
  const boost::json::object& obj = v.as_object();
  double ms = 0;
  if (const auto* e = obj.if_contains("elapsed_ms"); e != nullptr && e->is_number()) {
    ms = e->to_number<double>();
  }
  std::string segments = boost::json::serialize(obj.at("segments"));
  if (flush->parsed()) {
    std::printf("flushed: %s segments registered (%.1f ms)\n", segments.c_str(), ms);
  } else {
    std::string before = obj.contains("segments_before")
                             ? boost::json::serialize(obj.at("segments_before"))
                             : std::string("?");
    std::printf("compacted: %s segments -> %s (%.1f ms)\n", before.c_str(), segments.c_str(), ms);
  }
  return 0;
}

}  // namespace sawmill::cli
