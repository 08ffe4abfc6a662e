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
  if (!active_.empty()) {
    sealed_.push_back(std::make_shared<const std::vector<Record>>(std::move(active_)));
    active_ = {};
  }
  return sealed_;
}

}  // namespace sawmill::storage
