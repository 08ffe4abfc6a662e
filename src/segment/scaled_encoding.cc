// Encoding::kScaled (format version 7; the warm tier's time columns): int64 values that share a
// common divisor (timestamps with microsecond or millisecond precision kept in nanoseconds) are
// stored divided by it, as a complete delta or delta-of-delta int block, so the varints do not
// carry the divisor's always-zero low digits.
//
//   body := divisor(varint >= 2) int_block   (kDeltaOfDelta or kDelta, "count" values)
#include <algorithm>
#include <numeric>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

Status DecodeScaledPrefix(std::string_view body, size_t count, size_t through,
                          std::vector<int64_t>* out) {
  uint64_t divisor;
  if (!GetVarint64(&body, &divisor) || divisor < 2 || divisor > uint64_t{INT64_MAX}) {
    return Status::DataLoss("scaled int column: bad divisor");
  }
  // Only a delta block may follow (no scaled block inside a scaled one).
  const auto inner = body.empty() ? Encoding{} : static_cast<Encoding>(body[0]);
  if (inner != Encoding::kDeltaOfDelta && inner != Encoding::kDelta) {
    return Status::DataLoss("scaled int column: inner encoding " +
                            std::to_string(static_cast<int>(inner)) + " is not a delta block");
  }
  const size_t base = out->size();
  const size_t want = std::min(count, through);
  RETURN_IF_ERROR(DecodeIntColumnThrough(body, count, want, out));
  if (out->size() - base < want || (want == count && out->size() - base != count)) {
    out->resize(base);
    return Status::DataLoss("scaled int column holds too few values");
  }
  for (size_t i = base; i < out->size(); ++i) {
    int64_t v;
    if (__builtin_mul_overflow((*out)[i], static_cast<int64_t>(divisor), &v)) {
      out->resize(base);
      return Status::DataLoss("scaled int column: value " + std::to_string(i - base) +
                              " overflows");
    }
    (*out)[i] = v;
  }
  return Status::OK();
}

namespace {

Status DecodeScaled(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeScaledPrefix(body, count, count, out);
}

}  // namespace

bool EncodeScaled(const int64_t* values, size_t count, std::string* out) {
  uint64_t divisor = 0;
  for (size_t row = 0; row < count && divisor != 1; ++row) {
    const int64_t v = values[row];
    if (v == INT64_MIN) return false;
    divisor = std::gcd(divisor, static_cast<uint64_t>(v < 0 ? -v : v));
  }
  if (divisor < 2) return false;
  std::vector<int64_t> scaled(values, values + count);
  for (int64_t& v : scaled) v /= static_cast<int64_t>(divisor);
  out->push_back(static_cast<char>(Encoding::kScaled));
  PutVarint64(out, count);
  PutVarint64(out, divisor);
  EncodeIntsSmallest(scaled.data(), count, out);
  return true;
}

extern const ColumnEncoding kScaledEncoding;  // registered in column_encoding.cc
const ColumnEncoding kScaledEncoding{Encoding::kScaled, "scaled", &DecodeScaled, nullptr};

}  // namespace sawmill::segment
