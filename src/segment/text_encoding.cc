// Encoding::kLines and Encoding::kDigitSplit: layouts of string columns for the warm tier
// (WriterOptions::text_layouts, format version 4), chosen by measurement (docs/storage.md
// "Warm encoding: measured").
//
// kLines: the values joined by '\n' (no value holds one). The plain layout's lengths cost a
// byte or two per row that zstd cannot predict, while a newline between log lines is what
// zstd -19 of the raw text sees and predicts almost for free.
//
// kDigitSplit: each value with every maximal run of ASCII digits replaced by the byte 0x11 (its
// skeleton); the skeletons joined by '\n'; then the digit runs, grouped by (skeleton, position
// of the run in it), each group in row order, every run followed by ' '. Lines of one template
// then differ only in the digit section, where the same field of consecutive lines (a
// timestamp's seconds, a pid, a counter) sits side by side.
//   body := skeletons_size(varint) skeletons digits
//   groups in order of the skeleton's first row, then the run's position.
#include <unordered_map>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr char kLineEnd = '\n';
constexpr char kDigitMark = '\x11';
constexpr char kRunEnd = ' ';

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits "body" into exactly "count" lines into "*lines". Errors: DataLoss.
Status SplitLines(std::string_view body, size_t count, std::vector<std::string_view>* lines) {
  if (count == 0) {
    if (!body.empty()) return Status::DataLoss("lines block has bytes but no values");
    return Status::OK();
  }
  // Every value but the last ends with a newline: a count beyond the bytes is corrupt.
  if (count - 1 > body.size()) {
    return Status::DataLoss("lines block claims " + std::to_string(count) + " values in " +
                            std::to_string(body.size()) + " bytes");
  }
  const size_t base = lines->size();
  lines->reserve(base + count);
  size_t pos = 0;
  for (size_t i = 0; i + 1 < count; ++i) {
    const size_t end = body.find(kLineEnd, pos);
    if (end == std::string_view::npos) {
      lines->resize(base);
      return Status::DataLoss("lines block holds " + std::to_string(i + 1) + " values, expected " +
                              std::to_string(count));
    }
    lines->push_back(body.substr(pos, end - pos));
    pos = end + 1;
  }
  std::string_view last = body.substr(pos);
  if (last.find(kLineEnd) != std::string_view::npos) {
    lines->resize(base);
    return Status::DataLoss("lines block holds more than " + std::to_string(count) + " values");
  }
  lines->push_back(last);
  return Status::OK();
}

Status DecodeLinesBlock(std::string_view body, size_t count, std::vector<std::string_view>* out,
                        std::string* /*arena*/) {
  return SplitLines(body, count, out);
}

Status DecodeDigitSplitBlock(std::string_view body, size_t count,
                             std::vector<std::string_view>* out, std::string* arena) {
  uint64_t skeletons_size;
  if (!GetVarint64(&body, &skeletons_size) || skeletons_size > body.size()) {
    return Status::DataLoss("digit-split block: bad skeletons size");
  }
  const std::string_view skeletons = body.substr(0, skeletons_size);
  const std::string_view digits = body.substr(skeletons_size);
  std::vector<std::string_view> lines;
  RETURN_IF_ERROR(SplitLines(skeletons, count, &lines));

  // Templates by first row; each template's first group and its number of runs.
  std::unordered_map<std::string_view, uint32_t> template_of;
  std::vector<uint32_t> row_template(count);
  std::vector<uint32_t> marks, rows_of, first_group;
  for (size_t row = 0; row < count; ++row) {
    auto [it, inserted] = template_of.try_emplace(lines[row], static_cast<uint32_t>(marks.size()));
    if (inserted) {
      uint32_t n = 0;
      for (char c : lines[row]) n += c == kDigitMark;
      marks.push_back(n);
      rows_of.push_back(0);
    }
    row_template[row] = it->second;
    ++rows_of[it->second];
  }
  // Where each group starts in the digit section.
  std::vector<size_t> cursor;
  size_t pos = 0;
  for (uint32_t t = 0; t < marks.size(); ++t) {
    first_group.push_back(static_cast<uint32_t>(cursor.size()));
    for (uint32_t k = 0; k < marks[t]; ++k) {
      cursor.push_back(pos);
      for (uint32_t i = 0; i < rows_of[t]; ++i) {
        const size_t start = pos;
        while (pos < digits.size() && IsDigit(digits[pos])) ++pos;
        if (pos == start || pos >= digits.size() || digits[pos] != kRunEnd) {
          return Status::DataLoss("digit-split block: bad digit run at byte " +
                                  std::to_string(pos) + " of the digit section");
        }
        ++pos;
      }
    }
  }
  if (pos != digits.size()) return Status::DataLoss("digit-split block has trailing bytes");

  // Render every value (the skeleton with its runs put back), then point the views: the arena
  // must not move under them. The values are never longer than skeletons and runs together.
  arena->clear();
  arena->reserve(skeletons.size() + digits.size());
  std::vector<size_t> ends(count);
  for (size_t row = 0; row < count; ++row) {
    const uint32_t group = first_group[row_template[row]];
    uint32_t k = 0;
    for (char c : lines[row]) {
      if (c != kDigitMark) {
        arena->push_back(c);
        continue;
      }
      size_t& at = cursor[group + k++];
      const size_t end = digits.find(kRunEnd, at);  // checked above: a run ends with kRunEnd
      arena->append(digits.substr(at, end - at));
      at = end + 1;
    }
    ends[row] = arena->size();
  }
  const size_t base = out->size();
  out->reserve(base + count);
  for (size_t row = 0, begin = 0; row < count; ++row) {
    out->emplace_back(arena->data() + begin, ends[row] - begin);
    begin = ends[row];
  }
  return Status::OK();
}

}  // namespace

bool EncodeLines(const std::string_view* values, size_t count, std::string* out) {
  size_t total = 0;
  for (size_t row = 0; row < count; ++row) {
    if (values[row].find(kLineEnd) != std::string_view::npos) return false;
    total += values[row].size() + 1;
  }
  out->push_back(static_cast<char>(Encoding::kLines));
  PutVarint64(out, count);
  out->reserve(out->size() + total);
  for (size_t row = 0; row < count; ++row) {
    if (row > 0) out->push_back(kLineEnd);
    out->append(values[row]);
  }
  return true;
}

bool EncodeDigitSplit(const std::string_view* values, size_t count, std::string* out) {
  std::string skeletons;
  std::vector<size_t> skeleton_end(count);
  std::vector<std::string_view> runs;  // every row's runs, in row order
  std::vector<uint32_t> first_run(count + 1);
  for (size_t row = 0; row < count; ++row) {
    std::string_view v = values[row];
    if (row > 0) skeletons.push_back(kLineEnd);
    first_run[row] = static_cast<uint32_t>(runs.size());
    for (size_t i = 0; i < v.size();) {
      const char c = v[i];
      if (c == kLineEnd || c == kDigitMark) return false;
      if (!IsDigit(c)) {
        skeletons.push_back(c);
        ++i;
        continue;
      }
      size_t j = i;
      while (j < v.size() && IsDigit(v[j])) ++j;
      runs.push_back(v.substr(i, j - i));
      skeletons.push_back(kDigitMark);
      i = j;
    }
    skeleton_end[row] = skeletons.size();
  }
  first_run[count] = static_cast<uint32_t>(runs.size());
  if (runs.empty()) return false;  // nothing to split: kLines says the same
  // Rows by template, templates in order of their first row.
  std::unordered_map<std::string_view, uint32_t> template_of;
  std::vector<std::vector<uint32_t>> rows_of;
  for (size_t row = 0, begin = 0; row < count; ++row) {
    std::string_view skeleton(skeletons.data() + begin, skeleton_end[row] - begin);
    begin = skeleton_end[row] + 1;
    auto [it, inserted] = template_of.try_emplace(skeleton, static_cast<uint32_t>(rows_of.size()));
    if (inserted) rows_of.emplace_back();
    rows_of[it->second].push_back(static_cast<uint32_t>(row));
  }
  out->push_back(static_cast<char>(Encoding::kDigitSplit));
  PutVarint64(out, count);
  PutVarint64(out, skeletons.size());
  out->append(skeletons);
  for (const std::vector<uint32_t>& rows : rows_of) {
    const uint32_t n = first_run[rows[0] + 1] - first_run[rows[0]];
    for (uint32_t k = 0; k < n; ++k) {
      for (uint32_t row : rows) {
        out->append(runs[first_run[row] + k]);
        out->push_back(kRunEnd);
      }
    }
  }
  return true;
}

extern const ColumnEncoding kLinesEncoding;       // registered in column_encoding.cc
extern const ColumnEncoding kDigitSplitEncoding;  // registered in column_encoding.cc
const ColumnEncoding kLinesEncoding{Encoding::kLines, "lines", nullptr, &DecodeLinesBlock};
const ColumnEncoding kDigitSplitEncoding{Encoding::kDigitSplit, "digit-split", nullptr,
                                         &DecodeDigitSplitBlock};

}  // namespace sawmill::segment
