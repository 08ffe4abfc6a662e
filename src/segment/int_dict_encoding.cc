// Encoding::kIntDict (format version 10): an int64 column block whose values repeat (the
// server's ingest time, one per request; the level) stored as its distinct values and one
// dictionary id per row.
//
//   body := values_size(varint) values ids_mode(u8) ids
//   values := one complete kDelta int block of the n >= 1 distinct values, ascending
//   ids_mode 0: "count" varint ids; 1: "count" zigzag varints of id - previous id (from 0)
//
// Rows of one source sorted by time step through the requests in order, so mode 1's id steps
// are mostly 0 or 1 (ingest_ts); values that do not follow the rows' order (the level) take
// mode 0. The chooser (EncodeTimeColumn, EncodeLevelColumn in column_encoding.cc) keeps the
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

Status DecodeIntDict(std::string_view body, size_t count, std::vector<int64_t>* out) {
  uint64_t values_size;
  if (!GetVarint64(&body, &values_size) || values_size > body.size()) {
    return Status::DataLoss("int-dict column: bad values size");
  }
  const std::string_view values_block = body.substr(0, values_size);
  body.remove_prefix(values_size);
  if (values_block.empty() || static_cast<Encoding>(values_block[0]) != Encoding::kDelta) {
    return Status::DataLoss("int-dict column: the values are not a delta block");
  }
  std::vector<int64_t> values;
  RETURN_IF_ERROR(DecodeIntColumn(values_block, count, &values));
  if (values.empty() && count > 0) return Status::DataLoss("int-dict column: no values");
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] <= values[i - 1]) {
      return Status::DataLoss("int-dict column: values not ascending at " + std::to_string(i));
    }
  }
  if (body.empty()) return Status::DataLoss("int-dict column: ids missing");
  const uint8_t mode = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  if (mode > 1) return Status::DataLoss("int-dict column: ids mode " + std::to_string(mode));
  const size_t base = out->size();
  out->resize(base + count);
  const char* p = body.data();
  const char* limit = p + body.size();
  uint64_t id = 0;
  for (size_t row = 0; row < count; ++row) {
    uint64_t v;
    if (p < limit && static_cast<unsigned char>(*p) < 0x80) {  // one byte: nearly every id
      v = static_cast<unsigned char>(*p++);
    } else if (!ParseVarint64(&p, limit, &v)) {
      out->resize(base);
      return Status::DataLoss("int-dict column: ids end at row " + std::to_string(row));
    }
    id = mode == 0 ? v : id + static_cast<uint64_t>(ZigZagDecode(v));
    if (id >= values.size()) {
      out->resize(base);
      return Status::DataLoss("int-dict column: row " + std::to_string(row) + " has id " +
                              std::to_string(id) + " of " + std::to_string(values.size()));
    }
    (*out)[base + row] = values[id];
  }
  if (p != limit) {
    out->resize(base);
    return Status::DataLoss("int-dict column: bytes after the ids");
  }
  return Status::OK();
}

}  // namespace

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
  out->push_back(static_cast<char>(Encoding::kIntDict));
  PutVarint64(out, count);
  std::string block;
  EncodeDelta(distinct.data(), distinct.size(), &block);
  PutVarint64(out, block.size());
  out->append(block);
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

extern const ColumnEncoding kIntDictEncoding;  // registered in column_encoding.cc
const ColumnEncoding kIntDictEncoding{Encoding::kIntDict, "int-dict", &DecodeIntDict, nullptr};

}  // namespace sawmill::segment
