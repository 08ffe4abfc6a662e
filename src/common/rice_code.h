// Rice codes in a bit stream, shared by the encodings that store numbers of about geometric
// distribution near their entropy: the `ts` column's steps (segment/rice_runs_encoding.cc,
// format version 15) and the rows of the inverted index's version 3 (index/inverted_index.cc,
// format version 17).
//
// A value v with parameter k: q = v >> k as q 0-bits and a 1-bit, then v's k low bits; a q of
// kRiceEscape or more as kRiceEscape 0-bits, then v's 64 bits. Bits follow each other least
// significant bit first from the low bit of the first byte; the last byte's unused high bits
// are 0.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace sawmill {

inline constexpr uint32_t kRiceEscape = 48;

// The bits of v's Rice code with parameter k.
inline uint64_t RiceCodeBits(uint64_t v, uint32_t k) {
  const uint64_t q = v >> k;
  return q >= kRiceEscape ? kRiceEscape + 64 : q + 1 + k;
}

class RiceBitWriter {
 public:
  explicit RiceBitWriter(std::string* out) : out_(out) {}
  // The low "n" (<= 57) bits of "bits".
  void Put(uint64_t bits, uint32_t n) {
    if (n == 0) return;
    if (n < 64) bits &= (uint64_t{1} << n) - 1;
    acc_ |= bits << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      out_->push_back(static_cast<char>(acc_ & 0xff));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void PutWide(uint64_t bits, uint32_t n) {  // n <= 64
    if (n > 32) {
      Put(bits & 0xffffffffu, 32);
      Put(bits >> 32, n - 32);
    } else {
      Put(bits, n);
    }
  }
  void Zeros(uint32_t n) {
    while (n > 32) {
      Put(0, 32);
      n -= 32;
    }
    Put(0, n);
  }
  // v's Rice code with parameter k (<= 63).
  void Rice(uint64_t v, uint32_t k) {
    const uint64_t q = v >> k;
    if (q >= kRiceEscape) {
      Zeros(kRiceEscape);
      PutWide(v, 64);
    } else {
      Zeros(static_cast<uint32_t>(q));
      Put(1, 1);
      PutWide(v, k);
    }
  }
  void Finish() {
    if (fill_ > 0) out_->push_back(static_cast<char>(acc_ & 0xff));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  uint32_t fill_ = 0;
};

class RiceBitReader {
 public:
  explicit RiceBitReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  enum class Read { kOk, kEnd, kOverflow };
  // The next Rice code with parameter k (<= 63): kEnd when the bits end before it, kOverflow
  // when its value does not fit 64 bits.
  Read Next(uint32_t k, uint64_t* v) {
    if (FastRice(k, v)) return Read::kOk;
    uint32_t q;
    uint64_t low = 0;
    if (!Unary(kRiceEscape, &q)) return Read::kEnd;
    if (q == kRiceEscape) return Bits(64, v) ? Read::kOk : Read::kEnd;
    if (!Bits(k, &low)) return Read::kEnd;
    if (k > 0 && (uint64_t{q} >> (64 - k)) != 0) return Read::kOverflow;
    *v = (k == 0 ? uint64_t{q} : uint64_t{q} << k) | low;
    return Read::kOk;
  }
  // Decodes up to "count" Rice codes with parameter k (<= 32) as the steps of a run whose value
  // is "*u", into dst[i] = least + u * divisor, while every code is in the buffer (FastRice's
  // case) and no value passes "max_u"; returns how many. Whatever it stops at (a long code, the
  // end of the bytes, damage) is left to Next, which reports damage. The bit state lives in
  // locals for the loop: one code is a few instructions.
  size_t FastRun(uint32_t k, size_t count, uint64_t max_u, uint64_t least, uint64_t divisor,
                 uint64_t* u, int64_t* dst) {
    return Fast<true>(k, count, max_u, least, divisor, u, dst);
  }
  // Passes over up to "count" Rice codes with parameter k (<= 32) while every code is in the
  // buffer (FastRun's case, making no value); returns how many. What it stops at is left to Next.
  size_t FastSkip(uint32_t k, size_t count) {
    uint64_t u = 0;
    return Fast<false>(k, count, 0, 0, 0, &u, nullptr);
  }
  // Whether nothing is left but the last byte's 0 high bits.
  bool Done() const { return p_ == end_ && buf_ == 0 && fill_ < 8; }
  // The bits not yet read.
  uint64_t BitsLeft() const { return static_cast<uint64_t>(end_ - p_) * 8 + fill_; }
  // Passes over "n" (<= 64) bits; false when fewer are left.
  bool Skip(uint32_t n) {
    uint64_t v;
    return n == 0 || Bits(n, &v);
  }

 private:
  // FastRun (kValues) or FastSkip.
  template <bool kValues>
  size_t Fast(uint32_t k, size_t count, uint64_t max_u, uint64_t least, uint64_t divisor,
              uint64_t* u, int64_t* dst) {
    const uint8_t* p = p_;
    uint64_t buf = buf_;
    uint32_t fill = fill_;
    uint64_t value = *u;
    const uint64_t mask = (uint64_t{1} << k) - 1;
    size_t i = 0;
    for (; i < count; ++i) {
      if (fill < 56 && end_ - p >= 8) {
        const uint32_t bytes = (63 - fill) >> 3;
        const uint32_t to = fill + bytes * 8;
        buf |=
            (DecodeFixed64(reinterpret_cast<const char*>(p)) << fill) & ((uint64_t{1} << to) - 1);
        p += bytes;
        fill = to;
      }
      if (buf == 0) break;
      const uint32_t q = static_cast<uint32_t>(std::countr_zero(buf));
      const uint32_t used = q + 1 + k;
      if (q >= kRiceEscape || used > fill) break;
      if constexpr (kValues) {
        const uint64_t step = (uint64_t{q} << k) | ((buf >> (q + 1)) & mask);
        if (step > max_u - value) break;  // (value <= max_u)
        value += step;
        dst[i] = static_cast<int64_t>(least + value * divisor);
      }
      buf >>= used;  // used <= fill <= 63
      fill -= used;
    }
    p_ = p;
    buf_ = buf;
    fill_ = fill;
    *u = value;
    return i;
  }
  // A unary count of 0-bits up to a 1-bit, at most "limit" (then the 0-bits only are taken).
  bool Unary(uint32_t limit, uint32_t* q) {
    uint32_t zeros = 0;
    while (true) {
      Refill();
      if (fill_ == 0) return false;
      if (buf_ == 0) {
        const uint32_t take = std::min(fill_, limit - zeros);
        Drop(take);
        zeros += take;
        if (zeros == limit) break;
        continue;
      }
      const uint32_t t = static_cast<uint32_t>(std::countr_zero(buf_));
      if (zeros + t >= limit) {
        Drop(limit - zeros);
        zeros = limit;
        break;
      }
      Drop(t + 1);
      zeros += t;
      *q = zeros;
      return true;
    }
    *q = limit;
    return true;
  }
  // "n" (<= 64) bits.
  bool Bits(uint32_t n, uint64_t* v) {
    uint64_t value = 0;
    uint32_t got = 0;
    while (got < n) {
      Refill();
      if (fill_ == 0) return false;
      const uint32_t take = std::min(fill_, n - got);
      const uint64_t part = take == 64 ? buf_ : buf_ & ((uint64_t{1} << take) - 1);
      value |= part << got;
      Drop(take);
      got += take;
    }
    *v = value;
    return true;
  }
  // One Rice code with parameter k whose bits are all in the buffer (the common case: a q below
  // the buffer's 0-bits and k below 32), else false with nothing taken.
  bool FastRice(uint32_t k, uint64_t* v) {
    Refill();
    if (buf_ == 0 || k > 32) return false;
    const uint32_t q = static_cast<uint32_t>(std::countr_zero(buf_));
    if (q >= kRiceEscape || q + 1 + k > fill_) return false;
    const uint64_t low = (buf_ >> (q + 1)) & ((uint64_t{1} << k) - 1);
    Drop(q + 1 + k);
    *v = (uint64_t{q} << k) | low;
    return true;
  }
  void Refill() {
    if (end_ - p_ >= 8) {
      // Eight bytes loaded at once, of which the whole bytes that fit are taken (the bits
      // above fill_ stay 0).
      if (fill_ < 56) {
        const uint32_t bytes = (63 - fill_) >> 3;
        const uint32_t to = fill_ + bytes * 8;  // <= 63
        buf_ |=
            (DecodeFixed64(reinterpret_cast<const char*>(p_)) << fill_) & ((uint64_t{1} << to) - 1);
        p_ += bytes;
        fill_ = to;
      }
      return;
    }
    while (fill_ <= 56 && p_ < end_) {
      buf_ |= static_cast<uint64_t>(*p_++) << fill_;
      fill_ += 8;
    }
  }
  void Drop(uint32_t n) {
    buf_ = n >= 64 ? 0 : buf_ >> n;
    fill_ -= n;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t buf_ = 0;
  uint32_t fill_ = 0;
};

}  // namespace sawmill
