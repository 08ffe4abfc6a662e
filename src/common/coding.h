// Fixed-width little-endian and varint encodings shared by every on-disk format.
#pragma once

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

}  // namespace sawmill
