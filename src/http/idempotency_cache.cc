#include "http/idempotency_cache.h"

#include <chrono>

namespace sawmill::http {

IdempotencyCache::IdempotencyCache(const IdempotencyOptions& options, Clock* clock)
    : options_(options), clock_(clock != nullptr ? clock : Clock::Real()) {}

std::string IdempotencyCache::FullKey(const std::string& tenant, const std::string& key) {
  std::string full = tenant;
  full.push_back('\0');
  full += key;
  return full;
}

void IdempotencyCache::EvictLocked(int64_t now_ns) {
  while (!order_.empty() &&
         (order_.front().first <= now_ns || order_.size() > options_.max_entries)) {
    auto it = entries_.find(order_.front().second);
    // Only erase the entry this queue slot describes (a key may have been re-added since).
    if (it != entries_.end() && it->second.done && it->second.expires_ns == order_.front().first) {
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

std::optional<HttpResponse> IdempotencyCache::Claim(const std::string& tenant,
                                                    const std::string& key, int wait_ms) {
  std::string full = FullKey(tenant, key);
  std::unique_lock<std::mutex> lock(mu_);
  EvictLocked(clock_->NowNanos());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    auto it = entries_.find(full);
    if (it == entries_.end()) {
      entries_.emplace(full, Entry{});
      return std::nullopt;
    }
    if (it->second.done) {
      if (it->second.expires_ns > clock_->NowNanos()) return it->second.answer;
      entries_.erase(it);
      continue;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // The holder is stuck; do not wait forever, and do not store the batch twice either.
      HttpResponse busy = HttpResponse::Error(
          Status::Unavailable("a batch with this Idempotency-Key is still being stored"));
      return busy;
    }
  }
}

void IdempotencyCache::Complete(const std::string& tenant, const std::string& key,
                                const HttpResponse& answer) {
  std::string full = FullKey(tenant, key);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (answer.body.size() > options_.max_answer_bytes) {
      entries_.erase(full);
    } else {
      int64_t expires = clock_->NowNanos() + options_.ttl_ns;
      Entry& entry = entries_[full];
      entry.done = true;
      entry.answer = answer;
      entry.expires_ns = expires;
      order_.emplace_back(expires, full);
      EvictLocked(clock_->NowNanos());
    }
  }
  cv_.notify_all();
}

void IdempotencyCache::Abandon(const std::string& tenant, const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(FullKey(tenant, key));
    if (it != entries_.end() && !it->second.done) entries_.erase(it);
  }
  cv_.notify_all();
}

size_t IdempotencyCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace sawmill::http
