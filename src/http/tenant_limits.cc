#include "http/tenant_limits.h"

#include "common/metrics.h"

namespace sawmill::http {

namespace {

prometheus::Family<prometheus::Counter>& Refused() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_tenant_limit_refused_total")
          .Help(
              "Requests refused (429) for a tenant's query quota, by tenant and limit "
              "(concurrent_queries, tail_sessions)")
          .Register(MetricsRegistry());
  return family;
}

}  // namespace

Result<std::shared_ptr<void>> TenantLimiter::Acquire(const std::string& tenant) {
  if (max_ == 0) return std::shared_ptr<void>();
  {
    MutexLock lock(&mu_);
    uint64_t& n = held_[tenant];
    if (n >= max_) {
      Refused().Add({{"tenant", tenant}, {"limit", what_}}).Increment();
      return Status::ResourceExhausted("tenant '" + tenant + "' has " + std::to_string(n) + " " +
                                       what_ + " already, its limit (" + option_ +
                                       "); retry when one has finished");
    }
    ++n;
  }
  return std::shared_ptr<void>(static_cast<void*>(this), [this, tenant](void*) {
    MutexLock lock(&mu_);
    auto it = held_.find(tenant);
    if (it != held_.end() && --it->second == 0) held_.erase(it);
  });
}

uint64_t TenantLimiter::held(const std::string& tenant) const {
  MutexLock lock(&mu_);
  auto it = held_.find(tenant);
  return it == held_.end() ? 0 : it->second;
}

}  // namespace sawmill::http
