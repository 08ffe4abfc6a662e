// Encoding::kIsoTime: string values that are all UTC timestamps written as
// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (JSON and CSV logs keep them as text) are stored as
// nanoseconds since the epoch (delta-of-delta) plus the number of fraction digits (RLE), and
// rendered back byte for byte. The encoder renders each value back and compares, so only
// values that round-trip exactly use it.
//
//   body := ns_block(lp) digits_block(lp)      (each a complete int column block)

#include "common/coding.h"
#include "common/time_format.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

bool Digits(std::string_view s, size_t at, size_t n, int64_t* v) {
  if (at + n > s.size()) return false;
  *v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    *v = *v * 10 + (s[i] - '0');
  }
  return true;
}

bool Parse(std::string_view s, int64_t* ns, int* digits) {
  int64_t y, mo, d, h, mi, sec;
  if (s.size() < 20 || s.size() > 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':' || s.back() != 'Z' || !Digits(s, 0, 4, &y) ||
      !Digits(s, 5, 2, &mo) || !Digits(s, 8, 2, &d) || !Digits(s, 11, 2, &h) ||
      !Digits(s, 14, 2, &mi) || !Digits(s, 17, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return false;
  if (y < 1678 || y > 2261) return false;  // int64 nanoseconds reach 1677-09-21..2262-04-11
  int64_t frac = 0;
  *digits = 0;
  if (s.size() > 20) {
    if (s[19] != '.') return false;
    *digits = static_cast<int>(s.size() - 21);
    if (*digits < 1 || *digits > 9 || !Digits(s, 20, static_cast<size_t>(*digits), &frac)) {
      return false;
    }
    for (int i = *digits; i < 9; ++i) frac *= 10;
  }
  int64_t days = DaysFromCivil(y, mo, d);
  *ns = (days * 86400 + h * 3600 + mi * 60 + sec) * kNsPerSecond + frac;
  return true;
}

}  // namespace

bool ParseIsoTimestamp(std::string_view text, int64_t* ns) {
  int digits;
  return Parse(text, ns, &digits);
}

bool EncodeIsoTime(const std::string_view* values, size_t count, std::vector<int64_t>* scratch,
                   std::string* out) {
  scratch->resize(count * 2);
  std::string rendered;
  for (size_t row = 0; row < count; ++row) {
    int64_t ns;
    int digits;
    if (!Parse(values[row], &ns, &digits)) return false;
    rendered.clear();
    AppendRfc3339(ns, digits, &rendered);
    if (rendered != values[row]) return false;  // e.g. February 30th
    (*scratch)[row] = ns;
    (*scratch)[count + row] = digits;
  }
  out->push_back(static_cast<char>(Encoding::kIsoTime));
  PutVarint64(out, count);
  std::string block;
  EncodeIntsSmallest(scratch->data(), count, &block);
  PutLengthPrefixed(out, block);
  block.clear();
  std::vector<uint64_t> digits(scratch->begin() + static_cast<ptrdiff_t>(count), scratch->end());
  EncodeRle(digits.data(), count, &block);
  PutLengthPrefixed(out, block);
  return true;
}

Status DecodeIsoTimeBody(std::string_view body, size_t count, std::vector<std::string_view>* out,
                         std::string* arena) {
  std::string_view ns_block, digits_block;
  if (!GetLengthPrefixed(&body, &ns_block) || !GetLengthPrefixed(&body, &digits_block) ||
      !body.empty()) {
    return Status::DataLoss("malformed timestamp-text column");
  }
  std::vector<int64_t> ns, digits;
  RETURN_IF_ERROR(DecodeIntColumn(ns_block, count, &ns));
  RETURN_IF_ERROR(DecodeIntColumn(digits_block, count, &digits));
  if (ns.size() != count || digits.size() != count) {
    return Status::DataLoss("timestamp-text column holds too few values");
  }
  arena->clear();
  std::vector<uint32_t> ends(count);
  for (size_t row = 0; row < count; ++row) {
    if (digits[row] < 0 || digits[row] > 9) return Status::DataLoss("bad fraction digit count");
    AppendRfc3339(ns[row], static_cast<int>(digits[row]), arena);
    ends[row] = static_cast<uint32_t>(arena->size());
  }
  size_t begin = 0;
  for (size_t row = 0; row < count; ++row) {
    out->emplace_back(arena->data() + begin, ends[row] - begin);
    begin = ends[row];
  }
  return Status::OK();
}

extern const ColumnEncoding kIsoTimeEncoding;  // registered in column_encoding.cc
const ColumnEncoding kIsoTimeEncoding{Encoding::kIsoTime, "iso-time", nullptr, &DecodeIsoTimeBody};

}  // namespace sawmill::segment
