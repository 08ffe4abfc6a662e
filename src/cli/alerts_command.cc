// `sawmill alerts list|get|test|silence`: the alerting rules of a running server, their state,
// a backtest over stored data, and silences (in Alertmanager). docs/alerting.md.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/json_answer.h"

namespace sawmill::cli {
namespace {

std::string Text(const boost::json::object& obj, const char* key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return boost::json::serialize(*v);
}

const boost::json::array* Array(const boost::json::object& obj, const char* key) {
  const auto* v = obj.if_contains(key);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

// GET/POST "target"; prints errors as "sawmill alerts WHAT: ..." and returns the parsed object.
std::optional<boost::json::object> Call(HttpClient* client, const char* what,
                                        std::string_view method, const std::string& target,
                                        const std::string& body = "") {
  std::vector<std::pair<std::string, std::string>> headers;  // the tenant: in the client's URL
  if (!body.empty()) headers.emplace_back("Content-Type", "application/yaml");
  return JsonObjectAnswer(client->Request(method, target, body, headers), "alerts", what);
}

int List(HttpClient* client) {
  auto answer = Call(client, "list", "GET", "/api/v1/alerts");
  if (!answer) return 1;
  const auto* rules = Array(*answer, "rules");
  if (rules == nullptr) return 1;
  std::printf("%-9s %-32s %-8s %-8s %-16s %-8s %s\n", "STATE", "RULE", "FIRING", "PENDING",
              "CONDITION", "WINDOW", "SOURCE");
  for (const auto& item : *rules) {
    if (!item.is_object()) continue;
    const auto& r = item.as_object();
    size_t firing = 0, pending = 0;
    if (const auto* groups = Array(r, "groups")) {
      for (const auto& g : *groups) {
        if (!g.is_object()) continue;
        const std::string state = Text(g.as_object(), "state");
        firing += state == "firing";
        pending += state == "pending";
      }
    }
    std::printf("%-9s %-32s %-8zu %-8zu %-16s %-8s %s\n", Text(r, "state").c_str(),
                Text(r, "name").c_str(), firing, pending, Text(r, "condition").c_str(),
                Text(r, "window").c_str(), Text(r, "source").c_str());
  }
  if (rules->empty()) std::printf("no alerting rules (docs/alerting.md)\n");
  const std::string error = Text(*answer, "rules_file_error");
  if (!error.empty()) {
    std::printf("\nthe rules file has an error (the previous rules stay loaded):\n  %s\n",
                error.c_str());
  }
  return 0;
}

int Get(HttpClient* client, const std::string& name) {
  auto answer = Call(client, "get", "GET", "/api/v1/alerts?rule=" + UrlEncode(name));
  if (!answer) return 1;
  const auto* rules = Array(*answer, "rules");
  if (rules == nullptr || rules->empty() || !(*rules)[0].is_object()) return 1;
  const auto& r = (*rules)[0].as_object();
  for (const char* key :
       {"name", "tenant", "source", "state", "filter", "condition", "window", "group_by", "for",
        "cooldown", "labels", "annotations", "last_evaluation"}) {
    std::printf("%-16s %s\n", (std::string(key) + ":").c_str(), Text(r, key).c_str());
  }
  const std::string refused = Text(r, "groups_refused_lines");
  if (!refused.empty() && refused != "0") {
    std::printf("%-16s %s lines of groups past the cap (alert_max_groups)\n",
                "refused:", refused.c_str());
  }
  if (const auto* groups = Array(r, "groups"); groups != nullptr && !groups->empty()) {
    std::printf("\n%-9s %-32s %-12s %-32s %s\n", "STATE", "GROUP", "COUNT", "SINCE",
                "LAST NOTIFIED");
    for (const auto& g : *groups) {
      if (!g.is_object()) continue;
      const auto& o = g.as_object();
      const std::string group = Text(o, "group");
      std::printf("%-9s %-32s %-12s %-32s %s\n", Text(o, "state").c_str(),
                  group.empty() ? "(all lines)" : group.c_str(), Text(o, "count").c_str(),
                  Text(o, "since").c_str(), Text(o, "last_notified").c_str());
    }
  }
  auto history =
      Call(client, "get", "GET", "/api/v1/alerts/history?limit=20&rule=" + UrlEncode(name));
  if (history) {
    if (const auto* list = Array(*history, "transitions"); list != nullptr && !list->empty()) {
      std::printf("\nrecent transitions (newest first):\n");
      for (const auto& t : *list) {
        if (!t.is_object()) continue;
        const auto& o = t.as_object();
        const std::string group = Text(o, "group");
        std::printf("  %s  %-8s -> %-8s %s value %s\n", Text(o, "at").c_str(),
                    Text(o, "from").c_str(), Text(o, "to").c_str(),
                    group.empty() ? "" : group.c_str(), Text(o, "value").c_str());
      }
    }
  }
  return 0;
}

int Test(HttpClient* client, const std::string& rule, const std::string& file,
         const std::string& from, const std::string& to, const std::string& since) {
  std::string body;
  std::string name = rule;
  std::string path = file;
  if (path.empty() && rule.find('/') != std::string::npos) path = rule;
  if (path.empty()) {
    std::ifstream probe(rule);
    if (probe.good() && (rule.size() > 5 && (rule.substr(rule.size() - 5) == ".yaml" ||
                                             rule.substr(rule.size() - 4) == ".yml"))) {
      path = rule;
    }
  }
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      PrintError("alerts test", "cannot read '%s'\n", path.c_str());
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    body = text.str();
    if (name == path) name.clear();
  }
  std::string target = "/api/v1/alerts/test?rule=" + UrlEncode(name);
  if (!since.empty()) target += "&since=" + UrlEncode(since);
  if (!from.empty()) target += "&from=" + UrlEncode(from);
  if (!to.empty()) target += "&to=" + UrlEncode(to);
  auto answer = Call(client, "test", "POST", target, body);
  if (!answer) return 1;
  std::printf("rule %s from %s to %s, evaluated every %s\n", Text(*answer, "rule").c_str(),
              Text(*answer, "from").c_str(), Text(*answer, "to").c_str(),
              Text(*answer, "step").c_str());
  if (const auto* warnings = Array(*answer, "warnings")) {
    for (const auto& w : *warnings) {
      if (w.is_string()) std::printf("warning: %s\n", std::string(w.as_string()).c_str());
    }
  }
  const auto* events = Array(*answer, "events");
  size_t fired = 0;
  if (events != nullptr) {
    for (const auto& e : *events) {
      if (!e.is_object()) continue;
      const auto& o = e.as_object();
      const std::string group = Text(o, "group");
      const std::string to_state = Text(o, "to");
      fired += to_state == "firing";
      const char* verb = to_state == "firing"    ? "would fire"
                         : to_state == "pending" ? "pending"
                                                 : "resolved";
      std::printf("%s  %-10s %s count %s (value %s)\n", Text(o, "at").c_str(), verb,
                  group.empty() ? "" : ("[" + group + "]").c_str(), Text(o, "count").c_str(),
                  Text(o, "value").c_str());
    }
  }
  std::printf("%zu time%s it would have fired\n", fired, fired == 1 ? "" : "s");
  return 0;
}

int Silence(HttpClient* client, const std::string& rule, const std::vector<std::string>& groups,
            const std::string& duration, const std::string& comment, const std::string& author) {
  std::string body = "{\"rule\":" + boost::json::serialize(boost::json::value(rule)) +
                     ",\"duration\":" + boost::json::serialize(boost::json::value(duration));
  if (!comment.empty()) {
    body += ",\"comment\":" + boost::json::serialize(boost::json::value(comment));
  }
  if (!author.empty()) {
    body += ",\"created_by\":" + boost::json::serialize(boost::json::value(author));
  }
  if (!groups.empty()) {
    boost::json::object group;
    for (const std::string& g : groups) {
      const size_t eq = g.find('=');
      if (eq == std::string::npos || eq == 0) {
        PrintError("alerts silence", "--group '%s': expected field=value\n", g.c_str());
        return 2;
      }
      group[g.substr(0, eq)] = g.substr(eq + 1);
    }
    body += ",\"group\":" + boost::json::serialize(group);
  }
  body += "}";
  auto answer = Call(client, "silence", "POST", "/api/v1/alerts/silences", body);
  if (!answer) return 1;
  std::printf("silenced %s for %s in Alertmanager: silence %s\n", rule.c_str(), duration.c_str(),
              Text(*answer, "silenceID").c_str());
  return 0;
}

}  // namespace

int RunAlertsCommand(int argc, char** argv) {
  CLI::App app{"Alerting rules of a running server: state, backtests, silences.", "sawmill alerts"};
  app.footer(
      "Examples:\n"
      "  sawmill alerts list\n"
      "  sawmill alerts get payments-errors\n"
      "  sawmill alerts test payments-errors --since 24h\n"
      "  sawmill alerts test --file rules.yaml new-rule --from 2026-12-01T00:00:00Z\n"
      "  sawmill alerts silence payments-errors --group host=web-1 --for 2h --comment deploy");
  ClientOptions client_options;
  client_options.timeout_s = 300;
  client_options.max_timeout_s = 86400;
  client_options.has_color = false;
  AddClientOptions(&app, &client_options);
  CLI::App* list = app.add_subcommand("list", "every rule with its state and firing groups");
  list->fallthrough();
  CLI::App* get = app.add_subcommand("get", "one rule: definition, groups, recent transitions");
  get->fallthrough();
  std::string get_name;
  get->add_option("RULE", get_name, "rule name")->required();
  CLI::App* test = app.add_subcommand(
      "test", "evaluate a rule over stored data and print when it would have fired");
  test->fallthrough();
  std::string test_rule, test_file, from, to, since;
  test->add_option("RULE", test_rule, "a loaded rule's name, or a rules file (.yaml)")->required();
  test->add_option("--file", test_file, "rules file holding RULE (not yet loaded)");
  test->add_option("--from", from, "start: RFC 3339 or epoch seconds");
  test->add_option("--to", to, "end: RFC 3339 or epoch seconds");
  test->add_option("--since", since, "instead of --from/--to: the last 1h, 24h, 7d, ...");
  CLI::App* silence = app.add_subcommand(
      "silence", "silence a rule (or one group of it) in Alertmanager for a while");
  silence->fallthrough();
  std::string silence_rule, duration = "1h", comment, author;
  std::vector<std::string> groups;
  silence->add_option("RULE", silence_rule, "rule name")->required();
  silence->add_option("--for", duration, "how long: 30m, 2h, ...")->capture_default_str();
  silence->add_option("--group", groups, "only this group: field=value (repeatable)");
  silence->add_option("--comment", comment, "why");
  silence->add_option("--author", author, "who");
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (test->parsed() && since.empty() && from.empty()) {
    PrintError("alerts test", "give --from (and --to) or --since\n");
    return 2;
  }
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("alerts", url.status());
    return 2;
  }
  HttpClient client(*url, client_options.timeout_s * 1000);
  if (list->parsed()) return List(&client);
  if (get->parsed()) return Get(&client, get_name);
  if (test->parsed()) return Test(&client, test_rule, test_file, from, to, since);
  return Silence(&client, silence_rule, groups, duration, comment, author);
}

}  // namespace sawmill::cli
