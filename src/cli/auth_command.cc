#include "cli/auth_command.h"

#include <boost/json.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/command_error.h"
#include "cli/json_answer.h"

namespace sawmill::cli {

struct AuthCommands {
  CLI::App* token = nullptr;
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* revoke = nullptr;
  CLI::App* audit = nullptr;
  CLI::App* audit_list = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* tenants_command = nullptr;
  CLI::App* quotas_command = nullptr;
  std::vector<std::string> quota_set;
  bool quota_reset = false;
  std::string name, role, expires_in;
  std::vector<std::string> tenants;
  std::string revoke_id;
  std::string since, until, tenant, who, action;
  int limit = 100;
  bool json = false;
};

namespace {

std::string Text(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return boost::json::serialize(*v);
}

std::string Tenants(const boost::json::object& o) {
  std::string out;
  if (const auto* v = o.if_contains("tenants"); v != nullptr && v->is_array()) {
    for (const auto& t : v->as_array()) {
      if (t.is_string()) out += (out.empty() ? "" : ",") + std::string(t.as_string());
    }
  }
  return out.empty() ? "*" : out;
}

// The answer as a JSON object, or an error printed for "what" (exit code in *code).
std::optional<boost::json::object> Call(HttpClient* client, const char* what,
                                        std::string_view method, const std::string& target,
                                        int expected, int* code) {
  auto answer = JsonObjectAnswer(client->Request(method, target), "admin", what, expected);
  *code = answer ? 0 : 1;
  return answer;
}

int Create(const AuthCommands& c, HttpClient* client) {
  std::string target =
      "/api/v1/admin/tokens?name=" + UrlEncode(c.name) + "&role=" + UrlEncode(c.role);
  for (const std::string& t : c.tenants) target += "&tenant=" + UrlEncode(t);
  if (!c.expires_in.empty()) target += "&expires_in=" + UrlEncode(c.expires_in);
  int code = 0;
  auto obj = Call(client, "token create", "POST", target, 201, &code);
  if (!obj) return code;
  const auto* info = obj->if_contains("info");
  std::string details;
  if (info != nullptr && info->is_object()) {
    const auto& i = info->as_object();
    std::string expires = Text(i, "expires");
    details = "id " + Text(i, "id") + ", role " + Text(i, "role") + ", tenants " + Tenants(i) +
              ", expires " + (expires.empty() ? "never" : expires);
  }
  // The token alone on stdout (scripts: TOKEN=$(sawmill admin token create ...)); the rest on
  // stderr.
  std::printf("%s\n", Text(*obj, "token").c_str());
  std::fprintf(stderr,
               "token '%s' created (%s).\nIt is shown only now: the server keeps only a hash of "
               "it. Use it with --token or SAWMILL_TOKEN.\n",
               c.name.c_str(), details.c_str());
  return 0;
}

int List(HttpClient* client) {
  int code = 0;
  auto obj = Call(client, "token list", "GET", "/api/v1/admin/tokens", 200, &code);
  if (!obj) return code;
  std::printf("%-16s  %-20s %-14s %-20s %-20s %s\n", "id", "name", "role", "tenants", "expires",
              "state");
  const auto* tokens = obj->if_contains("tokens");
  if (tokens == nullptr || !tokens->is_array()) return 0;
  for (const auto& item : tokens->as_array()) {
    if (!item.is_object()) continue;
    const auto& t = item.as_object();
    std::string expires = Text(t, "expires"), revoked = Text(t, "revoked");
    std::printf("%-16s  %-20s %-14s %-20s %-20s %s\n", Text(t, "id").c_str(),
                Text(t, "name").c_str(), Text(t, "role").c_str(), Tenants(t).c_str(),
                expires.empty() ? "never" : expires.c_str(),
                revoked.empty() ? "active" : ("revoked " + revoked).c_str());
  }
  return 0;
}

int Revoke(const AuthCommands& c, HttpClient* client) {
  int code = 0;
  auto obj = Call(client, "token revoke", "DELETE",
                  "/api/v1/admin/tokens/" + UrlEncode(c.revoke_id), 200, &code);
  if (!obj) return code;
  std::printf("revoked token %s; requests with it are refused from now on\n", c.revoke_id.c_str());
  return 0;
}

int AuditList(const AuthCommands& c, HttpClient* client) {
  std::string target = "/api/v1/audit?limit=" + std::to_string(c.limit);
  if (!c.since.empty()) target += "&since=" + UrlEncode(c.since);
  if (!c.until.empty()) target += "&until=" + UrlEncode(c.until);
  if (!c.tenant.empty()) target += "&tenant=" + UrlEncode(c.tenant);
  if (!c.who.empty()) target += "&who=" + UrlEncode(c.who);
  if (!c.action.empty()) target += "&action=" + UrlEncode(c.action);
  int code = 0;
  auto obj = Call(client, "audit list", "GET", target, 200, &code);
  if (!obj) return code;
  const auto* entries = obj->if_contains("entries");
  if (entries == nullptr || !entries->is_array()) return 0;
  for (const auto& item : entries->as_array()) {
    if (!item.is_object()) continue;
    const auto& e = item.as_object();
    if (c.json) {
      std::printf("%s\n", boost::json::serialize(e).c_str());
      continue;
    }
    std::string who = Text(e, "who");
    std::printf("#%s %s %s tenant=%s %s status=%s rows=%s from=%s  %s\n", Text(e, "seq").c_str(),
                Text(e, "at").c_str(), who.empty() ? "(no token)" : who.c_str(),
                Text(e, "tenant").c_str(), Text(e, "action").c_str(), Text(e, "status").c_str(),
                Text(e, "rows").empty() ? "-" : Text(e, "rows").c_str(), Text(e, "address").c_str(),
                Text(e, "query").c_str());
  }
  return 0;
}

int ListTenants(HttpClient* client) {
  int code = 0;
  auto obj = Call(client, "tenants", "GET", "/api/v1/admin/tenants", 200, &code);
  if (!obj) return code;
  std::printf("%-24s %10s %14s %16s  %s\n", "tenant", "segments", "rows", "bytes", "by tier");
  const auto* list = obj->if_contains("tenants");
  if (list == nullptr || !list->is_array()) return 0;
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) continue;
    const auto& t = item.as_object();
    std::string tiers;
    if (const auto* by = t.if_contains("tiers"); by != nullptr && by->is_object()) {
      for (const auto& [tier, usage] : by->as_object()) {
        if (!usage.is_object()) continue;
        tiers += (tiers.empty() ? "" : ", ") + std::string(tier) + " " +
                 Text(usage.as_object(), "bytes") + " bytes";
      }
    }
    std::printf("%-24s %10s %14s %16s  %s\n", Text(t, "tenant").c_str(),
                Text(t, "segments").c_str(), Text(t, "rows").c_str(), Text(t, "bytes").c_str(),
                tiers.c_str());
  }
  std::printf("(segments only: lines not yet flushed from memory are not counted)\n");
  if (const auto* masking = obj->if_contains("masking");
      masking != nullptr && masking->is_object()) {
    for (const auto& [tenant, rules] : masking->as_object()) {
      std::string names;
      if (rules.is_array()) {
        for (const auto& rule : rules.as_array()) {
          if (rule.is_string())
            names += (names.empty() ? "" : ", ") + std::string(rule.as_string());
        }
      }
      std::printf("masking %s: %s\n", std::string(tenant).c_str(), names.c_str());
    }
  }
  return 0;
}

// `sawmill admin quotas [--tenant T] [--set KEY=VALUE ...] [--reset]` (docs/security.md "Quotas").
int Quotas(const AuthCommands& c, HttpClient* client) {
  const bool change = !c.quota_set.empty() || c.quota_reset;
  if (change && c.tenant.empty()) {
    PrintError("admin quotas", "--set and --reset need --tenant T\n");
    return 2;
  }
  std::string target = "/api/v1/admin/quotas";
  std::string query;
  if (!c.tenant.empty()) query += "&tenant=" + UrlEncode(c.tenant);
  for (const std::string& pair : c.quota_set) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      PrintError("admin quotas", "--set wants KEY=VALUE, got '%s'\n", pair.c_str());
      return 2;
    }
    query += "&" + UrlEncode(pair.substr(0, eq)) + "=" + UrlEncode(pair.substr(eq + 1));
  }
  if (c.quota_reset) query += "&reset=1";
  if (!query.empty()) target += "?" + query.substr(1);
  int code = 0;
  auto obj = Call(client, "quotas", change ? "POST" : "GET", target, 200, &code);
  if (!obj) return code;
  if (c.json) {
    std::printf("%s\n", boost::json::serialize(*obj).c_str());
    return 0;
  }
  std::vector<boost::json::object> entries;
  if (change) {
    entries.push_back(*obj);
  } else {
    if (const auto* d = obj->if_contains("defaults"); d != nullptr && d->is_object()) {
      std::printf("defaults:");
      for (const auto& [key, value] : d->as_object()) {
        std::printf(" %s=%s", std::string(key).c_str(),
                    value.is_string() ? std::string(value.as_string()).c_str() : "?");
      }
      std::printf("\n");
    }
    if (const auto* list = obj->if_contains("tenants"); list != nullptr && list->is_array()) {
      for (const auto& item : list->as_array()) {
        if (item.is_object()) entries.push_back(item.as_object());
      }
    }
  }
  for (const auto& e : entries) {
    std::printf("tenant %s:\n", Text(e, "tenant").c_str());
    const auto* effective = e.if_contains("effective");
    const auto* file = e.if_contains("config_file");
    const auto* api = e.if_contains("api");
    if (effective == nullptr || !effective->is_object()) continue;
    for (const auto& [key, value] : effective->as_object()) {
      const char* from = "default";
      if (api != nullptr && api->is_object() && api->as_object().contains(key)) {
        from = "api";
      } else if (file != nullptr && file->is_object() && file->as_object().contains(key)) {
        from = "config file";
      }
      std::printf("  %-24s %-10s (%s)\n", std::string(key).c_str(),
                  value.is_string() ? std::string(value.as_string()).c_str() : "?", from);
    }
    if (const auto* u = e.if_contains("usage"); u != nullptr && u->is_object()) {
      const auto& usage = u->as_object();
      std::printf("  usage now: %s bytes scanned in the last hour, %s queries, %s tail sessions\n",
                  Text(usage, "scanned_bytes_last_hour").c_str(), Text(usage, "queries").c_str(),
                  Text(usage, "tail_sessions").c_str());
    }
  }
  return 0;
}

int Verify(HttpClient* client) {
  int code = 0;
  auto obj = Call(client, "audit verify", "GET", "/api/v1/audit/verify", 200, &code);
  if (!obj) return code;
  const bool ok = Text(*obj, "ok") == "true";
  if (ok) {
    std::printf("audit log intact: %s entries (seq %s to %s), each following the one before\n",
                Text(*obj, "entries").c_str(), Text(*obj, "first_seq").c_str(),
                Text(*obj, "last_seq").c_str());
    return 0;
  }
  std::printf("audit log DAMAGED (%s entries read):\n", Text(*obj, "entries").c_str());
  if (const auto* p = obj->if_contains("problems"); p != nullptr && p->is_array()) {
    for (const auto& problem : p->as_array()) {
      if (problem.is_string()) std::printf("  %s\n", std::string(problem.as_string()).c_str());
    }
  }
  return 1;
}

}  // namespace

std::shared_ptr<AuthCommands> AddAuthCommands(CLI::App* admin) {
  auto c = std::make_shared<AuthCommands>();
  c->token = admin->add_subcommand("token", "API tokens: create (shown once), list, revoke");
  c->token->fallthrough();
  c->token->require_subcommand(1);
  c->create = c->token->add_subcommand(
      "create",
      "make a token and print it once (the first one, on a loopback server without "
      "tokens, must be --role platform-admin and needs no --token)");
  c->create->fallthrough();
  c->create->add_option("--name", c->name, "what the token is for (shown in the audit log)")
      ->required();
  c->create->add_option("--role", c->role, "ingest, reader, tenant-admin, platform-admin, auditor")
      ->required()
      ->check(CLI::IsMember({"ingest", "reader", "tenant-admin", "platform-admin", "auditor"}));
  c->create->add_option("--tenant", c->tenants,
                        "tenant(s) of the token (repeat, or comma-separated; several only for "
                        "reader); none for platform-admin and auditor");
  c->create->add_option("--expires-in", c->expires_in, "expiry from now: 90d, 12h (default never)");
  c->list = c->token->add_subcommand("list", "every token (never their secrets)");
  c->list->fallthrough();
  c->revoke = c->token->add_subcommand("revoke", "revoke token ID at once");
  c->revoke->fallthrough();
  c->revoke->add_option("ID", c->revoke_id, "the token's id (sawmill admin token list)")
      ->required();

  c->audit = admin->add_subcommand("audit", "the audit log: list entries, verify the hash chain");
  c->audit->fallthrough();
  c->audit->require_subcommand(1);
  c->audit_list = c->audit->add_subcommand("list", "entries, oldest first");
  c->audit_list->fallthrough();
  c->audit_list->add_option("--since", c->since, "from: RFC 3339 or a duration ago (1h, 7d)");
  c->audit_list->add_option("--until", c->until, "until: RFC 3339 or a duration ago");
  c->audit_list->add_option("--tenant", c->tenant, "only this tenant");
  c->audit_list->add_option("--who", c->who, "only this token name");
  c->audit_list->add_option("--action", c->action, "only this action ('GET /api/v1/search')");
  c->audit_list->add_option("--limit", c->limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  c->audit_list->add_flag("--json", c->json, "one JSON object per line");
  c->verify = c->audit->add_subcommand(
      "verify", "check the hash chain: exit 1 naming each deleted or edited entry");
  c->verify->fallthrough();
  c->tenants_command = admin->add_subcommand(
      "tenants", "bytes, rows and segments each tenant stores, by tier (chargeback)");
  c->tenants_command->fallthrough();
  c->quotas_command = admin->add_subcommand(
      "quotas",
      "per-tenant quotas: each key's effective value and where it comes from (default, config "
      "file, api), and usage now; --set changes them");
  c->quotas_command->fallthrough();
  c->quotas_command->add_option("--tenant", c->tenant, "only this tenant (needed to change)");
  c->quotas_command->add_option(
      "--set", c->quota_set,
      "KEY=VALUE (repeat): max_queries=4, scanned_bytes_per_hour=50GiB, reader_max_range=7d, "
      "ingest_lines_per_sec=5000, ...; VALUE 'default' removes the override");
  c->quotas_command->add_flag("--reset", c->quota_reset,
                              "remove every override set through the API first");
  c->quotas_command->add_flag("--json", c->json, "the server's answer as JSON");
  return c;
}

int RunAuthCommands(const AuthCommands& c, HttpClient* client) {
  if (c.create->parsed()) return Create(c, client);
  if (c.list->parsed()) return List(client);
  if (c.revoke->parsed()) return Revoke(c, client);
  if (c.audit_list->parsed()) return AuditList(c, client);
  if (c.verify->parsed()) return Verify(client);
  if (c.tenants_command->parsed()) return ListTenants(client);
  if (c.quotas_command->parsed()) return Quotas(c, client);
  return -1;
}

}  // namespace sawmill::cli
