// Encoding::kHex (format version 7; the warm tier): a string column whose values are all
// lower-case hexadecimal of one even length (trace and span ids) is stored as the bytes they
// spell, half their size, which zstd cannot reach on the text (each hex digit carries four bits
// in an eight-bit byte, and zstd's entropy coder gives back only part of the rest).
//
//   body := bytes_per_value(varint >= 1) bytes(count x bytes_per_value)
// Decoding renders each value back as lower-case hex: the text is given back byte for byte.
#include <array>
#include <cstdint>
#include <cstring>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

// The value of each byte as a lower-case hex digit (0 to 15), or kNotHex.
constexpr uint8_t kNotHex = 0xf0;
constexpr std::array<uint8_t, 256> kHexValues = [] {
  std::array<uint8_t, 256> t{};
  for (uint8_t& v : t) v = kNotHex;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  return t;
}();

// The body's value width, checked against its bytes and "count".
Status HexWidth(std::string_view* body, size_t count, uint64_t* width) {
  if (!GetVarint64(body, width) || *width == 0 || *width > kMaxHexBytes) {
    return Status::DataLoss("hex column: bad value width");
  }
  if (body->size() / *width != count || body->size() % *width != 0) {
    return Status::DataLoss("hex column: " + std::to_string(body->size()) + " bytes for " +
                            std::to_string(count) + " values of " + std::to_string(*width));
  }
  return Status::OK();
}

// The values of every row ("rows" null) or of the listed rows as lower-case hex, in "*arena". A
// listed row past "count" is DataLoss.
Status RenderHex(std::string_view body, size_t count, const std::vector<uint32_t>* rows,
                 std::vector<std::string_view>* out, std::string* arena) {
  uint64_t width;
  RETURN_IF_ERROR(HexWidth(&body, count, &width));
  static constexpr char kDigits[] = "0123456789abcdef";
  const size_t n = rows == nullptr ? count : rows->size();
  arena->resize(n * width * 2);
  char* p = arena->data();
  for (size_t i = 0; i < n; ++i) {
    const size_t row = rows == nullptr ? i : (*rows)[i];
    if (row >= count) return Status::DataLoss("hex column: holds no row " + std::to_string(row));
    for (char c : body.substr(row * width, width)) {
      const auto b = static_cast<unsigned char>(c);
      *p++ = kDigits[b >> 4];
      *p++ = kDigits[b & 15];
    }
  }
  out->reserve(out->size() + n);
  for (size_t i = 0; i < n; ++i) out->emplace_back(arena->data() + i * width * 2, width * 2);
  return Status::OK();
}

Status DecodeHex(std::string_view body, size_t count, std::vector<std::string_view>* out,
                 std::string* arena) {
  return RenderHex(body, count, nullptr, out, arena);
}

}  // namespace

Status DecodeHexRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                     std::vector<std::string_view>* out, std::string* arena) {
  out->clear();
  RETURN_IF_ERROR(CheckRowsAscending(rows, count).WithContext("hex column"));
  return RenderHex(body, count, &rows, out, arena);
}

bool EncodeHex(const std::string_view* values, size_t count, std::string* out) {
  if (count == 0) return false;
  const size_t chars = values[0].size();
  if (chars == 0 || chars % 2 != 0 || chars / 2 > kMaxHexBytes) return false;
  // Every hot segment block tries this on its trace, span and user ids (a byte at a time through
  // push_back it was 4 % of a flush's CPU): one table lookup per character, checked for the
  // whole value at once, then written through a pointer.
  for (size_t row = 0; row < count; ++row) {
    const std::string_view v = values[row];
    if (v.size() != chars) return false;
    uint8_t bad = 0;
    for (char c : v) bad |= kHexValues[static_cast<unsigned char>(c)];
    if (bad & kNotHex) return false;
  }
  out->push_back(static_cast<char>(Encoding::kHex));
  PutVarint64(out, count);
  PutVarint64(out, chars / 2);
  const size_t start = out->size();
  out->resize(start + count * (chars / 2));
  auto* p = reinterpret_cast<unsigned char*>(out->data() + start);
  for (size_t row = 0; row < count; ++row) {
    const auto* v = reinterpret_cast<const unsigned char*>(values[row].data());
    for (size_t i = 0; i < chars; i += 2) {
      *p++ = static_cast<unsigned char>(kHexValues[v[i]] << 4 | kHexValues[v[i + 1]]);
    }
  }
  return true;
}

Result<bool> KeepHexRowsHolding(std::string_view block, size_t count, std::string_view value,
                                std::vector<uint32_t>* rows) {
  if (block.empty() || static_cast<Encoding>(block[0]) != Encoding::kHex) return false;
  std::string_view body = block.substr(1);
  uint64_t n, width;
  if (!GetVarint64(&body, &n) || n != count) {
    return Status::DataLoss("hex column: holds a count other than " + std::to_string(count));
  }
  RETURN_IF_ERROR(HexWidth(&body, count, &width));
  // Every row renders as 2 x width lower-case hex digits: any other value is in no row.
  std::array<unsigned char, kMaxHexBytes> want;
  bool spelled = value.size() == 2 * width;
  for (size_t i = 0; spelled && i < width; ++i) {
    const uint8_t hi = kHexValues[static_cast<unsigned char>(value[2 * i])];
    const uint8_t lo = kHexValues[static_cast<unsigned char>(value[2 * i + 1])];
    spelled = ((hi | lo) & kNotHex) == 0;
    want[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  size_t kept = 0;
  for (uint32_t r : *rows) {
    if (r >= count) return Status::DataLoss("hex column: holds no row " + std::to_string(r));
    if (spelled && std::memcmp(body.data() + r * width, want.data(), width) == 0) {
      (*rows)[kept++] = r;
    }
  }
  rows->resize(kept);
  return true;
}

extern const ColumnEncoding kHexEncoding;  // registered in column_encoding.cc
const ColumnEncoding kHexEncoding{Encoding::kHex, "hex", nullptr, &DecodeHex};

}  // namespace sawmill::segment
