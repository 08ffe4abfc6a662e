// Alerting in the server (docs/alerting.md): the rules file and its reloads, the rules stored
// through the API, and the routes /api/v1/alerts, /api/v1/alerts/history, /api/v1/alerts/rules,
// /api/v1/alerts/test and /api/v1/alerts/silences.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alert/alert_engine.h"
#include "alert/notifier.h"
#include "alert/rule.h"
#include "catalog/catalog.h"
#include "common/mutex.h"
#include "http/api_routes.h"
#include "http/router.h"
#include "http/server_config.h"

namespace sawmill::http {

// What the server runs for alerting. Thread-safe.
class AlertService {
 public:
  struct Options {
    std::string rules_file;  // "" = none
    alert::RuleLimits limits;
  };
  // "*catalog" (may be null: API rules are then not stored) and the engine must outlive it.
  AlertService(Options options, catalog::Catalog* catalog,
               std::unique_ptr<alert::HttpNotifier> notifier,
               std::unique_ptr<alert::AlertEngine> engine);

  // Reads the rules file (if any) and the stored API rules and loads them. Errors:
  // InvalidArgument for a rules file with an error (the server refuses to start then).
  Status Start();
  // Re-reads the rules file if it changed since the last read (or always, with "force": SIGHUP).
  // On an error the previous rules stay; the error is logged, counted and shown by the API.
  void PollRulesFile(bool force);

  alert::AlertEngine* engine() { return engine_.get(); }
  alert::HttpNotifier* notifier() { return notifier_.get(); }
  catalog::Catalog* catalog() { return catalog_; }
  const alert::RuleLimits& limits() const { return options_.limits; }
  const std::string& rules_file() const { return options_.rules_file; }
  // The rules file's last error ("" when its last read was fine) and when it was seen.
  std::string file_error() const;
  int64_t file_error_since_ns() const;
  // Rule names of the file, for refusing an API rule of the same name.
  bool IsFileRule(const std::string& tenant, const std::string& name) const;

  // Re-reads the API rules from the catalog and loads file + API rules into the engine.
  Status Apply();

 private:
  Status ReadFile(std::vector<alert::Rule>* rules) const;

  Options options_;
  catalog::Catalog* catalog_;
  // Destroyed notifier first: its threads may still report deliveries to the engine.
  std::unique_ptr<alert::AlertEngine> engine_;
  std::unique_ptr<alert::HttpNotifier> notifier_;
  mutable Mutex mu_;
  std::vector<alert::Rule> file_rules_ GUARDED_BY(mu_);
  std::string file_error_ GUARDED_BY(mu_);
  int64_t file_error_since_ns_ GUARDED_BY(mu_) = 0;
  std::string file_stamp_ GUARDED_BY(mu_);  // mtime, size and inode of the last read
  Mutex apply_mu_;  // one Apply at a time, so the engine gets the latest rules last
};

// Builds alerting from the server's options (--alert-rules, --alertmanager, --alert-webhook,
// ...), loads the rules and the stored states, and starts the scheduler, which also re-reads the
// rules file when it changes or when "hups" (the count of SIGHUPs received) grows.
// "default_url" is the server's URL for search links when --alert-external-url is empty.
// "backtest_query" runs the backtests' searches (the server's: through the tenant's scan
// quota, docs/security.md "Quotas"); null: "query". "engine", "query" and "backtest_query"
// must outlive the result. Errors: InvalidArgument for a bad receiver URL or a rules file with
// an error (the server does not start then).
Result<std::unique_ptr<AlertService>> StartAlerting(const ServerConfig& config,
                                                    const std::string& default_url,
                                                    storage::Engine* engine,
                                                    query::QueryEngine* query,
                                                    std::function<int()> hups,
                                                    query::QueryEngine* backtest_query = nullptr);

// Registers the alerting routes; they answer 503 until "*service" is set (the engine is open).
void RegisterAlertRoutes(Router* router, ApiState* state, std::atomic<AlertService*>* service);

}  // namespace sawmill::http
