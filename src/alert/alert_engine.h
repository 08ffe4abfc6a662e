// CONTRACT: log-based alerting (docs/alerting.md). The engine holds the loaded rules, counts the
// lines each rule's filter matches as they are acknowledged (OnBatch, an ingest
// after-acknowledgement listener), evaluates the conditions on a schedule driven by a Clock,
// keeps each rule's groups in inactive / pending / firing with the transitions stored in the
// catalog, and hands notifications to a Notifier.
//
// Counting: every rule has, per group, a ring of sub-window buckets (the window / 60 or less,
// at least 1 s) keyed by the line's ingest_ts, so a line whose source ts is older than the
// window still counts, at its arrival. Rules with the same filter share it; a tenant's filters
// are indexed by the words they require and the service or host they pin (filter_index.h), so a
// line is tested only against filters that can match it. Rules only ever see their own tenant's
// lines.
//
// Restarts: the state of pending and firing groups (the "for" clock, the last notification) is
// in the catalog; the counts of a rule's window are rebuilt from stored data with the query
// engine when a rule is loaded (so a restart, or a reload, does not forget the lines of the
// last window).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "alert/rule.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "query/query_engine.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::alert {

enum class AlertState : uint8_t { kInactive = 0, kPending = 1, kFiring = 2 };
// "inactive", "pending", "firing".
std::string_view StateName(AlertState state);

// What a receiver is told: one group of one rule started firing, is still firing (after the
// cooldown), or resolved.
struct Notification {
  std::string tenant;
  std::string rule;
  std::string group;
  bool resolved = false;
  std::map<std::string, std::string> labels;       // alertname, tenant, group fields, rule's
  std::map<std::string, std::string> annotations;  // templates filled in
  int64_t starts_at_ns = 0;                        // when it began firing
  int64_t ends_at_ns = 0;     // resolved: when; firing: when a receiver may consider it over
                              // unless told again
  std::string generator_url;  // a search for the matching lines
  uint64_t count = 0;
  double value = 0;
  std::string condition;  // "count > 50"
  std::string window;     // "5m0s"
};

// Delivers notifications without blocking the caller (notifier.h).
class Notifier {
 public:
  virtual ~Notifier() = default;
  // Queues "notification"; never blocks. "done" (may be null) is called exactly once, on
  // another thread, with whether every receiver accepted it (when one did not, the engine
  // sends it again at its next evaluation, so the others may see it twice).
  virtual void Send(Notification notification, std::function<void(bool delivered)> done) = 0;
};

struct GroupStatus {
  std::string group;
  AlertState state = AlertState::kInactive;
  int64_t active_since_ns = 0;
  int64_t state_since_ns = 0;
  int64_t last_notified_ns = 0;
  uint64_t count = 0;
  double value = 0;
};

struct RuleStatus {
  Rule rule;
  AlertState state = AlertState::kInactive;  // the most severe of its groups
  std::vector<GroupStatus> groups;           // pending and firing first, then by group
  uint64_t groups_refused = 0;               // lines of new groups past the cap (alert_max_groups)
  int64_t last_evaluation_ns = 0;
};

// A time the backtest says the rule would have changed state.
struct BacktestEvent {
  int64_t at_ns = 0;
  std::string group;
  AlertState from = AlertState::kInactive;
  AlertState to = AlertState::kInactive;
  uint64_t count = 0;
  double value = 0;
};

struct BacktestResult {
  std::vector<BacktestEvent> events;
  int64_t step_ns = 0;  // the bucket width evaluated at (coarser than live for long ranges)
  bool partial = false;
  std::vector<std::string> warnings;
};

struct AlertOptions {
  int64_t eval_interval_ns = 10 * kNanosPerSecond;
  size_t max_groups = 10'000;          // per rule; lines of further groups are counted refused
  uint64_t max_transitions = 100'000;  // history kept in the catalog
  // The server's URL as users reach it, for generatorURL and {{search}}.
  std::string external_url = "http://127.0.0.1:9640";
  // Rebuild a loaded rule's window from stored data (needs the query engine).
  bool prime_from_storage = true;
  // The query engine of backtests, which a user asks for and so are charged like a search (the
  // server's: through the tenant's scan quota); null: the engine's own. Must outlive the engine.
  query::QueryEngine* backtest_query = nullptr;
};

// Thread-safe.
class AlertEngine {
 public:
  // Pointers may be null (no persistence, no priming or backtest, no notifications); those
  // given must outlive the engine.
  AlertEngine(AlertOptions options, Clock* clock, catalog::Catalog* catalog,
              query::QueryEngine* query, Notifier* notifier);
  ~AlertEngine();

  // Reads the stored states; call once, before the first SetRules. Errors: the catalog's.
  Status LoadState();

  // Replaces every rule (the file's and the API's). Rules keep their groups' states across a
  // reload; a rule whose filter, window or group_by changed starts counting again (primed
  // from storage). Removed rules' firing groups are sent resolved.
  void SetRules(std::vector<Rule> rules);

  // The after-acknowledgement listener: counts "records" of "tenant" into the rules that match.
  void OnBatch(std::string_view tenant, const std::vector<Record>& records);

  // One evaluation of every rule at the clock's now, then the changed states are saved.
  void Evaluate();
  // Saves the states changed since the last save (the scheduler does it every second).
  Status SaveState();

  // Runs the scheduler on its own thread: every second it calls "tick" (may be null; the
  // server polls the rules file there), saves changed states, and evaluates when
  // eval_interval has passed on the clock. Stop() ends it and saves.
  void Start(std::function<void()> tick);
  void Stop();

  // The rules of "tenant" ("" every tenant), by tenant and name. "name" non-empty: that one.
  std::vector<RuleStatus> Rules(std::string_view tenant, std::string_view name = "") const;
  size_t rule_count() const;

  // Evaluates "rule" over the stored lines of [from_ns, to_ns) with the query engine, as the
  // scheduler would have at each bucket boundary. Errors: FailedPrecondition without a query
  // engine; the query engine's.
  Result<BacktestResult> Backtest(const Rule& rule, int64_t from_ns, int64_t to_ns) const;

  // The width of a rule's buckets: the smallest of 1s, 2s, 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m,
  // 15m, 30m, 1h, 2h, 3h that cuts the window into at most 60 buckets.
  static int64_t BucketWidth(int64_t window_ns);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "5m", "1h30m", "10s", "500ms": the shortest spelling ParseDuration reads back.
std::string FormatDuration(int64_t ns);

}  // namespace sawmill::alert
