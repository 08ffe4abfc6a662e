// Encoding::kTsLine (format version 25): the seq column of a block stored against the block's
// ts: each row's seq less a line in its ts, in the fewest values its bucket of ts needs.
//
//   body := t0(zigzag varint) width(varint >= 1) bucket_count(varint, 1..count) base(zigzag
//           varint) slope(zigzag varint, |slope| < 2^62) bucket*bucket_count digits
//   bucket := low(zigzag varint: less the previous bucket's low; the first's less 0)
//             span(varint < 2^62)
//   row i, of ts t_i (the block's ts column, given by the reader: RowTimesScope): its bucket is
//         b_i = (t_i - t0) / width, which must be below bucket_count (t_i >= t0), and its value
//         base + floor((t_i - t0) x slope / 2^40) + low_{b_i} + d_i, 0 <= d_i <= span_{b_i}.
//   digits: the rows' d_i in row order (a row whose bucket's span is 0 has none), in groups: a
//         group takes the next digits while the product P of their radices (span + 1) stays at
//         most 2^63; its value ((d_a x r_a+1 + d_a+1) x r_a+2 + d_a+2 ...) < P is written in
//         bit_width(P - 1) bits. The groups' bits follow each other least significant bit first
//         from the low bit of the first byte; the last byte's unused high bits are 0.
//
// Why: rows are sorted by (service, host, ts, seq) inside a time slice, so kDelta stores each
// row's seq less the previous row's of the same source: the lines of every other source that
// arrived between, about 13 bits a row in the 10 M corpus store. But lines arrive roughly in
// time order, so seq is nearly a line in ts: what is left is how far a line arrived from where
// its time puts it (the corpus: up to +-2 s of lines, a few senders' batches out of order), the
// same for every source, about 9 to 10 bits a row (docs/performance.md "Session 23: seq given ts
// (format 25)"). A bucket's low and span follow a stretch where batches arrived out of order.
// The writer fits the line by least squares and cuts buckets whose width is a power of two
// (the reader's shift) from about 64 to about 256 rows, keeping the fewest bytes; the chooser
// (EncodeSeqColumn) keeps the block only where it is smaller than kDelta (or kPermutedRuns) at
// zstd 3. A reader needs every row's ts to read any row's seq
// (SegmentFileReader::DecodeBuiltinColumn gives them).
#include <algorithm>
#include <bit>
#include <cmath>

#include "common/coding.h"
#include "segment/column_encoding.h"
#include "segment/mixed_radix_groups.h"

namespace sawmill::segment {

namespace {

using Wide = __int128;

constexpr int64_t kMaxSlope = int64_t{1} << 62;  // |slope| below
constexpr uint64_t kMaxSpan = (uint64_t{1} << 62) - 1;
constexpr Wide kMaxResidual = Wide{1} << 62;  // |value - line| below (the writer's bound)
constexpr int kSlopeShift = 40;
// The writer's buckets: widths a power of two (a reader finds a row's bucket by a shift) from
// about the first to about the last of these many rows each, the fewest bytes kept.
constexpr uint32_t kBucketRows[] = {64, 256};

// floor((t - t0) x slope / 2^40): "dx" below 2^64 and |slope| below 2^62 keep it within 2^126.
Wide LineAt(uint64_t dx, int64_t slope) { return (static_cast<Wide>(dx) * slope) >> kSlopeShift; }

// The bits of the digits of radices "radix" (one per row, 1: no digit) in groups.
uint64_t GroupBits(const std::vector<uint64_t>& radix) {
  uint64_t bits = 0, product = 1;
  for (uint64_t r : radix) {
    if (r <= 1) continue;
    if (!GroupTakes(product, r)) {
      bits += static_cast<uint64_t>(std::bit_width(product - 1));
      product = 1;
    }
    product *= r;
  }
  return bits + (product > 1 ? static_cast<uint64_t>(std::bit_width(product - 1)) : 0);
}

struct Buckets {
  uint64_t width = 1;
  std::vector<int64_t> low;
  std::vector<uint64_t> span;
  size_t bytes = SIZE_MAX;  // the body's, from the buckets on
};

// The width of buckets of about "per" rows each over ts offsets up to "max_dx" of "count" rows.
uint64_t WidthFor(uint64_t max_dx, size_t count, uint32_t per) {
  const Wide wanted = ((static_cast<Wide>(max_dx) + 1) * per + count - 1) / count;
  return static_cast<uint64_t>(
      std::clamp<Wide>(wanted, 1, std::max<Wide>(1, std::min<Wide>(max_dx, UINT64_MAX - 1) + 1)));
}

// The buckets of "width" ns of residuals "res" at ts offsets "dx" (the largest "max_dx"), or
// false when a bucket's span is too wide for the format.
bool CutBuckets(const std::vector<uint64_t>& dx, const std::vector<int64_t>& res, uint64_t max_dx,
                uint64_t width, Buckets* b) {
  const size_t count = dx.size();
  b->width = width;
  const uint64_t n = max_dx / b->width + 1;
  if (n > count) return false;
  std::vector<int64_t> high(n, INT64_MIN);
  b->low.assign(n, INT64_MAX);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t k = dx[i] / b->width;
    b->low[k] = std::min(b->low[k], res[i]);
    high[k] = std::max(high[k], res[i]);
  }
  b->span.assign(n, 0);
  std::vector<uint64_t> radix(count);
  int64_t prev = 0;
  size_t bytes = static_cast<size_t>(VarintLength(b->width) + VarintLength(n));
  for (uint64_t k = 0; k < n; ++k) {
    if (b->low[k] == INT64_MAX) {
      b->low[k] = prev;  // no row: span 0
    } else {
      const Wide span = static_cast<Wide>(high[k]) - b->low[k];
      if (span > static_cast<Wide>(kMaxSpan)) return false;
      b->span[k] = static_cast<uint64_t>(span);
    }
    bytes += static_cast<size_t>(VarintLength(ZigZagEncode(b->low[k] - prev)) +
                                 VarintLength(b->span[k]));
    prev = b->low[k];
  }
  for (size_t i = 0; i < count; ++i) radix[i] = b->span[dx[i] / b->width] + 1;
  b->bytes = bytes + (GroupBits(radix) + 7) / 8;
  return true;
}

Status Loss(const std::string& why) { return Status::DataLoss("ts-line int column: " + why); }

Status DecodeTsLine(std::string_view body, size_t count, std::vector<int64_t>* out) {
  const int64_t* times = RowTimesScope::times();
  if (times == nullptr || RowTimesScope::count() != count) {
    return Loss("stored against its rows' ts, which were not given for its " +
                std::to_string(count) + " rows" +
                (times == nullptr ? std::string()
                                  : " (" + std::to_string(RowTimesScope::count()) + " given)"));
  }
  uint64_t zigzag_t0, width, bucket_count, zigzag_base, zigzag_slope;
  if (!GetVarint64(&body, &zigzag_t0) || !GetVarint64(&body, &width) || width == 0 ||
      !GetVarint64(&body, &bucket_count) || bucket_count == 0 || bucket_count > count ||
      !GetVarint64(&body, &zigzag_base) || !GetVarint64(&body, &zigzag_slope)) {
    return Loss("malformed header");
  }
  const int64_t t0 = ZigZagDecode(zigzag_t0);
  const int64_t base = ZigZagDecode(zigzag_base);
  const int64_t slope = ZigZagDecode(zigzag_slope);
  if (slope <= -kMaxSlope || slope >= kMaxSlope) {
    return Loss("slope " + std::to_string(slope) + " is out of range");
  }
  thread_local std::vector<int64_t> low;
  thread_local std::vector<uint64_t> radix, inverse;
  low.resize(bucket_count);
  radix.resize(bucket_count);
  inverse.resize(bucket_count);
  Wide at = 0;
  for (uint64_t k = 0; k < bucket_count; ++k) {
    uint64_t zigzag_low, span;
    if (!GetVarint64(&body, &zigzag_low) || !GetVarint64(&body, &span)) {
      return Loss("bucket " + std::to_string(k) + " of " + std::to_string(bucket_count) +
                  " is missing");
    }
    at += ZigZagDecode(zigzag_low);
    if (at < INT64_MIN || at > INT64_MAX || span > kMaxSpan) {
      return Loss("bucket " + std::to_string(k) + " is out of range");
    }
    low[k] = static_cast<int64_t>(at);
    radix[k] = span + 1;
    // floor(2^64 / radix): a group's value (below 2^63) divided by a multiply (Divide).
    inverse[k] = span == 0 ? 0 : static_cast<uint64_t>((static_cast<Wide>(1) << 64) / radix[k]);
  }
  // Each row's bucket, by its ts (a ts outside the buckets: the ts given are not the block's).
  const size_t first = out->size();
  out->resize(first + count);
  int64_t* digit = out->data() + first;
  thread_local std::vector<uint32_t> bucket;
  bucket.resize(count);
  const int shift = std::has_single_bit(width) ? std::countr_zero(width) : -1;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t dx = static_cast<uint64_t>(times[i]) - static_cast<uint64_t>(t0);
    const uint64_t k = times[i] < t0 ? UINT64_MAX : shift >= 0 ? dx >> shift : dx / width;
    if (k >= bucket_count) {
      out->resize(first);
      return Loss("row " + std::to_string(i) + "'s ts " + std::to_string(times[i]) +
                  " is outside the block's buckets of ts");
    }
    bucket[i] = static_cast<uint32_t>(k);
  }
  // The digits, group by group: a group's rows are known once the next would overflow it.
  MixedRadixBits bits(body);
  size_t group[64];
  size_t in_group = 0;
  uint64_t product = 1;
  auto flush = [&]() -> bool {
    if (product <= 1) return true;
    uint64_t value;
    if (!bits.Take(std::bit_width(product - 1), &value) || value >= product) return false;
    for (size_t j = in_group; j-- > 0;) {
      const uint32_t k = bucket[group[j]];
      // value / r by its inverse: the estimate is the quotient or one below (value < 2^63).
      const uint64_t r = radix[k];
      uint64_t q = static_cast<uint64_t>((static_cast<Wide>(value) * inverse[k]) >> 64);
      uint64_t rest = value - q * r;
      if (rest >= r) {
        ++q;
        rest -= r;
      }
      digit[group[j]] = static_cast<int64_t>(rest);
      value = q;
    }
    in_group = 0;
    product = 1;
    return true;
  };
  for (size_t i = 0; i < count; ++i) {
    const uint64_t r = radix[bucket[i]];
    if (r <= 1) {
      digit[i] = 0;
      continue;
    }
    if (!GroupTakes(product, r) && !flush()) {
      out->resize(first);
      return Loss("row " + std::to_string(group[0]) + "'s digit is damaged or past the end");
    }
    product *= r;
    group[in_group++] = i;
  }
  if ((in_group > 0 && !flush()) || !bits.Done()) {
    const size_t row = in_group > 0 ? group[0] : count;
    out->resize(first);
    return in_group > 0 ? Loss("row " + std::to_string(row) + "'s digit is damaged or past the end")
                        : Loss("bytes after the digits");
  }
  for (size_t i = 0; i < count; ++i) {
    const uint64_t dx = static_cast<uint64_t>(times[i]) - static_cast<uint64_t>(t0);
    const Wide v = static_cast<Wide>(base) + LineAt(dx, slope) + low[bucket[i]] + digit[i];
    if (v < INT64_MIN || v > INT64_MAX) {
      out->resize(first);
      return Loss("row " + std::to_string(i) + "'s value is out of range");
    }
    digit[i] = static_cast<int64_t>(v);
  }
  return Status::OK();
}

}  // namespace

bool TsLineNeedsRowTimes(std::string_view block) {
  return !block.empty() && static_cast<Encoding>(block[0]) == Encoding::kTsLine;
}

bool EncodeTsLine(const int64_t* values, const int64_t* times, size_t count, std::string* out) {
  if (count == 0 || times == nullptr) return false;
  const int64_t t0 = *std::min_element(times, times + count);
  thread_local std::vector<uint64_t> dx;
  thread_local std::vector<int64_t> res;
  dx.resize(count);
  res.resize(count);
  uint64_t max_dx = 0;
  long double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < count; ++i) {
    dx[i] = static_cast<uint64_t>(times[i]) - static_cast<uint64_t>(t0);
    max_dx = std::max(max_dx, dx[i]);
    mean_x += static_cast<long double>(dx[i]);
    mean_y += static_cast<long double>(values[i]);
  }
  mean_x /= static_cast<long double>(count);
  mean_y /= static_cast<long double>(count);
  long double sxx = 0, sxy = 0;
  for (size_t i = 0; i < count; ++i) {
    const long double x = static_cast<long double>(dx[i]) - mean_x;
    sxx += x * x;
    sxy += x * (static_cast<long double>(values[i]) - mean_y);
  }
  // The line by least squares (any line reads back: it only sets how wide the digits are).
  constexpr long double kScale = static_cast<long double>(uint64_t{1} << kSlopeShift);
  int64_t slope = 0;
  if (sxx > 0) {
    const long double s = std::round(sxy / sxx * kScale);
    if (std::fabs(s) < static_cast<long double>(kMaxSlope)) slope = static_cast<int64_t>(s);
  }
  // The line through the means (seq near the int64 extremes too: the rests stay small).
  const long double b = std::round(mean_y - mean_x * static_cast<long double>(slope) / kScale);
  constexpr long double kInt64End = 2 * static_cast<long double>(uint64_t{1} << 62);
  const int64_t base = b >= -kInt64End && b < kInt64End ? static_cast<int64_t>(b) : 0;
  for (size_t i = 0; i < count; ++i) {
    const Wide r = static_cast<Wide>(values[i]) - (base + LineAt(dx[i], slope));
    if (r <= -kMaxResidual || r >= kMaxResidual) return false;
    res[i] = static_cast<int64_t>(r);
  }
  Buckets best, candidate;
  const uint64_t widest =
      std::bit_ceil(std::min<uint64_t>(WidthFor(max_dx, count, kBucketRows[1]), uint64_t{1} << 63));
  for (uint64_t width = std::bit_floor(WidthFor(max_dx, count, kBucketRows[0])); width <= widest;
       width <<= 1) {
    if (CutBuckets(dx, res, max_dx, width, &candidate) && candidate.bytes < best.bytes) {
      std::swap(best, candidate);
    }
    if (width == uint64_t{1} << 63) break;
  }
  if (best.bytes == SIZE_MAX) return false;
  out->push_back(static_cast<char>(Encoding::kTsLine));
  PutVarint64(out, count);
  PutVarint64(out, ZigZagEncode(t0));
  PutVarint64(out, best.width);
  PutVarint64(out, best.low.size());
  PutVarint64(out, ZigZagEncode(base));
  PutVarint64(out, ZigZagEncode(slope));
  int64_t prev = 0;
  for (size_t k = 0; k < best.low.size(); ++k) {
    PutVarint64(out, ZigZagEncode(best.low[k] - prev));
    PutVarint64(out, best.span[k]);
    prev = best.low[k];
  }
  MixedRadixWriter writer(out);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t k = dx[i] / best.width;
    writer.Digit(static_cast<uint64_t>(res[i] - best.low[k]), best.span[k] + 1);
  }
  writer.Finish();
  return true;
}

extern const ColumnEncoding kTsLineEncoding;  // registered in column_encoding.cc
const ColumnEncoding kTsLineEncoding{Encoding::kTsLine, "ts-line", &DecodeTsLine, nullptr};

}  // namespace sawmill::segment
