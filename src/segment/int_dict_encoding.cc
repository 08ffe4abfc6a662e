// Encoding::kIntDict (format version 10): an int64 column block whose values repeat (the
// server's ingest time, one per request; the level) stored as its distinct values and one
// dictionary id per row.
//
//   body := values_size(varint) values ids_mode(u8) ids
//   values := one complete kDelta int block of the n >= 1 distinct values, ascending
//   ids_mode 0: "count" varint ids; 1: "count" zigzag varints of id - previous id (from 0);
//            2 (format version 11): width(u8, 1..4) then "width" planes of "count" bytes,
//            plane k holding byte k (little-endian) of each row's id; 3 (format version 17):
//            width(u8, 1..8) then each row's id in "width" bits, least significant first from
//            the low bit of the first byte, ceil(count x width / 8) bytes, the last byte's
//            unused high bits 0
//
// Rows of one source sorted by time step through the requests in order, so mode 1's id steps
// are mostly 0 or 1 (ingest_ts); values that do not follow the rows' order (the level) take
// mode 0. Ids of many distinct values (a user id, kPrefixedNumber) take mode 2: a varint's
// bytes mix an id's low and high bits, planes keep them apart, and zstd gives each plane its
// own entropy tables (the corpus's user ids: 2.26 bytes a row as varints, 2.15 as planes).
// A few values drawn at random from row to row (the level) take mode 3: four 2-bit ids a byte,
// whose 256 byte values zstd's entropy coder stores near the ids' entropy (the corpus's levels:
// 2.35 bits a row as mode 0, about 1.6 packed).
// The chooser (EncodeTimeColumn, EncodeLevelColumn in column_encoding.cc) keeps the
// block only where zstd makes it smaller than the column's other encodings.
#include <algorithm>
#include <unordered_set>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

// At most a quarter as many distinct values as rows: the ids stay small, and a near-unique
// column (ts) is given up on early.
constexpr size_t kMaxDistinctFraction = 4;

// Ids mode 2 or ("packed") 3: width(u8) and the ids, as "width" planes of a byte per row (mode
// 2) or packed in "width" bits each (mode 3); "body" must hold exactly those. The ids of the
// rows "rows" (ascending), or with "rows" null of the first "through" rows.
Status DecodeWideIds(std::string_view body, size_t count, bool packed,
                     const std::vector<uint32_t>* rows, size_t through,
                     std::vector<uint32_t>* ids) {
  const std::string what = packed ? "packed id" : "id";
  if (body.empty()) return Status::DataLoss("int-dict column: " + what + " width missing");
  const size_t width = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  if (width == 0 || width > (packed ? 8 : 4)) {
    return Status::DataLoss("int-dict column: " + what + " width " + std::to_string(width));
  }
  const size_t bits = width * count;
  if (body.size() != (packed ? (bits + 7) / 8 : width * count)) {
    return Status::DataLoss("int-dict column: " + std::to_string(body.size()) + " bytes of " +
                            what + "s for " + std::to_string(count) + " rows of " +
                            std::to_string(width) + (packed ? " bits" : " bytes"));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  if (packed && bits % 8 != 0 && (p[body.size() - 1] >> (bits % 8)) != 0) {
    return Status::DataLoss("int-dict column: set bits after the last packed id");
  }
  const size_t n = rows == nullptr ? through : rows->size();
  const uint32_t mask = (1u << width) - 1;
  ids->resize(n);
  size_t i = 0;
  if (packed && rows == nullptr) {
    // Eight rows' ids at once: they fill "width" whole bytes, read as one word while eight
    // bytes are left to read (as mode 0's eight one-byte ids; a level's 2-bit ids were read one
    // row at a time: docs/performance.md "Session 21: aggregations over partly matching blocks").
    uint32_t* dst = ids->data();
    const uint64_t wide_mask = (uint64_t{1} << width) - 1;
    for (; i + 8 <= n && (i / 8) * width + 8 <= body.size(); i += 8) {
      const uint64_t w = DecodeFixed64(body.data() + (i / 8) * width);
      for (size_t j = 0; j < 8; ++j)
        dst[i + j] = static_cast<uint32_t>((w >> (j * width)) & wide_mask);
    }
  }
  for (; i < n; ++i) {
    const size_t row = rows == nullptr ? i : (*rows)[i];
    if (row >= count)
      return Status::DataLoss("int-dict column holds no row " + std::to_string(row));
    if (packed) {
      const size_t at = row * width;
      // An id of at most 8 bits spans at most two bytes.
      uint32_t two = p[at >> 3];
      if ((at >> 3) + 1 < body.size()) two |= uint32_t{p[(at >> 3) + 1]} << 8;
      (*ids)[i] = (two >> (at & 7)) & mask;
    } else {
      uint64_t id = 0;
      for (size_t k = 0; k < width; ++k) id |= uint64_t{p[k * count + row]} << (8 * k);
      (*ids)[i] = static_cast<uint32_t>(id);
    }
  }
  return Status::OK();
}

// The values of every row, or of the first "through" rows, or ("rows" not null, ascending, each
// below "count") of the listed rows: ids in planes or packed are read for those rows alone,
// varint ids through the last of them. A read of fewer than every row decodes the ids no further
// than it needs and the distinct values only through the largest id it met (a level's or an ingest
// time's first rows, a few user ids of a block), not checking the bytes after them.
Status DecodeIntDictRows(std::string_view body, size_t count, const std::vector<uint32_t>* rows,
                         size_t through, std::vector<int64_t>* out) {
  through = std::min(through, count);
  const bool whole = rows == nullptr && through == count;
  // The distinct values' block, decoded once the ids say how many of them are needed.
  std::string_view values_body = body;
  uint64_t values_size;
  if (!GetVarint64(&body, &values_size) || values_size > body.size()) {
    return Status::DataLoss("int-dict column: bad values size");
  }
  body.remove_prefix(values_size);
  if (body.empty()) return Status::DataLoss("int-dict column: ids missing");
  const uint8_t mode = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  if (mode > 3) return Status::DataLoss("int-dict column: ids mode " + std::to_string(mode));
  // Varint ids (modes 0 and 1) of listed rows: read through the last, then the listed kept.
  if (rows != nullptr && mode < 2) through = rows->empty() ? 0 : size_t{rows->back()} + 1;
  thread_local std::vector<uint32_t> ids;
  if (mode >= 2) {
    RETURN_IF_ERROR(DecodeWideIds(body, count, mode == 3, rows, through, &ids));
  } else {
    ids.resize(through);
    const char* p = body.data();
    const char* limit = p + body.size();
    uint64_t id = 0;
    for (size_t row = 0; row < through; ++row) {
      if (mode == 0 && through - row >= 8 && limit - p >= 8) {
        // Eight one-byte ids at once (a level's, a few distinct values'), when none of the eight
        // bytes continues a varint.
        const uint64_t w = DecodeFixed64(p);
        if ((w & 0x8080808080808080ull) == 0) {
          for (size_t j = 0; j < 8; ++j)
            ids[row + j] = static_cast<uint32_t>((w >> (8 * j)) & 0xff);
          p += 8;
          row += 7;
          continue;
        }
      }
      uint64_t v;
      if (p < limit && static_cast<unsigned char>(*p) < 0x80) {  // one byte: nearly every id
        v = static_cast<unsigned char>(*p++);
      } else if (!ParseVarint64(&p, limit, &v)) {
        return Status::DataLoss("int-dict column: ids end at row " + std::to_string(row));
      }
      id = mode == 0 ? v : id + static_cast<uint64_t>(ZigZagDecode(v));
      if (id > UINT32_MAX) {
        return Status::DataLoss("int-dict column: row " + std::to_string(row) + " has id " +
                                std::to_string(id));
      }
      ids[row] = static_cast<uint32_t>(id);
    }
    if (whole && p != limit) return Status::DataLoss("int-dict column: bytes after the ids");
    if (rows != nullptr) {
      thread_local std::vector<uint32_t> listed;
      listed.resize(rows->size());
      for (size_t i = 0; i < rows->size(); ++i) listed[i] = ids[(*rows)[i]];
      ids.swap(listed);
    }
  }
  uint32_t largest = 0;
  for (uint32_t id : ids) largest = std::max(largest, id);
  std::vector<int64_t> values;
  RETURN_IF_ERROR(TakeAscendingValues(&values_body, count, "int-dict column", &values,
                                      whole ? count : size_t{largest} + 1));
  if (values.empty() && count > 0) return Status::DataLoss("int-dict column: no values");
  const size_t base = out->size();
  out->resize(base + ids.size());
  if (largest < values.size()) {  // every id has its value: no test a row
    int64_t* dst = out->data() + base;
    const int64_t* value = values.data();
    const uint32_t* id = ids.data();
    for (size_t i = 0; i < ids.size(); ++i) dst[i] = value[id[i]];
    return Status::OK();
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= values.size()) {
      out->resize(base);
      const size_t row = rows == nullptr ? i : (*rows)[i];
      return Status::DataLoss("int-dict column: row " + std::to_string(row) + " has id " +
                              std::to_string(ids[i]) + " of " + std::to_string(values.size()));
    }
    (*out)[base + i] = values[ids[i]];
  }
  return Status::OK();
}

Status DecodeIntDict(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeIntDictRows(body, count, nullptr, count, out);
}

// An int-dict block's head: the encoding byte, the row count and the sorted distinct values
// as a delta block behind its length (the ids mode byte and the ids follow).
void AppendIntDictHead(const std::vector<int64_t>& distinct, size_t count, std::string* out) {
  out->push_back(static_cast<char>(Encoding::kIntDict));
  PutVarint64(out, count);
  std::string block;
  EncodeDelta(distinct.data(), distinct.size(), &block);
  PutVarint64(out, block.size());
  out->append(block);
}

}  // namespace

Status DecodeIntDictThrough(std::string_view body, size_t count, size_t through,
                            std::vector<int64_t>* out) {
  return DecodeIntDictRows(body, count, nullptr, through, out);
}

Status TakeAscendingValues(std::string_view* body, size_t max_count, std::string_view what,
                           std::vector<int64_t>* values, size_t through) {
  const std::string prefix(what);
  uint64_t values_size;
  if (!GetVarint64(body, &values_size) || values_size > body->size()) {
    return Status::DataLoss(prefix + ": bad values size");
  }
  const std::string_view values_block = body->substr(0, values_size);
  body->remove_prefix(values_size);
  if (values_block.empty() || static_cast<Encoding>(values_block[0]) != Encoding::kDelta) {
    return Status::DataLoss(prefix + ": the values are not a delta block");
  }
  RETURN_IF_ERROR(through >= max_count
                      ? DecodeIntColumn(values_block, max_count, values)
                      : DecodeIntColumnThrough(values_block, max_count, through, values));
  for (size_t i = 1; i < values->size(); ++i) {
    if ((*values)[i] <= (*values)[i - 1]) {
      return Status::DataLoss(prefix + ": values not ascending at " + std::to_string(i));
    }
  }
  return Status::OK();
}

Status DecodeIntRows(std::string_view block, size_t count, const std::vector<uint32_t>& rows,
                     std::vector<int64_t>* out) {
  // An int-dict block of ids in planes: the listed rows' ids alone.
  std::string_view body = block;
  uint64_t n;
  if (!body.empty() && static_cast<Encoding>(body[0]) == Encoding::kIntDict) {
    body.remove_prefix(1);
    if (!GetVarint64(&body, &n) || n != count) {
      return Status::DataLoss("int column block does not hold " + std::to_string(count) +
                              " values");
    }
    RETURN_IF_ERROR(CheckRowsAscending(rows, count));
    return DecodeIntDictRows(body, count, &rows, count, out);
  }
  // A huffman-ids block: its codes are read in order, through the last listed row.
  body = block;
  if (!body.empty() && static_cast<Encoding>(body[0]) == Encoding::kHuffmanIds && !rows.empty()) {
    body.remove_prefix(1);
    if (!GetVarint64(&body, &n) || n != count) {
      return Status::DataLoss("int column block does not hold " + std::to_string(count) +
                              " values");
    }
    const uint32_t last = *std::max_element(rows.begin(), rows.end());
    if (last >= count) return Status::DataLoss("int column holds no row " + std::to_string(last));
    std::vector<int64_t> first;
    RETURN_IF_ERROR(DecodeHuffmanIdsThrough(body, count, size_t{last} + 1, &first));
    for (uint32_t row : rows) out->push_back(first[row]);
    return Status::OK();
  }
  std::vector<int64_t> all;
  RETURN_IF_ERROR(DecodeIntColumn(block, count, &all));
  if (all.size() != count) {
    return Status::DataLoss("int column block holds " + std::to_string(all.size()) + " of " +
                            std::to_string(count) + " values");
  }
  for (uint32_t row : rows) {
    if (row >= count) return Status::DataLoss("int column holds no row " + std::to_string(row));
    out->push_back(all[row]);
  }
  return Status::OK();
}

bool EncodeIntDict(const int64_t* values, size_t count, bool id_steps,
                   std::vector<int64_t>* scratch, std::string* out) {
  if (count == 0) return false;
  const size_t max_distinct = count / kMaxDistinctFraction;
  if (max_distinct == 0) return false;
  // The distinct values, given up on as soon as there are too many: a column of mostly
  // distinct values (a time in microseconds) costs max_distinct insertions, not a sort.
  thread_local std::unordered_set<int64_t> seen;
  seen.clear();
  for (size_t row = 0; row < count; ++row) {
    if (seen.insert(values[row]).second && seen.size() > max_distinct) return false;
  }
  std::vector<int64_t>& distinct = *scratch;
  distinct.assign(seen.begin(), seen.end());
  std::sort(distinct.begin(), distinct.end());
  AppendIntDictHead(distinct, count, out);
  out->push_back(static_cast<char>(id_steps ? 1 : 0));
  uint64_t prev = 0;
  for (size_t row = 0; row < count; ++row) {
    const uint64_t id = static_cast<uint64_t>(
        std::lower_bound(distinct.begin(), distinct.end(), values[row]) - distinct.begin());
    PutVarint64(out, id_steps ? ZigZagEncode(static_cast<int64_t>(id - prev)) : id);
    prev = id;
  }
  return true;
}

namespace {

// The distinct values of "values", ascending.
void SortDistinct(const int64_t* values, size_t count, std::vector<int64_t>* distinct) {
  distinct->assign(values, values + count);
  std::sort(distinct->begin(), distinct->end());
  distinct->erase(std::unique(distinct->begin(), distinct->end()), distinct->end());
}

}  // namespace

bool EncodeIntDictPacked(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                         std::string* out) {
  if (count == 0 || count > UINT32_MAX) return false;
  std::vector<int64_t>& distinct = *scratch;
  SortDistinct(values, count, &distinct);
  if (distinct.size() > 256) return false;
  size_t width = 1;
  while (width < 8 && distinct.size() - 1 >= (size_t{1} << width)) ++width;
  AppendIntDictHead(distinct, count, out);
  out->push_back(3);
  out->push_back(static_cast<char>(width));
  const size_t at = out->size();
  out->resize(at + (width * count + 7) / 8);
  auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
  for (size_t row = 0; row < count; ++row) {
    const auto id = static_cast<uint32_t>(
        std::lower_bound(distinct.begin(), distinct.end(), values[row]) - distinct.begin());
    const size_t bit = row * width;
    p[bit >> 3] |= static_cast<unsigned char>(id << (bit & 7));
    if ((bit & 7) + width > 8)
      p[(bit >> 3) + 1] |= static_cast<unsigned char>(id >> (8 - (bit & 7)));
  }
  return true;
}

bool EncodeIntDictPlanes(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                         std::string* out) {
  if (count == 0 || count > UINT32_MAX) return false;
  std::vector<int64_t>& distinct = *scratch;
  SortDistinct(values, count, &distinct);
  size_t width = 1;
  while (width < 4 && distinct.size() - 1 >= (uint64_t{1} << (8 * width))) ++width;
  AppendIntDictHead(distinct, count, out);
  out->push_back(2);
  out->push_back(static_cast<char>(width));
  const size_t planes = out->size();
  out->resize(planes + width * count);
  auto* p = reinterpret_cast<unsigned char*>(out->data() + planes);
  for (size_t row = 0; row < count; ++row) {
    const auto id = static_cast<uint64_t>(
        std::lower_bound(distinct.begin(), distinct.end(), values[row]) - distinct.begin());
    for (size_t k = 0; k < width; ++k)
      p[k * count + row] = static_cast<unsigned char>(id >> (8 * k));
  }
  return true;
}

extern const ColumnEncoding kIntDictEncoding;  // registered in column_encoding.cc
const ColumnEncoding kIntDictEncoding{Encoding::kIntDict, "int-dict", &DecodeIntDict, nullptr};

}  // namespace sawmill::segment
