// Digits of varying radices packed as the segment format's mixed-radix groups (kPermutedRuns'
// Lehmer digits, format version 14; kTsLine's residuals, version 25): a group takes the next
// digits while the product P of their radices stays at most 2^63, and its value
// ((d_a x r_a+1 + d_a+1) x r_a+2 + d_a+2 ...) < P is written in bit_width(P - 1) bits; the
// groups' bits follow each other least significant bit first from the low bit of the first byte,
// and the last byte's unused high bits are 0.
#pragma once

#include <bit>
#include <cstdint>
#include <string>

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

}  // namespace sawmill::segment
