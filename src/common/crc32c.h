// CRC32C (Castagnoli), with the SSE4.2 instruction where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sawmill::crc32c {

// Returns the crc32c of concat(A, data[0,n-1]) where init_crc is the crc32c of A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// True when the hardware path is in use (reported at start-up and in tests).
bool HardwareAccelerated();

// Portable implementation, always available; the tests check both paths agree.
uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n);

// A CRC stored next to the data it covers is masked, so that the CRC of a string that contains
// embedded CRCs stays well distributed (as in leveldb).
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace sawmill::crc32c
