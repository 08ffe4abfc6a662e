#include "storage/record_chunk.h"

#include "common/coding.h"

namespace sawmill::storage {

namespace {

// A varint written by PutVarint64 (lengths and counts of a row, always well formed: the chunk
// wrote them itself).
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

}  // namespace

std::shared_ptr<const RecordChunk> RecordChunk::FromRecords(const std::vector<Record>& records) {
  auto chunk = std::make_shared<RecordChunk>();
  uint64_t bytes = 0;
  for (const Record& r : records) bytes += RowBytes(r);
  chunk->Reserve(records.size(), bytes);
  for (const Record& r : records) chunk->Append(r);
  return chunk;
}

uint64_t RecordChunk::RowBytes(const Record& r) {
  // The row header, the text, and a length byte or two per string.
  uint64_t n = sizeof(Row) + r.tenant.size() + r.service.size() + r.host.size() +
               r.trace_id.size() + r.span_id.size() + r.user_id.size() + r.message.size() + kTexts +
               2 + (r.message.size() >= 128 ? 2 : 0);
  for (const auto& [k, v] : r.fields) n += k.size() + v.size() + 2;
  return n;
}

void RecordChunk::Append(const Record& r) {
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

void RecordChunk::AppendChunk(const RecordChunk& other) {
  const uint64_t base = data_.size();
  rows_.reserve(rows_.size() + other.rows_.size());
  for (Row row : other.rows_) {
    row.offset += base;
    rows_.push_back(row);
  }
  data_.append(other.data_);
}

std::string_view RecordChunk::Text(size_t i, int which) const {
  const char* p = data_.data() + rows_[i].offset;
  for (int t = 0; t < which; ++t) ReadText(p);
  return ReadText(p);
}

uint64_t RecordChunk::raw_bytes(size_t i) const {
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

void RecordChunk::Get(size_t i, Record* out) const {
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

ChunkRows::ChunkRows(const std::vector<Chunk>& chunks) : chunks_(chunks) {
  size_t n = 0;
  for (const Chunk& c : chunks) n += c->size();
  at_.reserve(n);
  for (uint32_t c = 0; c < chunks.size(); ++c) {
    for (uint32_t r = 0; r < chunks[c]->size(); ++r) at_.push_back(At{c, r});
  }
}

}  // namespace sawmill::storage
