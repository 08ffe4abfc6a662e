#include "query/result_cache.h"

#include "common/mutex.h"

namespace sawmill::query {

size_t ApproximateSize(const SearchResponse& r) {
  size_t n = sizeof(SearchResponse) + r.plan.size();
  for (const Record& rec : r.hits) n += rec.ApproximateSize();
  for (const Row& row : r.rows) {
    n += sizeof(Row);
    for (const auto& [k, v] : row) {
      n += sizeof(k) + k.size() + sizeof(v);
      if (const std::string* s = std::get_if<std::string>(&v)) n += s->size();
    }
  }
  for (const std::string& w : r.warnings) n += w.size() + sizeof(w);
  return n;
}

ResultCache::ResultCache(uint64_t capacity_bytes, int64_t ttl_ns, Clock* clock)
    : capacity_(capacity_bytes), ttl_ns_(ttl_ns), clock_(clock) {}

std::shared_ptr<const SearchResponse> ResultCache::Get(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (clock_->NowNanos() >= it->second->expires_ns) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->response;
}

void ResultCache::Put(const std::string& key, std::shared_ptr<const SearchResponse> response) {
  size_t size = ApproximateSize(*response) + key.size() * 2 + 64;
  if (size > capacity_ || ttl_ns_ <= 0) return;
  MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, std::move(response), size, clock_->NowNanos() + ttl_ns_});
  index_[key] = lru_.begin();
  bytes_ += size;
  EvictLocked();
}

void ResultCache::EvictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

size_t ResultCache::entries() const {
  MutexLock lock(&mu_);
  return lru_.size();
}

uint64_t ResultCache::bytes() const {
  MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace sawmill::query
