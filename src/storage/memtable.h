// The acknowledged records of one (tenant, partition) that are not yet in a segment.
//
// Records live in immutable chunks plus one active chunk, each in the compact arena form of
// storage/record_chunk.h (row headers and one byte buffer, not one heap object per record and
// string). A snapshot seals the active chunk, so readers get shared pointers to chunks nobody
// will change again; the cost of a snapshot is one pointer copy per chunk. A chunk sealed with
// at least kPackRows rows is handed out (TakeToPack) to be packed outside the engine mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sawmill/record.h"
#include "storage/record_chunk.h"

namespace sawmill::storage {

// (tenant, partition): what one memtable, and every segment flushed from it, belongs to.
using PartitionKey = std::pair<std::string, uint32_t>;

// Not thread-safe: the engine guards every memtable with its mutex.
class Memtable {
 public:
  // An active chunk is sealed at this many rows even without a snapshot. 1024 corpus rows are
  // about 300 KB: zstd packs them as well as four times as many (5.1x against 5.2x), and a busy
  // memtable's active chunk, which is not packed, holds a quarter as much.
  static constexpr size_t kChunkRows = 1024;
  // A chunk sealed with this many rows or more is packed (RecordChunk::Pack); smaller ones (a
  // snapshot sealed the active chunk early) stay raw and are merged with the next ones.
  static constexpr size_t kPackRows = kChunkRows / 2;

  Memtable(std::string tenant, uint32_t partition, int64_t created_mono_ns)
      : tenant_(std::move(tenant)), partition_(partition), created_mono_ns_(created_mono_ns) {}

  // REQUIRES: records arrive in increasing seq order. Adds RecordChunk::RowBytes(record) to
  // bytes().
  void Add(const Record& record);

  // Seals the active chunk and returns every chunk, oldest first.
  const std::vector<Chunk>& Seal();
  // Moves the chunks to be packed that were sealed since the last call into "*out". Weak: a
  // chunk flushed before it is packed goes with its memtable.
  void TakeToPack(std::vector<std::weak_ptr<const RecordChunk>>* out);

  const std::string& tenant() const { return tenant_; }
  uint32_t partition() const { return partition_; }
  int64_t created_mono_ns() const { return created_mono_ns_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t rows() const { return rows_; }
  uint64_t min_seq() const { return min_seq_; }
  uint64_t max_seq() const { return max_seq_; }
  bool empty() const { return rows_ == 0; }

 private:
  std::string tenant_;
  uint32_t partition_;
  int64_t created_mono_ns_;
  std::vector<Chunk> sealed_;
  std::vector<std::weak_ptr<const RecordChunk>> to_pack_;
  RawChunk active_;
  // Text bytes of the last chunk sealed full: what the next active chunk reserves, so that it
  // is not grown by doubling (about a third of a busy memtable's memory was spare capacity).
  uint64_t full_chunk_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t rows_ = 0;
  uint64_t min_seq_ = 0;
  uint64_t max_seq_ = 0;
};

}  // namespace sawmill::storage
