// Encoding::kRle: (run length, value) varint pairs, for level and flags.
#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

void EncodeRle(const uint64_t* values, size_t count, std::string* out) {
  out->push_back(static_cast<char>(Encoding::kRle));
  PutVarint64(out, count);
  size_t row = 0;
  while (row < count) {
    size_t run = 1;
    while (row + run < count && values[row + run] == values[row]) ++run;
    PutVarint64(out, run);
    PutVarint64(out, values[row]);
    row += run;
  }
}

Status DecodeRleBody(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeRlePrefix(body, count, count, out);
}

Status DecodeRlePrefix(std::string_view body, size_t count, size_t through,
                       std::vector<int64_t>* out) {
  size_t base = out->size();
  out->reserve(base + count);
  size_t done = 0;
  const char* p = body.data();
  const char* const end = p + body.size();
  while (done < count) {
    if (done >= through) return Status::OK();  // the rest is not looked at
    uint64_t run, value;
    // Runs and values of one byte each (a level's or flags' short runs): the most common.
    if (end - p >= 2 &&
        ((static_cast<unsigned char>(p[0]) | static_cast<unsigned char>(p[1])) & 0x80) == 0) {
      run = static_cast<unsigned char>(p[0]);
      value = static_cast<unsigned char>(p[1]);
      p += 2;
    } else if (!ParseVarint64(&p, end, &run) || !ParseVarint64(&p, end, &value)) {
      run = 0;
    }
    if (run == 0 || run > count - done) {
      out->resize(base);
      return Status::DataLoss("bad run in RLE column at value " + std::to_string(done));
    }
    out->insert(out->end(), run, static_cast<int64_t>(value));
    done += run;
  }
  if (p != end) {
    out->resize(base);
    return Status::DataLoss("RLE column has trailing bytes");
  }
  return Status::OK();
}

extern const ColumnEncoding kRleEncoding;  // registered in column_encoding.cc
const ColumnEncoding kRleEncoding{Encoding::kRle, "rle", &DecodeRleBody, nullptr};

}  // namespace sawmill::segment
