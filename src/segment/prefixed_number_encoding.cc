// Encoding::kPrefixedNumber (format version 11): string values that are all one literal prefix
// followed by a decimal number of one fixed width (user ids `u020419`, order numbers
// `ORD-000042`, zero-padded counters `000123`), stored as the numbers and rendered back.
//
//   body := prefix(lp) width(u8, 1..18) int_block
//   int_block := one complete int column block of the "count" numbers, each below 10^width
//
// Why: such ids are drawn from a set much smaller than their text spells (100,000 users in
// 7-byte strings), and a block's rows repeat the frequent ones. As text zstd pays for each
// one's digits; as numbers the block keeps its distinct values once, ascending (small deltas),
// and an id per row in byte planes (int_dict_encoding.cc, ids mode 2), which zstd's entropy
// coder brings near the ids' entropy: the corpus's user_id 2.72 -> 2.15 bytes a row
// (docs/performance.md "Bytes at 10,000,000 lines"). The writer keeps the block only where
// zstd makes it smaller than the chooser's other answer (EncodeStringColumn).
#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr size_t kMaxWidth = 18;  // 10^18 - 1 fits an int64

constexpr int64_t Pow10(size_t n) {
  int64_t p = 1;
  for (size_t i = 0; i < n; ++i) p *= 10;
  return p;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Renders prefix + each of "numbers" zero-padded to "width" digits into "*arena" and appends
// a view of each to "*out".
Status Render(std::string_view prefix, size_t width, const std::vector<int64_t>& numbers,
              std::vector<std::string_view>* out, std::string* arena) {
  const size_t value_bytes = prefix.size() + width;
  const int64_t limit = Pow10(width);
  arena->clear();
  arena->resize(numbers.size() * value_bytes);
  char* p = arena->data();
  for (size_t i = 0; i < numbers.size(); ++i) {
    int64_t n = numbers[i];
    if (n < 0 || n >= limit) {
      arena->clear();
      return Status::DataLoss("prefixed-number column: value " + std::to_string(i) + " is " +
                              std::to_string(n) + ", not " + std::to_string(width) + " digits");
    }
    prefix.copy(p, prefix.size());
    for (size_t d = value_bytes; d > prefix.size(); --d) {
      p[d - 1] = static_cast<char>('0' + n % 10);
      n /= 10;
    }
    p += value_bytes;
  }
  // The arena is complete: the views may point into it now.
  for (size_t i = 0; i < numbers.size(); ++i) {
    out->emplace_back(arena->data() + i * value_bytes, value_bytes);
  }
  return Status::OK();
}

// The prefix and width of a body; "*body" is left at its int block.
Status ReadPrefixAndWidth(std::string_view* body, size_t count, std::string_view* prefix,
                          size_t* width) {
  if (!GetLengthPrefixed(body, prefix)) {
    return Status::DataLoss("prefixed-number column: prefix missing");
  }
  if (body->empty()) return Status::DataLoss("prefixed-number column: width missing");
  *width = static_cast<uint8_t>((*body)[0]);
  body->remove_prefix(1);
  if (*width == 0 || *width > kMaxWidth) {
    return Status::DataLoss("prefixed-number column: width " + std::to_string(*width));
  }
  // Refuse a block whose rendering would be larger than any column block can be before
  // allocating it.
  const uint64_t value_bytes = prefix->size() + *width;
  if (count > 0 && value_bytes > (uint64_t{2} << 30) / count) {
    return Status::DataLoss("prefixed-number column: " + std::to_string(count) + " values of " +
                            std::to_string(value_bytes) + " bytes");
  }
  return Status::OK();
}

Status DecodePrefixedNumberBody(std::string_view body, size_t count,
                                std::vector<std::string_view>* out, std::string* arena) {
  std::string_view prefix;
  size_t width;
  RETURN_IF_ERROR(ReadPrefixAndWidth(&body, count, &prefix, &width));
  std::vector<int64_t> numbers;
  RETURN_IF_ERROR(DecodeIntColumn(body, count, &numbers));
  if (numbers.size() != count) {
    return Status::DataLoss("prefixed-number column holds " + std::to_string(numbers.size()) +
                            " of " + std::to_string(count) + " numbers");
  }
  return Render(prefix, width, numbers, out, arena);
}

}  // namespace

bool EncodePrefixedNumber(const std::string_view* values, size_t count,
                          std::vector<int64_t>* scratch, std::string* out, bool huffman_ids) {
  if (count == 0) return false;
  const std::string_view first = values[0];
  size_t width = 0;
  while (width < first.size() && IsDigit(first[first.size() - 1 - width])) ++width;
  if (width == 0 || width > kMaxWidth) return false;
  const std::string_view prefix = first.substr(0, first.size() - width);
  std::vector<int64_t>& numbers = *scratch;
  numbers.resize(count);
  for (size_t row = 0; row < count; ++row) {
    const std::string_view v = values[row];
    if (v.size() != first.size() || v.substr(0, prefix.size()) != prefix) return false;
    int64_t n = 0;
    for (size_t i = prefix.size(); i < v.size(); ++i) {
      if (!IsDigit(v[i])) return false;
      n = n * 10 + (v[i] - '0');
    }
    numbers[row] = n;
  }
  out->push_back(static_cast<char>(Encoding::kPrefixedNumber));
  PutVarint64(out, count);
  PutLengthPrefixed(out, prefix);
  out->push_back(static_cast<char>(width));
  // The numbers as deltas, or as distinct values and ids in byte planes, or (version 20) as
  // distinct values and Huffman codes, whichever zstd makes smaller: ids drawn from a set
  // (users) repeat, numbers that follow the rows (a counter) do not.
  const size_t start = out->size();
  EncodeIntsSmallest(numbers.data(), count, out);
  size_t best = ZstdBytes(std::string_view(*out).substr(start), 3);
  std::string candidate;
  thread_local std::vector<int64_t> distinct;
  auto consider = [&] {
    const size_t bytes = ZstdBytes(candidate, 3);
    if (bytes >= best) return;
    best = bytes;
    out->resize(start);
    out->append(candidate);
  };
  if (EncodeIntDictPlanes(numbers.data(), count, &distinct, &candidate)) consider();
  candidate.clear();
  if (huffman_ids && EncodeHuffmanIds(numbers.data(), count, &distinct, &candidate)) consider();
  return true;
}

Status DecodePrefixedNumberRows(std::string_view body, size_t count,
                                const std::vector<uint32_t>& rows,
                                std::vector<std::string_view>* out, std::string* arena) {
  std::string_view prefix;
  size_t width;
  RETURN_IF_ERROR(ReadPrefixAndWidth(&body, count, &prefix, &width));
  std::vector<int64_t> numbers;
  RETURN_IF_ERROR(DecodeIntRows(body, count, rows, &numbers));
  out->clear();
  return Render(prefix, width, numbers, out, arena);
}

Result<bool> KeepPrefixedNumberRowsHolding(std::string_view block, size_t count,
                                           std::string_view value, std::vector<uint32_t>* rows) {
  if (block.empty() || static_cast<Encoding>(block[0]) != Encoding::kPrefixedNumber) return false;
  std::string_view body = block.substr(1);
  uint64_t n;
  if (!GetVarint64(&body, &n) || n != count) {
    return Status::DataLoss("prefixed-number column: holds a count other than " +
                            std::to_string(count));
  }
  std::string_view prefix;
  size_t width;
  RETURN_IF_ERROR(ReadPrefixAndWidth(&body, count, &prefix, &width));
  // Every row renders as the prefix and "width" digits: any other value is in no row.
  bool spelled = value.size() == prefix.size() + width && value.substr(0, prefix.size()) == prefix;
  int64_t want = 0;
  for (size_t i = prefix.size(); spelled && i < value.size(); ++i) {
    spelled = IsDigit(value[i]);
    want = want * 10 + (value[i] - '0');
  }
  std::vector<int64_t> numbers;
  RETURN_IF_ERROR(DecodeIntRows(body, count, *rows, &numbers));
  const int64_t limit = Pow10(width);
  size_t kept = 0;
  for (size_t i = 0; i < rows->size(); ++i) {
    if (numbers[i] < 0 || numbers[i] >= limit) {
      return Status::DataLoss("prefixed-number column: row " + std::to_string((*rows)[i]) + " is " +
                              std::to_string(numbers[i]) + ", not " + std::to_string(width) +
                              " digits");
    }
    if (spelled && numbers[i] == want) (*rows)[kept++] = (*rows)[i];
  }
  rows->resize(kept);
  return true;
}

Encoding PrefixedNumberInnerEncoding(std::string_view block) {
  if (block.empty() || static_cast<Encoding>(block[0]) != Encoding::kPrefixedNumber) {
    return Encoding{0};
  }
  block.remove_prefix(1);
  uint64_t count;
  std::string_view prefix;
  if (!GetVarint64(&block, &count) || !GetLengthPrefixed(&block, &prefix) || block.size() < 2) {
    return Encoding{0};
  }
  return static_cast<Encoding>(block[1]);  // after the width
}

extern const ColumnEncoding kPrefixedNumberEncoding;  // registered in column_encoding.cc
const ColumnEncoding kPrefixedNumberEncoding{Encoding::kPrefixedNumber, "prefixed-number", nullptr,
                                             &DecodePrefixedNumberBody};

}  // namespace sawmill::segment
