#include "storage/wal_replay.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hash.h"
#include "common/mutex.h"
#include "wal/record_batch.h"

namespace sawmill::storage {

void WalReplay::Cover(const PartitionKey& key, uint64_t min_seq, uint64_t max_seq) {
  covered_[key].emplace_back(min_seq, max_seq);
}

bool WalReplay::Covered(const PartitionKey& key, uint64_t seq) const {
  auto it = covered_.find(key);
  if (it == covered_.end()) return false;
  // Sorted by first seq, with each second replaced by the running maximum of the ends: some
  // range starting at or before "seq" reaches it exactly when the running maximum there does.
  const auto& ranges = it->second;
  auto pos = std::upper_bound(ranges.begin(), ranges.end(), seq,
                              [](uint64_t s, const auto& range) { return s < range.first; });
  return pos != ranges.begin() && std::prev(pos)->second >= seq;
}

void WalReplay::Prepare() {
  for (auto& [key, ranges] : covered_) {
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      ranges[i].second = std::max(ranges[i].second, ranges[i - 1].second);
    }
  }
}

Status WalReplay::Run(wal::WalSink* wal, int64_t now_ns, const Target& target) {
  Prepare();
  uint64_t replayed = 0, skipped = 0, batches = 0;  // lines, lines, WAL records
  std::vector<Record> records;
  wal::BatchHeader header;
  auto result = wal->Replay([&](std::string_view payload, uint64_t* max_seq) -> Status {
    records.clear();
    RETURN_IF_ERROR(wal::DecodeBatch(payload, &records, &header));
    ++batches;
    if (header.idempotency) {
      const wal::BatchIdempotency& b = *header.idempotency;
      target.keys->Recover(
          header.tenant,
          IdempotencyKey{b.key, b.body_hash, b.answer, header.base_seq, header.count, b.created_ns},
          /*persisted=*/false, now_ns);
      if (records.empty()) *max_seq = header.base_seq;  // the seq a key-only batch takes
    }
    if (records.empty()) return Status::OK();
    *max_seq = records.back().seq;
    bool over_cap = false;
    {
      MutexLock l(&*target.mu);
      for (const Record& r : records) {
        PartitionKey key{r.tenant, PartitionOf(r.service, r.host, target.partitions)};
        if (Covered(key, r.seq)) {
          ++skipped;
          continue;
        }
        target.memtables->Insert(key, r);
        ++replayed;
      }
      over_cap = target.memtables->bytes() > target.memtable_cap_bytes;
    }
    if (over_cap) target.relieve_memory();
    return Status::OK();
  });
  covered_.clear();
  if (!result.ok()) return result.status();
  wal->SetNextSeq(*result + 1);
  spdlog::info(
      "WAL replay: {} batches, {} lines: {} lines back into memtables, {} lines already in "
      "segments",
      batches, replayed + skipped, replayed, skipped);
  return Status::OK();
}

}  // namespace sawmill::storage
