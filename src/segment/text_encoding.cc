// Encoding::kLines and Encoding::kDigitSplit: layouts of string columns for the warm tier
// (WriterOptions::text_layouts, format version 5), chosen by measurement (docs/storage.md
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
//
// kPrefixSplit (format version 6): the same body, but a run is split out only where the text
// before it is shared by many rows, and it is grouped by that text instead of by the whole
// skeleton. The group of a mark is the pair (group of the row's previous mark, or none for the
// first; the skeleton bytes between that mark, or the row's start, and this one); groups are
// numbered in order of first appearance (rows in order, marks left to right), and each group's
// runs are in row order, each followed by ' '. The writer marks, in each row, the longest
// leading sequence of runs whose pairs occur in at least kPrefixSplitMinRows (column_encoding.h)
// rows of the block and leaves the later runs in the skeleton as text, so the time, address and
// counter fields at the start of a line become columns even when the rest of the line is unique (an
// access log's request path, a trace's message). What a run is (digits only, or digits with the
// separators . : / , - between them) is the writer's choice and not recorded: the reader only
// sees marks and runs ending with ' '.
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

// Renders every value of a split layout into "*arena" (each skeleton of "lines" with its marks
// replaced by runs of "runs"), then appends a view of each to "*out": the arena must not move
// under them, and the values are never longer than skeletons and runs together. The k-th mark
// of a row takes the next run of group group_of(row, k), which starts at (*cursor)[group].
// REQUIRES: the caller checked that every group has a run ending with kRunEnd for each mark.
template <typename GroupOf>
void RenderMarked(const std::vector<std::string_view>& lines, std::string_view runs,
                  std::vector<size_t>* cursor, GroupOf group_of, std::vector<std::string_view>* out,
                  std::string* arena) {
  const size_t count = lines.size();
  size_t skeleton_bytes = 0;
  for (std::string_view line : lines) skeleton_bytes += line.size();
  arena->clear();
  arena->reserve(skeleton_bytes + runs.size());
  std::vector<size_t> ends(count);
  for (size_t row = 0; row < count; ++row) {
    const std::string_view line = lines[row];
    uint32_t k = 0;
    size_t begin = 0;
    for (size_t mark = line.find(kDigitMark); mark != std::string_view::npos;
         mark = line.find(kDigitMark, begin)) {
      arena->append(line.substr(begin, mark - begin));
      size_t& at = (*cursor)[group_of(row, k++)];
      const size_t end = runs.find(kRunEnd, at);
      arena->append(runs.substr(at, end - at));
      at = end + 1;
      begin = mark + 1;
    }
    arena->append(line.substr(begin));
    ends[row] = arena->size();
  }
  out->reserve(out->size() + count);
  for (size_t row = 0, begin = 0; row < count; ++row) {
    out->emplace_back(arena->data() + begin, ends[row] - begin);
    begin = ends[row];
  }
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

  RenderMarked(
      lines, digits, &cursor,
      [&](size_t row, uint32_t k) { return first_group[row_template[row]] + k; }, out, arena);
  return Status::OK();
}

// A mark's group key: the previous mark's group (kNoGroup for the row's first mark) and the
// skeleton bytes since that mark or the row's start.
struct PrefixKey {
  uint32_t parent;
  std::string_view text;
  bool operator==(const PrefixKey& o) const { return parent == o.parent && text == o.text; }
};
struct PrefixKeyHash {
  size_t operator()(const PrefixKey& k) const {
    return std::hash<std::string_view>()(k.text) ^
           (static_cast<size_t>(k.parent) * 0x9e3779b97f4a7c15ULL);
  }
};
constexpr uint32_t kNoGroup = UINT32_MAX;

Status DecodePrefixSplitBlock(std::string_view body, size_t count,
                              std::vector<std::string_view>* out, std::string* arena) {
  uint64_t skeletons_size;
  if (!GetVarint64(&body, &skeletons_size) || skeletons_size > body.size()) {
    return Status::DataLoss("prefix-split block: bad skeletons size");
  }
  const std::string_view skeletons = body.substr(0, skeletons_size);
  const std::string_view runs = body.substr(skeletons_size);
  std::vector<std::string_view> lines;
  RETURN_IF_ERROR(SplitLines(skeletons, count, &lines));
  // Every mark's group, in row and mark order, and each group's number of runs.
  std::unordered_map<PrefixKey, uint32_t, PrefixKeyHash> group_of;
  std::vector<uint32_t> mark_group, runs_of;
  for (std::string_view line : lines) {
    uint32_t parent = kNoGroup;
    size_t begin = 0;
    for (size_t at = line.find(kDigitMark); at != std::string_view::npos;
         at = line.find(kDigitMark, begin)) {
      auto [it, inserted] = group_of.try_emplace(PrefixKey{parent, line.substr(begin, at - begin)},
                                                 static_cast<uint32_t>(runs_of.size()));
      if (inserted) runs_of.push_back(0);
      ++runs_of[it->second];
      mark_group.push_back(it->second);
      parent = it->second;
      begin = at + 1;
    }
  }
  // Where each group starts in the run section; every run is non-empty and ends with ' '.
  std::vector<size_t> cursor(runs_of.size());
  size_t pos = 0;
  for (size_t g = 0; g < runs_of.size(); ++g) {
    cursor[g] = pos;
    for (uint32_t i = 0; i < runs_of[g]; ++i) {
      const size_t end = runs.find(kRunEnd, pos);
      if (end == std::string_view::npos || end == pos) {
        return Status::DataLoss("prefix-split block: bad run at byte " + std::to_string(pos) +
                                " of the run section");
      }
      pos = end + 1;
    }
  }
  if (pos != runs.size()) return Status::DataLoss("prefix-split block has trailing bytes");

  size_t mark = 0;
  RenderMarked(
      lines, runs, &cursor, [&](size_t, uint32_t) { return mark_group[mark++]; }, out, arena);
  return Status::OK();
}

// The end of the run that starts with the digit at v[i]: digits only, or (with_separators)
// digits and the separators . : / , - up to the last digit.
size_t RunEnd(std::string_view v, size_t i, bool with_separators) {
  size_t j = i, last = i;
  while (j < v.size()) {
    const char c = v[j];
    if (IsDigit(c)) {
      last = j;
    } else if (!with_separators || (c != '.' && c != ':' && c != '/' && c != ',' && c != '-')) {
      break;
    }
    ++j;
  }
  return last + 1;
}

}  // namespace

bool EncodePrefixSplit(const std::string_view* values, size_t count, bool with_separators,
                       std::string* out, uint32_t min_rows) {
  // Pass 1: every row's runs and the pair of each, counted over the rows (pairs are those of
  // the skeleton with every run marked; a pair can only be marked if its parent is).
  struct Run {
    uint32_t begin, end;  // in the value
    uint32_t node;        // its pair with every run marked
  };
  std::vector<Run> runs;
  std::vector<uint32_t> first_run(count + 1);
  std::unordered_map<PrefixKey, uint32_t, PrefixKeyHash> node_of;
  std::vector<uint32_t> rows_of;
  for (size_t row = 0; row < count; ++row) {
    std::string_view v = values[row];
    first_run[row] = static_cast<uint32_t>(runs.size());
    uint32_t parent = kNoGroup;
    size_t text_begin = 0;
    for (size_t i = 0; i < v.size();) {
      const char c = v[i];
      if (c == kLineEnd || c == kDigitMark) return false;
      if (!IsDigit(c)) {
        ++i;
        continue;
      }
      const size_t end = RunEnd(v, i, with_separators);
      for (size_t k = i; k < end; ++k) {
        if (v[k] == kLineEnd || v[k] == kDigitMark) return false;
      }
      auto [it, inserted] =
          node_of.try_emplace(PrefixKey{parent, v.substr(text_begin, i - text_begin)},
                              static_cast<uint32_t>(rows_of.size()));
      if (inserted) rows_of.push_back(0);
      ++rows_of[it->second];
      runs.push_back(Run{static_cast<uint32_t>(i), static_cast<uint32_t>(end), it->second});
      parent = it->second;
      text_begin = end;
      i = end;
    }
  }
  first_run[count] = static_cast<uint32_t>(runs.size());
  // Pass 2: the skeletons, marking each row's leading runs of frequent pairs; groups numbered
  // in order of first appearance, as the reader numbers them.
  std::string skeletons;
  std::vector<uint32_t> group_of_node(rows_of.size(), kNoGroup);
  std::vector<std::vector<std::string_view>> groups;
  for (size_t row = 0; row < count; ++row) {
    std::string_view v = values[row];
    if (row > 0) skeletons.push_back(kLineEnd);
    size_t copied = 0;
    for (uint32_t r = first_run[row]; r < first_run[row + 1]; ++r) {
      const Run& run = runs[r];
      if (rows_of[run.node] < min_rows) break;
      uint32_t& group = group_of_node[run.node];
      if (group == kNoGroup) {
        group = static_cast<uint32_t>(groups.size());
        groups.emplace_back();
      }
      groups[group].push_back(v.substr(run.begin, run.end - run.begin));
      skeletons.append(v.substr(copied, run.begin - copied));
      skeletons.push_back(kDigitMark);
      copied = run.end;
    }
    skeletons.append(v.substr(copied));
  }
  if (groups.empty()) return false;  // nothing split out: kLines says the same
  out->push_back(static_cast<char>(Encoding::kPrefixSplit));
  PutVarint64(out, count);
  PutVarint64(out, skeletons.size());
  out->append(skeletons);
  for (const std::vector<std::string_view>& group : groups) {
    for (std::string_view run : group) {
      out->append(run);
      out->push_back(kRunEnd);
    }
  }
  return true;
}

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

extern const ColumnEncoding kLinesEncoding;        // registered in column_encoding.cc
extern const ColumnEncoding kDigitSplitEncoding;   // registered in column_encoding.cc
extern const ColumnEncoding kPrefixSplitEncoding;  // registered in column_encoding.cc
const ColumnEncoding kLinesEncoding{Encoding::kLines, "lines", nullptr, &DecodeLinesBlock};
const ColumnEncoding kDigitSplitEncoding{Encoding::kDigitSplit, "digit-split", nullptr,
                                         &DecodeDigitSplitBlock};
const ColumnEncoding kPrefixSplitEncoding{Encoding::kPrefixSplit, "prefix-split", nullptr,
                                          &DecodePrefixSplitBlock};

}  // namespace sawmill::segment
