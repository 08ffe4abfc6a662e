// Bit fields packed least significant bit first in a byte string: the id filters
// (index/bloom.h) and the filtered-hex trace id blocks (segment/filtered_hex_encoding.cc) that
// read them together.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sawmill {

// "width" (at most 57) bits at bit "bit" of "bytes", the bytes past its end read as zeros.
inline uint64_t GetLsbBits(std::string_view bytes, uint64_t bit, int width) {
  const uint64_t at = bit >> 3;
  uint64_t word = 0;
  if (at < bytes.size()) {
    std::memcpy(&word, bytes.data() + at, std::min<size_t>(8, bytes.size() - at));
  }
  return (word >> (bit & 7)) & ((uint64_t{1} << width) - 1);
}

}  // namespace sawmill
