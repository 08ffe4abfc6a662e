// Per-tenant ingest quotas (docs/security.md "Quotas"): lines per second and bytes per second,
// each a token bucket holding up to "burst" seconds of its rate. Run as the pipeline's admit
// hook, before the WAL, so that a tenant over its quota costs the others nothing but the
// decoding of its refused batches.
//
// Lowest priority first: a batch with no WARN or higher line (DEBUG, INFO, TRACE, no level) is
// refused while the tenant's buckets hold less than a quarter of their burst after taking it,
// which keeps that quarter for batches that carry WARN+ lines; those are refused only when the
// buckets are empty. A refusal is ResourceExhausted (HTTP 429 with Retry-After), nothing of the
// batch is stored, and it is counted by tenant and priority. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

struct TenantQuotaOptions {
  uint64_t lines_per_sec = 0;         // 0: no line quota
  uint64_t bytes_per_sec = 0;         // 0: no byte quota (message and field bytes)
  int64_t burst_ns = 10'000'000'000;  // bucket size: this long at the rate
};

class TenantQuotas {
 public:
  // Every tenant's quota is "options".
  TenantQuotas(TenantQuotaOptions options, Clock* clock);
  // Each tenant's quota is what "options_for" answers for it, asked on every batch, so that a
  // changed quota applies to the next batch (a bucket keeps its tokens, capped at the new size).
  // It must be thread-safe.
  TenantQuotas(Clock* clock,
               std::function<TenantQuotaOptions(std::string_view tenant)> options_for);

  // False only when every tenant has the same quota and it is none.
  bool enabled() const {
    return options_for_ || options_.lines_per_sec > 0 || options_.bytes_per_sec > 0;
  }
  // Takes the batch's lines and bytes from "tenant"'s buckets, or refuses it (see above).
  Status Admit(const std::string& tenant, const std::vector<Record>& records);

 private:
  struct Bucket {
    double lines = 0, bytes = 0;  // tokens now
    int64_t at_ns = 0;            // when they were last refilled
  };
  const TenantQuotaOptions options_;
  const std::function<TenantQuotaOptions(std::string_view)> options_for_;
  Clock* const clock_;
  Mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_ GUARDED_BY(mu_);
};

}  // namespace sawmill::ingest
