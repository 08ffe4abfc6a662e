#include "storage/idempotency_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"
#include "common/metrics.h"

namespace sawmill::storage {
namespace {

// The seq after a key's batch; a batch with only a key takes one seq (AppendIdempotent).
uint64_t EndSeq(uint64_t first_seq, uint64_t count) {
  return first_seq + std::max<uint64_t>(count, 1);
}

struct KeyMetrics {
  prometheus::Gauge* keys;
  prometheus::Counter* expired;
  prometheus::Counter* evicted;

  static KeyMetrics& Get() {
    static KeyMetrics m = [] {
      auto& reg = MetricsRegistry();
      KeyMetrics k;
      k.keys =
          UnlabelledGauge("sawmill_idempotency_keys",
                          "Idempotency-Keys remembered (acknowledged batches within the window)");
      auto& evicted = prometheus::BuildCounter()
                          .Name("sawmill_idempotency_keys_evicted_total")
                          .Help(
                              "Idempotency-Keys forgotten: reason=expired (older than the "
                              "window) or capacity (the key limit was reached first; a retry "
                              "of such a batch would be stored again)")
                          .Register(reg);
      k.expired = &evicted.Add({{"reason", "expired"}});
      k.evicted = &evicted.Add({{"reason", "capacity"}});
      return k;
    }();
    return m;
  }
};

}  // namespace

IdempotencyKeys::IdempotencyKeys(int64_t window_ns, size_t max_keys)
    : window_ns_(window_ns), max_keys_(std::max<size_t>(max_keys, 1)) {
  KeyMetrics::Get();
}

std::string IdempotencyKeys::FullKey(std::string_view tenant, std::string_view key) {
  std::string full;
  full.reserve(tenant.size() + 1 + key.size());
  full.append(tenant);
  full.push_back('\0');
  full.append(key);
  return full;
}

Status IdempotencyKeys::Reserve(std::string_view tenant, std::string_view key, int64_t now_ns) {
  MutexLock l(&mu_);
  EvictLocked(now_ns);
  auto [it, inserted] = entries_.try_emplace(FullKey(tenant, key));
  if (!inserted) {
    return Status::AlreadyExists(it->second.pending
                                     ? "a batch with this Idempotency-Key is being stored"
                                     : "this Idempotency-Key was already used");
  }
  it->second.pending = true;
  return Status::OK();
}

void IdempotencyKeys::Release(std::string_view tenant, std::string_view key) {
  MutexLock l(&mu_);
  auto it = entries_.find(FullKey(tenant, key));
  if (it != entries_.end() && it->second.pending) entries_.erase(it);
}

void IdempotencyKeys::Acknowledge(std::string_view tenant, const IdempotencyKey& entry,
                                  int64_t now_ns) {
  MutexLock l(&mu_);
  auto [it, inserted] = entries_.try_emplace(FullKey(tenant, entry.key));
  if (!inserted && !it->second.pending) return;  // not reserved by this caller: keep the first
  AddLocked(it, entry, false);
  EvictLocked(now_ns);
}

void IdempotencyKeys::Recover(std::string_view tenant, const IdempotencyKey& entry, bool persisted,
                              int64_t now_ns) {
  if (entry.created_ns < now_ns - window_ns_) return;
  MutexLock l(&mu_);
  auto [it, inserted] = entries_.try_emplace(FullKey(tenant, entry.key));
  if (!inserted) return;
  AddLocked(it, entry, persisted);
}

void IdempotencyKeys::FinishRecovery(int64_t now_ns) {
  MutexLock l(&mu_);
  std::stable_sort(order_.begin(), order_.end(), [](const auto* a, const auto* b) {
    return a->second.created_ns < b->second.created_ns;
  });
  EvictLocked(now_ns);
}

void IdempotencyKeys::AddLocked(Map::iterator it, const IdempotencyKey& entry, bool persisted) {
  Entry& e = it->second;
  e.body_hash = entry.body_hash;
  e.answer = entry.answer;
  e.first_seq = entry.first_seq;
  e.count = entry.count;
  e.created_ns = entry.created_ns;
  e.pending = false;
  e.persisted = persisted;
  ++acknowledged_;
  if (!persisted) unpersisted_.emplace(EndSeq(entry.first_seq, entry.count), it->first);
  order_.push_back(&*it);
}

void IdempotencyKeys::EvictLocked(int64_t now_ns) {
  const int64_t expire_before = now_ns - window_ns_;
  uint64_t expired = 0, evicted = 0;
  std::string first_evicted;
  while (!order_.empty() &&
         (order_.front()->second.created_ns < expire_before || acknowledged_ > max_keys_)) {
    auto it = entries_.find(order_.front()->first);
    order_.pop_front();
    if (it->second.created_ns < expire_before) {
      ++expired;
    } else {
      ++evicted;
      if (first_evicted.empty()) first_evicted = it->first;
    }
    entries_.erase(it);
    --acknowledged_;
  }
  auto& m = KeyMetrics::Get();
  if (expired > 0) m.expired->Increment(static_cast<double>(expired));
  if (evicted > 0) {
    m.evicted->Increment(static_cast<double>(evicted));
    unlogged_evictions_ += evicted;
    // One line for the first eviction, then at most one a minute with the count since.
    if (last_eviction_log_ns_ == 0 || now_ns - last_eviction_log_ns_ >= 60 * kNanosPerSecond) {
      const size_t nul = first_evicted.find('\0');
      spdlog::warn(
          "idempotency: {} keys younger than the {} s window forgotten because more than {} are "
          "kept (oldest first, e.g. tenant '{}' key '{}'); a retry of their batches would be "
          "stored again: raise idempotency_max_keys",
          unlogged_evictions_, window_ns_ / kNanosPerSecond, max_keys_,
          first_evicted.substr(0, nul), first_evicted.substr(nul + 1));
      unlogged_evictions_ = 0;
      last_eviction_log_ns_ = now_ns;
    }
  }
  m.keys->Set(static_cast<double>(acknowledged_));
}

std::optional<IdempotencyKey> IdempotencyKeys::Find(std::string_view tenant, std::string_view key,
                                                    int64_t now_ns) const {
  MutexLock l(&mu_);
  auto it = entries_.find(FullKey(tenant, key));
  if (it == entries_.end() || it->second.pending) return std::nullopt;
  const Entry& e = it->second;
  if (e.created_ns < now_ns - window_ns_) return std::nullopt;
  return IdempotencyKey{std::string(key), e.body_hash, e.answer,
                        e.first_seq,      e.count,     e.created_ns};
}

std::vector<catalog::IdempotencyKeyRow> IdempotencyKeys::Unpersisted(
    uint64_t min_unflushed_seq) const {
  MutexLock l(&mu_);
  std::vector<catalog::IdempotencyKeyRow> rows;
  for (auto it = unpersisted_.begin(); it != unpersisted_.end() && it->first <= min_unflushed_seq;
       ++it) {
    auto found = entries_.find(it->second);
    if (found == entries_.end() || found->second.pending || found->second.persisted) continue;
    const Entry& e = found->second;
    if (EndSeq(e.first_seq, e.count) != it->first) continue;  // forgotten, then used again
    const size_t nul = it->second.find('\0');
    catalog::IdempotencyKeyRow& row = rows.emplace_back();
    row.tenant = it->second.substr(0, nul);
    row.key = it->second.substr(nul + 1);
    row.body_hash = e.body_hash;
    row.answer = e.answer;
    row.first_seq = e.first_seq;
    row.count = e.count;
    row.created_ns = e.created_ns;
  }
  return rows;
}

void IdempotencyKeys::MarkPersisted(const std::vector<catalog::IdempotencyKeyRow>& rows) {
  MutexLock l(&mu_);
  for (const catalog::IdempotencyKeyRow& row : rows) {
    auto e = entries_.find(FullKey(row.tenant, row.key));
    if (e != entries_.end() && !e->second.pending && e->second.first_seq == row.first_seq) {
      e->second.persisted = true;
    }
  }
  // Drop the slots of persisted (and of forgotten) keys from the front of the queue.
  for (auto it = unpersisted_.begin(); it != unpersisted_.end();) {
    auto e = entries_.find(it->second);
    if (e == entries_.end() || e->second.pending || e->second.persisted ||
        EndSeq(e->second.first_seq, e->second.count) != it->first) {
      it = unpersisted_.erase(it);
    } else {
      break;
    }
  }
}

size_t IdempotencyKeys::size() const {
  MutexLock l(&mu_);
  return acknowledged_;
}

}  // namespace sawmill::storage
