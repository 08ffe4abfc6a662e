// Fixed-width little-endian and varint encodings shared by every on-disk format.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sawmill {

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }  // x86: LE
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
// Signed values through zig-zag so that small negatives stay small.
void PutVarsint64(std::string* dst, int64_t v);
void PutLengthPrefixed(std::string* dst, std::string_view value);

// Writes a varint at "dst" (which must have kMaxVarint64Bytes of room); returns one past it.
char* EncodeVarint64(char* dst, uint64_t v);
int VarintLength(uint64_t v);

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// The Get* functions consume from the front of "*input". They return false, leaving "*input"
// in an unspecified state, when the input is truncated or a varint is overlong.
bool GetFixed32(std::string_view* input, uint32_t* v);
bool GetFixed64(std::string_view* input, uint64_t* v);
bool GetVarint32(std::string_view* input, uint32_t* v);
bool GetVarint64(std::string_view* input, uint64_t* v);
bool GetVarsint64(std::string_view* input, int64_t* v);
bool GetLengthPrefixed(std::string_view* input, std::string_view* value);

// GetVarint64 over a raw range, inline: for decoders that walk a block value by value (the
// delta and RLE columns), where the call and the string_view bookkeeping per value cost more
// than the varint itself. On success advances "*p" (never past "end") and returns true; false
// for a truncated or overlong varint, "*p" unchanged.
inline bool ParseVarint64(const char** p, const char* end, uint64_t* v) {
  if (end - *p >= 8) {
    // Eight bytes at once, without a branch per byte: the first byte with its high bit clear
    // ends the varint; each byte's low 7 bits move down by one bit per byte before them.
    uint64_t w;
    std::memcpy(&w, *p, 8);
    const uint64_t stop = ~w & 0x8080808080808080ull;
    if (stop != 0) {
      const int bits = std::countr_zero(stop);  // 8k + 7 for a varint of k + 1 bytes
      const uint64_t b = bits == 63 ? w : w & ((uint64_t{1} << (bits + 1)) - 1);
      *v = (b & 0x7f) | ((b >> 1) & (0x7full << 7)) | ((b >> 2) & (0x7full << 14)) |
           ((b >> 3) & (0x7full << 21)) | ((b >> 4) & (0x7full << 28)) |
           ((b >> 5) & (0x7full << 35)) | ((b >> 6) & (0x7full << 42)) |
           ((b >> 7) & (0x7full << 49));
      *p += (bits >> 3) + 1;
      return true;
    }
  }
  const auto* s = reinterpret_cast<const unsigned char*>(*p);
  const auto* e = reinterpret_cast<const unsigned char*>(end);
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && s < e; shift += 7) {
    const uint64_t byte = *s++;
    if (shift == 63 && byte > 1) return false;  // would overflow 64 bits
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      *p = reinterpret_cast<const char*>(s);
      return true;
    }
  }
  return false;
}

}  // namespace sawmill
