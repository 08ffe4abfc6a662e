#include "http/idempotency_cache.h"

#include <chrono>

#include "common/mutex.h"

namespace sawmill::http {

std::string IdempotencyGate::FullKey(std::string_view tenant, std::string_view key) {
  std::string full(tenant);
  full.push_back('\0');
  full.append(key);
  return full;
}

Status IdempotencyGate::Acquire(std::string_view tenant, std::string_view key, int wait_ms) {
  std::string full = FullKey(tenant, key);
  UniqueLock lock(&mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (held_.count(full) != 0) {
    if (!cv_.WaitUntil(&lock, deadline) && held_.count(full) != 0) {
      // The holder is stuck: do not wait forever, and do not store the batch twice either.
      return Status::Unavailable("a batch with this Idempotency-Key is still being stored");
    }
  }
  held_.insert(std::move(full));
  return Status::OK();
}

void IdempotencyGate::Release(std::string_view tenant, std::string_view key) {
  {
    MutexLock lock(&mu_);
    held_.erase(FullKey(tenant, key));
  }
  cv_.NotifyAll();
}

size_t IdempotencyGate::held() const {
  MutexLock lock(&mu_);
  return held_.size();
}

}  // namespace sawmill::http
