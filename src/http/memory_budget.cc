#include "http/memory_budget.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/metrics.h"
#include "common/mutex.h"

namespace sawmill::http {

namespace {

constexpr auto kLogInterval = std::chrono::seconds(10);

struct BudgetMetrics {
  prometheus::Family<prometheus::Counter>& rejected;
  prometheus::Gauge& in_use;
  prometheus::Gauge& limit;
};

BudgetMetrics& Metrics() {
  static BudgetMetrics* metrics = [] {
    auto& r = MetricsRegistry();
    auto& rejected = prometheus::BuildCounter()
                         .Name("sawmill_ingest_rejected_total")
                         .Help("Requests refused before being held, by the bound they would pass")
                         .Register(r);
    auto& in_use = *UnlabelledGauge("sawmill_ingest_memory_bytes",
                                    "Bytes of the ingest memory budget held by requests in flight");
    auto& limit = *UnlabelledGauge("sawmill_ingest_memory_limit_bytes",
                                   "The ingest memory budget (ingest_memory)");
    return new BudgetMetrics{rejected, in_use, limit};
  }();
  return *metrics;
}

}  // namespace

bool MemoryBudget::TryAcquire(uint64_t bytes) {
  uint64_t current = in_use_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || current > limit_ - bytes) return false;
  } while (!in_use_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return true;
}

void MemoryBudget::Release(uint64_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }

Reservation::Reservation(Reservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
  other.bytes_ = 0;
}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.bytes_ = 0;
  }
  return *this;
}

bool Reservation::GrowTo(uint64_t bytes) {
  if (budget_ == nullptr || bytes <= bytes_) return true;
  if (!budget_->TryAcquire(bytes - bytes_)) return false;
  bytes_ = bytes;
  return true;
}

void Reservation::Reset() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Release(bytes_);
  bytes_ = 0;
}

uint64_t EstimateRequestBytes(uint64_t received, uint64_t decoded, uint64_t lines, bool document) {
  if (document) return received + decoded + kProtobufExpansion * decoded;
  return received + 3 * decoded + kBytesPerLine * lines;
}

void CountIngestRejected(std::string_view reason, const std::string& message) {
  Metrics().rejected.Add({{"reason", std::string(reason)}}).Increment();
  static Mutex mu;
  static std::chrono::steady_clock::time_point last{};
  static uint64_t suppressed = 0;
  MutexLock lock(&mu);
  auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < kLogInterval) {
    ++suppressed;
    return;
  }
  if (suppressed > 0) {
    spdlog::warn(
        "ingest refused ({}): {} ({} more refusals in the last {} s, see "
        "sawmill_ingest_rejected_total)",
        reason, message, suppressed,
        std::chrono::duration_cast<std::chrono::seconds>(now - last).count());
  } else {
    spdlog::warn("ingest refused ({}): {}", reason, message);
  }
  last = now;
  suppressed = 0;
}

void PublishBudget(const MemoryBudget& budget) {
  Metrics().in_use.Set(static_cast<double>(budget.in_use()));
  Metrics().limit.Set(static_cast<double>(budget.limit()));
}

std::string HumanSize(uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
    return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (10ull << 20) || (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  if (bytes >= (10ull << 10) || (bytes >= 1024 && bytes % 1024 == 0)) {
    return std::to_string(bytes >> 10) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace sawmill::http
