// Encoding::kDict for strings: a dictionary of the distinct values, then each row's id, either
// as one varint per row or as (run, id) pairs when the rows come in runs (sorted service and
// host, field layouts).
//
//   body := dict_size(varint) plain_body(dict) id_mode(u8) ids
#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {
constexpr uint8_t kIdsPlain = 0;
constexpr uint8_t kIdsRle = 1;
}  // namespace

void EncodeDict(const std::vector<std::string_view>& dict, const uint32_t* ids, size_t count,
                std::string* out) {
  out->push_back(static_cast<char>(Encoding::kDict));
  PutVarint64(out, count);
  PutVarint64(out, dict.size());
  PutPlainValues(dict.data(), dict.size(), out);
  size_t runs = count == 0 ? 0 : 1;
  for (size_t row = 1; row < count; ++row) runs += ids[row] != ids[row - 1];
  if (runs * 2 < count) {
    out->push_back(static_cast<char>(kIdsRle));
    size_t row = 0;
    while (row < count) {
      size_t run = 1;
      while (row + run < count && ids[row + run] == ids[row]) ++run;
      PutVarint64(out, run);
      PutVarint64(out, ids[row]);
      row += run;
    }
  } else {
    out->push_back(static_cast<char>(kIdsPlain));
    size_t start = out->size();
    out->resize(start + count * kMaxVarint32Bytes);
    char* p = out->data() + start;
    for (size_t row = 0; row < count; ++row) p = EncodeVarint64(p, ids[row]);
    out->resize(static_cast<size_t>(p - out->data()));
  }
}

Status DecodeDictBody(std::string_view body, size_t count, std::vector<std::string_view>* out) {
  uint64_t dict_size;
  if (!GetVarint64(&body, &dict_size) || dict_size > body.size() || dict_size > count) {
    return Status::DataLoss("bad dictionary size");
  }
  std::vector<std::string_view> dict;
  RETURN_IF_ERROR(DecodePlainBody(&body, dict_size, &dict));
  if (body.empty()) return Status::DataLoss("dictionary column lacks its id mode");
  uint8_t mode = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  size_t base = out->size();
  out->reserve(base + count);
  auto fail = [&](std::string what) {
    out->resize(base);
    return Status::DataLoss(std::move(what));
  };
  if (mode == kIdsRle) {
    size_t done = 0;
    while (done < count) {
      uint64_t run, id;
      if (!GetVarint64(&body, &run) || !GetVarint64(&body, &id) || run == 0 || run > count - done ||
          id >= dict_size) {
        return fail("bad dictionary run at value " + std::to_string(done));
      }
      out->insert(out->end(), run, dict[id]);
      done += run;
    }
  } else if (mode == kIdsPlain) {
    for (size_t row = 0; row < count; ++row) {
      uint64_t id;
      if (!GetVarint64(&body, &id) || id >= dict_size) {
        return fail("bad dictionary id at value " + std::to_string(row));
      }
      out->push_back(dict[id]);
    }
  } else {
    return fail("unknown dictionary id mode " + std::to_string(mode));
  }
  if (!body.empty()) return fail("dictionary column has trailing bytes");
  return Status::OK();
}

Status DecodeDictRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                      std::vector<std::string_view>* out) {
  uint64_t dict_size;
  if (!GetVarint64(&body, &dict_size) || dict_size > body.size() || dict_size > count) {
    return Status::DataLoss("bad dictionary size");
  }
  std::vector<std::string_view> dict;
  RETURN_IF_ERROR(DecodePlainBody(&body, dict_size, &dict));
  if (body.empty()) return Status::DataLoss("dictionary column lacks its id mode");
  uint8_t mode = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  out->clear();
  out->reserve(rows.size());
  // Only as far as the last listed row: the ids after it are not looked at.
  size_t next = 0;
  if (mode == kIdsRle) {
    size_t done = 0;
    while (done < count && next < rows.size()) {
      uint64_t run, id;
      if (!GetVarint64(&body, &run) || !GetVarint64(&body, &id) || run == 0 || run > count - done ||
          id >= dict_size) {
        return Status::DataLoss("bad dictionary run at value " + std::to_string(done));
      }
      done += run;
      while (next < rows.size() && rows[next] < done) {
        out->push_back(dict[id]);
        ++next;
      }
    }
  } else if (mode == kIdsPlain) {
    for (size_t row = 0; row < count && next < rows.size(); ++row) {
      uint64_t id;
      if (!GetVarint64(&body, &id) || id >= dict_size) {
        return Status::DataLoss("bad dictionary id at value " + std::to_string(row));
      }
      if (rows[next] == row) {
        out->push_back(dict[id]);
        ++next;
      }
    }
  } else {
    return Status::DataLoss("unknown dictionary id mode " + std::to_string(mode));
  }
  if (next != rows.size()) {
    return Status::DataLoss("dictionary column holds no row " + std::to_string(rows[next]));
  }
  return Status::OK();
}

namespace {
Status DecodeDictBlock(std::string_view body, size_t count, std::vector<std::string_view>* out,
                       std::string* /*arena*/) {
  return DecodeDictBody(body, count, out);
}
}  // namespace

extern const ColumnEncoding kDictEncoding;  // registered in column_encoding.cc
const ColumnEncoding kDictEncoding{Encoding::kDict, "dictionary", nullptr, &DecodeDictBlock};

}  // namespace sawmill::segment
