// Encoding::kDeltaOfDelta and Encoding::kDelta for int64 columns.
#include <algorithm>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

// Unsigned arithmetic: deltas of arbitrary int64 values wrap instead of overflowing.
inline uint64_t Sub(int64_t a, int64_t b) {
  return static_cast<uint64_t>(a) - static_cast<uint64_t>(b);
}

void EncodeDeltas(const int64_t* values, size_t count, bool of_delta, Encoding enc,
                  std::string* out) {
  out->push_back(static_cast<char>(enc));
  PutVarint64(out, count);
  size_t start = out->size();
  out->resize(start + count * kMaxVarint64Bytes);
  char* p = out->data() + start;
  int64_t prev = 0;
  uint64_t prev_delta = 0;
  for (size_t row = 0; row < count; ++row) {
    uint64_t delta = Sub(values[row], prev);
    uint64_t v = of_delta ? delta - prev_delta : delta;
    p = EncodeVarint64(p, ZigZagEncode(static_cast<int64_t>(v)));
    prev = values[row];
    prev_delta = delta;
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

}  // namespace

void EncodeDeltaOfDelta(const int64_t* values, size_t count, std::string* out) {
  EncodeDeltas(values, count, true, Encoding::kDeltaOfDelta, out);
}

void EncodeDelta(const int64_t* values, size_t count, std::string* out) {
  EncodeDeltas(values, count, false, Encoding::kDelta, out);
}

void EncodeIntsSmallest(const int64_t* values, size_t count, std::string* out) {
  size_t start = out->size();
  EncodeDeltaOfDelta(values, count, out);
  std::string delta;
  EncodeDelta(values, count, &delta);
  if (delta.size() < out->size() - start) {
    out->resize(start);
    out->append(delta);
  }
}

Status DecodeDeltaBody(std::string_view body, size_t count, bool of_delta,
                       std::vector<int64_t>* out) {
  return DecodeDeltaPrefix(body, count, of_delta, count, out);
}

Status DecodeDeltaPrefix(std::string_view body, size_t count, bool of_delta, size_t through,
                         std::vector<int64_t>* out) {
  const size_t n = std::min(count, through);
  size_t base = out->size();
  out->resize(base + n);
  int64_t* dst = out->data() + base;
  uint64_t prev = 0, prev_delta = 0;
  const char* p = body.data();
  const char* const end = p + body.size();
  for (size_t row = 0; row < n; ++row) {
    uint64_t z;
    if (p < end && static_cast<unsigned char>(*p) < 0x80) {  // one byte: the most common
      z = static_cast<unsigned char>(*p++);
    } else if (!ParseVarint64(&p, end, &z)) {
      out->resize(base);
      return Status::DataLoss("truncated delta column at value " + std::to_string(row));
    }
    uint64_t v = static_cast<uint64_t>(ZigZagDecode(z));
    uint64_t delta = of_delta ? prev_delta + v : v;
    prev += delta;
    prev_delta = delta;
    dst[row] = static_cast<int64_t>(prev);
  }
  if (n == count && p != end) {  // (a prefix does not look at the rest)
    out->resize(base);
    return Status::DataLoss("delta column has " + std::to_string(end - p) + " trailing bytes");
  }
  return Status::OK();
}

namespace {
Status DecodeDeltaOfDelta(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeDeltaBody(body, count, true, out);
}
Status DecodeDeltas(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeDeltaBody(body, count, false, out);
}
}  // namespace

extern const ColumnEncoding kDeltaOfDeltaEncoding;  // registered in column_encoding.cc
const ColumnEncoding kDeltaOfDeltaEncoding{Encoding::kDeltaOfDelta, "delta-of-delta",
                                           &DecodeDeltaOfDelta, nullptr};
extern const ColumnEncoding kDeltaEncoding;  // registered in column_encoding.cc
const ColumnEncoding kDeltaEncoding{Encoding::kDelta, "delta", &DecodeDeltas, nullptr};

}  // namespace sawmill::segment
