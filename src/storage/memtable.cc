#include "storage/memtable.h"

namespace sawmill::storage {

void Memtable::Add(const Record& record) {
  if (rows_ == 0) min_seq_ = record.seq;
  max_seq_ = record.seq;
  ++rows_;
  const uint64_t row_bytes = RawChunk::RowBytes(record);
  bytes_ += row_bytes;
  if (active_.empty()) {
    if (full_chunk_bytes_ > 0) {
      active_.Reserve(kChunkRows, full_chunk_bytes_ + full_chunk_bytes_ / 8);
    } else {
      active_.Reserve(std::min<size_t>(kChunkRows, 256), 256 * row_bytes);
    }
  }
  active_.Append(record);
  if (active_.size() >= kChunkRows) Seal();
}

const std::vector<Chunk>& Memtable::Seal() {
  if (active_.empty()) return sealed_;
  RawChunk chunk;
  if (active_.size() >= kPackRows) {
    // Packed soon, when its buffers go: spare capacity is dropped (a copy) only when it is more
    // than an eighth, so that the memtable cap still bounds the memory of unpacked chunks.
    if (active_.size() >= kChunkRows) full_chunk_bytes_ = active_.text_bytes();
    chunk = std::move(active_);
    active_ = RawChunk();
    if (chunk.memory_bytes() > chunk.used_bytes() + chunk.used_bytes() / 8) chunk.Shrink();
  } else {
    // An early seal (a snapshot): an exact copy, and the active chunk keeps its buffers.
    chunk.Reserve(active_.size(), active_.text_bytes());
    chunk.AppendChunk(active_);
    active_.Clear();
  }
  // A storm of snapshots would otherwise cut the memtable into tiny chunks and make every
  // snapshot cost one pointer per row. Merge like a binary counter: a sealed chunk no larger
  // than the new one is folded into it, so each row is copied O(log kChunkRows) times at most.
  // Chunks of kPackRows rows or more are never merged (they may be packed already).
  while (!sealed_.empty() && sealed_.back()->size() < kPackRows &&
         sealed_.back()->size() <= chunk.size() &&
         sealed_.back()->size() + chunk.size() <= kChunkRows) {
    const std::shared_ptr<const RawChunk> older = sealed_.back()->Rows();
    RawChunk merged;
    merged.Reserve(older->size() + chunk.size(), older->text_bytes() + chunk.text_bytes());
    merged.AppendChunk(*older);
    merged.AppendChunk(chunk);
    sealed_.pop_back();
    chunk = std::move(merged);
  }
  const bool pack = chunk.size() >= kPackRows;
  sealed_.push_back(std::make_shared<const RecordChunk>(std::move(chunk)));
  if (pack) to_pack_.push_back(sealed_.back());
  return sealed_;
}

void Memtable::TakeToPack(std::vector<std::weak_ptr<const RecordChunk>>* out) {
  out->insert(out->end(), to_pack_.begin(), to_pack_.end());
  to_pack_.clear();
}

}  // namespace sawmill::storage
