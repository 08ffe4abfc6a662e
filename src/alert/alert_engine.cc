// The alerting engine (contract in alert_engine.h).
//
// The loaded rules live in an immutable RuleSet (the filters and each tenant's FilterIndex),
// swapped as a whole by SetRules and read without a lock by OnBatch. The counts and
// states (RuleRuntime::groups) are guarded by mu_: OnBatch matches a batch against its
// snapshot of the set without holding mu_, then takes mu_ once to add the batch's counts.
#include "alert/alert_engine.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>
#include <utility>

#include "alert/filter_index.h"
#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"
#include "query/ast.h"
#include "query/evaluator.h"
#include "query/parser.h"

namespace sawmill::alert {

namespace {

constexpr int64_t kSecond = kNanosPerSecond;

struct AlertMetrics {
  prometheus::Gauge& rules_loaded;
  prometheus::Counter& evaluations;
  prometheus::Family<prometheus::Gauge>& firing;
  prometheus::Counter& groups_refused;
  prometheus::Counter& cpu_match;
  prometheus::Counter& cpu_evaluate;
  prometheus::Counter& lines_matched;
  prometheus::Counter& state_save_errors;
  prometheus::Counter& prime_errors;
};

AlertMetrics& Metrics() {
  static auto& cpu = prometheus::BuildCounter()
                         .Name("sawmill_alert_evaluation_cpu_seconds_total")
                         .Help(
                             "CPU time spent on alerting: matching acknowledged lines against "
                             "rules (stage=match) and evaluating conditions (stage=evaluate)")
                         .Register(MetricsRegistry());
  static AlertMetrics metrics{
      *UnlabelledGauge("sawmill_alert_rules_loaded", "Alerting rules loaded (rules file and API)"),
      *UnlabelledCounter("sawmill_alert_evaluations_total",
                         "Evaluations of every alerting rule's condition (one per scheduler tick)"),
      prometheus::BuildGauge()
          .Name("sawmill_alert_firing")
          .Help("Groups of an alerting rule that are firing")
          .Register(MetricsRegistry()),
      *UnlabelledCounter("sawmill_alert_groups_refused_lines_total",
                         "Matching lines not counted because their group would pass the cap of "
                         "groups per rule (alert_max_groups)"),
      cpu.Add({{"stage", "match"}}),
      cpu.Add({{"stage", "evaluate"}}),
      *UnlabelledCounter("sawmill_alert_matched_lines_total",
                         "Acknowledged lines counted by at least one alerting rule"),
      *UnlabelledCounter(
          "sawmill_alert_state_save_errors_total",
          "Failed writes of alert states to the catalog (retried on the next second)"),
      *UnlabelledCounter("sawmill_alert_prime_errors_total",
                         "Rules whose window could not be rebuilt from stored data when loaded"),
  };
  return metrics;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Counts per sub-window bucket; slot = bucket id % size, reset when a newer id takes it.
class Ring {
 public:
  explicit Ring(size_t size = 1) : counts_(size, 0), ids_(size, INT64_MIN) {}
  void Add(int64_t bucket, uint64_t n) {
    const size_t slot = static_cast<size_t>(((bucket % Size()) + Size()) % Size());
    if (ids_[slot] != bucket) {
      if (ids_[slot] > bucket) return;  // older than what the ring holds
      ids_[slot] = bucket;
      counts_[slot] = 0;
    }
    counts_[slot] += n;
  }
  // The lines of buckets (current - window_buckets, current].
  uint64_t Sum(int64_t current, int64_t window_buckets) const {
    uint64_t sum = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (ids_[i] <= current && ids_[i] > current - window_buckets) sum += counts_[i];
    }
    return sum;
  }
  bool Empty() const {
    for (uint64_t c : counts_) {
      if (c != 0) return false;
    }
    return true;
  }

 private:
  int64_t Size() const { return static_cast<int64_t>(counts_.size()); }
  std::vector<uint64_t> counts_;
  std::vector<int64_t> ids_;
};

struct Group {
  Ring ring;
  std::vector<std::string> values;  // of the rule's group_by fields
  AlertState state = AlertState::kInactive;
  int64_t active_since_ns = 0;
  int64_t state_since_ns = 0;
  int64_t last_notified_ns = 0;
  uint64_t count = 0;
  double value = 0;
  bool notify_in_flight = false;
  bool dirty = false;  // state or last_notified changed since the last save
};

struct FilterRuntime;

struct RuleRuntime {
  Rule rule;
  int64_t bucket_ns = kSecond;
  int64_t window_buckets = 1;
  size_t ring_size = 2;
  int64_t live_from_ns = 0;  // lines acknowledged before it were counted by priming
  std::unordered_map<std::string, Group> groups;
  uint64_t groups_refused = 0;
  int64_t last_evaluation_ns = 0;
  prometheus::Gauge* firing = nullptr;
};

struct FilterRuntime {
  query::NodePtr node;
  std::vector<RuleRuntime*> rules;  // the rules counting its lines
};

// A tenant's distinct filters and the index that finds which of them a line matches.
struct TenantIndex {
  std::vector<FilterRuntime*> filters;  // by the index's ids
  std::unique_ptr<FilterIndex> index;
};

struct RuleSet {
  std::vector<std::unique_ptr<RuleRuntime>> rules;  // by tenant, then name
  std::vector<std::unique_ptr<FilterRuntime>> filters;
  std::unordered_map<std::string, TenantIndex> index;
  std::map<std::pair<std::string, std::string>, RuleRuntime*> by_name;
};

// One thread's working memory for OnBatch (no allocation per line or batch once warm).
struct BatchScratch {
  FilterIndex::Scratch index;
  std::vector<uint32_t> ids;      // the filters one line matches
  std::vector<uint64_t> matches;  // (filter id << 32) | record position
  // The group keys of the current run's lines for the group_by of "keys_of" (rules of one
  // filter that group alike share them).
  std::vector<std::string> keys;
  const std::vector<std::string>* keys_of = nullptr;
  std::string value;
};

std::string GroupKey(const std::vector<std::string>& fields,
                     const std::vector<std::string>& values) {
  std::string key;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) key += ',';
    key += fields[i];
    key += '=';
    key += values[i];
  }
  return key;
}

// "field=value,field=value" back into values (values may hold ',' or '='; the fields are
// known, so each value runs up to ",<next field>=").
std::vector<std::string> SplitGroupKey(const std::vector<std::string>& fields,
                                       const std::string& key) {
  std::vector<std::string> values(fields.size());
  size_t pos = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string head = fields[i] + "=";
    if (key.compare(pos, head.size(), head) != 0) return values;
    pos += head.size();
    size_t end = key.size();
    if (i + 1 < fields.size()) {
      const size_t next = key.find("," + fields[i + 1] + "=", pos);
      if (next != std::string::npos) end = next;
    }
    values[i] = key.substr(pos, end - pos);
    pos = end + 1;
  }
  return values;
}

std::string LabelName(std::string_view field) {
  std::string out;
  for (char c : field) {
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A filter that finds a group's lines: the rule's filter and field="value" per group field.
std::string GroupSearch(const Rule& rule, const std::vector<std::string>& values) {
  std::string q = "(" + rule.filter + ")";
  for (size_t i = 0; i < rule.group_by.size() && i < values.size(); ++i) {
    q += " " + rule.group_by[i] + "=";
    AppendJsonString(values[i], &q);
  }
  return q;
}

std::string Expand(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("{{", i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    std::string name(text.substr(open + 2, close - open - 2));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty() && name[0] == '.') name.erase(0, 1);  // {{ .count }}, Go template habit
    auto it = vars.find(name);
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(text.substr(open, close + 2 - open));
    }
    i = close + 2;
  }
  out.append(text.substr(i));
  return out;
}

std::string FormatValue(double value) {
  char buf[64];
  if (value == static_cast<double>(static_cast<int64_t>(value))) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g", value);
  }
  return buf;
}

}  // namespace

std::string_view StateName(AlertState state) {
  switch (state) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
  }
  return "inactive";
}

std::string FormatDuration(int64_t ns) {
  if (ns == 0) return "0s";
  if (ns % kSecond != 0) return std::to_string(ns / kNanosPerMilli) + "ms";
  int64_t s = ns / kSecond;
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
  }
  if (s >= 60) {
    out += std::to_string(s / 60) + "m";
    s %= 60;
  }
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

int64_t AlertEngine::BucketWidth(int64_t window_ns) {
  static constexpr int64_t kWidths[] = {1,   2,   5,   10,   15,   30,   60,   120,
                                        300, 600, 900, 1800, 3600, 7200, 10800};
  for (int64_t width : kWidths) {
    if ((window_ns + width * kSecond - 1) / (width * kSecond) <= 60) return width * kSecond;
  }
  return kWidths[std::size(kWidths) - 1] * kSecond;
}

struct AlertEngine::Impl {
  AlertOptions options;
  Clock* clock;
  catalog::Catalog* catalog;
  query::QueryEngine* query;
  Notifier* notifier;

  // Read by OnBatch without mu_ (atomic shared_ptr access); replaced under mu_.
  std::shared_ptr<RuleSet> set = std::make_shared<RuleSet>();

  mutable Mutex mu_;
  // States read by LoadState for rules not loaded yet, by (tenant, rule).
  std::map<std::pair<std::string, std::string>, std::vector<catalog::AlertStateRow>> saved
      GUARDED_BY(mu_);
  std::vector<catalog::AlertTransitionRow> pending_transitions GUARDED_BY(mu_);
  std::vector<catalog::AlertStateRow> pending_removals GUARDED_BY(mu_);

  // The scheduler.
  Mutex run_mu_;
  CondVar run_cv_;
  bool stop_ GUARDED_BY(run_mu_) = false;
  std::thread thread;

  Impl(AlertOptions o, Clock* c, catalog::Catalog* cat, query::QueryEngine* q, Notifier* n)
      : options(std::move(o)), clock(c), catalog(cat), query(q), notifier(n) {}

  std::shared_ptr<RuleSet> Current() const { return std::atomic_load(&set); }

  std::unique_ptr<RuleRuntime> MakeRuntime(Rule rule) {
    auto rt = std::make_unique<RuleRuntime>();
    rt->bucket_ns = BucketWidth(rule.window_ns);
    rt->window_buckets = (rule.window_ns + rt->bucket_ns - 1) / rt->bucket_ns;
    rt->ring_size = static_cast<size_t>(rt->window_buckets) + 2;
    rt->rule = std::move(rule);
    return rt;
  }

  Group NewGroup(const RuleRuntime& rt, std::vector<std::string> values) {
    Group g;
    g.ring = Ring(rt.ring_size);
    g.values = std::move(values);
    return g;
  }

  void RecordTransition(const RuleRuntime& rt, const std::string& key, Group* g, AlertState to,
                        int64_t now) REQUIRES(mu_) {
    catalog::AlertTransitionRow row;
    row.tenant = rt.rule.tenant;
    row.rule = rt.rule.name;
    row.group = key;
    row.from_state = std::string(StateName(g->state));
    row.to_state = std::string(StateName(to));
    row.at_ns = now;
    row.value = g->value;
    pending_transitions.push_back(std::move(row));
    spdlog::info("alert {} (tenant {}{}{}): {} -> {} ({} {})", rt.rule.name, rt.rule.tenant,
                 key.empty() ? "" : ", ", key, StateName(g->state), StateName(to),
                 rt.rule.condition.measure == Measure::kCount ? "count" : "rate",
                 FormatValue(g->value));
    g->state = to;
    g->state_since_ns = now;
    g->dirty = true;
  }

  Notification MakeNotification(const RuleRuntime& rt, const std::string& key, const Group& g,
                                bool resolved, int64_t now) const {
    const Rule& rule = rt.rule;
    Notification n;
    n.tenant = rule.tenant;
    n.rule = rule.name;
    n.group = key;
    n.resolved = resolved;
    n.count = g.count;
    n.value = g.value;
    n.condition = rule.condition.ToString();
    n.window = FormatDuration(rule.window_ns);
    n.labels = rule.labels;
    n.labels["alertname"] = rule.name;
    n.labels["tenant"] = rule.tenant;
    for (size_t i = 0; i < rule.group_by.size() && i < g.values.size(); ++i) {
      n.labels[LabelName(rule.group_by[i])] = g.values[i];
    }
    n.starts_at_ns = g.state == AlertState::kFiring || resolved ? g.active_since_ns : now;
    if (resolved) {
      n.ends_at_ns = now;
    } else {
      // Until the next re-send (cooldown) and some: a receiver that hears nothing more after
      // that (the server is gone) resolves it by itself.
      n.ends_at_ns = now + rule.cooldown_ns + std::max(3 * options.eval_interval_ns, 60 * kSecond);
    }
    const int64_t from =
        std::min(g.active_since_ns > 0 ? g.active_since_ns : now, now) - rule.window_ns;
    n.generator_url = options.external_url +
                      "/api/v1/search?q=" + UrlEncode(GroupSearch(rule, g.values)) +
                      "&from=" + UrlEncode(FormatRfc3339(from)) +
                      "&to=" + UrlEncode(FormatRfc3339(now + kSecond));
    std::map<std::string, std::string> vars = {
        {"rule", rule.name},
        {"tenant", rule.tenant},
        {"group", key.empty() ? "all lines" : key},
        {"count", std::to_string(g.count)},
        {"value", FormatValue(g.value)},
        {"window", n.window},
        {"condition", n.condition},
        {"search", n.generator_url},
    };
    for (const auto& [k, v] : rule.annotations) n.annotations[k] = Expand(v, vars);
    if (n.annotations.count("summary") == 0) {
      n.annotations["summary"] = rule.name + (key.empty() ? "" : " (" + key + ")") + ": " +
                                 n.condition + " over " + n.window + " (" +
                                 (rule.condition.measure == Measure::kCount ? "count " : "rate ") +
                                 FormatValue(g.value) + ")";
    }
    return n;
  }

  void Notify(const RuleRuntime& rt, const std::string& key, Group* g, bool resolved, int64_t now,
              std::vector<std::pair<Notification, bool>>* out) REQUIRES(mu_) {
    if (notifier == nullptr) return;
    if (!resolved) g->notify_in_flight = true;
    out->push_back({MakeNotification(rt, key, *g, resolved, now), resolved});
  }

  void Delivered(const std::string& tenant, const std::string& rule, const std::string& key,
                 bool delivered, int64_t at) {
    MutexLock lock(&mu_);
    std::shared_ptr<RuleSet> current = Current();
    auto it = current->by_name.find({tenant, rule});
    if (it == current->by_name.end()) return;
    auto git = it->second->groups.find(key);
    if (git == it->second->groups.end()) return;
    Group& g = git->second;
    g.notify_in_flight = false;
    if (delivered && g.state == AlertState::kFiring) {
      g.last_notified_ns = at;
      g.dirty = true;
    }
  }

  void SendAll(std::vector<std::pair<Notification, bool>> notes) {
    for (auto& [note, resolved] : notes) {
      if (resolved) {
        notifier->Send(std::move(note), nullptr);
        continue;
      }
      std::string tenant = note.tenant, rule = note.rule, key = note.group;
      const int64_t at = clock->NowNanos();
      notifier->Send(std::move(note), [this, tenant, rule, key, at](bool delivered) {
        Delivered(tenant, rule, key, delivered, at);
      });
    }
  }

  // The group of "rt" a line of "values" counts into, made if new; null (counted refused)
  // past the cap of groups.
  Group* FindGroup(RuleRuntime* rt, const std::string& key, const Record& record,
                   std::string* value) REQUIRES(mu_) {
    auto it = rt->groups.find(key);
    if (it != rt->groups.end()) return &it->second;
    if (rt->groups.size() >= options.max_groups) {
      if (rt->groups_refused++ == 0) {
        spdlog::warn(
            "alert {} (tenant {}): more than {} groups; lines of new groups are not counted "
            "(alert_max_groups)",
            rt->rule.name, rt->rule.tenant, options.max_groups);
      }
      Metrics().groups_refused.Increment();
      return nullptr;
    }
    std::vector<std::string> values(rt->rule.group_by.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (query::FieldText(record, rt->rule.group_by[i], value)) values[i] = *value;
    }
    return &rt->groups.emplace(key, NewGroup(*rt, std::move(values))).first->second;
  }

  // Counts the lines [begin, end) (match entries: the record's position in the low 32 bits)
  // into "rt": lines in a row with the same bucket are added at once.
  void Count(RuleRuntime* rt, const std::vector<Record>& records, const uint64_t* begin,
             const uint64_t* end, BatchScratch* scratch) REQUIRES(mu_) {
    const std::vector<std::string>& fields = rt->rule.group_by;
    std::string* value = &scratch->value;
    if (fields.empty()) {
      static const std::string kNone;
      Group* g = nullptr;
      int64_t bucket = INT64_MIN;
      uint64_t n = 0;
      for (const uint64_t* m = begin; m != end; ++m) {
        const int64_t at = records[static_cast<uint32_t>(*m)].ingest_ts;
        if (at < rt->live_from_ns) continue;  // counted from storage when the rule was loaded
        if (g == nullptr) {
          g = FindGroup(rt, kNone, records[static_cast<uint32_t>(*m)], value);
          if (g == nullptr) continue;
        }
        const int64_t b = at / rt->bucket_ns;
        if (b != bucket) {
          if (n > 0) g->ring.Add(bucket, n);
          bucket = b;
          n = 0;
        }
        ++n;
      }
      if (n > 0) g->ring.Add(bucket, n);
      return;
    }
    std::vector<std::string>& keys = scratch->keys;
    if (scratch->keys_of == nullptr || *scratch->keys_of != fields) {
      keys.resize(static_cast<size_t>(end - begin));
      for (size_t j = 0; j < keys.size(); ++j) {
        const Record& record = records[static_cast<uint32_t>(begin[j])];
        std::string& key = keys[j];
        key.clear();
        for (size_t i = 0; i < fields.size(); ++i) {
          if (i > 0) key.push_back(',');
          key.append(fields[i]);
          key.push_back('=');
          if (query::FieldText(record, fields[i], value)) key.append(*value);
        }
      }
      scratch->keys_of = &fields;
    }
    for (size_t j = 0; j < keys.size(); ++j) {
      const Record& record = records[static_cast<uint32_t>(begin[j])];
      if (record.ingest_ts < rt->live_from_ns) continue;
      Group* g = FindGroup(rt, keys[j], record, value);
      if (g != nullptr) g->ring.Add(record.ingest_ts / rt->bucket_ns, 1);
    }
  }

  // Adds "rows" of a count-by-bucket query to "rt"'s groups (priming).
  void AddRows(RuleRuntime* rt, const std::vector<query::Row>& rows) REQUIRES(mu_) {
    for (const query::Row& row : rows) {
      int64_t bucket_ns = INT64_MIN;
      uint64_t count = 0;
      std::vector<std::string> values(rt->rule.group_by.size());
      for (const auto& [name, value] : row) {
        if (name == "bucket" && std::holds_alternative<std::string>(value)) {
          if (auto t = ParseRfc3339(std::get<std::string>(value))) bucket_ns = *t;
        } else if (name == "count" && std::holds_alternative<int64_t>(value)) {
          count = static_cast<uint64_t>(std::max<int64_t>(0, std::get<int64_t>(value)));
        } else {
          for (size_t i = 0; i < rt->rule.group_by.size(); ++i) {
            if (rt->rule.group_by[i] == name) {
              values[i] = std::holds_alternative<std::string>(value)
                              ? std::get<std::string>(value)
                              : std::to_string(std::get<int64_t>(value));
            }
          }
        }
      }
      if (bucket_ns == INT64_MIN || count == 0) continue;
      const std::string key = GroupKey(rt->rule.group_by, values);
      auto it = rt->groups.find(key);
      if (it == rt->groups.end()) {
        if (rt->groups.size() >= options.max_groups) {
          rt->groups_refused += count;
          continue;
        }
        it = rt->groups.emplace(key, NewGroup(*rt, values)).first;
      }
      it->second.ring.Add(bucket_ns / rt->bucket_ns, count);
    }
  }

  // The stored lines of [from, to) counted by bucket(width) and the rule's group fields.
  Result<query::SearchResponse> CountStored(const Rule& rule, int64_t width, int64_t from,
                                            int64_t to, query::QueryEngine* via = nullptr) const {
    if (via == nullptr) via = query;
    if (via == nullptr) return Status::FailedPrecondition("no query engine");
    query::SearchRequest request;
    request.tenant = rule.tenant;
    request.q = rule.filter + " | count by bucket(" + FormatDuration(width) + ")";
    for (const auto& field : rule.group_by) request.q += ", " + field;
    request.from = FormatRfc3339Nanos(from);
    request.to = FormatRfc3339Nanos(to);
    request.use_cache = false;
    request.limit = 10'000;  // hits only; a pipe answers every row
    return via->Search(request);
  }

  void Prime(const std::vector<RuleRuntime*>& runtimes, int64_t live_from) {
    if (query == nullptr || !options.prime_from_storage) return;
    // Rules with the same tenant, filter, window and group_by share one query.
    std::map<std::tuple<std::string, std::string, int64_t, std::vector<std::string>>,
             std::vector<RuleRuntime*>>
        shared;
    for (RuleRuntime* rt : runtimes) {
      shared[{rt->rule.tenant, rt->rule.filter, rt->rule.window_ns, rt->rule.group_by}].push_back(
          rt);
    }
    for (const auto& [key, rts] : shared) {
      const RuleRuntime& first = *rts.front();
      const int64_t from = (live_from / first.bucket_ns - first.window_buckets) * first.bucket_ns;
      auto answer = CountStored(first.rule, first.bucket_ns, from, live_from);
      if (!answer.ok()) {
        Metrics().prime_errors.Increment();
        spdlog::warn("alert {} (tenant {}): its window could not be rebuilt from stored data: {}",
                     first.rule.name, first.rule.tenant, answer.status().ToString());
        continue;
      }
      MutexLock lock(&mu_);
      // Only if the rules are still loaded (a reload may have replaced them meanwhile).
      std::shared_ptr<RuleSet> current = Current();
      for (RuleRuntime* rt : rts) {
        auto it = current->by_name.find({rt->rule.tenant, rt->rule.name});
        if (it != current->by_name.end() && it->second == rt) AddRows(rt, answer->rows);
      }
    }
  }

  void Run(std::function<void()> tick) {
    int64_t next_eval = clock->NowNanos() + options.eval_interval_ns;
    while (true) {
      {
        UniqueLock lock(&run_mu_);
        if (stop_) break;
        run_cv_.WaitFor(&lock, std::chrono::seconds(1));
        if (stop_) break;
      }
      if (tick) tick();
      const int64_t now = clock->NowNanos();
      if (now >= next_eval) {
        owner->Evaluate();
        next_eval = now + options.eval_interval_ns;
      } else {
        owner->SaveState().IgnoreError();  // counted and logged by SaveState
      }
    }
  }

  AlertEngine* owner = nullptr;
};

AlertEngine::AlertEngine(AlertOptions options, Clock* clock, catalog::Catalog* catalog,
                         query::QueryEngine* query, Notifier* notifier)
    : impl_(std::make_unique<Impl>(std::move(options), clock, catalog, query, notifier)) {
  impl_->owner = this;
  Metrics();
}

AlertEngine::~AlertEngine() { Stop(); }

Status AlertEngine::LoadState() {
  if (impl_->catalog == nullptr) return Status::OK();
  ASSIGN_OR_RETURN(std::vector<catalog::AlertStateRow> rows, impl_->catalog->ListAlertStates());
  MutexLock lock(&impl_->mu_);
  for (auto& row : rows) {
    impl_->saved[{row.tenant, row.rule}].push_back(std::move(row));
  }
  return Status::OK();
}

void AlertEngine::SetRules(std::vector<Rule> rules) {
  const int64_t now = impl_->clock->NowNanos();
  std::sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
    return std::tie(a.tenant, a.name) < std::tie(b.tenant, b.name);
  });
  auto next = std::make_shared<RuleSet>();
  std::vector<RuleRuntime*> to_prime;
  std::vector<std::pair<Notification, bool>> notes;
  // Compile each distinct filter once per tenant.
  std::map<std::pair<std::string, std::string>, FilterRuntime*> filters;
  static auto& firing_family = Metrics().firing;
  {
    MutexLock lock(&impl_->mu_);
    std::shared_ptr<RuleSet> old = impl_->Current();
    std::set<std::pair<std::string, std::string>> kept;
    for (Rule& rule : rules) {
      auto parsed = query::ParseQuery(rule.filter);
      if (!parsed.ok() || !parsed->pipes.empty()) {
        spdlog::warn("alert {} (tenant {}): filter does not compile, rule skipped: {}", rule.name,
                     rule.tenant,
                     parsed.ok() ? "a pipe ('|') is not a filter" : parsed.status().ToString());
        continue;
      }
      const std::string canonical = query::ToString(*parsed->filter);
      std::unique_ptr<RuleRuntime> rt = impl_->MakeRuntime(rule);
      rt->live_from_ns = now;
      auto old_it = old->by_name.find({rule.tenant, rule.name});
      if (old_it != old->by_name.end()) {
        RuleRuntime* prev = old_it->second;
        kept.insert({rule.tenant, rule.name});
        if (prev->rule.SameCounting(rt->rule)) {
          rt->groups = std::move(prev->groups);
          rt->live_from_ns = prev->live_from_ns;
          rt->groups_refused = prev->groups_refused;
        } else {
          // New counting: keep the states, start the rings again (primed below).
          for (auto& [key, g] : prev->groups) {
            if (g.state == AlertState::kInactive) continue;
            Group fresh = impl_->NewGroup(*rt, SplitGroupKey(rt->rule.group_by, key));
            fresh.state = g.state;
            fresh.active_since_ns = g.active_since_ns;
            fresh.state_since_ns = g.state_since_ns;
            fresh.last_notified_ns = g.last_notified_ns;
            rt->groups.emplace(key, std::move(fresh));
          }
          to_prime.push_back(rt.get());
        }
        rt->firing = prev->firing;
        prev->firing = nullptr;
      } else {
        // A rule loaded for the first time since the start: its stored states, if any.
        auto saved = impl_->saved.find({rule.tenant, rule.name});
        if (saved != impl_->saved.end()) {
          for (const auto& row : saved->second) {
            Group g = impl_->NewGroup(*rt, SplitGroupKey(rt->rule.group_by, row.group));
            g.state = row.state == "firing" ? AlertState::kFiring : AlertState::kPending;
            g.active_since_ns = row.active_since_ns;
            g.state_since_ns = row.state_since_ns;
            g.last_notified_ns = row.last_notified_ns;
            g.value = row.value;
            rt->groups.emplace(row.group, std::move(g));
          }
          impl_->saved.erase(saved);
        }
        to_prime.push_back(rt.get());
      }
      if (rt->firing == nullptr) {
        rt->firing = &firing_family.Add({{"tenant", rule.tenant}, {"rule", rule.name}});
      }
      FilterRuntime*& filter = filters[{rule.tenant, canonical}];
      if (filter == nullptr) {
        auto f = std::make_unique<FilterRuntime>();
        f->node = parsed->filter;
        filter = f.get();
        next->index[rule.tenant].filters.push_back(filter);
        next->filters.push_back(std::move(f));
      }
      filter->rules.push_back(rt.get());
      next->by_name[{rule.tenant, rule.name}] = rt.get();
      next->rules.push_back(std::move(rt));
    }
    // Rules that are gone: resolve what fired, forget the states.
    for (auto& prev : old->rules) {
      if (kept.count({prev->rule.tenant, prev->rule.name}) > 0) continue;
      for (auto& [key, g] : prev->groups) {
        if (g.state == AlertState::kInactive) continue;
        if (g.state == AlertState::kFiring) impl_->Notify(*prev, key, &g, true, now, &notes);
        impl_->RecordTransition(*prev, key, &g, AlertState::kInactive, now);
        catalog::AlertStateRow removed;
        removed.tenant = prev->rule.tenant;
        removed.rule = prev->rule.name;
        removed.group = key;
        impl_->pending_removals.push_back(std::move(removed));
      }
      if (prev->firing != nullptr) firing_family.Remove(prev->firing);
      prev->firing = nullptr;
    }
    for (auto& [tenant, index] : next->index) {
      std::vector<query::NodePtr> nodes;
      for (FilterRuntime* f : index.filters) nodes.push_back(f->node);
      index.index = std::make_unique<FilterIndex>(std::move(nodes));
    }
    std::atomic_store(&impl_->set, next);
    Metrics().rules_loaded.Set(static_cast<double>(next->rules.size()));
  }
  impl_->Prime(to_prime, now);
  if (!notes.empty()) impl_->SendAll(std::move(notes));
}

void AlertEngine::OnBatch(std::string_view tenant, const std::vector<Record>& records) {
  std::shared_ptr<RuleSet> set = impl_->Current();
  if (set->rules.empty()) return;
  auto index_it = set->index.find(std::string(tenant));
  if (index_it == set->index.end()) return;
  const double cpu_start = ThreadCpuSeconds();
  const TenantIndex& index = index_it->second;
  thread_local BatchScratch scratch;
  std::vector<uint64_t>& matches = scratch.matches;
  matches.clear();
  uint64_t matched_lines = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    scratch.ids.clear();
    index.index->Match(records[i], &scratch.index, &scratch.ids);
    if (scratch.ids.empty()) continue;
    ++matched_lines;
    for (uint32_t id : scratch.ids) matches.push_back((uint64_t{id} << 32) | i);
  }
  if (!matches.empty()) {
    // By filter, then line: each filter's rules take its lines as one run.
    std::sort(matches.begin(), matches.end());
    MutexLock lock(&impl_->mu_);
    // A reload since the snapshot: count into the rules now loaded under the same names (the
    // ones whose counting changed were primed up to the reload and skip older lines).
    std::shared_ptr<RuleSet> current = impl_->Current();
    const bool stale = current != set;
    for (size_t run = 0; run < matches.size();) {
      const uint32_t id = static_cast<uint32_t>(matches[run] >> 32);
      size_t end = run + 1;
      while (end < matches.size() && (matches[end] >> 32) == id) ++end;
      scratch.keys_of = nullptr;
      for (RuleRuntime* rt : index.filters[id]->rules) {
        if (stale) {
          auto live = current->by_name.find({rt->rule.tenant, rt->rule.name});
          if (live == current->by_name.end()) continue;
          rt = live->second;
        }
        impl_->Count(rt, records, matches.data() + run, matches.data() + end, &scratch);
      }
      run = end;
    }
  }
  if (matched_lines > 0) Metrics().lines_matched.Increment(static_cast<double>(matched_lines));
  Metrics().cpu_match.Increment(std::max(0.0, ThreadCpuSeconds() - cpu_start));
}

void AlertEngine::Evaluate() {
  const double cpu_start = ThreadCpuSeconds();
  const int64_t now = impl_->clock->NowNanos();
  std::vector<std::pair<Notification, bool>> notes;
  {
    MutexLock lock(&impl_->mu_);
    std::shared_ptr<RuleSet> set = impl_->Current();
    for (auto& rt_ptr : set->rules) {
      RuleRuntime& rt = *rt_ptr;
      const Rule& rule = rt.rule;
      if (rule.group_by.empty() && rt.groups.count("") == 0) {
        rt.groups.emplace("", impl_->NewGroup(rt, {}));
      }
      const int64_t current = now / rt.bucket_ns;
      size_t firing = 0;
      for (auto it = rt.groups.begin(); it != rt.groups.end();) {
        const std::string& key = it->first;
        Group& g = it->second;
        g.count = g.ring.Sum(current, rt.window_buckets);
        g.value = rule.condition.Value(g.count, rule.window_ns);
        const bool holds = rule.condition.Holds(g.value);
        switch (g.state) {
          case AlertState::kInactive:
            if (holds) {
              g.active_since_ns = now;
              impl_->RecordTransition(
                  rt, key, &g, rule.for_ns == 0 ? AlertState::kFiring : AlertState::kPending, now);
              if (g.state == AlertState::kFiring) impl_->Notify(rt, key, &g, false, now, &notes);
            }
            break;
          case AlertState::kPending:
            if (!holds) {
              impl_->RecordTransition(rt, key, &g, AlertState::kInactive, now);
            } else if (now - g.active_since_ns >= rule.for_ns) {
              impl_->RecordTransition(rt, key, &g, AlertState::kFiring, now);
              impl_->Notify(rt, key, &g, false, now, &notes);
            }
            break;
          case AlertState::kFiring:
            if (!holds) {
              impl_->Notify(rt, key, &g, true, now, &notes);
              impl_->RecordTransition(rt, key, &g, AlertState::kInactive, now);
              g.last_notified_ns = 0;
            } else if (!g.notify_in_flight &&
                       (g.last_notified_ns == 0 || now - g.last_notified_ns >= rule.cooldown_ns)) {
              impl_->Notify(rt, key, &g, false, now, &notes);
            }
            break;
        }
        if (g.state == AlertState::kFiring) ++firing;
        if (g.state == AlertState::kInactive && !g.dirty && !key.empty() && g.ring.Empty() &&
            !rule.condition.HoldsWhenSilent()) {
          it = rt.groups.erase(it);  // nothing to remember
        } else {
          ++it;
        }
      }
      rt.last_evaluation_ns = now;
      if (rt.firing != nullptr) rt.firing->Set(static_cast<double>(firing));
    }
  }
  Metrics().evaluations.Increment();
  Metrics().cpu_evaluate.Increment(std::max(0.0, ThreadCpuSeconds() - cpu_start));
  if (!notes.empty()) impl_->SendAll(std::move(notes));
  SaveState().IgnoreError();  // counted and logged by SaveState
}

Status AlertEngine::SaveState() {
  std::vector<catalog::AlertStateRow> states, removed;
  std::vector<catalog::AlertTransitionRow> transitions;
  std::vector<std::pair<RuleRuntime*, std::string>> saved_groups;
  {
    MutexLock lock(&impl_->mu_);
    std::shared_ptr<RuleSet> set = impl_->Current();
    for (auto& rt : set->rules) {
      for (auto& [key, g] : rt->groups) {
        if (!g.dirty) continue;
        catalog::AlertStateRow row;
        row.tenant = rt->rule.tenant;
        row.rule = rt->rule.name;
        row.group = key;
        row.state = std::string(StateName(g.state));
        row.active_since_ns = g.active_since_ns;
        row.state_since_ns = g.state_since_ns;
        row.last_notified_ns = g.last_notified_ns;
        row.value = g.value;
        (g.state == AlertState::kInactive ? removed : states).push_back(std::move(row));
        g.dirty = false;
        saved_groups.push_back({rt.get(), key});
      }
    }
    transitions = std::move(impl_->pending_transitions);
    impl_->pending_transitions.clear();
    for (auto& row : impl_->pending_removals) removed.push_back(std::move(row));
    impl_->pending_removals.clear();
  }
  if (impl_->catalog == nullptr || (states.empty() && removed.empty() && transitions.empty())) {
    return Status::OK();
  }
  Status status =
      impl_->catalog->SaveAlertStates(states, removed, transitions, impl_->options.max_transitions);
  if (!status.ok()) {
    Metrics().state_save_errors.Increment();
    spdlog::warn("alert states not saved (retried in a second): {}", status.ToString());
    // Keep what was not saved for the next try.
    MutexLock lock(&impl_->mu_);
    std::shared_ptr<RuleSet> set = impl_->Current();
    for (auto& [rt, key] : saved_groups) {
      auto it = set->by_name.find({rt->rule.tenant, rt->rule.name});
      if (it == set->by_name.end() || it->second != rt) continue;
      auto git = rt->groups.find(key);
      if (git != rt->groups.end()) git->second.dirty = true;
    }
    for (auto& t : transitions) impl_->pending_transitions.push_back(std::move(t));
    for (auto& r : removed) {
      if (r.state.empty()) impl_->pending_removals.push_back(std::move(r));
    }
  }
  return status;
}

void AlertEngine::Start(std::function<void()> tick) {
  {
    MutexLock lock(&impl_->run_mu_);
    impl_->stop_ = false;
  }
  impl_->thread = std::thread([this, tick = std::move(tick)] { impl_->Run(tick); });
}

void AlertEngine::Stop() {
  {
    MutexLock lock(&impl_->run_mu_);
    impl_->stop_ = true;
  }
  impl_->run_cv_.NotifyAll();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
    SaveState().IgnoreError();
  }
}

std::vector<RuleStatus> AlertEngine::Rules(std::string_view tenant, std::string_view name) const {
  std::vector<RuleStatus> out;
  MutexLock lock(&impl_->mu_);
  std::shared_ptr<RuleSet> set = impl_->Current();
  for (const auto& rt : set->rules) {
    if (!tenant.empty() && rt->rule.tenant != tenant) continue;
    if (!name.empty() && rt->rule.name != name) continue;
    RuleStatus status;
    status.rule = rt->rule;
    status.groups_refused = rt->groups_refused;
    status.last_evaluation_ns = rt->last_evaluation_ns;
    for (const auto& [key, g] : rt->groups) {
      GroupStatus gs;
      gs.group = key;
      gs.state = g.state;
      gs.active_since_ns = g.active_since_ns;
      gs.state_since_ns = g.state_since_ns;
      gs.last_notified_ns = g.last_notified_ns;
      gs.count = g.count;
      gs.value = g.value;
      status.state = std::max(status.state, g.state);
      status.groups.push_back(std::move(gs));
    }
    std::sort(status.groups.begin(), status.groups.end(),
              [](const GroupStatus& a, const GroupStatus& b) {
                return std::make_pair(-static_cast<int>(a.state), a.group) <
                       std::make_pair(-static_cast<int>(b.state), b.group);
              });
    out.push_back(std::move(status));
  }
  return out;
}

size_t AlertEngine::rule_count() const { return impl_->Current()->rules.size(); }

Result<BacktestResult> AlertEngine::Backtest(const Rule& rule, int64_t from_ns,
                                             int64_t to_ns) const {
  if (impl_->query == nullptr) {
    return Status::FailedPrecondition("backtests need the query engine");
  }
  if (to_ns <= from_ns) return Status::InvalidArgument("'to' must be after 'from'");
  BacktestResult result;
  // The live bucket width, or coarser so the query stays under its 10,000 buckets.
  int64_t step = BucketWidth(rule.window_ns);
  const int64_t span = to_ns - from_ns + rule.window_ns;
  while (span / step > 9'000) step *= 2;
  if (step != BucketWidth(rule.window_ns)) {
    result.warnings.push_back("evaluated every " + FormatDuration(step) + " (live: every " +
                              FormatDuration(BucketWidth(rule.window_ns)) +
                              ") to keep the range under 10,000 buckets");
  }
  result.step_ns = step;
  const int64_t window_buckets = (rule.window_ns + step - 1) / step;
  const int64_t first = from_ns / step;
  const int64_t last = (to_ns + step - 1) / step;
  ASSIGN_OR_RETURN(query::SearchResponse answer,
                   impl_->CountStored(rule, step, (first - window_buckets) * step, last * step,
                                      impl_->options.backtest_query));
  result.partial = answer.partial;
  for (auto& w : answer.warnings) result.warnings.push_back(w);
  // Counts by group and bucket.
  std::map<std::string, std::map<int64_t, uint64_t>> series;
  if (rule.group_by.empty()) series[""];
  for (const query::Row& row : answer.rows) {
    int64_t bucket = INT64_MIN;
    uint64_t count = 0;
    std::vector<std::string> values(rule.group_by.size());
    for (const auto& [name, value] : row) {
      if (name == "bucket" && std::holds_alternative<std::string>(value)) {
        if (auto t = ParseRfc3339(std::get<std::string>(value))) bucket = *t / step;
      } else if (name == "count" && std::holds_alternative<int64_t>(value)) {
        count = static_cast<uint64_t>(std::max<int64_t>(0, std::get<int64_t>(value)));
      } else {
        for (size_t i = 0; i < rule.group_by.size(); ++i) {
          if (rule.group_by[i] == name) {
            values[i] = std::holds_alternative<std::string>(value)
                            ? std::get<std::string>(value)
                            : std::to_string(std::get<int64_t>(value));
          }
        }
      }
    }
    if (bucket == INT64_MIN) continue;
    auto& s = series[GroupKey(rule.group_by, values)];
    if (count > 0) s[bucket] += count;
  }
  for (const auto& [key, buckets] : series) {
    AlertState state = AlertState::kInactive;
    int64_t active_since = 0;
    for (int64_t b = first; b < last; ++b) {
      // Evaluated at the end of bucket b: the window is buckets (b - window_buckets, b].
      uint64_t count = 0;
      for (auto it = buckets.upper_bound(b - window_buckets); it != buckets.end() && it->first <= b;
           ++it) {
        count += it->second;
      }
      const int64_t at = (b + 1) * step;
      const double value = rule.condition.Value(count, rule.window_ns);
      const bool holds = rule.condition.Holds(value);
      AlertState next = state;
      if (state == AlertState::kInactive && holds) {
        active_since = at;
        next = rule.for_ns == 0 ? AlertState::kFiring : AlertState::kPending;
      } else if (state == AlertState::kPending) {
        if (!holds) {
          next = AlertState::kInactive;
        } else if (at - active_since >= rule.for_ns) {
          next = AlertState::kFiring;
        }
      } else if (state == AlertState::kFiring && !holds) {
        next = AlertState::kInactive;
      }
      if (next != state) {
        result.events.push_back({at, key, state, next, count, value});
        state = next;
      }
    }
  }
  std::sort(result.events.begin(), result.events.end(),
            [](const BacktestEvent& a, const BacktestEvent& b) {
              return std::tie(a.at_ns, a.group) < std::tie(b.at_ns, b.group);
            });
  return result;
}

}  // namespace sawmill::alert
