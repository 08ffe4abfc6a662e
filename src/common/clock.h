// Time source. Production code takes a Clock* so that tests can control time.
#pragma once

#include <atomic>
#include <cstdint>

namespace sawmill {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch (wall clock).
  virtual int64_t NowNanos() const = 0;
  // Nanoseconds from an arbitrary fixed point; never goes backwards. For durations.
  virtual int64_t MonotonicNanos() const = 0;

  // The process-wide real clock. Never null; lives for the whole process.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ns = 0) : now_(now_ns) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ns) { now_.store(now_ns, std::memory_order_relaxed); }
  void Advance(int64_t delta_ns) { now_.fetch_add(delta_ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

inline constexpr int64_t kNanosPerMicro = 1000;
inline constexpr int64_t kNanosPerMilli = 1000 * 1000;
inline constexpr int64_t kNanosPerSecond = 1000 * 1000 * 1000;

}  // namespace sawmill
