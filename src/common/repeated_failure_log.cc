#include "common/repeated_failure_log.h"

#include <spdlog/spdlog.h>

namespace sawmill {

RepeatedFailureLog::RepeatedFailureLog(std::string what, Clock* clock, int64_t interval_ns)
    : what_(std::move(what)),
      clock_(clock != nullptr ? clock : Clock::Real()),
      interval_ns_(interval_ns) {}

bool RepeatedFailureLog::Failure(const Status& error) {
  const int64_t now = clock_->MonotonicNanos();
  MutexLock l(&mu_);
  ++failures_;
  ++unlogged_;
  if (failures_ == 1) {
    spdlog::warn("{} failed: {} (while it keeps failing, logged again at most every {} s)", what_,
                 error.ToString(), interval_ns_ / kNanosPerSecond);
  } else if (now - last_logged_ns_ >= interval_ns_) {
    spdlog::warn("{} still fails: {} failures in the last {} s, {} since it last worked ({})",
                 what_, unlogged_, (now - last_logged_ns_) / kNanosPerSecond, failures_,
                 error.ToString());
  } else {
    return false;
  }
  unlogged_ = 0;
  last_logged_ns_ = now;
  return true;
}

void RepeatedFailureLog::Success() {
  MutexLock l(&mu_);
  if (failures_ == 0) return;
  spdlog::info("{} works again after {} failures", what_, failures_);
  failures_ = 0;
  unlogged_ = 0;
}

uint64_t RepeatedFailureLog::failures() const {
  MutexLock l(&mu_);
  return failures_;
}

}  // namespace sawmill
