// A failure that repeats (a move to a cold store that is down, tried again at every disk check)
// logged without flooding the log: the first failure after a success at once, then at most once
// per interval (a minute) with the number of failures since the last line; the first success
// after failures once. Counting every failure in a metric stays the caller's job: the log line
// is for the operator, the counter for alerts.
// Threading: thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill {

class RepeatedFailureLog {
 public:
  // "what" names the operation in the log lines ("disk pressure: moving segments to cold
  // early"). "clock" (its monotonic time) must outlive this; nullptr: Clock::Real().
  explicit RepeatedFailureLog(std::string what, Clock* clock = nullptr,
                              int64_t interval_ns = 60 * kNanosPerSecond);

  // One failure. Logs a warning when it is the first since a success or when the last line is
  // an interval old (then with the count of failures since that line). Returns true when it
  // logged.
  bool Failure(const Status& error);
  // One success: logs once (info) when failures came before it, with their count.
  void Success();

  // Failures since the last success.
  uint64_t failures() const;

 private:
  const std::string what_;
  Clock* const clock_;
  const int64_t interval_ns_;
  mutable Mutex mu_;
  uint64_t failures_ GUARDED_BY(mu_) = 0;       // since the last success
  uint64_t unlogged_ GUARDED_BY(mu_) = 0;       // since the last line
  int64_t last_logged_ns_ GUARDED_BY(mu_) = 0;  // monotonic
};

}  // namespace sawmill
