#include "http/idempotency_cache.h"

#include <chrono>

namespace sawmill::http {

std::string IdempotencyGate::FullKey(std::string_view tenant, std::string_view key) {
  std::string full(tenant);
  full.push_back('\0');
  full.append(key);
  return full;
}

Status IdempotencyGate::Acquire(std::string_view tenant, std::string_view key, int wait_ms) {
  std::string full = FullKey(tenant, key);
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (held_.count(full) != 0) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && held_.count(full) != 0) {
      // The holder is stuck: do not wait forever, and do not store the batch twice either.
      return Status::Unavailable("a batch with this Idempotency-Key is still being stored");
    }
  }
  held_.insert(std::move(full));
  return Status::OK();
}

void IdempotencyGate::Release(std::string_view tenant, std::string_view key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(FullKey(tenant, key));
  }
  cv_.notify_all();
}

size_t IdempotencyGate::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

}  // namespace sawmill::http
