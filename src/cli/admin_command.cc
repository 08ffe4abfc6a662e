// `sawmill admin flush|compact|segments`: operator actions against a running server.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/http_client.h"

namespace sawmill::cli {
namespace {

int ListSegments(HttpClient* client, const std::string& state, int limit) {
  std::string target = "/api/v1/admin/segments?limit=" + std::to_string(limit);
  if (!state.empty()) target += "&state=" + state;
  Result<HttpResult> result = client->Request("GET", target);
  if (!result.ok()) {
    std::fprintf(stderr, "sawmill admin segments: %s\n", result.status().message().c_str());
    return 1;
  }
  if (result->status != 200) {
    std::fprintf(stderr, "sawmill admin segments: the server answered %d: %s\n", result->status,
                 ErrorText(*result).c_str());
    return 1;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("segments")) {
    std::fprintf(stderr, "sawmill admin segments: unexpected answer: %s\n", result->body.c_str());
    return 1;
  }
  const boost::json::object& obj = v.as_object();
  std::printf("%8s  %-16s %9s %10s %12s  %-8s %s\n", "id", "tenant", "partition", "rows", "bytes",
              "state", "path");
  auto num = [](const boost::json::object& o, const char* key) -> long long {
    const auto* x = o.if_contains(key);
    return x != nullptr && x->is_number() ? x->to_number<long long>() : 0;
  };
  auto str = [](const boost::json::object& o, const char* key) -> std::string {
    const auto* x = o.if_contains(key);
    return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  for (const auto& item : obj.at("segments").as_array()) {
    if (!item.is_object()) continue;
    const auto& s = item.as_object();
    std::printf("%8lld  %-16s %9lld %10lld %12lld  %-8s %s\n", num(s, "id"),
                str(s, "tenant").c_str(), num(s, "partition"), num(s, "rows"), num(s, "bytes"),
                str(s, "state").c_str(), str(s, "path").c_str());
  }
  std::string counts;
  if (const auto* c = obj.if_contains("counts"); c != nullptr && c->is_object()) {
    for (const auto& [name, n] : c->as_object()) {
      counts += (counts.empty() ? "" : ", ") + std::string(name) + " " + boost::json::serialize(n);
    }
  }
  std::printf(
      "%s%s\n", counts.c_str(),
      obj.contains("truncated") && obj.at("truncated").is_bool() && obj.at("truncated").as_bool()
          ? " (list truncated: use --limit or --state)"
          : "");
  return 0;
}

}  // namespace

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
  CLI::App* list = app.add_subcommand(
      "segments", "list the segment catalog: id, tenant, partition, rows, bytes, state, path");
  list->fallthrough();
  std::string state_filter;
  int limit = 1000;
  list->add_option("--state", state_filter, "only segments in this state")
      ->check(CLI::IsMember({"active", "corrupt", "missing"}));
  list->add_option("--limit", limit, "list at most this many")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
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
  if (list->parsed()) return ListSegments(&client, state_filter, limit);
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
