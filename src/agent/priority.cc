#include "agent/priority.h"

#include <algorithm>

#include "agent/spool.h"

namespace sawmill::agent {

RateLimiter::RateLimiter(uint64_t lines_per_sec, uint64_t burst)
    : rate_(static_cast<double>(lines_per_sec)),
      burst_(static_cast<double>(std::max<uint64_t>(burst, 1))),
      tokens_(burst_) {}

void RateLimiter::Refill(int64_t now_ns) {
  if (last_ns_ >= 0 && now_ns > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ns - last_ns_) / 1e9);
  }
  last_ns_ = now_ns;
}

bool RateLimiter::Admit(Level level, int64_t now_ns) {
  if (rate_ <= 0) return true;
  Refill(now_ns);
  switch (ClassOf(level)) {
    case LevelClass::kHigh: tokens_ = std::max(-burst_, tokens_ - 1); return true;
    case LevelClass::kInfo:
      if (tokens_ < 1) return false;
      break;
    case LevelClass::kLow:
      if (tokens_ < burst_ / 2) return false;
      break;
  }
  tokens_ -= 1;
  return true;
}

Level ComputeDropLevel(uint64_t consecutive_failures, uint64_t failures_before_drop,
                       uint64_t spool_used, uint64_t spool_max) {
  if (consecutive_failures < failures_before_drop || spool_max == 0) return Level::kUnknown;
  double usage = static_cast<double>(spool_used) / static_cast<double>(spool_max);
  if (usage > 0.95) return Level::kWarn;
  if (usage > 0.90) return Level::kInfo;
  return Level::kUnknown;
}

bool ShedAtDropLevel(Level level, Level drop_level) {
  if (drop_level == Level::kUnknown) return false;
  LevelClass cls = ClassOf(level);
  if (cls == LevelClass::kHigh) return false;
  if (drop_level == Level::kInfo) return cls == LevelClass::kLow;
  return true;
}

}  // namespace sawmill::agent
