// Encoding::kDecimal: string values that are all canonical decimal integers, stored as the
// integers and rendered back on decoding.
//
//   body := int_block      (a complete delta-of-delta or delta int column block)
#include <charconv>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

// Parses "text" when it is the one way std::to_chars writes some int64.
bool ParseCanonical(std::string_view text, int64_t* v) {
  if (text.empty() || text.size() > 20) return false;
  size_t digits_at = text[0] == '-' ? 1 : 0;
  if (digits_at == text.size()) return false;
  if (text[digits_at] == '0' && (text.size() - digits_at > 1 || digits_at == 1)) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool EncodeDecimal(const std::string_view* values, size_t count, std::vector<int64_t>* scratch,
                   std::string* out) {
  scratch->resize(count);
  for (size_t row = 0; row < count; ++row) {
    if (!ParseCanonical(values[row], &(*scratch)[row])) return false;
  }
  out->push_back(static_cast<char>(Encoding::kDecimal));
  PutVarint64(out, count);
  EncodeIntsSmallest(scratch->data(), count, out);
  return true;
}

Status DecodeDecimalBody(std::string_view body, size_t count, std::vector<std::string_view>* out,
                         std::string* arena) {
  std::vector<int64_t> ints;
  RETURN_IF_ERROR(DecodeIntColumn(body, count, &ints));
  if (ints.size() != count) return Status::DataLoss("decimal column holds too few values");
  // Render every value first, then point the views: the arena must not move under them.
  arena->clear();
  arena->resize(count * 20);
  std::vector<uint32_t> ends(count);
  char* p = arena->data();
  for (size_t row = 0; row < count; ++row) {
    auto [end, ec] = std::to_chars(p, arena->data() + arena->size(), ints[row]);
    if (ec != std::errc()) return Status::DataLoss("decimal column value does not render");
    p = end;
    ends[row] = static_cast<uint32_t>(p - arena->data());
  }
  arena->resize(static_cast<size_t>(p - arena->data()));
  size_t begin = 0;
  for (size_t row = 0; row < count; ++row) {
    out->emplace_back(arena->data() + begin, ends[row] - begin);
    begin = ends[row];
  }
  return Status::OK();
}

extern const ColumnEncoding kDecimalEncoding;  // registered in column_encoding.cc
const ColumnEncoding kDecimalEncoding{Encoding::kDecimal, "decimal", nullptr, &DecodeDecimalBody};

}  // namespace sawmill::segment
