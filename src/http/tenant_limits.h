// Per-tenant query quotas (docs/security.md "Quotas"): how many searches (and context reads) a
// tenant may run at once, and how many live-tail sessions it may hold, so that one tenant cannot
// take every query worker or tail slot. Refusals are ResourceExhausted (HTTP 429 with
// Retry-After), counted in sawmill_tenant_limit_refused_total{tenant,limit}. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill::http {

class TenantLimiter {
 public:
  // "what" names the limit in messages and metrics ("concurrent_queries", "tail_sessions");
  // "option" is its config key. "max" 0: no limit.
  TenantLimiter(std::string what, std::string option, uint64_t max)
      : what_(std::move(what)), option_(std::move(option)), max_(max) {}

  // A slot of "tenant", held until the returned handle is destroyed.
  // Errors: ResourceExhausted when the tenant holds "max" already.
  Result<std::shared_ptr<void>> Acquire(const std::string& tenant);
  uint64_t held(const std::string& tenant) const;

 private:
  const std::string what_, option_;
  const uint64_t max_;
  mutable Mutex mu_;
  std::map<std::string, uint64_t, std::less<>> held_ GUARDED_BY(mu_);
};

}  // namespace sawmill::http
