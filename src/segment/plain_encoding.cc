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

extern const ColumnEncoding kPlainEncoding;  // registered in column_encoding.cc
const ColumnEncoding kPlainEncoding{Encoding::kPlain, "plain", nullptr, &DecodePlainBlock};

}  // namespace sawmill::segment
