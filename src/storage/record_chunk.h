// Memtable records in a compact arena form (issue 19, "Write path and memory"): a chunk keeps
// its rows as one array of fixed-size row headers (times, seq, level, flags, where the row's
// bytes start) and one byte buffer holding every row's strings back to back (tenant, service,
// host, trace, span and user ids, message, fields, each length-prefixed). A row costs its text
// plus about 50 bytes, instead of a Record (about 300 bytes) plus one heap block per string
// longer than 15 bytes and one per fields vector.
//
// Readers see records: iterating a chunk (`for (const Record& r : *chunk)`) decodes each row into
// one Record the iterator keeps (so a row's strings are copied once per visit, and the reference
// is valid until the iterator moves); Get decodes one row. The sort keys of the segment writer
// (ts, seq, service, host) are read without decoding a row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "segment/segment.h"

namespace sawmill::storage {

class RecordChunk {
 public:
  RecordChunk() = default;
  RecordChunk(const RecordChunk&) = delete;
  RecordChunk& operator=(const RecordChunk&) = delete;
  RecordChunk(RecordChunk&&) = default;
  RecordChunk& operator=(RecordChunk&&) = default;

  // A chunk holding "records", in order (tests, and readers that have records).
  static std::shared_ptr<const RecordChunk> FromRecords(const std::vector<Record>& records);

  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

  int64_t ts(size_t i) const { return rows_[i].ts; }
  int64_t ingest_ts(size_t i) const { return rows_[i].ingest_ts; }
  uint64_t seq(size_t i) const { return rows_[i].seq; }
  std::string_view service(size_t i) const { return Text(i, kService); }
  std::string_view host(size_t i) const { return Text(i, kHost); }
  // Bytes of the row's message and fields (keys and values): what a segment counts as raw.
  uint64_t raw_bytes(size_t i) const;

  // Decodes row "i" into "*out", reusing the capacity of its strings.
  void Get(size_t i, Record* out) const;
  // Row "i" as a new Record (tests).
  Record operator[](size_t i) const {
    Record r;
    Get(i, &r);
    return r;
  }

  // Bytes of memory this chunk holds (row headers and text, by capacity).
  uint64_t memory_bytes() const {
    return rows_.capacity() * sizeof(Row) + data_.capacity() + sizeof(*this);
  }
  // Bytes a row of "r" adds to a chunk: what memtables account per record.
  static uint64_t RowBytes(const Record& r);

  // Appends "r" (a chunk is filled by the memtable that owns it, then shared read-only).
  void Append(const Record& r);
  // Appends every row of "other".
  void AppendChunk(const RecordChunk& other);
  // Drops spare capacity (when a chunk is sealed).
  void Shrink() {
    rows_.shrink_to_fit();
    data_.shrink_to_fit();
  }
  void Reserve(size_t rows, size_t bytes) {
    rows_.reserve(rows);
    data_.reserve(bytes);
  }

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Record;
    using difference_type = std::ptrdiff_t;
    using pointer = const Record*;
    using reference = const Record&;

    const_iterator() = default;
    const_iterator(const RecordChunk* chunk, size_t i) : chunk_(chunk), i_(i) {}
    // Copies share nothing: each decodes into its own record.
    const_iterator(const const_iterator& o) : chunk_(o.chunk_), i_(o.i_) {}
    const_iterator& operator=(const const_iterator& o) {
      chunk_ = o.chunk_;
      i_ = o.i_;
      decoded_ = SIZE_MAX;
      return *this;
    }
    const Record& operator*() const {
      if (decoded_ != i_) {
        chunk_->Get(i_, &record_);
        decoded_ = i_;
      }
      return record_;
    }
    const Record* operator->() const { return &**this; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const RecordChunk* chunk_ = nullptr;
    size_t i_ = 0;
    mutable size_t decoded_ = SIZE_MAX;
    mutable Record record_;
  };
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, rows_.size()); }

 private:
  // The fixed part of a row; its strings start at data_[offset].
  struct Row {
    int64_t ts;
    int64_t ingest_ts;
    uint64_t seq;
    uint64_t offset;
    uint32_t flags;
    Level level;
  };
  // The order of a row's strings in data_ (each a varint length then the bytes); the fields
  // follow: a varint count, then key and value of each.
  enum TextId : int { kTenant, kService, kHost, kTraceId, kSpanId, kUserId, kMessage, kTexts };

  std::string_view Text(size_t i, int which) const;

  std::vector<Row> rows_;
  std::string data_;
};

using Chunk = std::shared_ptr<const RecordChunk>;

// The rows of several chunks, one after the other, as the segment writer reads them (a flush
// writes a frozen memtable's chunks without copying them into records).
class ChunkRows final : public segment::RowSource {
 public:
  explicit ChunkRows(const std::vector<Chunk>& chunks);
  size_t size() const override { return at_.size(); }
  int64_t ts(size_t row) const override { return chunk(row).ts(at_[row].row); }
  int64_t ingest_ts(size_t row) const override { return chunk(row).ingest_ts(at_[row].row); }
  uint64_t seq(size_t row) const override { return chunk(row).seq(at_[row].row); }
  std::string_view service(size_t row) const override { return chunk(row).service(at_[row].row); }
  std::string_view host(size_t row) const override { return chunk(row).host(at_[row].row); }
  uint64_t raw_bytes(size_t row) const override { return chunk(row).raw_bytes(at_[row].row); }
  void Get(size_t row, Record* out) const override { chunk(row).Get(at_[row].row, out); }

 private:
  struct At {
    uint32_t chunk;
    uint32_t row;
  };
  const RecordChunk& chunk(size_t row) const { return *chunks_[at_[row].chunk]; }

  const std::vector<Chunk>& chunks_;
  std::vector<At> at_;  // 8 bytes per row
};

}  // namespace sawmill::storage
