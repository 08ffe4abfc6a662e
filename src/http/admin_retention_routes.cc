#include "http/admin_retention_routes.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <string>

#include "common/config_values.h"
#include "common/json_string.h"
#include "common/time_format.h"
#include "query/parser.h"
#include "query/planner.h"
#include "storage/job_gate.h"

namespace sawmill::http {
namespace {

using storage::FormatRetentionDuration;

HttpResponse NotReady() {
  return HttpResponse::Error(
      Status::Unavailable("the server is starting (replaying the write-ahead log)"));
}

Result<uint64_t> Count(std::string_view name, std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(name) + ": expected a non-negative integer, got '" +
                                   std::string(text) + "'");
  }
  return value;
}

// RFC 3339 or "now". Errors: InvalidArgument naming the parameter.
Result<int64_t> TimeParam(std::string_view name, std::string_view text, int64_t now) {
  if (text == "now") return now;
  if (std::optional<int64_t> ns = ParseRfc3339(text)) return *ns;
  return Status::InvalidArgument(std::string(name) +
                                 ": expected an RFC 3339 time such as 2026-11-30T10:00:00Z or "
                                 "now, got '" +
                                 std::string(text) + "'");
}

void Key(std::string* out, const char* key) {
  if (out->back() != '{' && out->back() != '[') *out += ',';
  AppendJsonString(key, out);
  *out += ':';
}
void Str(std::string* out, const char* key, std::string_view value) {
  Key(out, key);
  AppendJsonString(value, out);
}
void Num(std::string* out, const char* key, uint64_t value) {
  Key(out, key);
  *out += std::to_string(value);
}
void Time(std::string* out, const char* key, int64_t ns) {
  Key(out, key);
  if (ns == 0) {
    *out += "null";
  } else {
    AppendJsonString(FormatRfc3339Nanos(ns), out);
  }
}

void AppendRule(const catalog::ComplianceRuleRow& r, std::string* out) {
  *out += '{';
  Num(out, "id", r.id);
  Str(out, "origin", r.id == 0 ? "config" : "admin");
  Str(out, "tenant", r.tenant.empty() ? "*" : r.tenant);
  Str(out, "service", r.service.empty() ? "*" : r.service);
  Str(out, "retention", FormatRetentionDuration(r.retention_ns));
  Str(out, "reason", r.reason);
  if (r.id != 0) {
    Str(out, "created_by", r.created_by);
    Time(out, "created_at", r.created_ns);
  }
  *out += '}';
}

void AppendPolicy(const storage::EffectivePolicy& p, std::string* out) {
  *out += '{';
  Str(out, "tenant", p.tenant.empty() ? "*" : p.tenant);
  Str(out, "retention", FormatRetentionDuration(p.retention_ns));
  Str(out, "source", p.source);
  Str(out, "warm_after", p.warm_after_ns == 0 ? "never" : FormatRetentionDuration(p.warm_after_ns));
  Str(out, "cold_after", p.cold_after_ns == 0 ? "never" : FormatRetentionDuration(p.cold_after_ns));
  Num(out, "max_bytes", p.max_bytes);
  Key(out, "compliance");
  *out += '[';
  for (const auto& r : p.compliance) {
    if (out->back() != '[') *out += ',';
    AppendRule(r, out);
  }
  *out += "]}";
}

void AppendHold(const catalog::HoldRow& h, std::string* out) {
  *out += '{';
  Num(out, "id", h.id);
  Str(out, "tenant", h.tenant);
  Time(out, "from", h.from_ns);
  Time(out, "to", h.to_ns);
  Str(out, "query", h.query);
  Str(out, "reason", h.reason);
  Str(out, "created_by", h.created_by);
  Time(out, "created_at", h.created_ns);
  Key(out, "active");
  *out += h.released_ns == 0 ? "true" : "false";
  if (h.released_ns != 0) {
    Time(out, "released_at", h.released_ns);
    Str(out, "released_by", h.released_by);
    Str(out, "release_reason", h.release_reason);
  }
  *out += '}';
}

void AppendEvent(const catalog::RetentionEventRow& e, std::string* out) {
  *out += '{';
  Num(out, "id", e.id);
  Time(out, "at", e.at_ns);
  Str(out, "who", e.actor);
  Str(out, "action", e.action);
  Str(out, "tenant", e.tenant);
  if (e.hold_id != 0) Num(out, "hold", e.hold_id);
  if (e.segment_id != 0) Num(out, "segment", e.segment_id);
  Str(out, "why", e.reason);
  Key(out, "what");
  *out += e.detail.empty() ? "{}" : e.detail;  // a JSON object written by storage/retention.cc
  *out += '}';
}

HttpResponse Events(storage::Retention* retention, const HttpRequest& request, std::string action) {
  catalog::RetentionEventFilter filter;
  filter.action = std::move(action);
  if (filter.action.empty()) filter.action = request.Query("action");
  filter.tenant = request.Query("tenant");
  if (request.HasQuery("limit")) {
    auto n = Count("limit", request.Query("limit"));
    if (!n.ok()) return HttpResponse::Error(n.status());
    filter.limit = std::min<uint64_t>(*n, 10000);
  }
  if (request.HasQuery("before")) {
    auto n = Count("before", request.Query("before"));
    if (!n.ok()) return HttpResponse::Error(n.status());
    filter.before_id = *n;
  }
  auto events = retention->Events(filter);
  if (!events.ok()) return HttpResponse::Error(events.status());
  std::string body = "{\"events\":[";
  for (const auto& e : *events) {
    if (body.back() != '[') body += ',';
    AppendEvent(e, &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

// A policy field from the request: absent -1, else the parsed value.
Result<int64_t> PolicyParam(const HttpRequest& request, const char* name) {
  if (!request.HasQuery(name)) return int64_t{-1};
  const std::string text = request.Query(name);
  if (std::string_view(name) == "max_bytes") {
    if (text == "0" || text == "none" || text == "unlimited") return int64_t{0};
    auto bytes = ParseSize(text);
    if (!bytes.ok()) return bytes.status().WithContext("max_bytes");
    return static_cast<int64_t>(std::min<uint64_t>(*bytes, INT64_MAX));
  }
  if (text == "never" && std::string_view(name) != "retention") return int64_t{0};
  auto ns = storage::ParseRetentionDuration(text);
  if (!ns.ok()) return ns.status().WithContext(name);
  return *ns;
}

HttpResponse HandlePolicyGet(storage::Retention* retention, const HttpRequest& request) {
  std::string body = "{\"policies\":[";
  if (request.HasQuery("tenant")) {
    auto p = retention->Policy(request.Query("tenant"));
    if (!p.ok()) return HttpResponse::Error(p.status());
    AppendPolicy(*p, &body);
  } else {
    auto all = retention->Policies();
    if (!all.ok()) return HttpResponse::Error(all.status());
    for (const auto& p : *all) {
      if (body.back() != '[') body += ',';
      AppendPolicy(p, &body);
    }
  }
  body += "],\"compliance\":[";
  auto rules = retention->ComplianceRules();
  if (!rules.ok()) return HttpResponse::Error(rules.status());
  for (const auto& r : *rules) {
    if (body.back() != '[') body += ',';
    AppendRule(r, &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandlePolicySet(storage::Retention* retention, const HttpRequest& request) {
  const std::string tenant = request.Query("tenant");
  const std::string reason = request.Query("reason");
  if (request.HasQuery("compliance")) {
    // A compliance tag: the tenant ("" every tenant) or a service pattern of it.
    catalog::ComplianceRuleRow rule;
    rule.tenant = tenant == "*" ? std::string() : tenant;
    rule.service = request.Query("service");
    if (rule.service == "*") rule.service.clear();
    auto ns = storage::ParseRetentionDuration(request.Query("compliance"));
    if (!ns.ok()) return HttpResponse::Error(ns.status().WithContext("compliance"));
    rule.retention_ns = *ns;
    rule.reason = reason;
    auto stored = retention->AddComplianceRule(rule, ActorOf(request));
    if (!stored.ok()) return HttpResponse::Error(stored.status());
    std::string body = "{\"compliance\":";
    AppendRule(*stored, &body);
    body += '}';
    return HttpResponse::Json(200, std::move(body));
  }
  if (tenant.empty()) {
    return HttpResponse::Error(Status::InvalidArgument("tenant: required (the tenant to set)"));
  }
  catalog::RetentionPolicyRow row;
  row.tenant = tenant;
  const bool clear = request.Query("clear") == "true";
  for (auto [name, field] : {std::pair{"retention", &catalog::RetentionPolicyRow::retention_ns},
                             std::pair{"warm_after", &catalog::RetentionPolicyRow::warm_after_ns},
                             std::pair{"cold_after", &catalog::RetentionPolicyRow::cold_after_ns},
                             std::pair{"max_bytes", &catalog::RetentionPolicyRow::max_bytes}}) {
    auto v = PolicyParam(request, name);
    if (!v.ok()) return HttpResponse::Error(v.status());
    row.*field = *v;
  }
  if (!clear && row.retention_ns < 0 && row.warm_after_ns < 0 && row.cold_after_ns < 0 &&
      row.max_bytes < 0) {
    return HttpResponse::Error(Status::InvalidArgument(
        "nothing to set: give retention, warm_after, cold_after, max_bytes, compliance or "
        "clear=true"));
  }
  Status s = retention->SetPolicy(row, clear, ActorOf(request), reason);
  if (!s.ok()) return HttpResponse::Error(s);
  auto p = retention->Policy(tenant);
  if (!p.ok()) return HttpResponse::Error(p.status());
  std::string body = "{\"policy\":";
  AppendPolicy(*p, &body);
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleComplianceRemove(storage::Retention* retention, const HttpRequest& request) {
  auto id = Count("id", request.Query("id"));
  if (!id.ok()) return HttpResponse::Error(id.status());
  Status s = retention->RemoveComplianceRule(*id, ActorOf(request), request.Query("reason"));
  if (!s.ok()) return HttpResponse::Error(s);
  return HttpResponse::Json(200, "{\"removed\":" + std::to_string(*id) + "}");
}

HttpResponse HandleRun(storage::Retention* retention) {
  // Under the job's lease like the background rounds (docs/cluster.md "Job leases as built"):
  // in a cluster the node holding it runs retention, and each deletion is fenced by it.
  if (!storage::MayRunJob("retention")) {
    return HttpResponse::Error(Status::FailedPrecondition(
        "retention run: another node of the cluster holds the retention lease (or the catalog "
        "cannot be reached); its rounds delete for the whole cluster: run it there, or retry"));
  }
  storage::JobRound job("retention");
  auto report = retention->RunOnce();
  if (!report.ok()) return HttpResponse::Error(report.status());
  std::string body = "{";
  Num(&body, "segments_seen", report->segments_seen);
  Num(&body, "deleted_segments", report->deleted_segments);
  Num(&body, "deleted_bytes", report->deleted_bytes);
  Num(&body, "deleted_rows", report->deleted_rows);
  Num(&body, "kept_corrupt", report->kept_corrupt);
  Key(&body, "held");
  body += '[';
  for (const auto& [segment, holds] : report->held) {
    if (body.back() != '[') body += ',';
    body += "{\"segment\":" + std::to_string(segment) + ",\"holds\":[";
    for (size_t i = 0; i < holds.size(); ++i) {
      body += (i > 0 ? "," : "") + std::to_string(holds[i]);
    }
    body += "]}";
  }
  body += "],\"errors\":[";
  for (const auto& e : report->errors) {
    if (body.back() != '[') body += ',';
    AppendJsonString(e, &body);
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleHoldList(storage::Retention* retention, const HttpRequest& request) {
  const bool active_only = request.Query("all") != "true";
  auto holds = retention->ListHolds(active_only);
  if (!holds.ok()) return HttpResponse::Error(holds.status());
  std::string body = "{\"holds\":[";
  for (const auto& h : *holds) {
    if (!request.Query("tenant").empty() && h.tenant != request.Query("tenant")) continue;
    if (body.back() != '[') body += ',';
    AppendHold(h, &body);
    auto held = retention->HeldBy(h);
    if (held.ok()) {
      body.pop_back();
      Num(&body, "segments", held->first);
      Num(&body, "bytes", held->second);
      body += '}';
    }
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleHoldAdd(storage::Retention* retention, const HttpRequest& request, int64_t now) {
  storage::HoldRequest hold;
  hold.tenant = request.Query("tenant");
  for (auto [name, field] : {std::pair{"from", &storage::HoldRequest::from_ns},
                             std::pair{"to", &storage::HoldRequest::to_ns}}) {
    if (!request.HasQuery(name)) {
      return HttpResponse::Error(Status::InvalidArgument(
          std::string(name) + ": required (an RFC 3339 time such as 2026-11-30T10:00:00Z)"));
    }
    auto t = TimeParam(name, request.Query(name), now);
    if (!t.ok()) return HttpResponse::Error(t.status());
    hold.*field = *t;
  }
  hold.query = request.Query("query");
  hold.reason = request.Query("reason");
  auto stored = retention->AddHold(hold, ActorOf(request));
  if (!stored.ok()) return HttpResponse::Error(stored.status());
  std::string body = "{\"hold\":";
  AppendHold(*stored, &body);
  auto held = retention->HeldBy(*stored);
  if (held.ok()) {
    body.pop_back();
    Num(&body, "segments", held->first);
    Num(&body, "bytes", held->second);
    body += '}';
  }
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleHoldRelease(storage::Retention* retention, const HttpRequest& request) {
  auto id = Count("id", request.Query("id"));
  if (!id.ok()) return HttpResponse::Error(id.status());
  auto hold = retention->ReleaseHold(*id, ActorOf(request), request.Query("reason"));
  if (!hold.ok()) return HttpResponse::Error(hold.status());
  std::string body = "{\"hold\":";
  AppendHold(*hold, &body);
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

}  // namespace

std::string ActorOf(const HttpRequest& request) {
  if (request.caller.authenticated) {
    // The token the gate verified; a self-declared header is ignored then.
    std::string who = request.caller.name + " (token " + request.caller.token_id;
    if (!request.remote_address.empty()) who += ", " + request.remote_address;
    return who + ")";
  }
  std::string user = request.Header("x-sawmill-user");
  if (user.size() > 128) user.resize(128);
  for (char& c : user) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  if (user.empty()) user = "anonymous";
  if (!request.remote_address.empty()) user += " (" + request.remote_address + ")";
  return user;
}

void RegisterRetentionRoutes(Router* router, const std::atomic<storage::Retention*>* retention) {
  auto route = [router, retention](const char* method, const char* path, auto handler) {
    router->Add(method, path, [retention, handler](const HttpRequest& request) {
      storage::Retention* r = retention->load();
      if (r == nullptr) return NotReady();
      return handler(r, request);
    });
  };
  route("GET", "/api/v1/admin/retention", HandlePolicyGet);
  route("POST", "/api/v1/admin/retention", HandlePolicySet);
  route("POST", "/api/v1/admin/retention/compliance/remove", HandleComplianceRemove);
  route("POST", "/api/v1/admin/retention/run",
        [](storage::Retention* r, const HttpRequest&) { return HandleRun(r); });
  route("GET", "/api/v1/admin/retention/events",
        [](storage::Retention* r, const HttpRequest& q) { return Events(r, q, ""); });
  route("GET", "/api/v1/admin/deletions",
        [](storage::Retention* r, const HttpRequest& q) { return Events(r, q, "segment_delete"); });
  route("GET", "/api/v1/admin/holds", HandleHoldList);
  route("POST", "/api/v1/admin/holds", [](storage::Retention* r, const HttpRequest& q) {
    return HandleHoldAdd(r, q, Clock::Real()->NowNanos());
  });
  route("POST", "/api/v1/admin/holds/release", HandleHoldRelease);
}

storage::HoldMatcher QueryHoldMatcher() {
  storage::HoldMatcher m;
  m.validate = [](std::string_view text) -> Status {
    ASSIGN_OR_RETURN(query::Query q, query::ParseQuery(text));
    if (!q.pipes.empty()) {
      return Status::InvalidArgument(
          "a hold's query is a filter (such as service=payments); "
          "pipes are not allowed");
    }
    return Status::OK();
  };
  m.may_match = [](std::string_view text, const segment::SegmentReader& reader) -> Result<bool> {
    ASSIGN_OR_RETURN(query::Query q, query::ParseQuery(text));
    // Damage the index meets is the answer, whatever the rest proves: the caller keeps the
    // segment (a hold errs on the side of keeping).
    query::IndexAnswer answer = query::EvaluateIndex(*q.filter, reader);
    if (!answer.damage.ok()) return answer.damage;
    if (answer.rows.has_value() && answer.rows->isEmpty()) return false;
    Status damage;
    const bool may = query::KindsMayMatch(*q.filter, reader, -1, &damage);
    if (!damage.ok()) return damage;
    return may;
  };
  return m;
}

namespace {

Status PolicyFromYaml(const YAML::Node& node, const std::string& where,
                      catalog::RetentionPolicyRow* row) {
  if (!node.IsMap()) return Status::InvalidArgument(where + ": expected a mapping");
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    if (key == "tenants" || key == "compliance") continue;  // the caller's
    if (!item.second.IsScalar()) {
      return Status::InvalidArgument(where + "." + key + ": expected a value");
    }
    const std::string value = item.second.Scalar();
    if (key == "retention" || key == "warm_after" || key == "cold_after") {
      Result<int64_t> ns = (value == "never" && key != "retention")
                               ? Result<int64_t>(int64_t{0})
                               : storage::ParseRetentionDuration(value);
      if (!ns.ok()) return ns.status().WithContext(where + "." + key);
      (key == "retention"    ? row->retention_ns
       : key == "warm_after" ? row->warm_after_ns
                             : row->cold_after_ns) = *ns;
    } else if (key == "max_bytes") {
      auto bytes = ParseSize(value);
      if (!bytes.ok()) return bytes.status().WithContext(where + ".max_bytes");
      row->max_bytes = static_cast<int64_t>(std::min<uint64_t>(*bytes, INT64_MAX));
    } else {
      return Status::InvalidArgument(where + ": unknown key '" + key +
                                     "' (retention, warm_after, cold_after, max_bytes" +
                                     (where == "retention" ? ", tenants, compliance)" : ")"));
    }
  }
  return storage::ValidatePolicy(*row, where);
}

}  // namespace

Result<storage::RetentionConfig> ParseRetentionConfig(std::string_view yaml) {
  storage::RetentionConfig config;
  if (yaml.find_first_not_of(" \t\r\n") == std::string_view::npos) return config;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("retention: line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  try {
    if (root.IsScalar()) {
      auto ns = storage::ParseRetentionDuration(root.Scalar());
      if (!ns.ok()) return ns.status().WithContext("retention");
      config.defaults.retention_ns = *ns;
      RETURN_IF_ERROR(storage::ValidatePolicy(config.defaults, "retention"));
      return config;
    }
    RETURN_IF_ERROR(PolicyFromYaml(root, "retention", &config.defaults));
    if (const YAML::Node tenants = root["tenants"]) {
      if (!tenants.IsMap()) {
        return Status::InvalidArgument("retention.tenants: expected a mapping of tenant: policy");
      }
      for (const auto& item : tenants) {
        const std::string tenant = item.first.as<std::string>();
        catalog::RetentionPolicyRow row;
        row.tenant = tenant;
        RETURN_IF_ERROR(PolicyFromYaml(item.second, "retention.tenants." + tenant, &row));
        config.tenants[tenant] = row;
      }
    }
    if (const YAML::Node rules = root["compliance"]) {
      if (!rules.IsSequence()) {
        return Status::InvalidArgument(
            "retention.compliance: expected a list of {tenant, service, retention, reason}");
      }
      size_t i = 0;
      for (const auto& item : rules) {
        const std::string where = "retention.compliance[" + std::to_string(i++) + "]";
        if (!item.IsMap()) return Status::InvalidArgument(where + ": expected a mapping");
        catalog::ComplianceRuleRow rule;
        for (const auto& kv : item) {
          const std::string key = kv.first.as<std::string>();
          const std::string value = kv.second.IsScalar() ? kv.second.Scalar() : std::string();
          if (key == "tenant") {
            rule.tenant = value == "*" ? "" : value;
          } else if (key == "service") {
            rule.service = value == "*" ? "" : value;
          } else if (key == "retention") {
            auto ns = storage::ParseRetentionDuration(value);
            if (!ns.ok()) return ns.status().WithContext(where + ".retention");
            rule.retention_ns = *ns;
          } else if (key == "reason") {
            rule.reason = value;
          } else {
            return Status::InvalidArgument(where + ": unknown key '" + key +
                                           "' (tenant, service, retention, reason)");
          }
        }
        RETURN_IF_ERROR(storage::ValidateComplianceRule(rule, where));
        config.compliance.push_back(std::move(rule));
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("retention: " + e.msg);
  }
  return config;
}

}  // namespace sawmill::http
