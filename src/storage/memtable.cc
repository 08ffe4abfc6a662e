#include "storage/memtable.h"

namespace sawmill::storage {

void Memtable::Add(const Record& record) {
  if (rows_ == 0) min_seq_ = record.seq;
  max_seq_ = record.seq;
  ++rows_;
  const uint64_t row_bytes = RecordChunk::RowBytes(record);
  bytes_ += row_bytes;
  if (active_.empty()) active_.Reserve(std::min<size_t>(kChunkRows, 256), 256 * row_bytes);
  active_.Append(record);
  if (active_.size() >= kChunkRows) Seal();
}

const std::vector<Chunk>& Memtable::Seal() {
  if (active_.empty()) return sealed_;
  RecordChunk chunk = std::move(active_);
  active_ = RecordChunk();
  // A storm of snapshots would otherwise cut the memtable into tiny chunks and make every
  // snapshot cost one pointer per row. Merge like a binary counter: a sealed chunk no larger
  // than the new one is folded into it, so each row is copied O(log kChunkRows) times at most.
  while (!sealed_.empty() && sealed_.back()->size() <= chunk.size() &&
         sealed_.back()->size() + chunk.size() <= kChunkRows) {
    RecordChunk merged;
    merged.AppendChunk(*sealed_.back());
    merged.AppendChunk(chunk);
    sealed_.pop_back();
    chunk = std::move(merged);
  }
  // The spare capacity of a filled chunk goes (a copy of its bytes, once per seal).
  chunk.Shrink();
  sealed_.push_back(std::make_shared<const RecordChunk>(std::move(chunk)));
  return sealed_;
}

}  // namespace sawmill::storage
