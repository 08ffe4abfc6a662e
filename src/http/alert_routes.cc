#include "http/alert_routes.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/config_values.h"
#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"

namespace sawmill::http {

namespace {

struct FileMetrics {
  prometheus::Counter& errors;
  prometheus::Counter& reloads;
  prometheus::Gauge& valid;
};

FileMetrics& Metrics() {
  static FileMetrics metrics{
      *UnlabelledCounter("sawmill_alert_rules_file_errors_total",
                         "Reads of the alerting rules file (--alert-rules) that found an error; "
                         "the previous rules stayed loaded"),
      *UnlabelledCounter("sawmill_alert_rules_file_reloads_total",
                         "Reads of the alerting rules file that loaded its rules"),
      *UnlabelledGauge("sawmill_alert_rules_file_valid",
                       "1 when the last read of the alerting rules file loaded it, 0 when it had "
                       "an error (see GET /api/v1/alerts/rules)"),
  };
  return metrics;
}

std::string Time(int64_t ns) { return ns == 0 ? "null" : JsonString(FormatRfc3339Nanos(ns)); }

std::string Number(double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

void AppendRuleJson(const alert::Rule& rule, std::string* out) {
  *out += "\"name\":" + JsonString(rule.name);
  *out += ",\"tenant\":" + JsonString(rule.tenant);
  *out += ",\"source\":" + JsonString(rule.source);
  *out += ",\"filter\":" + JsonString(rule.filter);
  *out += ",\"condition\":" + JsonString(rule.condition.ToString());
  *out += ",\"window\":" + JsonString(alert::FormatDuration(rule.window_ns));
  *out += ",\"group_by\":[";
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    if (i > 0) *out += ',';
    AppendJsonString(rule.group_by[i], out);
  }
  *out += "],\"for\":" + JsonString(alert::FormatDuration(rule.for_ns));
  *out += ",\"cooldown\":" + JsonString(alert::FormatDuration(rule.cooldown_ns));
  *out += ",\"labels\":";
  alert::AppendStringMapJson(rule.labels, out);
  *out += ",\"annotations\":";
  alert::AppendStringMapJson(rule.annotations, out);
}

void AppendStatusJson(const alert::RuleStatus& status, std::string* out) {
  *out += '{';
  AppendRuleJson(status.rule, out);
  *out += ",\"state\":" + JsonString(alert::StateName(status.state));
  *out += ",\"last_evaluation\":" + Time(status.last_evaluation_ns);
  *out += ",\"groups_refused_lines\":" + std::to_string(status.groups_refused);
  *out += ",\"groups\":[";
  bool first = true;
  for (const auto& g : status.groups) {
    if (!first) *out += ',';
    first = false;
    *out += "{\"group\":" + JsonString(g.group);
    *out += ",\"state\":" + JsonString(alert::StateName(g.state));
    *out += ",\"since\":" + Time(g.state == alert::AlertState::kInactive ? 0 : g.state_since_ns);
    *out += ",\"active_since\":" +
            Time(g.state == alert::AlertState::kInactive ? 0 : g.active_since_ns);
    *out += ",\"last_notified\":" + Time(g.last_notified_ns);
    *out += ",\"count\":" + std::to_string(g.count);
    *out += ",\"value\":" + Number(g.value) + "}";
  }
  *out += "]}";
}

HttpResponse NotReady() {
  return HttpResponse::Error(
      Status::Unavailable("alerting starts once the write-ahead log is "
                          "replayed; retry shortly"));
}

// The time parameter "name" as RFC 3339 or epoch seconds/ms/ns, or "now-1h"-style via since.
Result<std::pair<int64_t, int64_t>> BacktestRange(const HttpRequest& request, int64_t now) {
  auto range = query::ParseTimeRange(request.Query("since"), request.Query("from"),
                                     request.Query("to"), false, now);
  if (!range.ok()) return range.status();
  return std::make_pair(range->from_ns, range->to_ns);
}

HttpResponse HandleList(AlertService* service, const HttpRequest& request) {
  const std::string name = request.Query("rule");
  std::vector<alert::RuleStatus> rules = service->engine()->Rules(request.tenant, name);
  if (!name.empty() && rules.empty()) {
    return HttpResponse::Error(
        Status::NotFound("tenant '" + request.tenant + "' has no alerting rule '" + name + "'"));
  }
  std::string body = "{\"rules\":[";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) body += ',';
    AppendStatusJson(rules[i], &body);
  }
  body += "],\"rules_file_error\":";
  const std::string error = service->file_error();
  body += error.empty() ? "null" : JsonString(error);
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleHistory(AlertService* service, const HttpRequest& request) {
  if (service->catalog() == nullptr) {
    return HttpResponse::Error(Status::FailedPrecondition("no catalog: no alert history"));
  }
  uint64_t limit = 100;
  if (request.HasQuery("limit")) {
    auto parsed = ParseCount(request.Query("limit"));
    if (!parsed.ok() || *parsed == 0 || *parsed > 10'000) {
      return HttpResponse::Error(Status::InvalidArgument("limit: expected 1 to 10000"));
    }
    limit = *parsed;
  }
  int64_t since = 0;
  if (request.HasQuery("since")) {
    auto d = ParseDuration(request.Query("since"));
    if (!d.ok()) return HttpResponse::Error(d.status().WithContext("since"));
    since = Clock::Real()->NowNanos() - *d;
  }
  auto rows =
      service->catalog()->ListAlertTransitions(request.tenant, request.Query("rule"), since, limit);
  if (!rows.ok()) return HttpResponse::Error(rows.status());
  std::string body = "{\"transitions\":[";
  for (size_t i = 0; i < rows->size(); ++i) {
    const auto& t = (*rows)[i];
    if (i > 0) body += ',';
    body += "{\"id\":" + std::to_string(t.id) + ",\"at\":" + Time(t.at_ns) +
            ",\"rule\":" + JsonString(t.rule) + ",\"group\":" + JsonString(t.group) +
            ",\"from\":" + JsonString(t.from_state) + ",\"to\":" + JsonString(t.to_state) +
            ",\"value\":" + Number(t.value) + "}";
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleRulesGet(AlertService* service, const HttpRequest& request) {
  std::vector<alert::RuleStatus> rules = service->engine()->Rules(request.tenant);
  std::string body = "{\"rules\":[";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) body += ',';
    body += '{';
    AppendRuleJson(rules[i].rule, &body);
    body += ",\"definition\":" + JsonString(rules[i].rule.definition) + "}";
  }
  body += "],\"rules_file\":";
  body += service->rules_file().empty() ? "null" : JsonString(service->rules_file());
  body += ",\"rules_file_error\":";
  const std::string error = service->file_error();
  body += error.empty() ? "null" : JsonString(error);
  body += ",\"rules_file_error_since\":" + Time(error.empty() ? 0 : service->file_error_since_ns());
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleRulesPost(AlertService* service, const HttpRequest& request) {
  if (service->catalog() == nullptr) {
    return HttpResponse::Error(Status::FailedPrecondition("no catalog to keep API rules in"));
  }
  auto rules =
      alert::ParseRules(request.body, "request body", service->limits(), true, request.tenant);
  if (!rules.ok()) return HttpResponse::Error(rules.status());
  if (rules->empty()) {
    return HttpResponse::Error(Status::InvalidArgument("request body: no rule in it"));
  }
  for (const alert::Rule& rule : *rules) {
    if (rule.tenant != request.tenant) {
      return HttpResponse::Error(Status::InvalidArgument(
          "request body:" + std::to_string(rule.line) + ": rule '" + rule.name + "': tenant: '" +
          rule.tenant + "' is not the tenant of this request ('" + request.tenant +
          "', from X-Scope-OrgID)"));
    }
    if (service->IsFileRule(rule.tenant, rule.name)) {
      return HttpResponse::Error(Status::AlreadyExists(
          "rule '" + rule.name + "' is defined in the rules file " + service->rules_file() +
          "; change it there, or give this one another name"));
    }
  }
  std::string body = "{\"stored\":[";
  bool first = true;
  for (const alert::Rule& rule : *rules) {
    catalog::AlertRuleRow row;
    row.tenant = rule.tenant;
    row.name = rule.name;
    row.definition = rule.definition;
    row.updated_ns = Clock::Real()->NowNanos();
    if (Status s = service->catalog()->PutAlertRule(row); !s.ok()) return HttpResponse::Error(s);
    if (!first) body += ',';
    first = false;
    AppendJsonString(rule.name, &body);
  }
  body += "]}";
  if (Status s = service->Apply(); !s.ok()) return HttpResponse::Error(s);
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleRulesDelete(AlertService* service, const HttpRequest& request) {
  if (service->catalog() == nullptr) {
    return HttpResponse::Error(Status::FailedPrecondition("no catalog to keep API rules in"));
  }
  const std::string name = request.Query("name");
  if (name.empty()) {
    return HttpResponse::Error(Status::InvalidArgument("name=RULE is required"));
  }
  if (service->IsFileRule(request.tenant, name)) {
    return HttpResponse::Error(
        Status::FailedPrecondition("rule '" + name + "' is defined in the rules file " +
                                   service->rules_file() + "; remove it there"));
  }
  if (Status s = service->catalog()->DeleteAlertRule(request.tenant, name); !s.ok()) {
    return HttpResponse::Error(s);
  }
  if (Status s = service->Apply(); !s.ok()) return HttpResponse::Error(s);
  return HttpResponse::Json(200, "{\"deleted\":" + JsonString(name) + "}");
}

HttpResponse HandleTest(AlertService* service, const HttpRequest& request) {
  alert::Rule rule;
  const std::string name = request.Query("rule");
  if (!request.body.empty()) {
    auto rules =
        alert::ParseRules(request.body, "request body", service->limits(), true, request.tenant);
    if (!rules.ok()) return HttpResponse::Error(rules.status());
    auto it = std::find_if(rules->begin(), rules->end(),
                           [&](const alert::Rule& r) { return name.empty() || r.name == name; });
    if (it == rules->end()) {
      return HttpResponse::Error(Status::NotFound(
          name.empty() ? "request body: no rule in it" : "request body: no rule '" + name + "'"));
    }
    rule = *it;
    rule.tenant = request.tenant;
  } else {
    if (name.empty()) {
      return HttpResponse::Error(
          Status::InvalidArgument("give rule=NAME (a loaded rule) or a rule as the request body"));
    }
    auto rules = service->engine()->Rules(request.tenant, name);
    if (rules.empty()) {
      return HttpResponse::Error(
          Status::NotFound("tenant '" + request.tenant + "' has no alerting rule '" + name + "'"));
    }
    rule = rules[0].rule;
  }
  auto range = BacktestRange(request, Clock::Real()->NowNanos());
  if (!range.ok()) return HttpResponse::Error(range.status());
  auto result = service->engine()->Backtest(rule, range->first, range->second);
  if (!result.ok()) return HttpResponse::Error(result.status());
  std::string body = "{\"rule\":" + JsonString(rule.name);
  body += ",\"from\":" + Time(range->first) + ",\"to\":" + Time(range->second);
  body += ",\"step\":" + JsonString(alert::FormatDuration(result->step_ns));
  body += ",\"partial\":";
  body += result->partial ? "true" : "false";
  body += ",\"warnings\":[";
  for (size_t i = 0; i < result->warnings.size(); ++i) {
    if (i > 0) body += ',';
    AppendJsonString(result->warnings[i], &body);
  }
  body += "],\"events\":[";
  for (size_t i = 0; i < result->events.size(); ++i) {
    const auto& e = result->events[i];
    if (i > 0) body += ',';
    body += "{\"at\":" + Time(e.at_ns) + ",\"group\":" + JsonString(e.group) +
            ",\"from\":" + JsonString(alert::StateName(e.from)) +
            ",\"to\":" + JsonString(alert::StateName(e.to)) +
            ",\"count\":" + std::to_string(e.count) + ",\"value\":" + Number(e.value) + "}";
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

// Body: {"rule": NAME, "group": {"field": "value"}, "duration": "2h", "comment": "...",
// "created_by": "..."}; becomes an Alertmanager silence matching alertname, tenant and the group.
HttpResponse HandleSilence(AlertService* service, const HttpRequest& request) {
  if (service->notifier() == nullptr || !service->notifier()->has_alertmanager()) {
    return HttpResponse::Error(Status::FailedPrecondition(
        "silences live in Alertmanager: start the server with --alertmanager URL"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(request.body);
  } catch (const YAML::Exception& e) {
    return HttpResponse::Error(Status::InvalidArgument(
        "request body: line " + std::to_string(e.mark.line + 1) + ": " + e.msg));
  }
  if (!root.IsMap() || !root["rule"] || !root["rule"].IsScalar()) {
    return HttpResponse::Error(Status::InvalidArgument(
        "request body: expected {\"rule\": NAME, \"duration\": \"2h\", \"comment\": TEXT}"));
  }
  const std::string rule = root["rule"].Scalar();
  if (service->engine()->Rules(request.tenant, rule).empty()) {
    return HttpResponse::Error(
        Status::NotFound("tenant '" + request.tenant + "' has no alerting rule '" + rule + "'"));
  }
  int64_t duration = 3600 * kNanosPerSecond;
  if (root["duration"]) {
    auto d = ParseDuration(root["duration"].as<std::string>(""));
    if (!d.ok() || *d <= 0) {
      return HttpResponse::Error(
          Status::InvalidArgument("duration: expected a duration such as 30m or 2h"));
    }
    duration = *d;
  }
  const std::string comment =
      root["comment"] ? root["comment"].as<std::string>("") : "silenced with sawmill";
  const std::string author =
      root["created_by"] ? root["created_by"].as<std::string>("") : "sawmill";
  auto matcher = [](const std::string& name, const std::string& value) {
    return "{\"name\":" + JsonString(name) + ",\"value\":" + JsonString(value) +
           ",\"isRegex\":false,\"isEqual\":true}";
  };
  std::string body =
      "{\"matchers\":[" + matcher("alertname", rule) + "," + matcher("tenant", request.tenant);
  if (root["group"] && root["group"].IsMap()) {
    for (const auto& item : root["group"]) {
      body += "," + matcher(item.first.as<std::string>(""), item.second.as<std::string>(""));
    }
  }
  const int64_t now = Clock::Real()->NowNanos();
  body += "],\"startsAt\":" + JsonString(FormatRfc3339(now)) +
          ",\"endsAt\":" + JsonString(FormatRfc3339(now + duration)) +
          ",\"createdBy\":" + JsonString(author.empty() ? "sawmill" : author) +
          ",\"comment\":" + JsonString(comment.empty() ? "silenced with sawmill" : comment) + "}";
  auto answer = service->notifier()->PostSilence(body);
  if (!answer.ok()) return HttpResponse::Error(answer.status());
  return HttpResponse::Json(200, *answer);
}

// What tells a changed rules file: its modification time, size and inode ("" when it cannot be
// read); the same stamp means the same rules.
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}

}  // namespace

AlertService::AlertService(Options options, catalog::Catalog* catalog,
                           std::unique_ptr<alert::HttpNotifier> notifier,
                           std::unique_ptr<alert::AlertEngine> engine)
    : options_(std::move(options)),
      catalog_(catalog),
      engine_(std::move(engine)),
      notifier_(std::move(notifier)) {
  Metrics();
}

Status AlertService::ReadFile(std::vector<alert::Rule>* rules) const {
  std::ifstream in(options_.rules_file, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("--alert-rules: cannot read '" + options_.rules_file + "'");
  }
  std::stringstream text;
  text << in.rdbuf();
  ASSIGN_OR_RETURN(*rules, alert::ParseRules(text.str(), options_.rules_file, options_.limits));
  return Status::OK();
}

Status AlertService::Start() {
  RETURN_IF_ERROR(engine_->LoadState());
  if (!options_.rules_file.empty()) {
    std::vector<alert::Rule> rules;
    RETURN_IF_ERROR(ReadFile(&rules));
    std::string stamp = FileStamp(options_.rules_file);
    MutexLock lock(&mu_);
    file_rules_ = std::move(rules);
    file_stamp_ = stamp;
    Metrics().valid.Set(1);
  }
  return Apply();
}

void AlertService::PollRulesFile(bool force) {
  if (options_.rules_file.empty()) {
    if (force) spdlog::info("SIGHUP: no --alert-rules file to reload");
    return;
  }
  const std::string stamp = FileStamp(options_.rules_file);
  {
    MutexLock lock(&mu_);
    if (!force && stamp == file_stamp_) return;
    file_stamp_ = stamp;
  }
  std::vector<alert::Rule> rules;
  Status status = ReadFile(&rules);
  if (!status.ok()) {
    Metrics().errors.Increment();
    Metrics().valid.Set(0);
    spdlog::error("alerting rules file not reloaded, the previous rules stay: {}",
                  status.message());
    MutexLock lock(&mu_);
    if (file_error_ != status.message()) file_error_since_ns_ = Clock::Real()->NowNanos();
    file_error_ = status.message();
    return;
  }
  {
    MutexLock lock(&mu_);
    file_rules_ = std::move(rules);
    file_error_.clear();
    file_error_since_ns_ = 0;
  }
  Metrics().reloads.Increment();
  Metrics().valid.Set(1);
  Status applied = Apply();
  if (!applied.ok()) {
    spdlog::error("alerting rules: {}", applied.ToString());
  } else {
    spdlog::info("alerting rules file {} reloaded", options_.rules_file);
  }
}

Status AlertService::Apply() {
  MutexLock apply(&apply_mu_);
  std::vector<alert::Rule> all;
  {
    MutexLock lock(&mu_);
    all = file_rules_;
  }
  if (catalog_ != nullptr) {
    ASSIGN_OR_RETURN(std::vector<catalog::AlertRuleRow> rows, catalog_->ListAlertRules());
    for (const auto& row : rows) {
      if (IsFileRule(row.tenant, row.name)) {
        spdlog::warn(
            "alerting rule '{}' of tenant {} is in the rules file and the API; the "
            "file's is used",
            row.name, row.tenant);
        continue;
      }
      auto parsed = alert::ParseRules(row.definition, "stored rule " + row.name, options_.limits,
                                      true, row.tenant);
      if (!parsed.ok() || parsed->size() != 1) {
        spdlog::error("stored alerting rule '{}' of tenant {} no longer loads: {}", row.name,
                      row.tenant, parsed.status().ToString());
        continue;
      }
      alert::Rule rule = std::move((*parsed)[0]);
      rule.source = "api";
      rule.tenant = row.tenant;
      all.push_back(std::move(rule));
    }
  }
  engine_->SetRules(std::move(all));
  return Status::OK();
}

std::string AlertService::file_error() const {
  MutexLock lock(&mu_);
  return file_error_;
}

int64_t AlertService::file_error_since_ns() const {
  MutexLock lock(&mu_);
  return file_error_since_ns_;
}

bool AlertService::IsFileRule(const std::string& tenant, const std::string& name) const {
  MutexLock lock(&mu_);
  for (const auto& rule : file_rules_) {
    if (rule.tenant == tenant && rule.name == name) return true;
  }
  return false;
}

Result<std::unique_ptr<AlertService>> StartAlerting(
    const ServerConfig& config, const std::string& default_url, storage::Engine* engine,
    query::QueryEngine* query, std::function<int()> hups, query::QueryEngine* backtest_query) {
  std::vector<alert::ReceiverOptions> receivers;
  if (!config.alertmanager.empty()) {
    receivers.push_back({alert::ReceiverKind::kAlertmanager, config.alertmanager});
  }
  if (!config.alert_webhook.empty()) {
    receivers.push_back({alert::ReceiverKind::kWebhook, config.alert_webhook});
  }
  const bool any_receiver = !receivers.empty();
  ASSIGN_OR_RETURN(std::unique_ptr<alert::HttpNotifier> notifier,
                   alert::HttpNotifier::Create(std::move(receivers)));
  alert::AlertOptions options;
  options.eval_interval_ns = static_cast<int64_t>(config.alert_eval_interval_ms) * 1'000'000;
  options.max_groups = config.alert_max_groups;
  options.backtest_query = backtest_query;
  options.external_url =
      config.alert_external_url.empty() ? default_url : config.alert_external_url;
  while (!options.external_url.empty() && options.external_url.back() == '/') {
    options.external_url.pop_back();
  }
  auto alert_engine = std::make_unique<alert::AlertEngine>(
      options, Clock::Real(), engine->catalog(), query, any_receiver ? notifier.get() : nullptr);
  AlertService::Options service_options;
  service_options.rules_file = config.alert_rules;
  service_options.limits.max_groups = config.alert_max_groups;
  auto service = std::make_unique<AlertService>(service_options, engine->catalog(),
                                                std::move(notifier), std::move(alert_engine));
  RETURN_IF_ERROR(service->Start());
  const int first_hups = hups();
  service->engine()->Start(
      [s = service.get(), hups = std::move(hups), seen = first_hups]() mutable {
        const int now = hups();
        s->PollRulesFile(now != seen);
        seen = now;
      });
  spdlog::info("alerting: {} rules loaded{}{}", service->engine()->rule_count(),
               config.alertmanager.empty() ? "" : ", Alertmanager " + config.alertmanager,
               config.alert_webhook.empty() ? "" : ", webhook " + config.alert_webhook);
  return service;
}

void RegisterAlertRoutes(Router* router, ApiState* state, std::atomic<AlertService*>* service) {
  auto wrap = [state, service](HttpResponse (*handler)(AlertService*, const HttpRequest&)) {
    return [state, service, handler](const HttpRequest& request) {
      AlertService* s = service->load();
      if (s == nullptr || !state->ready.load()) return NotReady();
      return handler(s, request);
    };
  };
  router->Add("GET", "/api/v1/alerts", wrap(HandleList));
  router->Add("GET", "/api/v1/alerts/history", wrap(HandleHistory));
  router->Add("GET", "/api/v1/alerts/rules", wrap(HandleRulesGet));
  router->Add("POST", "/api/v1/alerts/rules", wrap(HandleRulesPost));
  router->Add("DELETE", "/api/v1/alerts/rules", wrap(HandleRulesDelete));
  router->Add("POST", "/api/v1/alerts/test", wrap(HandleTest));
  router->Add("POST", "/api/v1/alerts/silences", wrap(HandleSilence));
}

}  // namespace sawmill::http
