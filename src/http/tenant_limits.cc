#include "http/tenant_limits.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "common/metrics.h"
#include "common/time_format.h"
#include "http/tenant_quotas.h"

namespace sawmill::http {

namespace {

prometheus::Family<prometheus::Counter>& Refused() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_tenant_limit_refused_total")
          .Help(
              "Requests refused for a tenant's query quota, by tenant and limit "
              "(concurrent queries, tail sessions: 429; scanned_bytes_per_hour: 429; "
              "reader_max_range: 403)")
          .Register(MetricsRegistry());
  return family;
}

}  // namespace

Result<std::shared_ptr<void>> TenantLimiter::Acquire(const std::string& tenant) {
  const uint64_t max = max_(tenant);
  if (max == 0) return std::shared_ptr<void>();
  {
    MutexLock lock(&mu_);
    uint64_t& n = held_[tenant];
    if (n >= max) {
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

namespace {

prometheus::Family<prometheus::Counter>& Scanned() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_tenant_scanned_bytes_total")
          .Help(
              "Bytes read from segments by each tenant's queries (what the "
              "scanned_bytes_per_hour quota counts)")
          .Register(MetricsRegistry());
  return family;
}

std::string Bytes(uint64_t n) {
  char text[32];
  if (n >= (1ull << 30)) {
    std::snprintf(text, sizeof(text), "%.2f GiB", static_cast<double>(n) / (1ull << 30));
  } else if (n >= (1ull << 20)) {
    std::snprintf(text, sizeof(text), "%.2f MiB", static_cast<double>(n) / (1ull << 20));
  } else {
    std::snprintf(text, sizeof(text), "%llu bytes", static_cast<unsigned long long>(n));
  }
  return text;
}

}  // namespace

uint64_t ScanQuota::UsedLocked(const Window& w, int64_t now_minute) const {
  uint64_t used = 0;
  for (size_t i = 0; i < kMinutes; ++i) {
    if (w.minute[i] > now_minute - static_cast<int64_t>(kMinutes)) used += w.bytes[i];
  }
  return used;
}

Status ScanQuota::Admit(const std::string& tenant) {
  const uint64_t quota = quota_for_(tenant);
  if (quota == 0) return Status::OK();
  const int64_t now = clock_->NowNanos();
  const int64_t now_minute = now / kMinuteNs;
  MutexLock lock(&mu_);
  auto it = windows_.find(tenant);
  if (it == windows_.end()) return Status::OK();
  const Window& w = it->second;
  const uint64_t used = UsedLocked(w, now_minute);
  if (used < quota) return Status::OK();
  // When enough leaves the window: the oldest minutes drop out first.
  std::map<int64_t, uint64_t> by_minute;
  for (size_t i = 0; i < kMinutes; ++i) {
    if (w.minute[i] > now_minute - static_cast<int64_t>(kMinutes)) {
      by_minute[w.minute[i]] += w.bytes[i];
    }
  }
  uint64_t left = used;
  int64_t frees_ns = now + static_cast<int64_t>(kMinutes) * kMinuteNs;
  for (const auto& [minute, bytes] : by_minute) {
    left -= bytes;
    if (left < quota) {
      frees_ns = (minute + static_cast<int64_t>(kMinutes)) * kMinuteNs;
      break;
    }
  }
  const int64_t wait_s = std::max<int64_t>(1, (frees_ns - now + 999'999'999) / 1'000'000'000);
  Refused().Add({{"tenant", tenant}, {"limit", "scanned_bytes_per_hour"}}).Increment();
  return Status::ResourceExhausted(
      "tenant '" + tenant + "' has read " + Bytes(used) + " in queries over the last hour, its " +
      "quota is " + Bytes(quota) + " (scanned_bytes_per_hour); queries are refused until " +
      FormatRfc3339(frees_ns) + " (retry in " + std::to_string(wait_s) + " s)");
}

void ScanQuota::Charge(const std::string& tenant, uint64_t bytes) {
  if (bytes == 0) return;
  Scanned().Add({{"tenant", tenant}}).Increment(static_cast<double>(bytes));
  const int64_t now = clock_->NowNanos();
  const int64_t now_minute = now / kMinuteNs;
  const size_t slot = static_cast<size_t>(now_minute % static_cast<int64_t>(kMinutes));
  {
    MutexLock lock(&mu_);
    Window& w = windows_[tenant];
    if (w.minute[slot] != now_minute) {
      w.minute[slot] = now_minute;
      w.bytes[slot] = 0;
    }
    w.bytes[slot] += bytes;
    dirty_.emplace(tenant, now_minute);
  }
  // At most one write per interval, by the query that finds it due (the others go on).
  if (catalog_.load() == nullptr) return;
  int64_t last = last_flush_ns_.load();
  if (now - last < flush_ns_ || !last_flush_ns_.compare_exchange_strong(last, now)) return;
  if (Status status = Flush(); !status.ok()) {
    spdlog::warn("scan quota: could not store the bytes scanned per tenant (retried in {} s): {}",
                 flush_ns_ / 1'000'000'000, status.ToString());
  }
}

Status ScanQuota::Attach(catalog::Catalog* catalog, int64_t flush_ns) {
  const int64_t now_minute = clock_->NowNanos() / kMinuteNs;
  ASSIGN_OR_RETURN(std::vector<catalog::ScanUsageRow> rows,
                   catalog->ListScanUsage(now_minute - static_cast<int64_t>(kMinutes) + 1));
  {
    MutexLock lock(&mu_);
    for (const catalog::ScanUsageRow& row : rows) {
      if (row.minute > now_minute) continue;  // the clock went back: not this hour's
      const size_t slot = static_cast<size_t>(row.minute % static_cast<int64_t>(kMinutes));
      Window& w = windows_[row.tenant];
      if (w.minute[slot] != row.minute) {
        w.minute[slot] = row.minute;
        w.bytes[slot] = 0;
      }
      w.bytes[slot] += row.bytes;
      dirty_.emplace(row.tenant, row.minute);  // written back as the sum
    }
  }
  flush_ns_ = flush_ns;
  last_flush_ns_.store(clock_->NowNanos());
  catalog_.store(catalog);
  return Status::OK();
}

Status ScanQuota::Flush() {
  catalog::Catalog* catalog = catalog_.load();
  if (catalog == nullptr) return Status::OK();
  MutexLock flush_lock(&flush_mu_);
  const int64_t now_minute = clock_->NowNanos() / kMinuteNs;
  std::vector<catalog::ScanUsageRow> rows;
  std::set<std::pair<std::string, int64_t>> taken;
  {
    MutexLock lock(&mu_);
    taken.swap(dirty_);
    for (const auto& [tenant, minute] : taken) {
      auto it = windows_.find(tenant);
      if (it == windows_.end()) continue;
      const size_t slot = static_cast<size_t>(minute % static_cast<int64_t>(kMinutes));
      if (it->second.minute[slot] != minute) continue;  // out of the hour since
      rows.push_back({tenant, minute, it->second.bytes[slot]});
    }
  }
  Status status = catalog->PutScanUsage(rows, now_minute - static_cast<int64_t>(kMinutes) + 1);
  if (!status.ok()) {
    MutexLock lock(&mu_);
    dirty_.insert(taken.begin(), taken.end());
  }
  return status;
}

uint64_t ScanQuota::Used(std::string_view tenant) const {
  const int64_t now_minute = clock_->NowNanos() / kMinuteNs;
  MutexLock lock(&mu_);
  auto it = windows_.find(tenant);
  return it == windows_.end() ? 0 : UsedLocked(it->second, now_minute);
}

Status QuotaQueryEngine::CheckReaderRange(const query::SearchRequest& request) const {
  if (request.role == "reader") {
    if (const uint64_t max_ms = reader_max_range_ms_(request.tenant); max_ms > 0) {
      const int64_t now = clock_->NowNanos();
      auto range =
          query::ParseTimeRange(request.since, request.from, request.to, request.all_time, now);
      // A bad range is the engine's error to give (with its position and wording).
      const int64_t oldest = now - static_cast<int64_t>(std::min<uint64_t>(
                                       max_ms, static_cast<uint64_t>(INT64_MAX / 1'000'000))) *
                                       1'000'000;
      // A minute of slack: a client (or the Loki routes) that computed "now - range" a moment
      // ago is not refused for the milliseconds since.
      constexpr int64_t kSlackNs = 60'000'000'000;
      if (range.ok() && (request.all_time || range->from_ns < oldest - kSlackNs)) {
        Refused().Add({{"tenant", request.tenant}, {"limit", "reader_max_range"}}).Increment();
        return Status::PermissionDenied(
            std::string(request.all_time
                            ? "all_time=1"
                            : "a time range starting " + FormatRfc3339(range->from_ns)) +
            " reaches further back than the " +
            FormatQuotaValue(QuotaKey::kReaderMaxRange, max_ms) + " a reader of tenant '" +
            request.tenant + "' may search (reader_max_range): ask for a range within the last " +
            FormatQuotaValue(QuotaKey::kReaderMaxRange, max_ms) +
            ", or use a tenant-admin or platform-admin token");
      }
    }
  }
  return Status::OK();
}

Result<query::SearchResponse> QuotaQueryEngine::Search(const query::SearchRequest& request) {
  RETURN_IF_ERROR(CheckReaderRange(request));
  RETURN_IF_ERROR(scan_->Admit(request.tenant));
  auto result = inner_->Search(request);
  // An answer from the result cache or shared with an identical running query read nothing of
  // its own. A partial answer (deadline, limit, client gone) is charged what it read.
  if (result.ok() && !result->stats.cache_hit) {
    scan_->Charge(request.tenant, result->stats.bytes_read_compressed);
  }
  return result;
}

Result<query::ContextResponse> QuotaQueryEngine::Context(std::string_view tenant, uint64_t id,
                                                         size_t before, size_t after) {
  RETURN_IF_ERROR(scan_->Admit(std::string(tenant)));
  return inner_->Context(tenant, id, before, after);
}

}  // namespace sawmill::http
