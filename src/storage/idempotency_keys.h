// The storage engine's table of recent Idempotency-Keys (engine.h, AppendIdempotent): which keys
// each tenant used, for which batch, and what the client was told. Filled by appends, by WAL
// replay and from the catalog at start-up; written to the catalog once the batches' records are
// in segments (before their WAL files go). Bounded by a window and a count (docs/api.md).
// Thread-safe; its mutex is a leaf (nothing else is locked while it is held).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/mutex.h"
#include "sawmill/status.h"
#include "storage/engine.h"

namespace sawmill::storage {

class IdempotencyKeys {
 public:
  IdempotencyKeys(int64_t window_ns, size_t max_keys);

  // Claims "key" for a batch about to be appended. Errors: AlreadyExists when the tenant has the
  // key (acknowledged within the window, or claimed by a batch being appended).
  Status Reserve(std::string_view tenant, std::string_view key, int64_t now_ns);
  // The claimed batch failed: forget the claim.
  void Release(std::string_view tenant, std::string_view key);
  // The claimed batch is durable: "entry" (with first_seq, count, created_ns) is remembered and
  // waits to be written to the catalog.
  void Acknowledge(std::string_view tenant, const IdempotencyKey& entry, int64_t now_ns);
  // A key found at start-up: in the catalog ("persisted") or in a replayed WAL batch. A key
  // already known keeps its first entry. Keys past the window are ignored.
  void Recover(std::string_view tenant, const IdempotencyKey& entry, bool persisted,
               int64_t now_ns);
  // After the last Recover: orders the keys by age (the catalog's and the WAL's arrive
  // interleaved) and applies the key limit to the oldest.
  void FinishRecovery(int64_t now_ns);

  std::optional<IdempotencyKey> Find(std::string_view tenant, std::string_view key,
                                     int64_t now_ns) const;

  // Keys not yet in the catalog whose batches' records all have seqs below "min_unflushed_seq"
  // (that is, are in segments), as catalog rows.
  std::vector<catalog::IdempotencyKeyRow> Unpersisted(uint64_t min_unflushed_seq) const;
  // "rows" (from Unpersisted) are now in the catalog.
  void MarkPersisted(const std::vector<catalog::IdempotencyKeyRow>& rows);

  size_t size() const;
  int64_t window_ns() const { return window_ns_; }
  size_t max_keys() const { return max_keys_; }

 private:
  // The key itself is the map's key ("tenant\0key"), not repeated here: memory per key matters
  // (a million keys are kept by default).
  struct Entry {
    uint64_t body_hash = 0;
    std::string answer;
    uint64_t first_seq = 0;
    uint64_t count = 0;
    int64_t created_ns = 0;
    bool pending = false;    // reserved, batch not yet durable
    bool persisted = false;  // in the catalog
  };
  using Map = std::unordered_map<std::string, Entry>;
  static std::string FullKey(std::string_view tenant, std::string_view key);
  // Makes "*it" an acknowledged entry.
  void AddLocked(Map::iterator it, const IdempotencyKey& entry, bool persisted) REQUIRES(mu_);
  // Forgets keys past the window, then the oldest past max_keys_.
  void EvictLocked(int64_t now_ns) REQUIRES(mu_);

  const int64_t window_ns_;
  const size_t max_keys_;
  mutable Mutex mu_;
  Map entries_ GUARDED_BY(mu_);
  // Acknowledged entries in the order they were added; each has exactly one slot here, and is
  // erased only when its slot is popped (element pointers survive rehashing).
  std::deque<Map::value_type*> order_ GUARDED_BY(mu_);
  // Acknowledged keys not yet in the catalog, by the seq after their batch.
  std::multimap<uint64_t, std::string> unpersisted_ GUARDED_BY(mu_);
  size_t acknowledged_ GUARDED_BY(mu_) = 0;  // entries_ that are not pending
  // Capacity evictions not yet logged, and when the last log line was written.
  uint64_t unlogged_evictions_ GUARDED_BY(mu_) = 0;
  int64_t last_eviction_log_ns_ GUARDED_BY(mu_) = 0;
};

}  // namespace sawmill::storage
