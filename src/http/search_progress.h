// Live progress of searches over cold data: a search sent with ?progress_id=ID registers its
// query::SearchProgress here while it runs; GET /api/v1/search/progress?id=ID reads it (the
// progress line of `sawmill search`). docs/api.md "Search progress".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "http/router.h"
#include "query/query_engine.h"

namespace sawmill::http {

class SearchProgressRegistry {
 public:
  static constexpr size_t kMaxRunning = 10000;

  // Unregisters on destruction.
  class Registration {
   public:
    Registration() = default;
    Registration(SearchProgressRegistry* registry, std::pair<std::string, std::string> key)
        : registry_(registry), key_(std::move(key)) {}
    Registration(Registration&& other) noexcept
        : registry_(std::exchange(other.registry_, nullptr)), key_(std::move(other.key_)) {}
    Registration& operator=(Registration&& other) noexcept {
      if (this != &other) {
        Release();
        registry_ = std::exchange(other.registry_, nullptr);
        key_ = std::move(other.key_);
      }
      return *this;
    }
    ~Registration() { Release(); }

   private:
    void Release();
    SearchProgressRegistry* registry_ = nullptr;
    std::pair<std::string, std::string> key_;
  };

  // Registers "progress" as search "id" of "tenant". Errors: InvalidArgument for an id that is
  // not 1 to 64 of A-Z a-z 0-9 - _; AlreadyExists when the tenant has a running search with that
  // id; ResourceExhausted past kMaxRunning registered searches.
  Result<Registration> Register(const std::string& tenant, const std::string& id,
                                std::shared_ptr<query::SearchProgress> progress);
  // The progress of the running search "id" of "tenant", or nullptr.
  std::shared_ptr<query::SearchProgress> Find(const std::string& tenant, const std::string& id);

 private:
  Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<query::SearchProgress>> running_
      GUARDED_BY(mu_);
};

// GET /api/v1/search/progress?id=ID: {"running":true,"cold_segments":..,"cold_segments_read":..,
// "cold_bytes":..,"cold_bytes_fetched":..,"cold_bytes_cached":..}; {"running":false} when no
// search of the request's tenant runs under that id (not started yet, or finished).
HttpResponse HandleSearchProgress(SearchProgressRegistry* registry, const HttpRequest& request);

}  // namespace sawmill::http
