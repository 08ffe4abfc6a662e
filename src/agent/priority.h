// The agent's priority rules, in one place:
// - RateLimiter: per-host token bucket (off by default; when configured, bursts allowed).
// DEBUG/TRACE are
//   shed once the bucket is half empty, INFO (and lines without a level) once it is empty;
//   WARN, ERROR and FATAL always pass (they still take tokens, so a WARN flood sheds the rest).
// - DropLevel: what the pipeline sheds at its input: nothing normally; after
//   "failures_before_drop" consecutive send failures with the spool over 90% full, DEBUG;
//   over 95%, INFO as well. Never WARN and above.
// - The spool thresholds themselves (oldest DEBUG over 90%, oldest INFO over 95%) are applied by
//   the pipeline through Spool::DropOldest.
//
// Not thread-safe: owned by the pipeline thread.
#pragma once

#include <cstdint>

#include "sawmill/record.h"

namespace sawmill::agent {

class RateLimiter {
 public:
  // "lines_per_sec" 0 disables the limit.
  RateLimiter(uint64_t lines_per_sec, uint64_t burst);

  // True when a line of "level" may pass at monotonic time "now_ns".
  bool Admit(Level level, int64_t now_ns);

 private:
  void Refill(int64_t now_ns);
  const double rate_;
  const double burst_;
  double tokens_;
  int64_t last_ns_ = -1;
};

// The lowest level kept at the input: kUnknown means "keep everything"; kInfo means DEBUG and
// TRACE are shed; kWarn means INFO (and lines without a level) are shed as well.
Level ComputeDropLevel(uint64_t consecutive_failures, uint64_t failures_before_drop,
                       uint64_t spool_used, uint64_t spool_max);

// True when a line of "level" is shed under "drop_level".
bool ShedAtDropLevel(Level level, Level drop_level);

}  // namespace sawmill::agent
