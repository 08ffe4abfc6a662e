// Encoding::kMarkedLines (format version 12): the message column of hot and compacted segments.
// The values joined by '\n' as in kLines (no value holds one: zstd predicts a newline between
// log lines almost for free, where the plain layout's lengths cost it a byte or so a row), with
// the byte offset of every step-th row in front, so that a read of a few rows
// (SegmentReader::ReadRows, a newest-first search) decompresses the block only through the
// group of rows holding its last wanted row and looks for newlines only inside the groups that
// hold wanted rows, instead of scanning the block from its start (docs/performance.md
// "Messages as marked lines").
//
//   body  := step(varint) group_size(varint)*marks text
//   step:   rows in a group (the writer: kLineMarkRows = 64), 1 to kMaxBlockRows
//   marks:  (count - 1) / step (none for count 0); the k-th group_size (k from 1) is the byte
//           size of group k - 1, newlines included, i.e. group k begins that far after group
//           k - 1 (group 0 at the start of "text")
//   text:   the values joined by '\n'; a group of step rows other than the last is exactly its
//           rows each followed by '\n'; the last group's last row ends at the block's end
//
// Every group is checked when it is read: it must hold exactly its rows' newlines, the last at
// its end, so an offset that is off by a row or more is DataLoss, not a wrong row.

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr char kLineEnd = '\n';

// The header of a kMarkedLines block, and where each group begins (offsets into "text").
struct Marked {
  uint64_t count = 0;
  uint64_t step = 0;
  size_t text_at = 0;            // the text's offset in the block
  std::vector<uint64_t> starts;  // group g begins at text + starts[g]; starts[0] == 0
};

enum class Parse { kOk, kShort, kBad };

// Parses a kMarkedLines body of "count" values from "*in" (after the encoding byte and count)
// up to its text, which "*in" is left at. kShort: "*in" ends before the marks do (a block
// decompressed only so far); kBad: malformed ("*why" says how).
Parse ParseMarks(std::string_view* in, uint64_t count, Marked* m, std::string* why) {
  // A varint is at most 10 bytes: a shorter rest may just be cut off.
  auto short_or_bad = [&](const std::string& what) {
    if (in->size() < 10) return Parse::kShort;
    *why = what;
    return Parse::kBad;
  };
  m->count = count;
  if (!GetVarint64(in, &m->step)) return short_or_bad("its row step is malformed");
  if (m->step == 0 || m->step > kMaxBlockRows) {
    *why = "its row step " + std::to_string(m->step) + " is not in 1.." +
           std::to_string(kMaxBlockRows);
    return Parse::kBad;
  }
  const uint64_t marks = count == 0 ? 0 : (count - 1) / m->step;
  m->starts.clear();
  m->starts.reserve(marks + 1);
  m->starts.push_back(0);
  for (uint64_t k = 1; k <= marks; ++k) {
    uint64_t size;
    if (!GetVarint64(in, &size)) {
      return short_or_bad("the offset of row " + std::to_string(k * m->step) + " is malformed");
    }
    // A group's rows each end with a newline: it takes at least step bytes.
    if (size < m->step || size > kMaxBlockRawBytes) {
      *why = "the offset of row " + std::to_string(k * m->step) + " says the " +
             std::to_string(m->step) + " rows before it take " + std::to_string(size) + " bytes";
      return Parse::kBad;
    }
    m->starts.push_back(m->starts.back() + size);
  }
  return Parse::kOk;
}

// ParseMarks of the block "prefix" begins with (the encoding byte first); sets m->text_at.
Parse ParseMarked(std::string_view prefix, size_t max_count, Marked* m, std::string* why) {
  if (prefix.empty()) return Parse::kShort;
  if (static_cast<Encoding>(prefix[0]) != Encoding::kMarkedLines) {
    *why = "not a marked lines block";
    return Parse::kBad;
  }
  std::string_view in = prefix.substr(1);
  uint64_t count;
  if (!GetVarint64(&in, &count)) {
    if (in.size() < 10) return Parse::kShort;
    *why = "its value count is malformed";
    return Parse::kBad;
  }
  if (count > max_count) {
    *why = "it claims " + std::to_string(count) + " values, above " + std::to_string(max_count);
    return Parse::kBad;
  }
  const Parse p = ParseMarks(&in, count, m, why);
  m->text_at = prefix.size() - in.size();
  return p;
}

// Writes views[0..k) for the first k <= "newlines" newline-ended rows of data[begin, end), sets
// "*at" after the k-th newline and returns k.
uint64_t SplitRowsMemchr(const char* data, size_t begin, size_t end, uint64_t newlines,
                         std::string_view* views, size_t* at_out) {
  size_t at = begin;
  uint64_t found = 0;
  for (; found < newlines; ++found) {
    const void* nl = std::memchr(data + at, kLineEnd, end - at);
    if (nl == nullptr) break;
    const auto stop = static_cast<size_t>(static_cast<const char*>(nl) - data);
    views[found] = std::string_view(data + at, stop - at);
    at = stop + 1;
  }
  *at_out = at;
  return found;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t SplitRowsAvx2(const char* data, size_t begin, size_t end,
                                                       uint64_t newlines, std::string_view* views,
                                                       size_t* at_out) {
  size_t at = begin, pos = begin;
  uint64_t found = 0;
  const __m256i newline = _mm256_set1_epi8(kLineEnd);
  while (found < newlines && pos + 32 <= end) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + pos));
    auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, newline)));
    while (mask != 0 && found < newlines) {
      const size_t stop = pos + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      views[found++] = std::string_view(data + at, stop - at);
      at = stop + 1;
    }
    pos += 32;
  }
  if (found < newlines) {
    size_t rest_at;
    found += SplitRowsMemchr(data, at, end, newlines - found, views + found, &rest_at);
    at = rest_at;
  }
  *at_out = at;
  return found;
}
#endif

uint64_t SplitRows(const char* data, size_t begin, size_t end, uint64_t newlines,
                   std::string_view* views, size_t* at) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return SplitRowsAvx2(data, begin, end, newlines, views, at);
#endif
  return SplitRowsMemchr(data, begin, end, newlines, views, at);
}

// The rows of group "g" of "m" appended to "*rows", from "text" (the block's text, or the part of
// it decompressed so far, which must reach the group's end). Errors: DataLoss when the group
// does not hold exactly its rows ("*rows" may then hold some of them).
Status SplitGroup(const Marked& m, std::string_view text, uint64_t g,
                  std::vector<std::string_view>* rows) {
  const uint64_t first = g * m.step;
  const uint64_t n = std::min<uint64_t>(m.step, m.count - first);
  const bool last = g + 1 == m.starts.size();
  const uint64_t begin = m.starts[g];
  const uint64_t end = last ? text.size() : m.starts[g + 1];
  auto loss = [&](const std::string& why) {
    return Status::DataLoss("marked lines block: rows " + std::to_string(first) + ".." +
                            std::to_string(first + n - 1) + " at bytes " + std::to_string(begin) +
                            ".." + std::to_string(end) + " of its text: " + why);
  };
  if (begin > end || end > text.size()) {
    return loss("the offsets lie past the " + std::to_string(text.size()) + " bytes of text");
  }
  // Each row but the last group's last ends with a newline: that many, no more. A whole block is
  // split 32 bytes at a time where the CPU has AVX2, else by a memchr a row: on 8,192 real lines
  // (1 MB) about 100 us against 180 us for a memchr a row and 300 us for a 16-byte SSE2 scan
  // (plain's lengths: 40-80 us; docs/performance.md "Messages as marked lines").
  const uint64_t newlines = last ? n - 1 : n;
  const char* const data = text.data();
  const size_t base = rows->size();
  rows->resize(base + n);
  std::string_view* const views = rows->data() + base;
  size_t at = begin;
  uint64_t found = SplitRows(data, begin, end, newlines, views, &at);
  // The last group's last row runs to the text's end; any other group ends with its newline.
  const bool ends_right = last ? std::memchr(data + at, kLineEnd, end - at) == nullptr : at == end;
  if (found != newlines || !ends_right) {
    rows->resize(base);
    const auto all = static_cast<uint64_t>(std::count(data + begin, data + end, kLineEnd));
    return loss("holds " + std::to_string(all) + " line ends, expected " +
                std::to_string(newlines) + (all == newlines ? " ending at its end" : ""));
  }
  if (last) views[n - 1] = std::string_view(data + at, end - at);
  return Status::OK();
}

Status DecodeMarkedLinesBlock(std::string_view body, size_t count,
                              std::vector<std::string_view>* out, std::string* /*arena*/) {
  thread_local Marked m;
  std::string why;
  std::string_view text = body;
  if (ParseMarks(&text, count, &m, &why) != Parse::kOk) {
    return Status::DataLoss("marked lines block: " +
                            (why.empty() ? "ends in its row offsets" : why));
  }
  if (count == 0) {
    if (!text.empty()) return Status::DataLoss("marked lines block has bytes but no values");
    return Status::OK();
  }
  const size_t base = out->size();
  out->reserve(base + count);
  for (uint64_t g = 0; g < m.starts.size(); ++g) {
    Status s = SplitGroup(m, text, g, out);
    if (!s.ok()) {
      out->resize(base);
      return s;
    }
  }
  return Status::OK();
}

}  // namespace

bool EncodeMarkedLines(const std::string_view* values, size_t count, std::string* out,
                       uint32_t step) {
  if (step == 0) return false;
  size_t total = 0;
  for (size_t row = 0; row < count; ++row) {
    if (std::memchr(values[row].data(), kLineEnd, values[row].size()) != nullptr) return false;
    total += values[row].size() + 1;
  }
  out->push_back(static_cast<char>(Encoding::kMarkedLines));
  PutVarint64(out, count);
  PutVarint64(out, step);
  // Each group's bytes, its rows and their newlines.
  for (size_t first = 0; first + step < count; first += step) {
    uint64_t size = 0;
    for (size_t row = first; row < first + step; ++row) size += values[row].size() + 1;
    PutVarint64(out, size);
  }
  out->reserve(out->size() + total);
  for (size_t row = 0; row < count; ++row) {
    if (row > 0) out->push_back(kLineEnd);
    out->append(values[row]);
  }
  return true;
}

uint64_t SplitNewlineRows(std::string_view text, size_t begin, size_t end, uint64_t newlines,
                          std::string_view* views, size_t* at, bool vectorised) {
  if (begin > end || end > text.size()) {
    *at = begin;
    return 0;
  }
  if (!vectorised) return SplitRowsMemchr(text.data(), begin, end, newlines, views, at);
  return SplitRows(text.data(), begin, end, newlines, views, at);
}

uint64_t MarkedLinesBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row) {
  thread_local Marked m;
  std::string why;
  switch (ParseMarked(prefix, max_count, &m, &why)) {
    case Parse::kShort: return 0;
    case Parse::kBad: return UINT64_MAX;  // read whole: its decoding says what is wrong
    case Parse::kOk: break;
  }
  const uint64_t g = last_row / m.step;
  // The last group ends at the block's end (as does a row the block does not hold).
  if (last_row >= m.count || g + 1 >= m.starts.size()) return UINT64_MAX;
  return m.text_at + m.starts[g + 1];
}

Status DecodeMarkedLinesRows(std::string_view prefix, uint64_t raw_size, size_t count,
                             const std::vector<uint32_t>& rows,
                             std::vector<std::string_view>* views) {
  thread_local Marked m;
  std::string why;
  const Parse parsed =
      prefix.size() > raw_size ? Parse::kBad : ParseMarked(prefix, count, &m, &why);
  if (parsed != Parse::kOk) {
    return Status::DataLoss(
        "marked lines block: " +
        (parsed == Parse::kShort ? "its row offsets lie past the bytes decompressed" : why));
  }
  if (m.count != count) {
    return Status::DataLoss("marked lines block holds " + std::to_string(m.count) +
                            " values, expected " + std::to_string(count));
  }
  // The text as far as it was decompressed; the last group needs all of it.
  const std::string_view text = prefix.substr(m.text_at);
  const bool whole = prefix.size() == raw_size;
  views->clear();
  views->reserve(rows.size());
  thread_local std::vector<std::string_view> group;
  uint64_t have = UINT64_MAX;  // the group in "group"
  for (uint32_t row : rows) {
    if (row >= m.count) {
      return Status::DataLoss("marked lines block holds no row " + std::to_string(row));
    }
    const uint64_t g = row / m.step;
    if (g != have) {
      const bool last = g + 1 == m.starts.size();
      if ((last && !whole) || (!last && m.starts[g + 1] > text.size())) {
        return Status::DataLoss("marked lines block: row " + std::to_string(row) +
                                " lies past the bytes decompressed");
      }
      group.clear();
      RETURN_IF_ERROR(SplitGroup(m, text, g, &group));
      have = g;
    }
    views->push_back(group[row - g * m.step]);
  }
  return Status::OK();
}

uint64_t TextBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row) {
  if (!prefix.empty() && static_cast<Encoding>(prefix[0]) == Encoding::kMarkedLines) {
    return MarkedLinesBytesThrough(prefix, max_count, last_row);
  }
  return PlainBytesThrough(prefix, max_count, last_row);
}

Status DecodeTextRows(std::string_view prefix, uint64_t raw_size, size_t count,
                      const std::vector<uint32_t>& rows, std::vector<std::string_view>* views) {
  if (!prefix.empty() && static_cast<Encoding>(prefix[0]) == Encoding::kMarkedLines) {
    return DecodeMarkedLinesRows(prefix, raw_size, count, rows, views);
  }
  return DecodePlainRows(prefix, raw_size, count, rows, views);
}

extern const ColumnEncoding kMarkedLinesEncoding;  // registered in column_encoding.cc
const ColumnEncoding kMarkedLinesEncoding{Encoding::kMarkedLines, "marked-lines", nullptr,
                                          &DecodeMarkedLinesBlock};

}  // namespace sawmill::segment
