#include "storage/memtable_set.h"

#include <algorithm>

#include "storage/storage_metrics.h"

namespace sawmill::storage {

void MemtableSet::Insert(const PartitionKey& key, const Record& record) {
  auto& slot = active_[key];
  if (slot == nullptr) {
    slot = std::make_unique<Memtable>(key.first, key.second, clock_->MonotonicNanos());
  }
  const uint64_t before = slot->bytes();
  slot->Add(record);
  bytes_ += slot->bytes() - before;
  slot->TakeToPack(&to_pack_);
}

uint64_t MemtableSet::ActiveBytes(const PartitionKey& key) const {
  auto it = active_.find(key);
  return it == active_.end() ? 0 : it->second->bytes();
}

void MemtableSet::Freeze(const PartitionKey& key) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  if (!it->second->empty()) {
    auto frozen = std::make_shared<Frozen>();
    Memtable& m = *it->second;
    frozen->chunks = m.Seal();
    m.TakeToPack(&to_pack_);
    frozen->bytes = m.bytes();
    frozen->rows = m.rows();
    frozen->min_seq = m.min_seq();
    frozen->max_seq = m.max_seq();
    frozen_[key].push_back(std::move(frozen));
  }
  active_.erase(it);
}

std::shared_ptr<const MemtableSet::Frozen> MemtableSet::OldestFrozen(const PartitionKey& key) {
  auto it = frozen_.find(key);
  if (it == frozen_.end()) return nullptr;
  if (it->second.empty()) {
    frozen_.erase(it);
    return nullptr;
  }
  return it->second.front();
}

void MemtableSet::DropFlushed(const PartitionKey& key,
                              const std::shared_ptr<const Frozen>& frozen) {
  auto& queue = frozen_[key];
  if (!queue.empty() && queue.front() == frozen) queue.pop_front();
  if (queue.empty()) frozen_.erase(key);
  bytes_ -= frozen->bytes;
}

std::vector<PartitionKey> MemtableSet::Due(int64_t now_mono_ns, uint64_t target_bytes,
                                           int64_t interval_ns) const {
  std::vector<PartitionKey> due;
  for (const auto& [key, m] : active_) {
    if (m->bytes() >= target_bytes || now_mono_ns - m->created_mono_ns() >= interval_ns) {
      due.push_back(key);
    }
  }
  for (const auto& [key, q] : frozen_) due.push_back(key);  // retries
  return due;
}

std::vector<PartitionKey> MemtableSet::Keys() const {
  std::vector<PartitionKey> keys;
  for (const auto& [key, m] : active_) keys.push_back(key);
  for (const auto& [key, q] : frozen_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::optional<PartitionKey> MemtableSet::Largest(const std::set<PartitionKey>& busy) const {
  PartitionKey largest;
  uint64_t best = 0;
  for (const auto& [key, m] : active_) {
    if (m->bytes() > best && busy.count(key) == 0) {
      best = m->bytes();
      largest = key;
    }
  }
  if (best > 0) return largest;
  for (const auto& [key, q] : frozen_) {
    if (!q.empty() && busy.count(key) == 0) return key;
  }
  return std::nullopt;
}

uint64_t MemtableSet::KeyBytes(const PartitionKey& key) const {
  uint64_t bytes = ActiveBytes(key);
  auto it = frozen_.find(key);
  if (it != frozen_.end()) {
    for (const auto& f : it->second) bytes += f->bytes;
  }
  return bytes;
}

uint64_t MemtableSet::MinUnflushedSeq() const {
  uint64_t min_seq = applied_next_seq_;
  for (const auto& [key, m] : active_) {
    if (!m->empty()) min_seq = std::min(min_seq, m->min_seq());
  }
  for (const auto& [key, q] : frozen_) {
    if (!q.empty()) min_seq = std::min(min_seq, q.front()->min_seq);
  }
  return min_seq;
}

uint64_t MemtableSet::MinUnflushedSeqWithout(const PartitionKey& key,
                                             const std::shared_ptr<const Frozen>& frozen) const {
  uint64_t min_seq = applied_next_seq_;
  for (const auto& [k, m] : active_) {
    if (!m->empty()) min_seq = std::min(min_seq, m->min_seq());
  }
  for (const auto& [k, q] : frozen_) {
    for (const auto& f : q) {
      if (f->rows > 0 && !(k == key && f == frozen)) min_seq = std::min(min_seq, f->min_seq);
    }
  }
  return min_seq;
}

void MemtableSet::UpdateGauge() const {
  StorageMetrics::Get().memtable_bytes->Set(static_cast<double>(bytes_));
  StorageMetrics::Get().memtable_memory_bytes->Set(static_cast<double>(RecordChunk::HeldBytes()));
  StorageMetrics::Get().memtable_pool_bytes->Set(static_cast<double>(RawChunk::PoolMemoryBytes()));
}

void MemtableSet::AddToSnapshot(Snapshot* snapshot) {
  const std::string& tenant = snapshot->tenant;
  std::map<uint32_t, MemtableView> views;
  const PartitionKey first{tenant, 0};
  for (auto it = frozen_.lower_bound(first); it != frozen_.end() && it->first.first == tenant;
       ++it) {
    MemtableView& v = views[it->first.second];
    v.partition = it->first.second;
    for (const auto& f : it->second)
      v.chunks.insert(v.chunks.end(), f->chunks.begin(), f->chunks.end());
  }
  for (auto it = active_.lower_bound(first); it != active_.end() && it->first.first == tenant;
       ++it) {
    MemtableView& v = views[it->first.second];
    v.partition = it->first.second;
    const auto& chunks = it->second->Seal();
    v.chunks.insert(v.chunks.end(), chunks.begin(), chunks.end());
    it->second->TakeToPack(&to_pack_);
  }
  for (auto& [p, v] : views) snapshot->memtables.push_back(std::move(v));
}

}  // namespace sawmill::storage
