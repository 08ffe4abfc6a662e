// Encoding::kPlain for strings: the lengths first (they compress well together), then the
// bytes back to back.
#include <cstring>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

void PutPlainBody(const std::string_view* values, size_t count, std::string* out) {
  size_t start = out->size();
  size_t total = 0;
  for (size_t row = 0; row < count; ++row) total += values[row].size();
  out->resize(start + count * kMaxVarint64Bytes + total);
  char* p = out->data() + start;
  for (size_t row = 0; row < count; ++row) p = EncodeVarint64(p, values[row].size());
  for (size_t row = 0; row < count; ++row) {
    if (!values[row].empty()) std::memcpy(p, values[row].data(), values[row].size());
    p += values[row].size();
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

}  // namespace

void EncodePlain(const std::string_view* values, size_t count, std::string* out) {
  out->push_back(static_cast<char>(Encoding::kPlain));
  PutVarint64(out, count);
  PutPlainBody(values, count, out);
}

void PutPlainValues(const std::string_view* values, size_t count, std::string* out) {
  PutPlainBody(values, count, out);
}

// Consumes the body of "count" plain strings from the front of "*body".
Status DecodePlainBody(std::string_view* body, size_t count, std::vector<std::string_view>* out) {
  // Every value has at least a one-byte length: a count beyond the bytes is corrupt (and is
  // refused before allocating for it).
  if (count > body->size()) {
    return Status::DataLoss("string column claims " + std::to_string(count) + " values in " +
                            std::to_string(body->size()) + " bytes");
  }
  size_t base = out->size();
  out->resize(base + count);
  std::string_view* dst = out->data() + base;
  uint64_t total = 0;
  // The lengths are stored first: decode them into the views' sizes, then point the views.
  std::vector<uint64_t> lengths(count);
  for (size_t row = 0; row < count; ++row) {
    if (!GetVarint64(body, &lengths[row]) || lengths[row] > body->size()) {
      out->resize(base);
      return Status::DataLoss("bad string length at value " + std::to_string(row));
    }
    total += lengths[row];
  }
  if (total > body->size()) {
    out->resize(base);
    return Status::DataLoss("string column needs " + std::to_string(total) + " bytes, has " +
                            std::to_string(body->size()));
  }
  const char* p = body->data();
  for (size_t row = 0; row < count; ++row) {
    dst[row] = std::string_view(p, lengths[row]);
    p += lengths[row];
  }
  body->remove_prefix(total);
  return Status::OK();
}

namespace {
// A plain block is exactly its values: bytes after the last one are corruption.
Status DecodePlainBlock(std::string_view body, size_t count, std::vector<std::string_view>* out,
                        std::string* /*arena*/) {
  size_t base = out->size();
  RETURN_IF_ERROR(DecodePlainBody(&body, count, out));
  if (!body.empty()) {
    out->resize(base);
    return Status::DataLoss("string column has trailing bytes");
  }
  return Status::OK();
}
}  // namespace

namespace {

// A varint, the one-byte case inline (a plain block's lengths are mostly one byte).
inline bool GetLength(std::string_view* in, uint64_t* v) {
  if (!in->empty() && static_cast<uint8_t>((*in)[0]) < 0x80) {
    *v = static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
    return true;
  }
  return GetVarint64(in, v);
}

// Walks the header of a kPlain block: calls "row_length(row, length)" for each value, and sets
// where its bytes start, the value count and the bytes of all values; false when "prefix" is
// too short to hold the header, or it is malformed.
template <typename Fn>
bool WalkPlainHeader(std::string_view prefix, size_t max_count, uint64_t* bytes_at, uint64_t* count,
                     uint64_t* total, Fn row_length) {
  std::string_view in = prefix;
  if (in.empty() || static_cast<Encoding>(in[0]) != Encoding::kPlain) return false;
  in.remove_prefix(1);
  if (!GetVarint64(&in, count) || *count > max_count) return false;
  *total = 0;
  for (uint64_t row = 0; row < *count; ++row) {
    uint64_t length;
    if (!GetLength(&in, &length) || length > kMaxBlockRawBytes) return false;
    row_length(row, length);
    *total += length;
  }
  *bytes_at = prefix.size() - in.size();
  return true;
}

}  // namespace

uint64_t PlainBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row) {
  if (prefix.empty()) return 0;
  if (static_cast<Encoding>(prefix[0]) != Encoding::kPlain) return UINT64_MAX;
  uint64_t at = 0, count = 0, total = 0, through = 0;
  // Too short to tell (or a corrupt header: the block is then decompressed whole, and its
  // decoding says what is wrong).
  if (!WalkPlainHeader(prefix, max_count, &at, &count, &total, [&](uint64_t row, uint64_t length) {
        if (row <= last_row) through += length;
      })) {
    return 0;
  }
  if (last_row >= count) return UINT64_MAX;
  return at + through;
}

Status DecodePlainRows(std::string_view prefix, uint64_t raw_size, size_t max_count,
                       const std::vector<uint32_t>& rows, std::vector<std::string_view>* views) {
  // The listed rows' offsets (from the start of the bytes) and lengths, in one walk.
  std::vector<std::pair<uint64_t, uint64_t>> where;
  where.reserve(rows.size());
  uint64_t at = 0, count = 0, total = 0, offset = 0;
  size_t next = 0;
  if (!WalkPlainHeader(prefix, max_count, &at, &count, &total,
                       [&](uint64_t row, uint64_t length) {
                         if (next < rows.size() && rows[next] == row) {
                           where.emplace_back(offset, length);
                           ++next;
                         }
                         offset += length;
                       }) ||
      count != max_count) {
    return Status::DataLoss("bad plain string column header");
  }
  // The lengths must add up to the whole block, as a whole read checks.
  if (total > raw_size || at + total != raw_size) {
    return Status::DataLoss("string column needs " + std::to_string(total) + " bytes, has " +
                            std::to_string(raw_size - std::min(at, raw_size)));
  }
  if (next != rows.size()) {
    return Status::DataLoss("string column holds no row " + std::to_string(rows[next]));
  }
  views->clear();
  views->reserve(rows.size());
  for (size_t i = 0; i < where.size(); ++i) {
    const auto [start, length] = where[i];
    if (at + start + length > prefix.size()) {
      return Status::DataLoss("row " + std::to_string(rows[i]) +
                              " lies past the bytes decompressed");
    }
    views->push_back(prefix.substr(at + start, length));
  }
  return Status::OK();
}

extern const ColumnEncoding kPlainEncoding;  // registered in column_encoding.cc
const ColumnEncoding kPlainEncoding{Encoding::kPlain, "plain", nullptr, &DecodePlainBlock};

}  // namespace sawmill::segment
