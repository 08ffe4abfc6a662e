// Remembers the answers to ingest batches sent with an Idempotency-Key header, so that a client
// retrying a batch (after a timeout or a lost connection) gets the first answer and nothing is
// stored twice. Keys are scoped by tenant. Memory is bounded by "max_entries" (oldest evicted
// first) and entries expire after "ttl_ns". Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "http/router.h"

namespace sawmill::http {

struct IdempotencyOptions {
  int64_t ttl_ns = 15 * 60 * kNanosPerSecond;
  size_t max_entries = 100'000;
  size_t max_answer_bytes = 4096;  // answers bigger than this are not remembered
};

class IdempotencyCache {
 public:
  // "clock" must outlive the cache; nullptr: Clock::Real().
  explicit IdempotencyCache(const IdempotencyOptions& options, Clock* clock = nullptr);

  // Claims "key" for a new batch. Returns the remembered answer when the key was completed
  // before (within the TTL). When another request holds the key right now, waits for it (up to
  // "wait_ms") and returns its answer; if it gave none (failed or timed out) this call claims the
  // key. nullopt: the caller owns the key and must call Complete or Abandon.
  std::optional<HttpResponse> Claim(const std::string& tenant, const std::string& key,
                                    int wait_ms = 60'000);
  // Remembers the answer for the key claimed by this caller.
  void Complete(const std::string& tenant, const std::string& key, const HttpResponse& answer);
  // Releases a claimed key without an answer (the batch failed: a retry must store it).
  void Abandon(const std::string& tenant, const std::string& key);

  size_t size() const;

 private:
  struct Entry {
    bool done = false;
    HttpResponse answer;
    int64_t expires_ns = 0;
  };
  static std::string FullKey(const std::string& tenant, const std::string& key);
  void EvictLocked(int64_t now_ns);

  const IdempotencyOptions options_;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
  // Completed keys in completion order, for expiry and the size bound. GUARDED_BY(mu_)
  std::deque<std::pair<int64_t, std::string>> order_;
};

}  // namespace sawmill::http
