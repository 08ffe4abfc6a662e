// `sawmill admin flush`: operator actions against a running server.
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
  if (flush->parsed()) {
    Result<HttpResult> result = client.Request("POST", "/api/v1/admin/flush");
    if (!result.ok()) {
      std::fprintf(stderr, "sawmill admin flush: %s\n", result.status().message().c_str());
      return 1;
    }
    if (result->status != 200) {
      std::fprintf(stderr, "sawmill admin flush: the server answered %d: %s\n", result->status,
                   ErrorText(*result).c_str());
      return 1;
    }
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->body, ec);
    if (!ec && v.is_object() && v.as_object().contains("segments")) {
      const boost::json::object& obj = v.as_object();
      double ms = 0;
      if (const auto* e = obj.if_contains("elapsed_ms"); e != nullptr && e->is_number()) {
        ms = e->to_number<double>();
      }
      std::printf("flushed: %s segments registered (%.1f ms)\n",
                  boost::json::serialize(obj.at("segments")).c_str(), ms);
    } else {
      std::printf("flushed\n");
    }
    return 0;
  }
  return 2;
}

}  // namespace sawmill::cli
