#include "ingest/tenant_quota.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/metrics.h"

namespace sawmill::ingest {

namespace {

prometheus::Family<prometheus::Counter>& Refused() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_ingest_quota_refused_lines_total")
          .Help(
              "Lines of batches refused (429) for being over their tenant's ingest quota, by "
              "tenant and priority (low: no WARN+ line in the batch; high: some)")
          .Register(MetricsRegistry());
  return family;
}

uint64_t RecordBytes(const Record& r) {
  uint64_t bytes = r.message.size() + r.service.size() + r.host.size() + r.trace_id.size() +
                   r.span_id.size() + r.user_id.size();
  for (const auto& [key, value] : r.fields) bytes += key.size() + value.size();
  return bytes;
}

std::string Rate(uint64_t lines, uint64_t bytes) {
  std::string out;
  if (lines > 0) out += std::to_string(lines) + " lines/s";
  if (bytes > 0) out += (out.empty() ? "" : ", ") + std::to_string(bytes) + " bytes/s";
  return out;
}

}  // namespace

TenantQuotas::TenantQuotas(TenantQuotaOptions options, Clock* clock)
    : options_(options), clock_(clock) {}

TenantQuotas::TenantQuotas(Clock* clock,
                           std::function<TenantQuotaOptions(std::string_view)> options_for)
    : options_for_(std::move(options_for)), clock_(clock) {}

Status TenantQuotas::Admit(const std::string& tenant, const std::vector<Record>& records) {
  if (records.empty()) return Status::OK();
  const TenantQuotaOptions options = options_for_ ? options_for_(tenant) : options_;
  if (options.lines_per_sec == 0 && options.bytes_per_sec == 0) return Status::OK();
  const double burst_s = static_cast<double>(options.burst_ns) / 1e9;
  const double line_capacity = static_cast<double>(options.lines_per_sec) * burst_s;
  const double byte_capacity = static_cast<double>(options.bytes_per_sec) * burst_s;
  bool high = false;
  uint64_t bytes = 0;
  for (const Record& r : records) {
    high = high || (r.level != Level::kUnknown && r.level >= Level::kWarn);
    bytes += RecordBytes(r);
  }
  const double lines = static_cast<double>(records.size());
  const int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) {
    it = buckets_.emplace(tenant, Bucket{line_capacity, byte_capacity, now}).first;
  }
  Bucket& b = it->second;
  // Refill; a quota lowered meanwhile caps what the bucket holds at its new size.
  const double seconds = static_cast<double>(std::max<int64_t>(0, now - b.at_ns)) / 1e9;
  b.lines = std::min(line_capacity, b.lines + seconds * static_cast<double>(options.lines_per_sec));
  b.bytes = std::min(byte_capacity, b.bytes + seconds * static_cast<double>(options.bytes_per_sec));
  b.at_ns = now;
  // What must be left after taking the batch: a quarter of the burst for low-priority batches,
  // nothing for high-priority ones. A batch larger than the whole burst passes on a full bucket
  // (and leaves it in debt) so that it is not refused forever.
  const double reserve = high ? 0.0 : 0.25;
  auto fits = [reserve](double have, double want, double capacity, uint64_t rate) {
    if (rate == 0) return true;
    if (want > capacity) return have >= capacity * (1.0 - reserve) - 1e-9;
    return have - want >= capacity * reserve - 1e-9;
  };
  const bool ok = fits(b.lines, lines, line_capacity, options.lines_per_sec) &&
                  fits(b.bytes, static_cast<double>(bytes), byte_capacity, options.bytes_per_sec);
  if (ok) {
    if (options.lines_per_sec > 0) b.lines -= lines;
    if (options.bytes_per_sec > 0) b.bytes -= static_cast<double>(bytes);
    return Status::OK();
  }
  Refused().Add({{"tenant", tenant}, {"priority", high ? "high" : "low"}}).Increment(lines);
  return Status::ResourceExhausted(
      "tenant '" + tenant + "' is over its ingest quota (" +
      Rate(options.lines_per_sec, options.bytes_per_sec) + ", burst " +
      std::to_string(options.burst_ns / kNanosPerSecond) + " s)" +
      (high ? "" : "; batches without WARN or higher lines are refused first") +
      "; retry after the Retry-After delay; nothing was stored");
}

}  // namespace sawmill::ingest
