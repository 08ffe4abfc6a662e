#include "storage/record_chunk.h"

#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "common/coding.h"
#include "common/string_pair_hash.h"

namespace sawmill::storage {

namespace {

// A varint written by PutVarint64 (lengths and counts of a row's text, always well formed: the
// chunk wrote them itself; the first frame of a packed chunk is read by KeyFrame instead).
inline uint64_t ReadVarint(const char*& p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) return v;
  }
}

inline std::string_view ReadText(const char*& p) {
  const uint64_t n = ReadVarint(p);
  std::string_view s(p, n);
  p += n;
  return s;
}

inline void PutText(std::string* out, std::string_view s) {
  PutVarint64(out, s.size());
  out->append(s);
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
// The difference of two times, wrapping (a chunk's times are in any order).
inline uint64_t TimeDelta(int64_t now, int64_t before) {
  return ZigZag(static_cast<int64_t>(static_cast<uint64_t>(now) - static_cast<uint64_t>(before)));
}
inline int64_t AddTimeDelta(int64_t before, uint64_t delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(before) +
                              static_cast<uint64_t>(UnZigZag(delta)));
}

// zstd level 1: about 5x on corpus lines at a few hundred MB/s per core; higher levels cost
// more CPU than the memory they save is worth for data that lives seconds to minutes.
constexpr int kPackLevel = 1;

// Compression and decompression contexts, reused: a context costs about a megabyte (level 1,
// 512 KiB window), so one per thread that ever packed would cost more than the pool's few. A
// compression context keeps its output buffer too (a chunk's compressBound, about its size):
// a fresh one per chunk would be a large block freed again at once, which the allocator keeps
// as dirty pages for a while.
//
// The buffers are not counted in sawmill_memtable_memory_bytes (they are in
// sawmill_memtable_pool_bytes, RawChunk::PoolMemoryBytes), and a pooled context keeps none
// larger than kPooledBufferBytes: a chunk of long lines (1,024 rows of up to the largest line)
// would otherwise leave about twice its size held per packing thread for the process's life
// (RawChunk::PooledBytes). Corpus chunks (about 250 KiB) keep theirs.
constexpr size_t kPooledBufferBytes = 4 << 20;

// "*s" emptied, and its memory given back when it holds more than kPooledBufferBytes.
void TrimBuffer(std::string* s) {
  if (s->capacity() > kPooledBufferBytes) {
    std::string().swap(*s);
  } else {
    s->clear();
  }
}

struct Compressor {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  std::string keys, rest;  // Pack's two frames before compression
  std::string keys_out;    // the first frame compressed (out: the second)
  ~Compressor() { ZSTD_freeCCtx(cctx); }
  void Trim() {
    for (std::string* s : {&out, &keys, &rest, &keys_out}) TrimBuffer(s);
  }
  uint64_t buffer_bytes() const {
    return out.capacity() + keys.capacity() + rest.capacity() + keys_out.capacity();
  }
  uint64_t context_bytes() const { return ZSTD_sizeof_CCtx(cctx); }
};
struct Decompressor {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string keys;  // Unpack's first frame, decompressed
  ~Decompressor() { ZSTD_freeDCtx(dctx); }
  void Trim() { TrimBuffer(&keys); }
  uint64_t buffer_bytes() const { return keys.capacity(); }
  uint64_t context_bytes() const { return ZSTD_sizeof_DCtx(dctx); }
};

template <typename T>
class Pool {
 public:
  std::unique_ptr<T> Take() {
    MutexLock l(&mu_);
    if (free_.empty()) return std::make_unique<T>();
    std::unique_ptr<T> t = std::move(free_.back());
    free_.pop_back();
    memory_.fetch_sub(t->buffer_bytes() + t->context_bytes(), std::memory_order_relaxed);
    return t;
  }
  // Back in the pool, with no buffer larger than kPooledBufferBytes.
  void Give(std::unique_ptr<T> t) {
    t->Trim();
    // (A pooled context's sizes do not change until it is taken again.)
    const uint64_t memory = t->buffer_bytes() + t->context_bytes();
    MutexLock l(&mu_);
    free_.push_back(std::move(t));
    memory_.fetch_add(memory, std::memory_order_relaxed);
  }
  // Bytes the buffers of the pooled contexts hold (tests).
  uint64_t BufferBytes() {
    MutexLock l(&mu_);
    uint64_t n = 0;
    for (const auto& t : free_) n += t->buffer_bytes();
    return n;
  }
  // Those buffers and the contexts: a running total, read without the lock (the gauge is set
  // as every batch is applied).
  uint64_t MemoryBytes() const { return memory_.load(std::memory_order_relaxed); }

 private:
  Mutex mu_;
  std::vector<std::unique_ptr<T>> free_ GUARDED_BY(mu_);
  std::atomic<uint64_t> memory_{0};  // of the contexts in free_
};

Pool<Compressor>& Compressors() {
  static auto* pool = new Pool<Compressor>;
  return *pool;
}
Pool<Decompressor>& Decompressors() {
  static auto* pool = new Pool<Decompressor>;
  return *pool;
}

[[noreturn]] void PackFailed(const char* what, size_t code) {
  std::fprintf(stderr, "sawmill: memtable chunk %s failed: %s\n", what, ZSTD_getErrorName(code));
  std::abort();
}

std::atomic<int64_t> g_held_bytes{0};
std::atomic<uint64_t> g_unpacks{0};

// "in" compressed as one zstd frame (level kPackLevel, its size in the frame header) into
// "*out" (resized to fit the largest frame; the frame is its first bytes): returns its size.
size_t CompressFrame(Compressor* c, std::string_view in, std::string* out) {
  out->resize(ZSTD_compressBound(in.size()));
  ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_only);
  ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, kPackLevel);
  const size_t n = ZSTD_compress2(c->cctx, out->data(), out->size(), in.data(), in.size());
  if (ZSTD_isError(n)) PackFailed("compression", n);
  return n;
}

// The size a frame at the start of "*packed" holds decompressed; "*frame" is set to the frame
// and "*packed" moved past it.
size_t NextFrame(std::string_view* packed, std::string_view* frame) {
  const size_t n = ZSTD_findFrameCompressedSize(packed->data(), packed->size());
  if (ZSTD_isError(n)) PackFailed("frame size", n);
  const unsigned long long plain = ZSTD_getFrameContentSize(packed->data(), packed->size());
  if (plain == ZSTD_CONTENTSIZE_UNKNOWN || plain == ZSTD_CONTENTSIZE_ERROR) {
    PackFailed("size check", static_cast<size_t>(-1));
  }
  *frame = packed->substr(0, n);
  packed->remove_prefix(n);
  return static_cast<size_t>(plain);
}

// Decompresses "frame" (of "plain" bytes decompressed) into "out[0, plain)".
void DecompressFrame(Decompressor* d, std::string_view frame, char* out, size_t plain) {
  const size_t n = ZSTD_decompressDCtx(d->dctx, out, plain, frame.data(), frame.size());
  if (ZSTD_isError(n)) PackFailed("decompression", n);
  if (n != plain) PackFailed("size check", static_cast<size_t>(-1));
}

// The first frame of a packed chunk, decompressed into "*keys": "rest_frame" is set to the second.
void UnpackFirstFrame(Decompressor* d, std::string_view packed, std::string* keys,
                      std::string_view* rest_frame) {
  std::string_view frame;
  const size_t plain = NextFrame(&packed, &frame);
  keys->resize(plain);
  DecompressFrame(d, frame, keys->data(), plain);
  *rest_frame = packed;
}

// The first frame of a packed chunk, read: each read checks the frame's end. The frame is
// checked by its size alone (zstd checksums are off), so memory damaged since Pack could make a
// length or a number run past it; that aborts naming where (as a failed row check does) instead
// of reading past the frame.
class KeyFrame {
 public:
  explicit KeyFrame(std::string_view frame)
      : begin_(frame.data()), p_(frame.data()), end_(frame.data() + frame.size()) {}

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) Damaged("a number runs past its end");
      const auto byte = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
    Damaged("a number of more than 10 bytes");
  }
  char Byte() {
    if (p_ == end_) Damaged("a row's level runs past its end");
    return *p_++;
  }
  std::string_view Text() {
    const uint64_t n = Varint();
    if (n > static_cast<uint64_t>(end_ - p_)) Damaged("a text runs past its end");
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  const char* at() const { return p_; }
  bool done() const { return p_ == end_; }

 private:
  [[noreturn]] void Damaged(const char* what) const {
    std::fprintf(stderr,
                 "sawmill: memtable chunk row check failed: the packed chunk's key frame is "
                 "damaged at byte %zu of %zu (%s)\n",
                 static_cast<size_t>(p_ - begin_), static_cast<size_t>(end_ - begin_), what);
    std::abort();
  }
  const char* const begin_;
  const char* p_;
  const char* const end_;
};

// One row's header in the first frame of a packed chunk (RawChunk::Pack), decoded.
struct PackedHeader {
  int64_t ts = 0;
  int64_t ingest_ts = 0;
  uint64_t seq = 0;
  uint64_t text_bytes = 0;
  uint32_t flags = 0;
  Level level = Level::kUnknown;
  uint64_t raw_bytes = 0;
};

// Reads one row's header from "*in" onto "*h", which holds the row before's.
inline void ReadPackedHeader(KeyFrame* in, PackedHeader* h) {
  h->ts = AddTimeDelta(h->ts, in->Varint());
  h->ingest_ts = AddTimeDelta(h->ingest_ts, in->Varint());
  h->seq += in->Varint();
  h->text_bytes = in->Varint();
  h->flags = static_cast<uint32_t>(in->Varint());
  h->level = static_cast<Level>(in->Byte());
  h->raw_bytes = in->Varint();
}

}  // namespace

uint64_t RawChunk::Unpacks() { return g_unpacks.load(std::memory_order_relaxed); }

uint64_t RawChunk::PooledBytes() {
  return Compressors().BufferBytes() + Decompressors().BufferBytes();
}

uint64_t RawChunk::PoolMemoryBytes() {
  return Compressors().MemoryBytes() + Decompressors().MemoryBytes();
}

std::shared_ptr<const RecordChunk> RecordChunk::FromRecords(const std::vector<Record>& records) {
  RawChunk rows;
  uint64_t bytes = 0;
  for (const Record& r : records) bytes += RawChunk::RowBytes(r);
  rows.Reserve(records.size(), bytes);
  for (const Record& r : records) rows.Append(r);
  return std::make_shared<const RecordChunk>(std::move(rows));
}

uint64_t RawChunk::RowBytes(const Record& r) {
  // The row header, the text, and a length byte or two per string.
  uint64_t n = sizeof(Row) + r.tenant.size() + r.service.size() + r.host.size() +
               r.trace_id.size() + r.span_id.size() + r.user_id.size() + r.message.size() + kTexts +
               2 + (r.message.size() >= 128 ? 2 : 0);
  for (const auto& [k, v] : r.fields) n += k.size() + v.size() + 2;
  return n;
}

void RawChunk::Append(const Record& r) {
  rows_.push_back(Row{r.ts, r.ingest_ts, r.seq, data_.size(), r.flags, r.level});
  PutText(&data_, r.tenant);
  PutText(&data_, r.service);
  PutText(&data_, r.host);
  PutText(&data_, r.trace_id);
  PutText(&data_, r.span_id);
  PutText(&data_, r.user_id);
  PutText(&data_, r.message);
  PutVarint64(&data_, r.fields.size());
  for (const auto& [k, v] : r.fields) {
    PutText(&data_, k);
    PutText(&data_, v);
  }
}

void RawChunk::AppendChunk(const RawChunk& other) {
  const uint64_t base = data_.size();
  rows_.reserve(rows_.size() + other.rows_.size());
  for (Row row : other.rows_) {
    row.offset += base;
    rows_.push_back(row);
  }
  data_.append(other.data_);
}

std::string_view RawChunk::Text(size_t i, int which) const {
  const char* p = data_.data() + rows_[i].offset;
  for (int t = 0; t < which; ++t) ReadText(p);
  return ReadText(p);
}

uint64_t RawChunk::raw_bytes(size_t i) const {
  const char* p = data_.data() + rows_[i].offset;
  for (int t = 0; t < kMessage; ++t) ReadText(p);
  uint64_t n = ReadText(p).size();
  const uint64_t fields = ReadVarint(p);
  for (uint64_t f = 0; f < fields; ++f) {
    n += ReadText(p).size();
    n += ReadText(p).size();
  }
  return n;
}

void RawChunk::Get(size_t i, Record* out) const {
  const Row& row = rows_[i];
  out->ts = row.ts;
  out->ingest_ts = row.ingest_ts;
  out->seq = row.seq;
  out->flags = row.flags;
  out->level = row.level;
  const char* p = data_.data() + row.offset;
  out->tenant.assign(ReadText(p));
  out->service.assign(ReadText(p));
  out->host.assign(ReadText(p));
  out->trace_id.assign(ReadText(p));
  out->span_id.assign(ReadText(p));
  out->user_id.assign(ReadText(p));
  out->message.assign(ReadText(p));
  const uint64_t fields = ReadVarint(p);
  out->fields.resize(fields);
  for (auto& [k, v] : out->fields) {
    k.assign(ReadText(p));
    v.assign(ReadText(p));
  }
}

std::string RawChunk::Pack() const {
  std::unique_ptr<Compressor> c = Compressors().Take();
  std::string& keys = c->keys;
  std::string& rest = c->rest;
  keys.clear();
  rest.clear();
  rest.reserve(data_.size());
  Row before{};
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& row = rows_[i];
    const uint64_t end = i + 1 < rows_.size() ? rows_[i + 1].offset : data_.size();
    PutVarint64(&keys, TimeDelta(row.ts, before.ts));
    PutVarint64(&keys, TimeDelta(row.ingest_ts, before.ingest_ts));
    PutVarint64(&keys, row.seq - before.seq);  // wraps back in Unpack
    PutVarint64(&keys, end - row.offset);
    PutVarint64(&keys, row.flags);
    keys.push_back(static_cast<char>(row.level));
    PutVarint64(&keys, raw_bytes(i));
    // The row's tenant, service and host in the first frame, the rest of its text in the second.
    const char* const text = data_.data() + row.offset;
    const char* p = text;
    for (int t = 0; t <= kHost; ++t) ReadText(p);
    keys.append(text, p);
    rest.append(p, data_.data() + end);
    before = row;
  }
  const size_t first = CompressFrame(c.get(), keys, &c->keys_out);
  const size_t second = CompressFrame(c.get(), rest, &c->out);
  std::string packed;
  packed.reserve(first + second);  // held for the chunk's life: exactly its size
  packed.append(c->keys_out.data(), first);
  packed.append(c->out.data(), second);
  Compressors().Give(std::move(c));
  return packed;
}

RawChunk RawChunk::Unpack(std::string_view packed, size_t rows, size_t text_bytes) {
  g_unpacks.fetch_add(1, std::memory_order_relaxed);
  RawChunk out;
  std::unique_ptr<Decompressor> d = Decompressors().Take();
  std::string_view rest_frame;
  UnpackFirstFrame(d.get(), packed, &d->keys, &rest_frame);
  std::string_view frame;
  const size_t rest = NextFrame(&rest_frame, &frame);
  if (!rest_frame.empty() || rest > text_bytes) PackFailed("size check", static_cast<size_t>(-1));
  // The rest of each row's text is decompressed at the end of data_, then each row's tenant,
  // service and host are put before it, moving it down in place (it never moves up: what comes
  // before a row's rest is at most every row's three strings, all of which are ahead of it).
  out.data_.resize(text_bytes);
  char* const data = out.data_.data();
  DecompressFrame(d.get(), frame, data + (text_bytes - rest), rest);
  KeyFrame in(d->keys);
  out.rows_.reserve(rows);
  PackedHeader h;
  uint64_t offset = 0, from = text_bytes - rest;
  for (size_t i = 0; i < rows; ++i) {
    if (in.done()) PackFailed("row check", static_cast<size_t>(-1));
    ReadPackedHeader(&in, &h);
    const char* const three = in.at();
    for (int t = 0; t <= kHost; ++t) in.Text();
    const uint64_t first = static_cast<uint64_t>(in.at() - three);
    if (first > h.text_bytes || offset + h.text_bytes > text_bytes ||
        from + (h.text_bytes - first) > text_bytes || from < offset + first) {
      PackFailed("row check", static_cast<size_t>(-1));
    }
    out.rows_.push_back(Row{h.ts, h.ingest_ts, h.seq, offset, h.flags, h.level});
    std::memmove(data + offset + first, data + from, h.text_bytes - first);
    std::memcpy(data + offset, three, first);
    offset += h.text_bytes;
    from += h.text_bytes - first;
  }
  if (offset != text_bytes || from != text_bytes || !in.done()) {
    PackFailed("row check", static_cast<size_t>(-1));
  }
  Decompressors().Give(std::move(d));
  return out;
}

void RawChunk::UnpackKeys(std::string_view packed, size_t rows, std::string* buffer,
                          std::vector<RowKey>* out) {
  std::unique_ptr<Decompressor> d = Decompressors().Take();
  std::string_view rest_frame;
  UnpackFirstFrame(d.get(), packed, buffer, &rest_frame);
  Decompressors().Give(std::move(d));
  out->clear();
  out->reserve(rows);
  KeyFrame in(*buffer);
  PackedHeader h;
  for (size_t i = 0; i < rows; ++i) {
    if (in.done()) PackFailed("row check", static_cast<size_t>(-1));
    ReadPackedHeader(&in, &h);
    in.Text();  // tenant
    const std::string_view service = in.Text();
    const std::string_view host = in.Text();
    out->push_back(RowKey{h.ts, h.ingest_ts, h.seq, h.raw_bytes, service, host});
  }
  if (!in.done()) PackFailed("row check", static_cast<size_t>(-1));
}

RecordChunk::RecordChunk(RawChunk rows) : rows_count_(rows.size()), text_bytes_(rows.text_bytes()) {
  auto shared = std::make_shared<const RawChunk>(std::move(rows));
  MutexLock l(&mu_);
  held_ = shared->memory_bytes() + sizeof(*this);
  rows_ = std::move(shared);
  g_held_bytes.fetch_add(static_cast<int64_t>(held_), std::memory_order_relaxed);
}

RecordChunk::~RecordChunk() {
  MutexLock l(&mu_);
  g_held_bytes.fetch_sub(static_cast<int64_t>(held_), std::memory_order_relaxed);
}

std::shared_ptr<const RawChunk> RecordChunk::Rows() const {
  std::string_view packed;
  {
    MutexLock l(&mu_);
    if (rows_ != nullptr) return rows_;
    packed = packed_;  // set once, never changed after: valid without the mutex
  }
  return std::make_shared<const RawChunk>(RawChunk::Unpack(packed, rows_count_, text_bytes_));
}

void RecordChunk::Pack() const {
  std::shared_ptr<const RawChunk> rows;
  {
    MutexLock l(&mu_);
    if (rows_ == nullptr) return;
    rows = rows_;
  }
  std::string packed = rows->Pack();
  MutexLock l(&mu_);
  if (rows_ == nullptr) return;  // another thread packed it meanwhile
  packed_ = std::move(packed);
  rows_.reset();
  const uint64_t held = packed_.capacity() + sizeof(*this);
  g_held_bytes.fetch_add(static_cast<int64_t>(held) - static_cast<int64_t>(held_),
                         std::memory_order_relaxed);
  held_ = held;
}

void RecordChunk::Keys(std::vector<RowKey>* out, std::shared_ptr<const void>* hold) const {
  std::shared_ptr<const RawChunk> rows;
  std::string_view packed;
  {
    MutexLock l(&mu_);
    rows = rows_;
    packed = packed_;  // set once, never changed after: valid without the mutex
  }
  if (rows == nullptr) {
    auto buffer = std::make_shared<std::string>();
    RawChunk::UnpackKeys(packed, rows_count_, buffer.get(), out);
    *hold = std::move(buffer);
    return;
  }
  out->clear();
  out->reserve(rows->size());
  for (size_t r = 0; r < rows->size(); ++r) {
    out->push_back(RowKey{rows->ts(r), rows->ingest_ts(r), rows->seq(r), rows->raw_bytes(r),
                          rows->service(r), rows->host(r)});
  }
  *hold = std::move(rows);
}

bool RecordChunk::packed() const {
  MutexLock l(&mu_);
  return rows_ == nullptr;
}

uint64_t RecordChunk::memory_bytes() const {
  MutexLock l(&mu_);
  return held_;
}

int64_t RecordChunk::HeldBytes() { return g_held_bytes.load(std::memory_order_relaxed); }

ChunkRows::ChunkRows(const std::vector<Chunk>& chunks) : chunks_(chunks) {
  size_t n = 0;
  for (const Chunk& c : chunks) n += c->size();
  keys_.reserve(n);
  open_.resize(chunks.size());
  wanted_.resize(chunks.size());
  // (service, host) pairs by name, as views of groups_' strings; rows of one source often come
  // in runs, so the previous row's group is tried first.
  std::unordered_map<std::pair<std::string_view, std::string_view>, uint32_t, StringViewPairHash>
      group_of;
  uint32_t last = UINT32_MAX;
  std::vector<RowKey> row_keys;
  std::shared_ptr<const void> hold;
  for (uint32_t c = 0; c < chunks.size(); ++c) {
    chunks[c]->Keys(&row_keys, &hold);
    for (uint32_t r = 0; r < row_keys.size(); ++r) {
      const RowKey& k = row_keys[r];
      const std::string_view service = k.service, host = k.host;
      if (last == UINT32_MAX || groups_[last].service != service || groups_[last].host != host) {
        auto it = group_of.find({service, host});
        if (it == group_of.end()) {
          groups_.push_back(Group{std::string(service), std::string(host)});
          const Group& g = groups_.back();
          it = group_of
                   .emplace(std::pair<std::string_view, std::string_view>(g.service, g.host),
                            static_cast<uint32_t>(groups_.size() - 1))
                   .first;
        }
        last = it->second;
      }
      keys_.push_back(Key{k.ts, k.ingest_ts, k.seq, k.raw_bytes, last, c, r});
    }
  }
}

void ChunkRows::WillGet(const uint32_t* rows, size_t count) const {
  for (size_t i = 0; i < count; ++i) wanted_[keys_[rows[i]].chunk] = 1;
  for (size_t c = 0; c < open_.size(); ++c) {
    if (open_[c] != nullptr && wanted_[c] == 0) {
      open_[c].reset();
      --open_count_;
    }
    wanted_[c] = 0;
  }
}

void ChunkRows::Get(size_t row, Record* out) const {
  const Key& k = keys_[row];
  std::shared_ptr<const RawChunk>& rows = open_[k.chunk];
  if (rows == nullptr) {
    rows = chunks_[k.chunk]->Rows();
    ++opens_;
    max_open_ = std::max(max_open_, ++open_count_);
  }
  rows->Get(k.row, out);
}

}  // namespace sawmill::storage
