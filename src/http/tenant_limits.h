// Per-tenant query quotas (docs/security.md "Quotas"): how many searches (and context reads) a
// tenant may run at once, how many live-tail sessions it may hold, how many bytes its queries may
// read per hour, and how far back a reader's query may reach, so that one tenant cannot take
// every query worker, tail slot or disk read. Refusals are ResourceExhausted (HTTP 429 with
// Retry-After) or, for the role limit, PermissionDenied (403), counted in
// sawmill_tenant_limit_refused_total{tenant,limit}. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "query/query_engine.h"
#include "sawmill/status.h"

namespace sawmill::http {

// A tenant's value of one quota (0: none).
using QuotaFor = std::function<uint64_t(std::string_view tenant)>;

class TenantLimiter {
 public:
  // "what" names the limit in messages and metrics ("concurrent queries", "tail sessions");
  // "option" is its config key. "max" 0: no limit.
  TenantLimiter(std::string what, std::string option, uint64_t max)
      : what_(std::move(what)),
        option_(std::move(option)),
        max_([max](std::string_view) { return max; }) {}
  // Each tenant's limit is what "max_for" answers, asked on every Acquire.
  TenantLimiter(std::string what, std::string option, QuotaFor max_for)
      : what_(std::move(what)), option_(std::move(option)), max_(std::move(max_for)) {}

  // A slot of "tenant", held until the returned handle is destroyed.
  // Errors: ResourceExhausted when the tenant holds its limit already.
  Result<std::shared_ptr<void>> Acquire(const std::string& tenant);
  uint64_t held(const std::string& tenant) const;

 private:
  const std::string what_, option_;
  const QuotaFor max_;
  mutable Mutex mu_;
  std::map<std::string, uint64_t, std::less<>> held_ GUARDED_BY(mu_);
};

// Bytes read by each tenant's queries over a sliding hour, kept in one-minute buckets: the
// window is the current minute and the 59 before it. A query is admitted while the tenant's
// bytes in the window are below its quota; what it reads is charged when it ends (also when it
// stopped early: a deadline, a limit, its client gone), so a query admitted just under the quota
// may pass it by one query's reading (at most max_bytes_scanned). Attached to a catalog, the
// minutes are kept in it (table tenant_scan_usage), written at most once per flush interval and
// at Flush(), so that a restart does not hand a tenant a fresh hour; a crash forgets at most the
// last interval's charges.
class ScanQuota {
 public:
  ScanQuota(Clock* clock, QuotaFor quota_for) : clock_(clock), quota_for_(std::move(quota_for)) {}

  // Loads the minutes of the last hour stored in "catalog" (added to any charged already) and
  // from then on writes the changed minutes there, from Charge at most once per "flush_ns".
  // "catalog" must outlive this. Errors: the catalog's (nothing is attached then).
  Status Attach(catalog::Catalog* catalog, int64_t flush_ns = int64_t{5'000'000'000});
  // Writes the minutes charged since the last write (the server calls it when it stops).
  // Errors: the catalog's; the minutes stay to be written next time.
  Status Flush();

  // Errors: ResourceExhausted saying the quota, the bytes read in the window and when enough of
  // them leave it, with "retry in N s" (which the router turns into Retry-After).
  Status Admit(const std::string& tenant);
  void Charge(const std::string& tenant, uint64_t bytes);
  // The tenant's bytes in the window now.
  uint64_t Used(std::string_view tenant) const;

 private:
  static constexpr int64_t kMinuteNs = 60'000'000'000;
  static constexpr size_t kMinutes = 60;
  struct Window {
    std::array<int64_t, kMinutes> minute{};  // which minute (since the epoch) each slot counts
    std::array<uint64_t, kMinutes> bytes{};
  };
  uint64_t UsedLocked(const Window& w, int64_t now_minute) const REQUIRES(mu_);

  Clock* const clock_;
  const QuotaFor quota_for_;
  std::atomic<catalog::Catalog*> catalog_{nullptr};
  int64_t flush_ns_ = 0;  // set by Attach, before catalog_
  std::atomic<int64_t> last_flush_ns_{0};
  Mutex flush_mu_;  // one write at a time, in the order the minutes were read; before mu_
  mutable Mutex mu_;
  std::map<std::string, Window, std::less<>> windows_ GUARDED_BY(mu_);
  std::set<std::pair<std::string, int64_t>> dirty_ GUARDED_BY(mu_);  // (tenant, minute)
};

// The query engine as the HTTP routes see it: every search and context read of every route
// (native, Loki, export) goes through the tenant's quotas first. A reader (role "reader") may
// not reach further back than its tenant's reader_max_range (all_time=1 included): 403 naming
// the limit and the roles that may. Then the scan quota: 429 while the tenant is over it. What
// a search read (stats.bytes_read_compressed, nothing for an answer from the result cache) is
// charged to the tenant when it returns.
class QuotaQueryEngine final : public query::QueryEngine {
 public:
  // "inner" and "scan" must outlive this.
  QuotaQueryEngine(query::QueryEngine* inner, ScanQuota* scan, QuotaFor reader_max_range_ms,
                   Clock* clock)
      : inner_(inner),
        scan_(scan),
        reader_max_range_ms_(std::move(reader_max_range_ms)),
        clock_(clock) {}

  Result<query::SearchResponse> Search(const query::SearchRequest& request) override;
  Result<query::ContextResponse> Context(std::string_view tenant, uint64_t id, size_t before,
                                         size_t after) override;
  // A node's part of a cluster query: charged on the node that was asked the query.
  Result<query::PartAnswer> SearchMemtables(const query::PartRequest& request) override {
    return inner_->SearchMemtables(request);
  }
  Result<query::PartAnswer> ContextPart(const query::ContextPartRequest& request) override {
    return inner_->ContextPart(request);
  }
  // The reader_max_range check of Search alone, for a caller that searches "request"'s range
  // in several pieces (an export): PermissionDenied with Search's message, else OK.
  Status CheckReaderRange(const query::SearchRequest& request) const;

 private:
  query::QueryEngine* const inner_;
  ScanQuota* const scan_;
  const QuotaFor reader_max_range_ms_;
  Clock* const clock_;
};

}  // namespace sawmill::http
