// Memtable records in a compact arena form (issue 19, "Write path and memory"). A RawChunk keeps
// its rows as one array of fixed-size row headers (times, seq, level, flags, where the row's
// bytes start) and one byte buffer holding every row's strings back to back (tenant, service,
// host, trace, span and user ids, message, fields, each length-prefixed). A row costs its text
// plus about 50 bytes, instead of a Record (about 300 bytes) plus one heap block per string
// longer than 15 bytes and one per fields vector.
//
// A RecordChunk is a sealed RawChunk as memtables share it with snapshots and flushes: it never
// changes again, except that a full one is packed (zstd) once its writer has been acknowledged,
// which cuts what it holds to about a fifth (docs/storage.md "Packed chunks"). Readers see
// records: iterating a chunk (`for (const Record& r : *chunk)`) decodes each row into one Record
// the iterator keeps (a packed chunk is decompressed once per iteration, into a copy the
// iterator holds); Rows() gives the arena form for random access (the flush's sort keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "sawmill/record.h"
#include "segment/segment.h"

namespace sawmill::storage {

// What a flush's sort reads of a row before it writes (ChunkRows): its times, seq, raw bytes
// (RawChunk::raw_bytes), service and host.
struct RowKey {
  int64_t ts = 0;
  int64_t ingest_ts = 0;
  uint64_t seq = 0;
  uint64_t raw_bytes = 0;
  std::string_view service, host;
};

// The rows of a chunk in the arena form, uncompressed: what a memtable appends to, and what
// readers get from RecordChunk::Rows(). Not thread-safe while it is appended to; read-only after.
class RawChunk {
 public:
  RawChunk() = default;
  RawChunk(const RawChunk&) = delete;
  RawChunk& operator=(const RawChunk&) = delete;
  RawChunk(RawChunk&&) = default;
  RawChunk& operator=(RawChunk&&) = default;

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

  // Bytes of memory the rows hold (row headers and text, by capacity).
  uint64_t memory_bytes() const {
    return rows_.capacity() * sizeof(Row) + data_.capacity() + sizeof(*this);
  }
  // Bytes the rows would hold without spare capacity.
  uint64_t used_bytes() const { return rows_.size() * sizeof(Row) + data_.size() + sizeof(*this); }
  // Bytes of row text (without the headers).
  uint64_t text_bytes() const { return data_.size(); }
  // Bytes a row of "r" adds to a chunk: what memtables account per record.
  static uint64_t RowBytes(const Record& r);

  void Append(const Record& r);
  // Appends every row of "other".
  void AppendChunk(const RawChunk& other);
  // Drops spare capacity (when a chunk is sealed).
  void Shrink() {
    rows_.shrink_to_fit();
    data_.shrink_to_fit();
  }
  void Reserve(size_t rows, size_t bytes) {
    rows_.reserve(rows);
    data_.reserve(bytes);
  }
  // Drops every row, keeping the capacity.
  void Clear() {
    rows_.clear();
    data_.clear();
  }

  // The packed form: two zstd frames (level 1), one after the other. The first holds per row its
  // header as varints (times and seq as deltas from the row before, the text's length instead of
  // its offset, flags, level, raw bytes) and then the row's first three strings (tenant,
  // service, host) as the text holds them; the second the rest of every row's text, back to
  // back. The first alone gives a flush's sort keys (UnpackKeys), about a seventh of the bytes
  // on the corpus (about 34 of a row's 230).
  std::string Pack() const;
  // The rows "packed" (what Pack gave for "rows" rows of "text_bytes" bytes of text) held.
  // Aborts when the bytes do not decompress to that: they never left this process's memory, so
  // anything else is a bug or broken memory, not input to report.
  static RawChunk Unpack(std::string_view packed, size_t rows, size_t text_bytes);
  // The keys of the rows "packed" holds, from its first frame alone, into "*out" (replaced); their
  // service and host are views into "*buffer", which the call fills. Aborts as Unpack does.
  static void UnpackKeys(std::string_view packed, size_t rows, std::string* buffer,
                         std::vector<RowKey>* out);
  // Full decompressions of packed chunks (Unpack) by this process so far (tests).
  static uint64_t Unpacks();
  // Bytes the buffers of the pooled packing and unpacking contexts hold (tests): none keeps a
  // buffer above 4 MiB once given back, whatever the largest chunk packed.
  static uint64_t PooledBytes();
  // Those buffers and the pooled zstd contexts themselves: the sawmill_memtable_pool_bytes gauge
  // (memory beside sawmill_memtable_memory_bytes, up to 4 MiB of buffers a pooled context).
  static uint64_t PoolMemoryBytes();

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
  std::string data_;  // rows' strings back to back: row i at rows_[i].offset, in row order
};

// A sealed chunk: rows nobody appends to again, shared by a memtable, snapshots and a flush.
// Thread-safe: Pack may run while others read; a reader keeps the rows it was given.
class RecordChunk {
 public:
  explicit RecordChunk(RawChunk rows);
  ~RecordChunk();
  RecordChunk(const RecordChunk&) = delete;
  RecordChunk& operator=(const RecordChunk&) = delete;

  // A chunk holding "records", in order (tests, and readers that have records).
  static std::shared_ptr<const RecordChunk> FromRecords(const std::vector<Record>& records);

  size_t size() const { return rows_count_; }
  bool empty() const { return rows_count_ == 0; }

  // The rows: this chunk's own while it is not packed, else a copy decompressed for the caller
  // (the rows' raw size, held as long as the caller keeps it).
  std::shared_ptr<const RawChunk> Rows() const;
  // The keys of every row, in order, into "*out" (replaced); their service and host are views
  // into what "*hold" keeps (set by the call). A packed chunk decompresses only the first of its
  // two frames (RawChunk::UnpackKeys), not its text.
  void Keys(std::vector<RowKey>* out, std::shared_ptr<const void>* hold) const;
  // Replaces the rows by their packed form (RawChunk::Pack). Logically const: every reader sees
  // the same rows before and after; readers that hold Rows() keep theirs. A no-op when packed.
  // Compresses outside the chunk's mutex, so readers wait only for the swap.
  void Pack() const;
  bool packed() const;

  // Bytes of memory this chunk holds now (packed or not).
  uint64_t memory_bytes() const;
  // Bytes every RecordChunk of the process holds (the sawmill_memtable_memory_bytes gauge; the
  // memtables' active chunks and the copies readers decompress are not in it).
  static int64_t HeldBytes();

  // Record "i" (tests; decompresses a packed chunk).
  Record operator[](size_t i) const { return (*Rows())[i]; }

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Record;
    using difference_type = std::ptrdiff_t;
    using pointer = const Record*;
    using reference = const Record&;

    const_iterator() = default;
    const_iterator(std::shared_ptr<const RawChunk> rows, size_t i)
        : rows_(std::move(rows)), i_(i) {}
    // Copies share the rows, not the decoded record.
    const_iterator(const const_iterator& o) : rows_(o.rows_), i_(o.i_) {}
    const_iterator& operator=(const const_iterator& o) {
      rows_ = o.rows_;
      i_ = o.i_;
      decoded_ = SIZE_MAX;
      return *this;
    }
    const Record& operator*() const {
      if (decoded_ != i_) {
        rows_->Get(i_, &record_);
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
    std::shared_ptr<const RawChunk> rows_;  // null for end()
    size_t i_ = 0;
    mutable size_t decoded_ = SIZE_MAX;
    mutable Record record_;
  };
  // Opens the rows (decompressing a packed chunk) for the iteration.
  const_iterator begin() const { return const_iterator(Rows(), 0); }
  const_iterator end() const { return const_iterator(nullptr, rows_count_); }

 private:
  const size_t rows_count_;
  const size_t text_bytes_;
  mutable Mutex mu_;
  mutable std::shared_ptr<const RawChunk> rows_ GUARDED_BY(mu_);  // null once packed
  mutable std::string packed_ GUARDED_BY(mu_);
  mutable uint64_t held_ GUARDED_BY(mu_) = 0;  // what this chunk adds to HeldBytes()
};

using Chunk = std::shared_ptr<const RecordChunk>;

// The rows of several chunks, one after the other, as the segment writer reads them (a flush
// writes a frozen memtable's chunks without copying them into records). What the writer reads of
// every row (times, seq, service and host, raw bytes: its sort keys and the segment's ranges) is
// taken from each chunk once, at construction, into about 50 bytes per row (RecordChunk::Keys: a
// packed chunk's first frame, not its text); the rows themselves are opened (a packed chunk
// decompressed) only while the block being written needs them (WillGet), so a flush holds about a
// block's chunks instead of the memtable's raw size (docs/storage.md "Flush memory"). One writer at
// a time: not thread-safe.
class ChunkRows final : public segment::RowSource {
 public:
  explicit ChunkRows(const std::vector<Chunk>& chunks);
  size_t size() const override { return keys_.size(); }
  int64_t ts(size_t row) const override { return keys_[row].ts; }
  int64_t ingest_ts(size_t row) const override { return keys_[row].ingest_ts; }
  uint64_t seq(size_t row) const override { return keys_[row].seq; }
  std::string_view service(size_t row) const override { return groups_[keys_[row].group].service; }
  std::string_view host(size_t row) const override { return groups_[keys_[row].group].host; }
  uint64_t raw_bytes(size_t row) const override { return keys_[row].raw_bytes; }
  // Lets go of the open chunks that none of "rows" is in (they are opened again by Get).
  void WillGet(const uint32_t* rows, size_t count) const override;
  // Opens the row's chunk when it is not open.
  void Get(size_t row, Record* out) const override;

  // Chunks open now, the most open at once so far, and how often a chunk was opened (each
  // chunk is read once more at construction, not counted here): tests and the flush's figures.
  size_t chunks_open() const { return open_count_; }
  size_t max_chunks_open() const { return max_open_; }
  uint64_t opens() const { return opens_; }

 private:
  struct Key {
    int64_t ts;
    int64_t ingest_ts;
    uint64_t seq;
    uint64_t raw_bytes;
    uint32_t group;  // groups_[group]: the row's service and host
    uint32_t chunk;
    uint32_t row;  // in its chunk
  };
  struct Group {
    std::string service, host;
  };

  std::vector<Chunk> chunks_;
  std::vector<Key> keys_;
  std::deque<Group> groups_;  // a deque: service() and host() hand out views of its strings
  mutable std::vector<std::shared_ptr<const RawChunk>> open_;  // per chunk; null when not open
  mutable std::vector<uint8_t> wanted_;                        // WillGet's marks, per chunk
  mutable size_t open_count_ = 0;
  mutable size_t max_open_ = 0;
  mutable uint64_t opens_ = 0;
};

}  // namespace sawmill::storage
