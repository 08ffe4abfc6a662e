#include "storage/append_pacer.h"

#include <algorithm>

namespace sawmill::storage {

AppendPacer::AppendPacer(uint64_t cap, uint64_t hard, int flush_threads)
    : cap_(cap), hard_(std::max(hard, cap + 1)), flush_threads_(std::max(1, flush_threads)) {}

double AppendPacer::drain_bytes_per_s(int64_t now_ns) const {
  double rate = per_flush_rate_;
  for (const Running& r : running_) {
    // Until 10 ms have passed a running flush says nothing.
    const double elapsed_s =
        static_cast<double>(std::max<int64_t>(now_ns - r.start_ns, 10'000'000)) / 1e9;
    rate = std::min(rate, static_cast<double>(r.bytes) / elapsed_s);
  }
  return rate * flush_threads_;
}

double AppendPacer::AdmitRate(uint64_t held, int64_t now_ns) const {
  if (held < cap_) return 0;
  // 2 at the cap, 1 at the middle, falling to 1/8 near the hard limit.
  const double room =
      held >= hard_ ? 0.0 : static_cast<double>(hard_ - held) / static_cast<double>(hard_ - cap_);
  const double factor = std::clamp(2.0 * room, 0.125, 2.0);
  return drain_bytes_per_s(now_ns) * factor;
}

int64_t AppendPacer::Admit(int64_t now_ns, uint64_t held, uint64_t bytes, int64_t latest_ns) {
  if (held < cap_) {
    next_ns_ = std::min(next_ns_, now_ns);
    return now_ns;
  }
  // At least a byte a second, and a batch's span at most an hour: a flush that reports nothing
  // freed cannot make the arithmetic overflow (the deadline bounds the wait anyway).
  const double rate = std::max(AdmitRate(held, now_ns), 1.0);
  const int64_t slot = std::min(std::max(now_ns, next_ns_), std::max(now_ns, latest_ns));
  const double span_s = std::min(static_cast<double>(bytes) / rate, 3600.0);
  next_ns_ = slot + static_cast<int64_t>(span_s * 1e9);
  return slot;
}

int AppendPacer::FlushStarted(uint64_t bytes, int64_t now_ns) {
  const int token = next_token_++;
  running_.push_back(Running{token, bytes, now_ns});
  return token;
}

void AppendPacer::FlushEnded(int token, bool ok, int64_t now_ns) {
  auto it = std::find_if(running_.begin(), running_.end(),
                         [token](const Running& r) { return r.token == token; });
  if (it == running_.end()) return;
  const Running r = *it;
  running_.erase(it);
  // Small flushes (a partition due by age) are mostly fixed costs and would understate the rate.
  const uint64_t small = std::min<uint64_t>(1u << 20, cap_ / 64);
  if (!ok || r.bytes < small || now_ns <= r.start_ns) return;
  const double rate =
      static_cast<double>(r.bytes) / (static_cast<double>(now_ns - r.start_ns) / 1e9);
  per_flush_rate_ = measured_ ? 0.7 * per_flush_rate_ + 0.3 * rate : rate;
  measured_ = true;
}

}  // namespace sawmill::storage
