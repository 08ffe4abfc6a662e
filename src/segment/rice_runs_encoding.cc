// Encoding::kRiceRuns (format version 15): an int64 column block whose rows fall into runs of
// ascending values (the `ts` of rows sorted by (service, host, ts, seq) inside a time slice:
// one run a source) stored as each run's first value above the block's least and Rice codes of
// the steps between the run's rows.
//
//   body := divisor(varint >= 1) least(zigzag varint) run_count(varint) run*run_count steps
//   run := length(varint >= 1) k(u8 <= 63) first(varint)
//   the values: v = least + u * divisor, u >= 0; a run's first row has u = first, each later
//         row of the run u = the previous row's u + its step (a step >= 0: values within a run
//         never fall). The runs' lengths add up to "count".
//   steps: for each run of length L, its L - 1 steps, each as a Rice code with the run's k:
//         q = step >> k as q 0-bits and a 1-bit, then the step's k low bits; a q of kEscape or
//         more as kEscape 0-bits, then the step's 64 bits. Bits follow each other least
//         significant bit first from the low bit of the first byte; the last byte's unused high
//         bits are 0.
//
// Why: a source's times inside a time slice are random points, so the steps between them are
// about exponentially distributed, which a Rice code with k near log2 of their mean stores
// within a few percent of their entropy; zstd of their varint deltas (kDelta, kScaled) stores
// two or three bytes of near-random low bits a row plus the varints' continuation bits and the
// jumps back at every new source (docs/performance.md "Session 18: the rest of the 10 M
// store"). The writer cuts a run where the values fall (EncodeRiceRuns) and picks each run's k
// by its cost; the chooser (EncodeTimeColumn) keeps the block only where its own bytes are fewer
// than the others' at zstd 3.
#include <algorithm>
#include <bit>
#include <numeric>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr uint32_t kEscape = 48;
constexpr uint32_t kMaxK = 63;

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
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

class BitReader {
 public:
  explicit BitReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}
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
  bool FastRice(uint32_t k, uint64_t* step) {
    Refill();
    if (buf_ == 0 || k > 32) return false;
    const uint32_t q = static_cast<uint32_t>(std::countr_zero(buf_));
    if (q >= kEscape || q + 1 + k > fill_) return false;
    const uint64_t low = (buf_ >> (q + 1)) & ((uint64_t{1} << k) - 1);
    Drop(q + 1 + k);
    *step = (uint64_t{q} << k) | low;
    return true;
  }
  // Decodes up to "count" Rice codes with parameter k (<= 32) as the steps of a run whose value
  // is "*u", into dst[i] = least + u * divisor, while every code is in the buffer (FastRice's
  // case) and no value passes "max_u"; returns how many. Whatever it stops at (a long code, the
  // end of the bytes, damage) is left to FastRice and the slow path, which report damage. The
  // bit state lives in locals for the loop: one code is a few instructions.
  size_t FastRun(uint32_t k, size_t count, uint64_t max_u, uint64_t least, uint64_t divisor,
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
      if (q >= kEscape || used > fill) break;
      const uint64_t step = (uint64_t{q} << k) | ((buf >> (q + 1)) & mask);
      if (step > max_u - value) break;  // (value <= max_u)
      buf >>= used;                     // used <= fill <= 63
      fill -= used;
      value += step;
      dst[i] = static_cast<int64_t>(least + value * divisor);
    }
    p_ = p;
    buf_ = buf;
    fill_ = fill;
    *u = value;
    return i;
  }
  // Whether nothing is left but the last byte's 0 high bits.
  bool Done() const { return p_ == end_ && buf_ == 0 && fill_ < 8; }

 private:
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

// The bits of the Rice codes of "steps" with parameter k.
uint64_t RiceBits(const uint64_t* steps, size_t n, uint32_t k) {
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t q = steps[i] >> k;
    bits += q >= kEscape ? kEscape + 64 : q + 1 + k;
  }
  return bits;
}

struct Run {
  uint64_t length;
  uint32_t k;
  uint64_t first;
};

Status DecodeRiceRunsPrefix(std::string_view body, size_t count, size_t through,
                            std::vector<int64_t>* out) {
  uint64_t divisor, zigzag_least, run_count;
  if (!GetVarint64(&body, &divisor) || divisor == 0 || divisor > uint64_t{INT64_MAX}) {
    return Status::DataLoss("rice-runs int column: bad divisor");
  }
  if (!GetVarint64(&body, &zigzag_least) || !GetVarint64(&body, &run_count) || run_count > count ||
      (count > 0 && run_count == 0)) {
    return Status::DataLoss("rice-runs int column: bad header");
  }
  const int64_t least = ZigZagDecode(zigzag_least);
  std::vector<Run> runs(run_count);
  uint64_t rows = 0;
  for (uint64_t r = 0; r < run_count; ++r) {
    Run& run = runs[r];
    if (body.empty() || !GetVarint64(&body, &run.length) || run.length == 0 ||
        run.length > count - rows) {
      return Status::DataLoss("rice-runs int column: run " + std::to_string(r) + " (from row " +
                              std::to_string(rows) + ") has a bad length");
    }
    run.k = static_cast<uint8_t>(body.empty() ? 255 : body[0]);
    if (!body.empty()) body.remove_prefix(1);
    if (run.k > kMaxK || !GetVarint64(&body, &run.first)) {
      return Status::DataLoss("rice-runs int column: run " + std::to_string(r) + " (from row " +
                              std::to_string(rows) + ") has a bad header");
    }
    rows += run.length;
  }
  if (rows != count) {
    return Status::DataLoss("rice-runs int column: runs hold " + std::to_string(rows) +
                            " rows, not " + std::to_string(count));
  }
  const size_t base = out->size();
  const size_t want = std::min(count, through);
  out->resize(base + want);
  // The largest u whose value fits: least + u * divisor <= INT64_MAX.
  const uint64_t room = static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(least);
  const uint64_t max_u = room / divisor;
  BitReader bits(body);
  int64_t* const dst = out->data() + base;
  size_t row = 0;
  auto fail = [&](const std::string& what) {
    out->resize(base);
    return Status::DataLoss("rice-runs int column: row " + std::to_string(row) + " " + what);
  };
  for (const Run& run : runs) {
    if (row >= want) break;
    uint64_t u = run.first;
    for (uint64_t i = 0; i < run.length && row < want; ++i, ++row) {
      if (i > 0 && run.k <= 32 && u <= max_u) {
        // The run's codes that fit the buffer, at once; the loop goes on from the first that
        // does not.
        const size_t fast =
            bits.FastRun(run.k, std::min<uint64_t>(run.length - i, want - row), max_u,
                         static_cast<uint64_t>(least), divisor, &u, dst + row);
        i += fast;
        row += fast;
        if (i >= run.length || row >= want) break;
      }
      if (i > 0) {
        uint64_t step;
        if (!bits.FastRice(run.k, &step)) {
          uint32_t q;
          uint64_t low = 0;
          if (!bits.Unary(kEscape, &q)) return fail("is past the end of the steps");
          if (q == kEscape) {
            if (!bits.Bits(64, &step)) return fail("is past the end of the steps");
          } else {
            if (!bits.Bits(run.k, &low)) return fail("is past the end of the steps");
            if (run.k > 0 && (uint64_t{q} >> (64 - run.k)) != 0) {
              return fail("has a step that overflows");
            }
            step = (run.k == 0 ? uint64_t{q} : uint64_t{q} << run.k) | low;
          }
        }
        if (__builtin_add_overflow(u, step, &u)) return fail("overflows");
      }
      if (u > max_u) return fail("overflows");
      dst[row] = static_cast<int64_t>(static_cast<uint64_t>(least) + u * divisor);
    }
  }
  if (want == count && !bits.Done()) {
    out->resize(base);
    return Status::DataLoss("rice-runs int column: bytes after the steps");
  }
  return Status::OK();
}

Status DecodeRiceRuns(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeRiceRunsPrefix(body, count, count, out);
}

}  // namespace

Status DecodeRiceRunsThrough(std::string_view body, size_t count, size_t through,
                             std::vector<int64_t>* out) {
  return DecodeRiceRunsPrefix(body, count, through, out);
}

bool EncodeRiceRuns(const int64_t* values, size_t count, std::string* out) {
  if (count == 0) return false;
  const int64_t least = *std::min_element(values, values + count);
  uint64_t divisor = 0;
  std::vector<uint64_t> u(count);
  for (size_t row = 0; row < count; ++row) {
    u[row] = static_cast<uint64_t>(values[row]) - static_cast<uint64_t>(least);
    divisor = std::gcd(divisor, u[row]);
  }
  if (divisor == 0) divisor = 1;
  if (divisor > uint64_t{INT64_MAX}) return false;
  for (uint64_t& v : u) v /= divisor;
  // Runs end where the values fall.
  std::vector<Run> runs;
  std::vector<uint64_t> steps;
  steps.reserve(count);
  size_t start = 0;
  for (size_t row = 1; row <= count; ++row) {
    if (row < count && u[row] >= u[row - 1]) {
      steps.push_back(u[row] - u[row - 1]);
      continue;
    }
    runs.push_back(Run{row - start, 0, u[start]});
    start = row;
  }
  // Each run's k: the cheapest near log2 of its mean step.
  size_t at = 0;
  for (Run& run : runs) {
    const size_t n = run.length - 1;
    if (n == 0) continue;
    unsigned __int128 sum = 0;
    for (size_t i = 0; i < n; ++i) sum += steps[at + i];
    const uint64_t mean = static_cast<uint64_t>(sum / n);
    const uint32_t guess = mean == 0 ? 0 : static_cast<uint32_t>(std::bit_width(mean)) - 1;
    uint64_t best = UINT64_MAX;
    for (uint32_t k = guess > 1 ? guess - 2 : 0; k <= std::min(guess + 1, kMaxK); ++k) {
      const uint64_t bits = RiceBits(steps.data() + at, n, k);
      if (bits < best) {
        best = bits;
        run.k = k;
      }
    }
    at += n;
  }
  out->push_back(static_cast<char>(Encoding::kRiceRuns));
  PutVarint64(out, count);
  PutVarint64(out, divisor);
  PutVarint64(out, ZigZagEncode(least));
  PutVarint64(out, runs.size());
  for (const Run& run : runs) {
    PutVarint64(out, run.length);
    out->push_back(static_cast<char>(run.k));
    PutVarint64(out, run.first);
  }
  BitWriter writer(out);
  at = 0;
  for (const Run& run : runs) {
    for (size_t i = 0; i + 1 < run.length; ++i) {
      const uint64_t step = steps[at++];
      const uint64_t q = step >> run.k;
      if (q >= kEscape) {
        writer.Zeros(kEscape);
        writer.PutWide(step, 64);
      } else {
        writer.Zeros(static_cast<uint32_t>(q));
        writer.Put(1, 1);
        writer.PutWide(step, run.k);
      }
    }
  }
  writer.Finish();
  return true;
}

extern const ColumnEncoding kRiceRunsEncoding;  // registered in column_encoding.cc
const ColumnEncoding kRiceRunsEncoding{Encoding::kRiceRuns, "rice-runs", &DecodeRiceRuns, nullptr};

}  // namespace sawmill::segment
