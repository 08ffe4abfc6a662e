// `sawmill admin flush|compact|segments|damage list|damage ack|tiers|tiers move|nodes|token ...|
// audit ...` (and retention, hold, deletions: admin_retention_command.cc): operator actions
// against a running server.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/admin_retention_command.h"
#include "cli/admin_settings_command.h"
#include "cli/auth_command.h"
#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/json_answer.h"

namespace sawmill::cli {
namespace {

int ListSegments(HttpClient* client, const std::string& state, int limit) {
  std::string target = "/api/v1/admin/segments?limit=" + std::to_string(limit);
  if (!state.empty()) target += "&state=" + state;
  Result<HttpResult> result = client->Request("GET", target);
  const std::optional<boost::json::object> answer = JsonObjectAnswer(result, "admin", "segments");
  if (!answer) return 1;
  if (!answer->contains("segments")) {
    PrintError("admin segments", "unexpected answer: %s\n", result->body.c_str());
    return 1;
  }
  const boost::json::object& obj = *answer;
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

std::string JsonText(const boost::json::object& obj, const char* key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return boost::json::serialize(*v);
}

// Prints the damage list of GET /api/v1/admin/damage, one entry per paragraph.
int PrintDamage(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("damage") ||
      !v.as_object().at("damage").is_array()) {
    PrintError("admin damage list", "unexpected answer: %s\n", body.c_str());
    return 1;
  }
  const auto& list = v.as_object().at("damage").as_array();
  if (list.empty()) {
    std::printf("no WAL damage recorded\n");
    return 0;
  }
  size_t open = 0;
  for (const auto& item : list) {
    if (!item.is_object()) continue;
    const auto& d = item.as_object();
    const bool acked = JsonText(d, "acknowledged") == "true";
    open += !acked;
    std::printf(
        "#%s  %s  %s offset %s, %s bytes  first seen %s  %s\n", JsonText(d, "id").c_str(),
        JsonText(d, "kind").c_str(), JsonText(d, "file").c_str(), JsonText(d, "offset").c_str(),
        JsonText(d, "bytes").c_str(), JsonText(d, "first_seen").c_str(),
        acked ? ("acknowledged " + JsonText(d, "acknowledged_at")).c_str() : "UNACKNOWLEDGED");
    const auto* range = d.if_contains("time_range");
    if (range != nullptr && range->is_object()) {
      const auto& r = range->as_object();
      std::printf("    ingest_ts %s\n    ts        %s\n", JsonText(r, "ingest_ts").c_str(),
                  JsonText(r, "ts").c_str());
    } else {
      std::printf("    time range unknown: searches over any time warn\n");
    }
    std::printf("    %s\n", JsonText(d, "detail").c_str());
  }
  std::printf("%zu entries, %zu unacknowledged%s\n", list.size(), open,
              open > 0 ? " (sawmill admin damage ack ID|--all)" : "");
  return 0;
}

// Prints GET /api/v1/admin/tiers: one row per tier (hot, warm, cold), then per tier and tenant.
int PrintTiers(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("tiers") ||
      !v.as_object().at("tiers").is_array()) {
    PrintError("admin tiers", "unexpected answer: %s\n", body.c_str());
    return 1;
  }
  auto row = [](const boost::json::object& t, const std::string& tenant) {
    std::string oldest = JsonText(t, "oldest"), newest = JsonText(t, "newest");
    std::printf("%-5s %-16s %9s %14s %12s  %-30s %s\n", JsonText(t, "tier").c_str(), tenant.c_str(),
                JsonText(t, "segments").c_str(), JsonText(t, "bytes").c_str(),
                JsonText(t, "rows").c_str(), oldest.empty() ? "-" : oldest.c_str(),
                newest.empty() ? "-" : newest.c_str());
  };
  std::printf("%-5s %-16s %9s %14s %12s  %-30s %s\n", "tier", "tenant", "segments", "bytes", "rows",
              "oldest", "newest");
  for (const auto& t : v.as_object().at("tiers").as_array()) {
    if (t.is_object()) row(t.as_object(), "(all)");
  }
  if (const auto* tenants = v.as_object().if_contains("tenants");
      tenants != nullptr && tenants->is_array()) {
    for (const auto& t : tenants->as_array()) {
      if (t.is_object()) row(t.as_object(), JsonText(t.as_object(), "tenant"));
    }
  }
  return 0;
}

// Prints GET /api/v1/admin/nodes: one row per node registered in the catalog.
int PrintNodes(HttpClient* client) {
  Result<HttpResult> result = client->Request("GET", "/api/v1/admin/nodes");
  const std::optional<boost::json::object> answer = JsonObjectAnswer(result, "admin", "nodes");
  if (!answer) return 1;
  if (!answer->contains("nodes") || !answer->at("nodes").is_array()) {
    PrintError("admin nodes", "unexpected answer: %s\n", result->body.c_str());
    return 1;
  }
  std::printf("%-28s %-5s %-32s %-30s %s\n", "id", "state", "url", "started", "heartbeat");
  for (const auto& item : answer->at("nodes").as_array()) {
    if (!item.is_object()) continue;
    const auto& n = item.as_object();
    const bool live = n.contains("live") && n.at("live").is_bool() && n.at("live").as_bool();
    const bool self = n.contains("self") && n.at("self").is_bool() && n.at("self").as_bool();
    std::printf("%-28s %-5s %-32s %-30s %s ms ago%s\n", JsonText(n, "id").c_str(),
                live ? "live" : "dead", JsonText(n, "url").c_str(), JsonText(n, "started").c_str(),
                JsonText(n, "heartbeat_age_ms").c_str(), self ? "  (answered this)" : "");
  }
  std::printf("%s live (node_timeout %s ms)\n", JsonText(*answer, "live").c_str(),
              JsonText(*answer, "node_timeout_ms").c_str());
  return 0;
}

}  // namespace

int RunAdminCommand(int argc, char** argv) {
  CLI::App app{"Operator actions on a running server.", "sawmill admin"};
  app.footer(
      "Examples:\n"
      "  sawmill admin flush\n"
      "  sawmill admin segments --server http://logs:9640\n"
      "  sawmill admin damage list\n"
      "  sawmill admin settings --catalog postgresql://sawmill@db:5432/sawmill");
  ClientOptions client_options;
  client_options.timeout_s = 600;
  client_options.max_timeout_s = 86400;
  client_options.has_color = false;
  AddClientOptions(&app, &client_options);
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
  CLI::App* damage = app.add_subcommand(
      "damage", "WAL damage found at start-up: list it, acknowledge it once handled");
  damage->fallthrough();
  damage->require_subcommand(1);
  CLI::App* damage_list =
      damage->add_subcommand("list", "every damage entry; unacknowledged ones make searches warn");
  damage_list->fallthrough();
  bool unacknowledged_only = false;
  damage_list->add_flag("--unacknowledged", unacknowledged_only,
                        "only entries not yet acknowledged");
  CLI::App* damage_ack = damage->add_subcommand(
      "ack", "acknowledge damage entry ID (or --all): searches stop warning about it");
  damage_ack->fallthrough();
  uint64_t ack_id = 0;
  bool ack_all = false;
  auto* id_opt = damage_ack->add_option("ID", ack_id, "the entry's id (sawmill admin damage list)")
                     ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  auto* all_opt = damage_ack->add_flag("--all", ack_all, "every unacknowledged entry");
  id_opt->excludes(all_opt);
  std::shared_ptr<AuthCommands> auth = AddAuthCommands(&app);
  RetentionCommands retention;  // retention, hold, deletions
  AddRetentionCommands(&app, &retention);
  CLI::App* tiers = app.add_subcommand(
      "tiers",
      "bytes, segments, oldest and newest record per storage tier (hot, warm, cold) and "
      "tenant; 'tiers move' runs transitions now");
  tiers->fallthrough();
  tiers->require_subcommand(0, 1);
  CLI::App* tiers_move = tiers->add_subcommand(
      "move", "move every segment whose newest record is older than --older-than to --to");
  tiers_move->fallthrough();
  std::string older_than, tier_to;
  tiers_move->add_option("--older-than", older_than, "a duration: 3d, 12h, 0s (everything)")
      ->required();
  tiers_move->add_option("--to", tier_to, "the target tier")
      ->required()
      ->check(CLI::IsMember({"warm", "cold"}));
  CLI::App* nodes = app.add_subcommand(
      "nodes", "the nodes registered in the catalog: id, live or dead, URL, heartbeat");
  nodes->fallthrough();
  SettingsCommands settings;  // against the catalog, not a server
  AddSettingsCommands(&app, &settings);
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (int code = RunSettingsCommand(settings); code >= 0) return code;
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("admin", url.status());
    return 2;
  }
  HttpClient client(*url, client_options.timeout_s * 1000);
  if (int code = RunAuthCommands(*auth, &client); code >= 0) return code;
  if (int code = RunRetentionCommand(retention, &client); code >= 0) return code;
  if (list->parsed()) return ListSegments(&client, state_filter, limit);
  if (nodes->parsed()) return PrintNodes(&client);
  if (tiers->parsed()) {
    const bool move = tiers_move->parsed();
    const char* what = move ? "tiers move" : "tiers";
    Result<HttpResult> result =
        move ? client.Request("POST", "/api/v1/admin/tiers/move?older_than=" +
                                          UrlEncode(older_than) + "&to=" + tier_to)
             : client.Request("GET", "/api/v1/admin/tiers");
    if (!result.ok()) {
      PrintError(std::string("admin ") + what, result.status());
      return 1;
    }
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->body, ec);
    if (result->status != 200) {
      std::string error = !ec && v.is_object() && v.as_object().contains("to")
                              ? JsonText(v.as_object(), "error")
                              : ErrorText(*result);
      PrintError(std::string("admin ") + what, "the server answered %d: %s\n", result->status,
                 error.c_str());
      return 1;
    }
    if (!move) return PrintTiers(result->body);
    if (ec || !v.is_object()) {
      PrintError("admin tiers move", "unexpected answer: %s\n", result->body.c_str());
      return 1;
    }
    const auto& o = v.as_object();
    std::printf(
        "moved to %s: %s segments hot->warm, %s warm->cold; %s bytes read, %s written "
        "(%s ms)\n",
        tier_to.c_str(), JsonText(o, "to_warm").c_str(), JsonText(o, "to_cold").c_str(),
        JsonText(o, "bytes_read").c_str(), JsonText(o, "bytes_written").c_str(),
        JsonText(o, "elapsed_ms").c_str());
    return 0;
  }
  if (damage->parsed()) {
    std::string target;
    const char* what = damage_list->parsed() ? "damage list" : "damage ack";
    if (damage_list->parsed()) {
      target =
          std::string("/api/v1/admin/damage") + (unacknowledged_only ? "?unacknowledged=true" : "");
    } else {
      if (!ack_all && id_opt->count() == 0) {
        PrintError("admin damage ack", "give an ID or --all\n");
        return 2;
      }
      target = ack_all ? std::string("/api/v1/admin/damage/ack?all=true")
                       : "/api/v1/admin/damage/ack?id=" + std::to_string(ack_id);
    }
    Result<HttpResult> result = client.Request(damage_list->parsed() ? "GET" : "POST", target);
    if (!result.ok()) {
      PrintError(std::string("admin ") + what, result.status());
      return 1;
    }
    if (result->status != 200) {
      PrintError(std::string("admin ") + what, "the server answered %d: %s\n", result->status,
                 ErrorText(*result).c_str());
      return 1;
    }
    if (damage_list->parsed()) return PrintDamage(result->body);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->body, ec);
    std::string n = !ec && v.is_object() ? JsonText(v.as_object(), "acknowledged") : "?";
    std::printf("acknowledged: %s damage entr%s\n", n.c_str(), n == "1" ? "y" : "ies");
    return 0;
  }
  const char* action = flush->parsed() ? "flush" : "compact";
  Result<HttpResult> result = client.Request("POST", std::string("/api/v1/admin/") + action);
  if (!result.ok()) {
    PrintError(std::string("admin ") + action, result.status());
    return 1;
  }
  if (result->status != 200) {
    PrintError(std::string("admin ") + action, "the server answered %d: %s\n", result->status,
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
