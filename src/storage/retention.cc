#include "storage/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "common/config_values.h"
#include "common/glob.h"
#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"
#include "storage/job_gate.h"

namespace sawmill::storage {
namespace {

struct RetentionMetrics {
  prometheus::Family<prometheus::Counter>* deleted_segments;
  prometheus::Family<prometheus::Counter>* deleted_bytes;
  prometheus::Gauge* held_segments;
  prometheus::Gauge* held_bytes;
  prometheus::Counter* rounds;
  prometheus::Counter* errors;
  prometheus::Gauge* blocked_bytes;

  static RetentionMetrics& Get() {
    static RetentionMetrics m = [] {
      auto& reg = MetricsRegistry();
      RetentionMetrics r;
      r.deleted_segments =
          &prometheus::BuildCounter()
               .Name("sawmill_retention_deleted_segments_total")
               .Help(
                   "Segments deleted, by reason (expired: past retention; max_bytes: disk "
                   "pressure on a tenant past its max_bytes)")
               .Register(reg);
      r.deleted_bytes = &prometheus::BuildCounter()
                             .Name("sawmill_retention_deleted_bytes_total")
                             .Help("Bytes of segment files deleted, by reason")
                             .Register(reg);
      r.held_segments = UnlabelledGauge("sawmill_retention_held_segments",
                                        "Expired segments kept because a hold covers them");
      r.held_bytes = UnlabelledGauge("sawmill_retention_held_bytes",
                                     "Bytes of expired segments kept because a hold covers them");
      r.rounds = UnlabelledCounter("sawmill_retention_rounds_total", "Retention rounds run");
      r.errors =
          UnlabelledCounter("sawmill_retention_errors_total",
                            "Retention rounds or deletions that failed (retried next round)");
      r.blocked_bytes =
          UnlabelledGauge("sawmill_disk_pressure_blocked_bytes",
                          "Bytes disk pressure would have deleted (tenants past max_bytes) but may "
                          "not: held, or kept by a compliance rule");
      return r;
    }();
    return m;
  }
};

std::string Trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

bool Overlaps(int64_t lo, int64_t hi, int64_t from, int64_t to) { return lo < to && hi >= from; }

void Field(std::string* out, const char* key, std::string_view value) {
  if (out->size() > 1) *out += ',';
  AppendJsonString(key, out);
  *out += ':';
  AppendJsonString(value, out);
}

void Field(std::string* out, const char* key, uint64_t value) {
  if (out->size() > 1) *out += ',';
  AppendJsonString(key, out);
  *out += ':' + std::to_string(value);
}

std::string SegmentDetail(const SegmentStatus& s) {
  std::string d = "{";
  Field(&d, "segment", s.id);
  Field(&d, "partition", s.partition);
  Field(&d, "rows", s.rows);
  Field(&d, "bytes", s.bytes);
  Field(&d, "tier", s.tier);
  Field(&d, "store", s.store);
  Field(&d, "path", s.path);
  Field(&d, "min_ts", FormatRfc3339Nanos(s.min_ts));
  Field(&d, "max_ts", FormatRfc3339Nanos(s.max_ts));
  Field(&d, "min_ingest_ts", FormatRfc3339Nanos(s.min_ingest_ts));
  Field(&d, "max_ingest_ts", FormatRfc3339Nanos(s.max_ingest_ts));
  d += '}';
  return d;
}

std::string PolicyDetail(const catalog::RetentionPolicyRow& row) {
  std::string d = "{";
  auto duration = [&](const char* key, int64_t ns) {
    if (ns >= 0) Field(&d, key, FormatRetentionDuration(ns));
  };
  duration("retention", row.retention_ns);
  duration("warm_after", row.warm_after_ns);
  duration("cold_after", row.cold_after_ns);
  if (row.max_bytes >= 0) Field(&d, "max_bytes", static_cast<uint64_t>(row.max_bytes));
  d += '}';
  return d;
}

}  // namespace

// ---- Values ----

Result<int64_t> ParseRetentionDuration(std::string_view text) {
  std::string t = Trimmed(text);
  if (t == "0" || t == "forever" || t == "none") return int64_t{0};
  static constexpr std::pair<std::string_view, int64_t> kLong[] = {
      {"y", 365 * kNanosPerDay}, {"w", 7 * kNanosPerDay}, {"d", kNanosPerDay}};
  for (const auto& [unit, scale] : kLong) {
    if (t.size() > unit.size() && t.compare(t.size() - unit.size(), unit.size(), unit) == 0) {
      const std::string number = t.substr(0, t.size() - unit.size());
      Result<uint64_t> n = ParseCount(number);
      if (!n.ok() || *n == 0 || *n > static_cast<uint64_t>(INT64_MAX / scale)) {
        return Status::InvalidArgument(
            "expected a retention such as 30d, 2w, 7y, 36h or forever, "
            "got '" +
            std::string(text) + "'");
      }
      return static_cast<int64_t>(*n) * scale;
    }
  }
  Result<int64_t> ns = ParseDuration(t);
  if (!ns.ok()) {
    return Status::InvalidArgument(
        "expected a retention such as 30d, 2w, 7y, 36h or forever, got '" + std::string(text) +
        "'");
  }
  return *ns;
}

std::string FormatRetentionDuration(int64_t ns) {
  if (ns <= 0) return "forever";
  if (ns % (365 * kNanosPerDay) == 0) return std::to_string(ns / (365 * kNanosPerDay)) + "y";
  if (ns % kNanosPerDay == 0) return std::to_string(ns / kNanosPerDay) + "d";
  constexpr int64_t kHour = 3'600'000'000'000;
  if (ns % kHour == 0) return std::to_string(ns / kHour) + "h";
  if (ns % 60'000'000'000 == 0) return std::to_string(ns / 60'000'000'000) + "m";
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  return std::to_string(ns / 1'000'000) + "ms";
}

Status ValidatePolicy(const catalog::RetentionPolicyRow& row, std::string_view where) {
  const std::string at = where.empty() ? std::string() : std::string(where) + ": ";
  for (auto [name, v] :
       {std::pair{"retention", row.retention_ns}, std::pair{"warm_after", row.warm_after_ns},
        std::pair{"cold_after", row.cold_after_ns}, std::pair{"max_bytes", row.max_bytes}}) {
    if (v < -1) return Status::InvalidArgument(at + name + " must not be negative");
  }
  if (row.retention_ns > kMaxRetentionNs) {
    return Status::InvalidArgument(
        at + "retention " + FormatRetentionDuration(row.retention_ns) +
        " is longer than 13 months (396d), the most for data without a compliance tag; keep "
        "longer data with a compliance rule (retention set --compliance 7y [--service "
        "PATTERN]), which allows up to 10y");
  }
  if (row.retention_ns > 0 && row.retention_ns < 1'000'000'000) {
    return Status::InvalidArgument(at + "retention must be at least 1s (or forever)");
  }
  if (row.warm_after_ns > 0 && row.cold_after_ns > 0 && row.cold_after_ns < row.warm_after_ns) {
    return Status::InvalidArgument(
        at + "cold_after (" + FormatRetentionDuration(row.cold_after_ns) +
        ") must not be before warm_after (" + FormatRetentionDuration(row.warm_after_ns) + ")");
  }
  return Status::OK();
}

Status ValidateComplianceRule(const catalog::ComplianceRuleRow& rule, std::string_view where) {
  const std::string at = where.empty() ? std::string() : std::string(where) + ": ";
  if (rule.retention_ns <= 0) {
    return Status::InvalidArgument(at + "a compliance rule needs a retention (e.g. 7y)");
  }
  if (rule.retention_ns > kMaxComplianceRetentionNs) {
    return Status::InvalidArgument(at + "compliance retention " +
                                   FormatRetentionDuration(rule.retention_ns) +
                                   " is longer than 10y, the most Sawmill keeps");
  }
  if (rule.service.size() > 256) {
    return Status::InvalidArgument(at + "service pattern: at most 256 characters");
  }
  for (char c : rule.service) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '/' || c == '*' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(at + "service pattern '" + rule.service +
                                     "': only letters, digits, _ . : / - and * (any run)");
    }
  }
  return Status::OK();
}

// ---- Retention ----

Retention::Retention(RetentionOptions options)
    : options_(std::move(options)),
      engine_(options_.engine),
      catalog_(options_.engine != nullptr ? options_.engine->catalog() : nullptr),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

Result<std::unique_ptr<Retention>> Retention::Start(RetentionOptions options) {
  if (options.engine == nullptr || options.engine->catalog() == nullptr) {
    return Status::FailedPrecondition("retention needs a storage engine with a catalog");
  }
  RETURN_IF_ERROR(ValidatePolicy(options.config.defaults, "retention"));
  for (const auto& [tenant, row] : options.config.tenants) {
    RETURN_IF_ERROR(ValidatePolicy(row, "retention: tenant " + tenant));
  }
  for (const auto& rule : options.config.compliance) {
    RETURN_IF_ERROR(ValidateComplianceRule(rule, "retention: compliance"));
  }
  RetentionMetrics::Get();
  std::unique_ptr<Retention> r(new Retention(std::move(options)));
  if (r->options_.interval_ns > 0) {
    r->worker_.Start(r->options_.interval_ns, [p = r.get()] {
      // In a cluster only the node holding the job's lease runs the round (docs/cluster.md).
      if (p->options_.job_gate && !p->options_.job_gate("retention")) return;
      JobRound round("retention");  // a lost lease abandons it before its next deletion
      Result<RetentionReport> report = p->RunOnce();
      if (!report.ok()) {
        spdlog::warn("retention round failed (retried in {}): {}",
                     FormatRetentionDuration(p->options_.interval_ns), report.status().ToString());
      }
    });
  }
  return r;
}

Retention::~Retention() { Stop(); }

void Retention::Stop() { worker_.Stop(); }

std::string Retention::Now() const { return FormatRfc3339(clock_->NowNanos()); }

EffectivePolicy Retention::Resolve(std::string_view tenant,
                                   const std::vector<catalog::RetentionPolicyRow>& admin,
                                   const std::vector<catalog::ComplianceRuleRow>& rules) const {
  EffectivePolicy p;
  p.tenant = std::string(tenant);
  p.source = "default";
  const catalog::RetentionPolicyRow* file = nullptr;
  if (auto it = options_.config.tenants.find(p.tenant); it != options_.config.tenants.end()) {
    file = &it->second;
  }
  const catalog::RetentionPolicyRow* own = nullptr;
  for (const auto& row : admin) {
    if (row.tenant == tenant) own = &row;
  }
  const catalog::RetentionPolicyRow& defaults = options_.config.defaults;
  // Admin row, then the file's tenant entry, then the file's defaults, then built-in defaults.
  auto pick = [&](int64_t catalog::RetentionPolicyRow::*field, int64_t builtin,
                  std::string* source) {
    if (own != nullptr && own->*field >= 0) {
      if (source != nullptr) *source = "admin";
      return own->*field;
    }
    if (file != nullptr && file->*field >= 0) {
      if (source != nullptr) *source = "config";
      return file->*field;
    }
    if (defaults.*field >= 0) {
      if (source != nullptr) *source = "config";
      return defaults.*field;
    }
    return builtin;
  };
  p.retention_ns = pick(&catalog::RetentionPolicyRow::retention_ns, 0, &p.source);
  p.warm_after_ns =
      pick(&catalog::RetentionPolicyRow::warm_after_ns, options_.default_warm_after_ns, nullptr);
  p.cold_after_ns =
      pick(&catalog::RetentionPolicyRow::cold_after_ns, options_.default_cold_after_ns, nullptr);
  p.max_bytes = static_cast<uint64_t>(pick(&catalog::RetentionPolicyRow::max_bytes, 0, nullptr));
  for (const auto& rule : options_.config.compliance) {
    if (rule.tenant.empty() || rule.tenant == tenant) p.compliance.push_back(rule);
  }
  for (const auto& rule : rules) {
    if (rule.tenant.empty() || rule.tenant == tenant) p.compliance.push_back(rule);
  }
  return p;
}

int64_t Retention::KeepFor(const EffectivePolicy& policy, const SegmentStatus& segment,
                           const std::shared_ptr<const Snapshot>& snapshot,
                           std::string* rule) const {
  if (policy.retention_ns == 0) {
    *rule = "no retention (" + policy.source + ")";
    return 0;
  }
  int64_t keep = policy.retention_ns;
  *rule = "retention " + FormatRetentionDuration(keep) + " of tenant " + policy.tenant + " (" +
          policy.source + ")";
  std::vector<const catalog::ComplianceRuleRow*> by_service;
  for (const auto& c : policy.compliance) {
    if (c.service.empty() || c.service == "*") {
      if (c.retention_ns > keep) {
        keep = c.retention_ns;
        *rule = "compliance rule " + std::to_string(c.id) + " (tenant " + policy.tenant + ", " +
                FormatRetentionDuration(c.retention_ns) + ")";
      }
    } else if (c.retention_ns > keep) {
      by_service.push_back(&c);
    }
  }
  if (by_service.empty()) return keep;
  // Which services does the segment hold? Its service index says (every segment has one).
  std::optional<std::vector<std::string>> services;
  std::string unreadable = "the segment is not in the engine's snapshot";
  if (snapshot != nullptr) {
    for (const SegmentHandle& h : snapshot->segments) {
      if (h.info.id != segment.id) continue;
      auto reader = h.open();
      if (!reader.ok()) {
        unreadable = reader.status().ToString();
        break;
      }
      auto values = (*reader)->IndexedValues("service");
      if (!values.ok()) {
        unreadable = values.status().ToString();
      } else if (!values->has_value()) {
        unreadable = "the segment has no service index";
      } else {
        services = std::move(**values);
      }
      break;
    }
  }
  for (const auto* c : by_service) {
    bool applies = !services.has_value();  // unknown services: the rule may apply
    if (services.has_value()) {
      for (const std::string& s : *services) {
        if (GlobMatch(s, c->service)) {
          applies = true;
          break;
        }
      }
    }
    if (applies && c->retention_ns > keep) {
      keep = c->retention_ns;
      *rule = "compliance rule " + std::to_string(c->id) + " (service " + c->service + ", " +
              FormatRetentionDuration(c->retention_ns) + ")" +
              (services.has_value() ? "" : ": services unknown, " + unreadable);
    }
  }
  return keep;
}

std::vector<uint64_t> Retention::HoldsCovering(
    const std::vector<catalog::HoldRow>& holds, const SegmentStatus& segment,
    const std::shared_ptr<const Snapshot>& snapshot) const {
  std::vector<uint64_t> out;
  std::shared_ptr<segment::SegmentReader> reader;
  bool reader_tried = false;
  for (const catalog::HoldRow& h : holds) {
    if (h.released_ns != 0 || h.tenant != segment.tenant) continue;
    // Either time range meeting the hold's keeps the segment (partial overlap keeps it whole).
    if (!Overlaps(segment.min_ts, segment.max_ts, h.from_ns, h.to_ns) &&
        !Overlaps(segment.min_ingest_ts, segment.max_ingest_ts, h.from_ns, h.to_ns)) {
      continue;
    }
    if (!h.query.empty() && options_.matcher.may_match) {
      if (!reader_tried) {
        reader_tried = true;
        if (snapshot != nullptr) {
          for (const SegmentHandle& handle : snapshot->segments) {
            if (handle.info.id != segment.id) continue;
            auto opened = handle.open();
            if (opened.ok()) reader = *opened;
            break;
          }
        }
      }
      if (reader != nullptr) {
        Result<bool> may = options_.matcher.may_match(h.query, *reader);
        // Only a proof that nothing matches lets the segment go; an error keeps it.
        if (may.ok() && !*may) continue;
      }
    }
    out.push_back(h.id);
  }
  return out;
}

Status Retention::Retire(const SegmentStatus& segment, std::string reason, std::string rule,
                         uint64_t decided_after) {
  const int64_t now = clock_->NowNanos();
  return engine_->RetireSegments(
      {segment.id}, [&](const std::vector<SegmentStatus>& rows) -> Status {
        std::vector<catalog::RetiredSegmentRow> retired;
        std::vector<catalog::RetentionEventRow> events;
        for (const SegmentStatus& s : rows) {
          catalog::RetiredSegmentRow r;
          r.id = s.id;
          r.tenant = s.tenant;
          r.partition = s.partition;
          r.min_seq = s.min_seq;
          r.max_seq = s.max_seq;
          r.store = s.store;
          r.path = s.path;
          r.retired_ns = now;
          retired.push_back(std::move(r));
          catalog::RetentionEventRow e;
          e.at_ns = now;
          e.actor = "retention";
          e.action = "segment_delete";
          e.tenant = s.tenant;
          e.segment_id = s.id;
          e.reason = reason;
          std::string detail = SegmentDetail(s);
          detail.pop_back();
          Field(&detail, "rule", rule);
          detail += '}';
          e.detail = std::move(detail);
          events.push_back(std::move(e));
        }
        // In a round of the job (the background one or an admin's), under its lease:
        // checked before and in the transaction itself (storage/job_gate.h). Outside one
        // (disk pressure) no fence.
        return CommitUnderJobLease([&](const catalog::LeaseFence* fence) {
          return catalog_->RetireSegments(retired, events, decided_after, fence);
        });
      });
}

Result<RetentionReport> Retention::RunOnce() {
  MutexLock l(&round_mu_);
  return RoundLocked();
}

Result<RetentionReport> Retention::RoundLocked() {
  auto& metrics = RetentionMetrics::Get();
  metrics.rounds->Increment();
  RetentionReport report;
  // The record's newest entry first: a hold or policy change recorded after this point refuses
  // the deletions decided below (Catalog::RetireSegments).
  ASSIGN_OR_RETURN(uint64_t decided_after, catalog_->LastRetentionEventId());
  ASSIGN_OR_RETURN(std::vector<catalog::HoldRow> holds, catalog_->ListHolds(true));
  ASSIGN_OR_RETURN(std::vector<catalog::RetentionPolicyRow> admin,
                   catalog_->ListRetentionPolicies());
  ASSIGN_OR_RETURN(std::vector<catalog::ComplianceRuleRow> rules, catalog_->ListComplianceRules());
  ASSIGN_OR_RETURN(std::vector<SegmentStatus> segments, engine_->ListSegments());
  const int64_t now = clock_->NowNanos();
  report.now_ns = now;
  std::map<std::string, std::vector<const SegmentStatus*>> by_tenant;
  for (const SegmentStatus& s : segments) by_tenant[s.tenant].push_back(&s);
  uint64_t held_bytes = 0;
  for (const auto& [tenant, list] : by_tenant) {
    const EffectivePolicy policy = Resolve(tenant, admin, rules);
    if (policy.retention_ns == 0) {
      report.segments_seen += list.size();
      continue;  // no retention: nothing of this tenant is ever deleted
    }
    std::shared_ptr<const Snapshot> snapshot;
    for (const SegmentStatus* s : list) {
      ++report.segments_seen;
      if (s->state == catalog::kStateMissing) continue;
      // Cheap test first: not past the tenant's own retention, so past no longer one either.
      if (s->max_ingest_ts >= now - policy.retention_ns) continue;
      if (snapshot == nullptr) snapshot = engine_->GetSnapshot(tenant);
      std::string rule;
      const int64_t keep = KeepFor(policy, *s, snapshot, &rule);
      if (keep == 0 || s->max_ingest_ts >= now - keep) continue;
      if (s->state == catalog::kStateCorrupt) {
        ++report.kept_corrupt;
        continue;
      }
      std::vector<uint64_t> covering = HoldsCovering(holds, *s, snapshot);
      if (!covering.empty()) {
        held_bytes += s->bytes;
        report.held.emplace_back(s->id, std::move(covering));
        continue;
      }
      const std::string reason = "expired: newest line received " +
                                 FormatRfc3339(s->max_ingest_ts) + ", older than " +
                                 FormatRetentionDuration(keep) + " at " + FormatRfc3339(now);
      // Not after this node lost the retention lease mid-round (storage/job_gate.h): the
      // round ends here, the segments not yet deleted wait for the lease's holder.
      if (Status held = StillHoldingJobLease(); !held.ok()) return held;
      Status st = Retire(*s, reason, rule, decided_after);
      if (!st.ok()) {
        metrics.errors->Increment();
        report.errors.push_back("segment " + std::to_string(s->id) + ": " + st.ToString());
        // The lease refused in the deletion's own transaction: the round ends here too.
        if (Status held = StillHoldingJobLease(); !held.ok()) return st;
        if (st.code() == StatusCode::kFailedPrecondition)
          continue;  // busy or a change meanwhile: next round
        return st;
      }
      ++report.deleted_segments;
      report.deleted_bytes += s->bytes;
      report.deleted_rows += s->rows;
      metrics.deleted_segments->Add({{"reason", "expired"}}).Increment();
      metrics.deleted_bytes->Add({{"reason", "expired"}}).Increment(static_cast<double>(s->bytes));
      spdlog::info(
          "retention: deleted segment {} of tenant {} ({} rows, {} bytes, ingest {} .. "
          "{}): {}; {}",
          s->id, tenant, s->rows, s->bytes, FormatRfc3339(s->min_ingest_ts),
          FormatRfc3339(s->max_ingest_ts), reason, rule);
    }
  }
  metrics.held_segments->Set(static_cast<double>(report.held.size()));
  metrics.held_bytes->Set(static_cast<double>(held_bytes));
  return report;
}

// ---- Holds ----

Result<catalog::HoldRow> Retention::AddHold(const HoldRequest& request, std::string_view actor) {
  if (request.tenant.empty()) return Status::InvalidArgument("hold: --tenant is required");
  if (Trimmed(request.reason).empty()) {
    return Status::InvalidArgument(
        "hold: --reason is required (an incident or case, e.g. "
        "INC-4211)");
  }
  if (request.from_ns >= request.to_ns) {
    return Status::InvalidArgument("hold: --from (" + FormatRfc3339(request.from_ns) +
                                   ") must be before --to (" + FormatRfc3339(request.to_ns) + ")");
  }
  if (!request.query.empty()) {
    if (request.query.size() > 4096) {
      return Status::InvalidArgument("hold: --query: at most 4096 bytes");
    }
    if (options_.matcher.validate) {
      Status s = options_.matcher.validate(request.query);
      if (!s.ok()) return s.WithContext("hold: --query");
    }
  }
  catalog::HoldRow hold;
  hold.tenant = request.tenant;
  hold.from_ns = request.from_ns;
  hold.to_ns = request.to_ns;
  hold.query = request.query;
  hold.reason = Trimmed(request.reason);
  hold.created_by = std::string(actor);
  hold.created_ns = clock_->NowNanos();
  catalog::RetentionEventRow event;
  event.at_ns = hold.created_ns;
  event.actor = hold.created_by;
  event.reason = hold.reason;
  std::string d = "{";
  Field(&d, "from", FormatRfc3339Nanos(hold.from_ns));
  Field(&d, "to", FormatRfc3339Nanos(hold.to_ns));
  Field(&d, "query", hold.query);
  d += '}';
  event.detail = std::move(d);
  ASSIGN_OR_RETURN(catalog::HoldRow stored, catalog_->AddHold(hold, event));
  spdlog::info("retention: hold {} added by {} on tenant {} from {} to {}{}: {}", stored.id,
               stored.created_by, stored.tenant, FormatRfc3339(stored.from_ns),
               FormatRfc3339(stored.to_ns), stored.query.empty() ? "" : " query " + stored.query,
               stored.reason);
  return stored;
}

Result<catalog::HoldRow> Retention::ReleaseHold(uint64_t id, std::string_view actor,
                                                std::string_view reason) {
  if (Trimmed(reason).empty()) {
    return Status::InvalidArgument("hold release: --reason is required");
  }
  catalog::RetentionEventRow event;
  event.at_ns = clock_->NowNanos();
  event.actor = std::string(actor);
  event.reason = Trimmed(reason);
  event.detail = "{}";
  ASSIGN_OR_RETURN(catalog::HoldRow hold, catalog_->ReleaseHold(id, event));
  spdlog::info("retention: hold {} on tenant {} released by {}: {}", id, hold.tenant, actor,
               event.reason);
  return hold;
}

Result<std::vector<catalog::HoldRow>> Retention::ListHolds(bool active_only) const {
  return catalog_->ListHolds(active_only);
}

Result<std::pair<uint64_t, uint64_t>> Retention::HeldBy(const catalog::HoldRow& hold) {
  if (hold.released_ns != 0) return std::make_pair(uint64_t{0}, uint64_t{0});
  ASSIGN_OR_RETURN(std::vector<SegmentStatus> segments, engine_->ListSegments());
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t n = 0, bytes = 0;
  for (const SegmentStatus& s : segments) {
    if (s.tenant != hold.tenant || s.state == catalog::kStateMissing) continue;
    if (snapshot == nullptr && !hold.query.empty()) snapshot = engine_->GetSnapshot(hold.tenant);
    if (!HoldsCovering({hold}, s, snapshot).empty()) {
      ++n;
      bytes += s.bytes;
    }
  }
  return std::make_pair(n, bytes);
}

// ---- Policies ----

Result<EffectivePolicy> Retention::Policy(std::string_view tenant) const {
  ASSIGN_OR_RETURN(auto admin, catalog_->ListRetentionPolicies());
  ASSIGN_OR_RETURN(auto rules, catalog_->ListComplianceRules());
  return Resolve(tenant, admin, rules);
}

Engine::TierPolicy Retention::TierAges() const {
  return [this](std::string_view tenant, int64_t* warm_after_ns, int64_t* cold_after_ns) {
    Result<EffectivePolicy> p = Policy(tenant);
    if (!p.ok()) {
      spdlog::warn(
          "tiers: the retention policy of tenant '{}' cannot be read ({}); the "
          "server's warm_after and cold_after apply this round",
          tenant, p.status().ToString());
      return;
    }
    *warm_after_ns = p->warm_after_ns;
    *cold_after_ns = p->cold_after_ns;
  };
}

Result<std::vector<EffectivePolicy>> Retention::Policies() const {
  ASSIGN_OR_RETURN(auto admin, catalog_->ListRetentionPolicies());
  ASSIGN_OR_RETURN(auto rules, catalog_->ListComplianceRules());
  ASSIGN_OR_RETURN(std::vector<SegmentStatus> segments, engine_->ListSegments());
  std::set<std::string> tenants;
  for (const auto& s : segments) tenants.insert(s.tenant);
  for (const auto& row : admin) tenants.insert(row.tenant);
  for (const auto& [tenant, row] : options_.config.tenants) tenants.insert(tenant);
  std::vector<EffectivePolicy> out;
  EffectivePolicy defaults = Resolve("", admin, rules);
  defaults.compliance.clear();
  for (const auto& rule : options_.config.compliance) {
    if (rule.tenant.empty()) defaults.compliance.push_back(rule);
  }
  for (const auto& rule : rules) {
    if (rule.tenant.empty()) defaults.compliance.push_back(rule);
  }
  out.push_back(std::move(defaults));
  for (const std::string& t : tenants) {
    if (!t.empty()) out.push_back(Resolve(t, admin, rules));
  }
  return out;
}

Status Retention::SetPolicy(const catalog::RetentionPolicyRow& row, bool clear,
                            std::string_view actor, std::string_view reason) {
  if (row.tenant.empty()) return Status::InvalidArgument("retention set: --tenant is required");
  MutexLock l(&admin_mu_);
  ASSIGN_OR_RETURN(auto admin, catalog_->ListRetentionPolicies());
  catalog::RetentionPolicyRow merged;
  merged.tenant = row.tenant;
  if (!clear) {
    for (const auto& existing : admin) {
      if (existing.tenant == row.tenant) merged = existing;
    }
    if (row.retention_ns >= 0) merged.retention_ns = row.retention_ns;
    if (row.warm_after_ns >= 0) merged.warm_after_ns = row.warm_after_ns;
    if (row.cold_after_ns >= 0) merged.cold_after_ns = row.cold_after_ns;
    if (row.max_bytes >= 0) merged.max_bytes = row.max_bytes;
    RETURN_IF_ERROR(ValidatePolicy(merged, "retention set"));
    // The resolved policy must hold together too (e.g. a file's warm_after with a new
    // cold_after).
    std::vector<catalog::RetentionPolicyRow> next = admin;
    next.erase(std::remove_if(next.begin(), next.end(),
                              [&](const auto& r) { return r.tenant == row.tenant; }),
               next.end());
    next.push_back(merged);
    EffectivePolicy p = Resolve(row.tenant, next, {});
    if (p.warm_after_ns > 0 && p.cold_after_ns > 0 && p.cold_after_ns < p.warm_after_ns) {
      return Status::InvalidArgument(
          "retention set: cold_after (" + FormatRetentionDuration(p.cold_after_ns) +
          ") would be before warm_after (" + FormatRetentionDuration(p.warm_after_ns) + ")");
    }
  }
  merged.updated_ns = clock_->NowNanos();
  merged.updated_by = std::string(actor);
  catalog::RetentionEventRow event;
  event.at_ns = merged.updated_ns;
  event.actor = std::string(actor);
  event.reason = Trimmed(reason);
  event.detail = clear ? std::string("{\"cleared\":true}") : PolicyDetail(merged);
  RETURN_IF_ERROR(catalog_->SetRetentionPolicy(merged, event));
  spdlog::info("retention: policy of tenant {} {} by {}: {}", row.tenant,
               clear ? "cleared" : "set to " + event.detail, actor, event.reason);
  return Status::OK();
}

Result<catalog::ComplianceRuleRow> Retention::AddComplianceRule(
    const catalog::ComplianceRuleRow& rule, std::string_view actor) {
  RETURN_IF_ERROR(ValidateComplianceRule(rule, "compliance"));
  catalog::ComplianceRuleRow r = rule;
  r.created_ns = clock_->NowNanos();
  r.created_by = std::string(actor);
  r.reason = Trimmed(rule.reason);
  catalog::RetentionEventRow event;
  event.at_ns = r.created_ns;
  event.actor = r.created_by;
  event.reason = r.reason;
  std::string d = "{";
  Field(&d, "service", r.service.empty() ? std::string("*") : r.service);
  Field(&d, "retention", FormatRetentionDuration(r.retention_ns));
  d += '}';
  event.detail = std::move(d);
  ASSIGN_OR_RETURN(catalog::ComplianceRuleRow stored, catalog_->AddComplianceRule(r, event));
  spdlog::info("retention: compliance rule {} added by {}: tenant {}, service {}, {}", stored.id,
               actor, stored.tenant.empty() ? "*" : stored.tenant,
               stored.service.empty() ? "*" : stored.service,
               FormatRetentionDuration(stored.retention_ns));
  return stored;
}

Status Retention::RemoveComplianceRule(uint64_t id, std::string_view actor,
                                       std::string_view reason) {
  catalog::RetentionEventRow event;
  event.at_ns = clock_->NowNanos();
  event.actor = std::string(actor);
  event.reason = Trimmed(reason);
  event.detail = "{\"rule\":" + std::to_string(id) + "}";
  RETURN_IF_ERROR(catalog_->RemoveComplianceRule(id, event));
  spdlog::info("retention: compliance rule {} removed by {}: {}", id, actor, event.reason);
  return Status::OK();
}

Result<std::vector<catalog::ComplianceRuleRow>> Retention::ComplianceRules() const {
  std::vector<catalog::ComplianceRuleRow> out = options_.config.compliance;
  ASSIGN_OR_RETURN(auto rules, catalog_->ListComplianceRules());
  out.insert(out.end(), rules.begin(), rules.end());
  return out;
}

Result<std::vector<catalog::RetentionEventRow>> Retention::Events(
    const catalog::RetentionEventFilter& filter) const {
  return catalog_->ListRetentionEvents(filter);
}

// ---- Disk pressure ----

Result<uint64_t> Retention::DeleteOverMaxBytes(std::string_view why, bool local_only) {
  MutexLock l(&round_mu_);
  auto& metrics = RetentionMetrics::Get();
  ASSIGN_OR_RETURN(uint64_t decided_after, catalog_->LastRetentionEventId());
  ASSIGN_OR_RETURN(std::vector<catalog::HoldRow> holds, catalog_->ListHolds(true));
  ASSIGN_OR_RETURN(auto admin, catalog_->ListRetentionPolicies());
  ASSIGN_OR_RETURN(auto rules, catalog_->ListComplianceRules());
  ASSIGN_OR_RETURN(std::vector<SegmentStatus> segments, engine_->ListSegments());
  const int64_t now = clock_->NowNanos();
  std::map<std::string, std::vector<const SegmentStatus*>> by_tenant;
  for (const SegmentStatus& s : segments) {
    if (s.state != catalog::kStateMissing) by_tenant[s.tenant].push_back(&s);
  }
  uint64_t deleted = 0, blocked = 0;
  std::set<uint64_t> blocked_now;
  for (auto& [tenant, list] : by_tenant) {
    const EffectivePolicy policy = Resolve(tenant, admin, rules);
    if (policy.max_bytes == 0) continue;
    uint64_t total = 0;
    for (const SegmentStatus* s : list) total += s->bytes;
    if (total <= policy.max_bytes) continue;
    std::sort(list.begin(), list.end(), [](const SegmentStatus* a, const SegmentStatus* b) {
      return std::tie(a->max_ingest_ts, a->id) < std::tie(b->max_ingest_ts, b->id);
    });
    std::shared_ptr<const Snapshot> snapshot = engine_->GetSnapshot(tenant);
    for (const SegmentStatus* s : list) {
      if (total <= policy.max_bytes) break;
      if (s->state == catalog::kStateCorrupt) continue;
      if (local_only && s->store != catalog::kLocalStore) continue;
      std::vector<uint64_t> covering = HoldsCovering(holds, *s, snapshot);
      // A compliance rule keeps its data for its whole retention, whatever the disk.
      std::string rule;
      EffectivePolicy compliance_only = policy;
      compliance_only.retention_ns = 1;  // only the compliance rules decide below
      const int64_t keep = KeepFor(compliance_only, *s, snapshot, &rule);
      const bool compliance = keep > 1 && s->max_ingest_ts >= now - keep;
      if (!covering.empty() || compliance) {
        blocked += s->bytes;
        blocked_now.insert(s->id);
        if (blocked_logged_.count(s->id) != 0) continue;  // said already
        spdlog::warn(
            "disk pressure: tenant {} holds {} bytes, past its max_bytes {}; segment {} "
            "({} bytes) is not deleted to make room: {}",
            tenant, total, policy.max_bytes, s->id, s->bytes,
            !covering.empty() ? "hold " + std::to_string(covering.front()) + " keeps it"
                              : "kept by " + rule);
        continue;
      }
      const std::string reason = "max_bytes: tenant " + tenant + " held " + std::to_string(total) +
                                 " bytes, more than its max_bytes " +
                                 std::to_string(policy.max_bytes) + ", while " + std::string(why) +
                                 "; oldest unheld segment first";
      Status st =
          Retire(*s, reason, "max_bytes " + std::to_string(policy.max_bytes), decided_after);
      if (!st.ok()) {
        metrics.errors->Increment();
        if (st.code() == StatusCode::kFailedPrecondition) continue;
        return st;
      }
      total -= std::min(total, s->bytes);
      deleted += s->bytes;
      metrics.deleted_segments->Add({{"reason", "max_bytes"}}).Increment();
      metrics.deleted_bytes->Add({{"reason", "max_bytes"}})
          .Increment(static_cast<double>(s->bytes));
      spdlog::warn("disk pressure: deleted segment {} of tenant {} ({} bytes): {}", s->id, tenant,
                   s->bytes, reason);
    }
  }
  blocked_logged_ = std::move(blocked_now);
  blocked_bytes_.store(blocked);
  metrics.blocked_bytes->Set(static_cast<double>(blocked));
  return deleted;
}

}  // namespace sawmill::storage
