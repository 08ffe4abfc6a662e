// `sawmill admin retention get|set|run|events`, `sawmill admin hold add|list|release` and
// `sawmill admin deletions`: retention policies, holds and the deletion record of a running
// server (docs/cli.md; the API is docs/api.md "Retention and holds").
#include "cli/admin_retention_command.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/command_error.h"
#include "cli/json_answer.h"

namespace sawmill::cli {
namespace {

std::string Text(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return boost::json::serialize(*v);
}

std::string Who() {
  const char* user = std::getenv("USER");
  std::string who = user != nullptr && *user != '\0' ? user : "unknown";
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') who += std::string("@") + host;
  return who;
}

void Param(std::string* target, const char* name, const std::string& value) {
  *target += (target->find('?') == std::string::npos ? '?' : '&');
  *target += name;
  *target += '=';
  *target += UrlEncode(value);
}

// The request, its errors printed as "sawmill admin WHAT: ...". nullopt on failure.
std::optional<boost::json::object> Call(HttpClient* client, const char* what, const char* method,
                                        const std::string& target) {
  return JsonObjectAnswer(client->Request(method, target, {}, {{"X-Sawmill-User", Who()}}), "admin",
                          what);
}

void PrintPolicies(const boost::json::object& o) {
  std::printf("%-20s %-10s %-8s %-10s %-10s %14s  %s\n", "tenant", "retention", "source",
              "warm_after", "cold_after", "max_bytes", "compliance");
  const auto* list = o.if_contains("policies");
  if (list == nullptr || !list->is_array()) return;
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) continue;
    const auto& p = item.as_object();
    std::string compliance;
    if (const auto* c = p.if_contains("compliance"); c != nullptr && c->is_array()) {
      for (const auto& r : c->as_array()) {
        if (!r.is_object()) continue;
        const auto& rule = r.as_object();
        compliance += (compliance.empty() ? "" : ", ") + Text(rule, "service") + " " +
                      Text(rule, "retention") + " (#" + Text(rule, "id") + ")";
      }
    }
    std::string max_bytes = Text(p, "max_bytes");
    std::printf("%-20s %-10s %-8s %-10s %-10s %14s  %s\n", Text(p, "tenant").c_str(),
                Text(p, "retention").c_str(), Text(p, "source").c_str(),
                Text(p, "warm_after").c_str(), Text(p, "cold_after").c_str(),
                max_bytes == "0" ? "none" : max_bytes.c_str(),
                compliance.empty() ? "-" : compliance.c_str());
  }
}

void PrintHold(const boost::json::object& h) {
  std::printf("#%s  tenant %s  %s .. %s%s\n    reason: %s\n    by %s at %s", Text(h, "id").c_str(),
              Text(h, "tenant").c_str(), Text(h, "from").c_str(), Text(h, "to").c_str(),
              Text(h, "query").empty() ? "" : ("  query " + Text(h, "query")).c_str(),
              Text(h, "reason").c_str(), Text(h, "created_by").c_str(),
              Text(h, "created_at").c_str());
  if (Text(h, "active") == "true") {
    std::printf("\n    ACTIVE: keeps %s segments (%s bytes)\n",
                Text(h, "segments").empty() ? "?" : Text(h, "segments").c_str(),
                Text(h, "bytes").empty() ? "?" : Text(h, "bytes").c_str());
  } else {
    std::printf("\n    released by %s at %s: %s\n", Text(h, "released_by").c_str(),
                Text(h, "released_at").c_str(), Text(h, "release_reason").c_str());
  }
}

int PrintEvents(const boost::json::object& o) {
  const auto* list = o.if_contains("events");
  if (list == nullptr || !list->is_array()) return 1;
  if (list->as_array().empty()) {
    std::printf("nothing recorded\n");
    return 0;
  }
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) continue;
    const auto& e = item.as_object();
    std::string what = Text(e, "what");
    std::printf("#%s  %s  %-17s tenant %s  by %s\n    why: %s\n    what: %s\n",
                Text(e, "id").c_str(), Text(e, "at").c_str(), Text(e, "action").c_str(),
                Text(e, "tenant").c_str(), Text(e, "who").c_str(), Text(e, "why").c_str(),
                what.c_str());
  }
  return 0;
}

}  // namespace

void AddRetentionCommands(CLI::App* app, RetentionCommands* c) {
  c->retention = app->add_subcommand(
      "retention", "retention policies: get, set (incl. compliance tags), run a round, events");
  c->retention->fallthrough();
  c->retention->require_subcommand(1);
  c->get = c->retention->add_subcommand("get", "the policy of every tenant (or --tenant)");
  c->get->fallthrough();
  c->get->add_option("--tenant", c->tenant, "only this tenant");
  c->set = c->retention->add_subcommand(
      "set", "set a tenant's policy, or tag a tenant or service pattern compliance");
  c->set->fallthrough();
  c->set->add_option("--tenant", c->tenant, "the tenant (with --compliance: '*' is every tenant)");
  c->set->add_option("--retention", c->retention_value,
                     "how long lines are kept: 30d, 2w, forever");
  c->set->add_option("--warm-after", c->warm_after, "move to the warm tier after: 3d, never");
  c->set->add_option("--cold-after", c->cold_after, "move to the cold tier after: 30d, never");
  c->set->add_option("--max-bytes", c->max_bytes,
                     "the tenant's share of the disk under pressure: 50GiB, none");
  c->set->add_option("--compliance", c->compliance,
                     "tag compliance: keep the tenant (or --service) this long, up to 10y: 7y");
  c->set->add_option("--service", c->service, "with --compliance: a service pattern (payments*)");
  c->set->add_flag("--clear", c->clear, "forget the admin policy; the config file's applies");
  c->set->add_option("--reason", c->reason, "why (recorded)");
  c->compliance_remove = c->retention->add_subcommand(
      "compliance-remove", "remove compliance rule ID (sawmill admin retention get lists them)");
  c->compliance_remove->fallthrough();
  c->compliance_remove->add_option("ID", c->id, "the rule's id")->required();
  c->compliance_remove->add_option("--reason", c->reason, "why (recorded)")->required();
  c->run = c->retention->add_subcommand("run", "delete expired, unheld segments now");
  c->run->fallthrough();
  c->events = c->retention->add_subcommand(
      "events", "the record: every hold, release, policy change and deletion, newest first");
  c->events->fallthrough();
  c->events->add_option("--tenant", c->tenant, "only this tenant");
  c->events->add_option("--limit", c->limit, "at most this many")->capture_default_str();

  c->hold = app->add_subcommand("hold", "holds keep matching data from deletion until released");
  c->hold->fallthrough();
  c->hold->require_subcommand(1);
  c->hold_add = c->hold->add_subcommand("add", "hold a tenant's data of a time range");
  c->hold_add->fallthrough();
  c->hold_add->add_option("--tenant", c->tenant, "the tenant")->required();
  c->hold_add->add_option("--from", c->from, "start, RFC 3339 (2026-11-30T10:00:00Z)")->required();
  c->hold_add->add_option("--to", c->to, "end (exclusive), RFC 3339 or now")->required();
  c->hold_add->add_option("--query", c->query, "only segments that may match (service=payments)");
  c->hold_add->add_option("--reason", c->reason, "why (an incident, a case: INC-4211)")->required();
  c->hold_list = c->hold->add_subcommand("list", "active holds (--all: released ones too)");
  c->hold_list->fallthrough();
  c->hold_list->add_flag("--all", c->all, "also released holds");
  c->hold_list->add_option("--tenant", c->tenant, "only this tenant");
  c->hold_release = c->hold->add_subcommand("release", "release hold ID");
  c->hold_release->fallthrough();
  c->hold_release->add_option("ID", c->id, "the hold's id (sawmill admin hold list)")->required();
  c->hold_release->add_option("--reason", c->reason, "why (recorded)")->required();

  c->deletions = app->add_subcommand(
      "deletions", "segments deleted by retention: who, when, what, why; newest first");
  c->deletions->fallthrough();
  c->deletions->add_option("--tenant", c->tenant, "only this tenant");
  c->deletions->add_option("--limit", c->limit, "at most this many")->capture_default_str();
}

int RunRetentionCommand(const RetentionCommands& c, HttpClient* client) {
  if (c.retention != nullptr && c.retention->parsed()) {
    if (c.get->parsed()) {
      std::string target = "/api/v1/admin/retention";
      if (!c.tenant.empty()) Param(&target, "tenant", c.tenant);
      auto o = Call(client, "retention get", "GET", target);
      if (!o) return 1;
      PrintPolicies(*o);
      return 0;
    }
    if (c.set->parsed()) {
      std::string target = "/api/v1/admin/retention";
      if (!c.tenant.empty()) Param(&target, "tenant", c.tenant);
      if (!c.compliance.empty()) {
        Param(&target, "compliance", c.compliance);
        if (!c.service.empty()) Param(&target, "service", c.service);
      } else {
        if (!c.service.empty()) {
          PrintError("admin retention set", "--service goes with --compliance\n");
          return 2;
        }
        if (!c.retention_value.empty()) Param(&target, "retention", c.retention_value);
        if (!c.warm_after.empty()) Param(&target, "warm_after", c.warm_after);
        if (!c.cold_after.empty()) Param(&target, "cold_after", c.cold_after);
        if (!c.max_bytes.empty()) Param(&target, "max_bytes", c.max_bytes);
        if (c.clear) Param(&target, "clear", "true");
      }
      Param(&target, "reason", c.reason);
      auto o = Call(client, "retention set", "POST", target);
      if (!o) return 1;
      if (const auto* rule = o->if_contains("compliance"); rule != nullptr && rule->is_object()) {
        const auto& r = rule->as_object();
        std::printf("compliance rule #%s: tenant %s, service %s kept %s\n", Text(r, "id").c_str(),
                    Text(r, "tenant").c_str(), Text(r, "service").c_str(),
                    Text(r, "retention").c_str());
        return 0;
      }
      boost::json::object wrapped;
      boost::json::array list;
      if (const auto* p = o->if_contains("policy")) list.push_back(*p);
      wrapped["policies"] = std::move(list);
      PrintPolicies(wrapped);
      return 0;
    }
    if (c.compliance_remove->parsed()) {
      std::string target = "/api/v1/admin/retention/compliance/remove";
      Param(&target, "id", std::to_string(c.id));
      Param(&target, "reason", c.reason);
      auto o = Call(client, "retention compliance-remove", "POST", target);
      if (!o) return 1;
      std::printf("compliance rule #%llu removed\n", static_cast<unsigned long long>(c.id));
      return 0;
    }
    if (c.run->parsed()) {
      auto o = Call(client, "retention run", "POST", "/api/v1/admin/retention/run");
      if (!o) return 1;
      std::string held = Text(*o, "held");
      std::printf("deleted %s segments (%s bytes, %s rows) of %s; held: %s\n",
                  Text(*o, "deleted_segments").c_str(), Text(*o, "deleted_bytes").c_str(),
                  Text(*o, "deleted_rows").c_str(), Text(*o, "segments_seen").c_str(),
                  held == "[]" ? "none" : held.c_str());
      if (Text(*o, "errors") != "[]") std::printf("errors: %s\n", Text(*o, "errors").c_str());
      return 0;
    }
    std::string target = "/api/v1/admin/retention/events";
    Param(&target, "limit", std::to_string(c.limit));
    if (!c.tenant.empty()) Param(&target, "tenant", c.tenant);
    auto o = Call(client, "retention events", "GET", target);
    return o ? PrintEvents(*o) : 1;
  }
  if (c.hold != nullptr && c.hold->parsed()) {
    if (c.hold_add->parsed()) {
      std::string target = "/api/v1/admin/holds";
      Param(&target, "tenant", c.tenant);
      Param(&target, "from", c.from);
      Param(&target, "to", c.to);
      if (!c.query.empty()) Param(&target, "query", c.query);
      Param(&target, "reason", c.reason);
      auto o = Call(client, "hold add", "POST", target);
      if (!o) return 1;
      const auto* h = o->if_contains("hold");
      if (h != nullptr && h->is_object()) PrintHold(h->as_object());
      return 0;
    }
    if (c.hold_list->parsed()) {
      std::string target = "/api/v1/admin/holds";
      if (c.all) Param(&target, "all", "true");
      if (!c.tenant.empty()) Param(&target, "tenant", c.tenant);
      auto o = Call(client, "hold list", "GET", target);
      if (!o) return 1;
      const auto* list = o->if_contains("holds");
      if (list == nullptr || !list->is_array() || list->as_array().empty()) {
        std::printf("no %sholds\n", c.all ? "" : "active ");
        return 0;
      }
      for (const auto& item : list->as_array()) {
        if (item.is_object()) PrintHold(item.as_object());
      }
      return 0;
    }
    std::string target = "/api/v1/admin/holds/release";
    Param(&target, "id", std::to_string(c.id));
    Param(&target, "reason", c.reason);
    auto o = Call(client, "hold release", "POST", target);
    if (!o) return 1;
    const auto* h = o->if_contains("hold");
    if (h != nullptr && h->is_object()) PrintHold(h->as_object());
    return 0;
  }
  if (c.deletions != nullptr && c.deletions->parsed()) {
    std::string target = "/api/v1/admin/deletions";
    Param(&target, "limit", std::to_string(c.limit));
    if (!c.tenant.empty()) Param(&target, "tenant", c.tenant);
    auto o = Call(client, "deletions", "GET", target);
    return o ? PrintEvents(*o) : 1;
  }
  return -1;
}

}  // namespace sawmill::cli
