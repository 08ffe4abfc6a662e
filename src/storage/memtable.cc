#include "storage/memtable.h"

namespace sawmill::storage {

void Memtable::Add(const Record& record) {
  if (rows_ == 0) min_seq_ = record.seq;
  max_seq_ = record.seq;
  ++rows_;
  bytes_ += record.ApproximateSize();
  if (active_.empty()) active_.reserve(std::min<size_t>(kChunkRows, 256));
  active_.push_back(record);
  if (active_.size() >= kChunkRows) Seal();
}

const std::vector<Chunk>& Memtable::Seal() {
  if (active_.empty()) return sealed_;
  std::vector<Record> chunk = std::move(active_);
  active_ = {};
  // A storm of snapshots would otherwise cut the memtable into tiny chunks and make every
  // snapshot cost one pointer per row. Merge like a binary counter: a sealed chunk no larger
  // than the new one is folded into it, so each row is copied O(log kChunkRows) times at most.
  while (!sealed_.empty() && sealed_.back()->size() <= chunk.size() &&
         sealed_.back()->size() + chunk.size() <= kChunkRows) {
    std::vector<Record> merged;
    merged.reserve(sealed_.back()->size() + chunk.size());
    merged.insert(merged.end(), sealed_.back()->begin(), sealed_.back()->end());
    merged.insert(merged.end(), std::make_move_iterator(chunk.begin()),
                  std::make_move_iterator(chunk.end()));
    sealed_.pop_back();
    chunk = std::move(merged);
  }
  sealed_.push_back(std::make_shared<const std::vector<Record>>(std::move(chunk)));
  return sealed_;
}

}  // namespace sawmill::storage
