// Digits of varying radices packed as the segment format's mixed-radix groups (kPermutedRuns'
// Lehmer digits, format version 14; kTsLine's residuals, version 25): a group takes the next
// digits while the product P of their radices stays at most 2^63, and its value
// ((d_a x r_a+1 + d_a+1) x r_a+2 + d_a+2 ...) < P is written in bit_width(P - 1) bits; the
// groups' bits follow each other least significant bit first from the low bit of the first byte,
// and the last byte's unused high bits are 0.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace sawmill::segment {

inline constexpr uint64_t kMaxGroupProduct = uint64_t{1} << 63;

// Whether a group of product "product" can take a digit of radix "radix" (>= 1).
inline bool GroupTakes(uint64_t product, uint64_t radix) {
  return static_cast<unsigned __int128>(product) * radix <= kMaxGroupProduct;
}

class MixedRadixWriter {
 public:
  explicit MixedRadixWriter(std::string* out) : out_(out) {}
  // A digit d < radix; a digit of radix 1 holds nothing and is not written.
  void Digit(uint64_t d, uint64_t radix) {
    if (radix <= 1) return;
    if (!GroupTakes(product_, radix)) EndGroup();
    value_ = value_ * radix + d;
    product_ *= radix;
  }
  // Ends the group here (kPermutedRuns: a group never spans two runs).
  void EndGroup() {
    if (product_ <= 1) return;
    for (int bits = std::bit_width(product_ - 1); bits > 0; --bits, value_ >>= 1) {
      pending_ |= static_cast<uint8_t>((value_ & 1) << used_);
      if (++used_ == 8) {
        out_->push_back(static_cast<char>(pending_));
        pending_ = 0;
        used_ = 0;
      }
    }
    value_ = 0;
    product_ = 1;
  }
  void Finish() {
    EndGroup();
    if (used_ > 0) out_->push_back(static_cast<char>(pending_));
  }

 private:
  std::string* out_;
  uint64_t value_ = 0, product_ = 1;
  uint8_t pending_ = 0;
  int used_ = 0;
};

// The groups' bits read back (the caller knows each group's width and splits its value).
class MixedRadixBits {
 public:
  explicit MixedRadixBits(std::string_view bits) : bits_(bits) {}
  // The next "bits" bits as a number; false when the bits end first.
  bool Take(int bits, uint64_t* value) {
    if (at_ + static_cast<size_t>(bits) > bits_.size() * 8) return false;
    const size_t byte = at_ / 8;
    if (byte + 9 <= bits_.size()) {
      // Nine bytes hold any 63 bits from any bit of the first: one load and a shift.
      const unsigned shift = at_ % 8;
      const uint64_t lo = DecodeFixed64(bits_.data() + byte);
      const uint64_t hi = static_cast<uint8_t>(bits_[byte + 8]);
      const uint64_t v = (lo >> shift) | (shift == 0 ? 0 : hi << (64 - shift));
      *value = bits == 64 ? v : v & ((uint64_t{1} << bits) - 1);
      at_ += static_cast<size_t>(bits);
      return true;
    }
    uint64_t v = 0;
    for (int got = 0; got < bits;) {
      const unsigned shift = at_ % 8;
      const int take = std::min(8 - static_cast<int>(shift), bits - got);
      const uint64_t byte = static_cast<uint8_t>(bits_[at_ / 8]) >> shift;
      v |= (byte & ((uint64_t{1} << take) - 1)) << got;
      got += take;
      at_ += static_cast<size_t>(take);
    }
    *value = v;
    return true;
  }
  // Every bit read, and the ones left over (the last byte's padding) 0.
  bool Done() const {
    if ((at_ + 7) / 8 != bits_.size()) return false;
    return at_ % 8 == 0 || (static_cast<uint8_t>(bits_.back()) >> (at_ % 8)) == 0;
  }

 private:
  std::string_view bits_;
  size_t at_ = 0;
};

}  // namespace sawmill::segment
