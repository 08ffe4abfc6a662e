// The result cache: answers keyed by tenant, normalised query and time range, kept for a TTL,
// bounded in bytes, least recently used evicted first.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"
#include "query/query_engine.h"

namespace sawmill::query {

// Approximate bytes an answer holds in memory.
size_t ApproximateSize(const SearchResponse& response);

// Thread-safe.
class ResultCache {
 public:
  // "clock" must outlive the cache.
  ResultCache(uint64_t capacity_bytes, int64_t ttl_ns, Clock* clock);

  // The answer is shared, not copied, so that many readers do not queue on the cache's lock.
  std::shared_ptr<const SearchResponse> Get(const std::string& key);
  // An answer bigger than the whole capacity is not kept.
  void Put(const std::string& key, std::shared_ptr<const SearchResponse> response);

  size_t entries() const;
  uint64_t bytes() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const SearchResponse> response;
    size_t bytes;
    int64_t expires_ns;
  };
  void EvictLocked() REQUIRES(mu_);

  const uint64_t capacity_;
  const int64_t ttl_ns_;
  Clock* const clock_;
  mutable Mutex mu_;
  std::list<Entry> lru_ GUARDED_BY(mu_);  // front is the most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_ GUARDED_BY(mu_);
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace sawmill::query
