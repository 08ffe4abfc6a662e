// The string encoding chooser and the decoders' dispatch on the encoding byte.
#include "segment/column_encoding.h"

#include <zstd.h>

#include <algorithm>
#include <cstdint>

#include "common/coding.h"

namespace sawmill::segment {

// Defined in the encoding's own file.
extern const ColumnEncoding kDeltaOfDeltaEncoding, kDeltaEncoding;  // delta_encoding.cc
extern const ColumnEncoding kRleEncoding;                           // rle_encoding.cc
extern const ColumnEncoding kPlainEncoding;                         // plain_encoding.cc
extern const ColumnEncoding kDictEncoding;                          // dict_encoding.cc
extern const ColumnEncoding kDecimalEncoding;                       // decimal_encoding.cc
extern const ColumnEncoding kIsoTimeEncoding;                       // iso_time_encoding.cc
extern const ColumnEncoding kLinesEncoding, kDigitSplitEncoding;    // text_encoding.cc
extern const ColumnEncoding kPrefixSplitEncoding;                   // text_encoding.cc
extern const ColumnEncoding kScaledEncoding;                        // scaled_encoding.cc
extern const ColumnEncoding kHexEncoding;                           // hex_encoding.cc
extern const ColumnEncoding kIntDictEncoding;                       // int_dict_encoding.cc
extern const ColumnEncoding kIsoPrefixEncoding;                     // iso_prefix_encoding.cc
extern const ColumnEncoding kPrefixedNumberEncoding;                // prefixed_number_encoding.cc
extern const ColumnEncoding kMarkedLinesEncoding;                   // marked_lines_encoding.cc
extern const ColumnEncoding kTimeTextEncoding;                      // time_text_encoding.cc
extern const ColumnEncoding kPermutedRunsEncoding;                  // permuted_runs_encoding.cc
extern const ColumnEncoding kRiceRunsEncoding;                      // rice_runs_encoding.cc
extern const ColumnEncoding kHuffmanIdsEncoding;                    // huffman_ids_encoding.cc
extern const ColumnEncoding kFilteredHexEncoding;                   // filtered_hex_encoding.cc
extern const ColumnEncoding kTsLineEncoding;                        // ts_line_encoding.cc

namespace {

// The registry: one line per encoding.
const ColumnEncoding* const kEncodings[] = {
    &kDeltaOfDeltaEncoding, &kDeltaEncoding,      &kRleEncoding,
    &kPlainEncoding,        &kDictEncoding,       &kDecimalEncoding,
    &kIsoTimeEncoding,      &kLinesEncoding,      &kDigitSplitEncoding,
    &kPrefixSplitEncoding,  &kScaledEncoding,     &kHexEncoding,
    &kIntDictEncoding,      &kIsoPrefixEncoding,  &kPrefixedNumberEncoding,
    &kMarkedLinesEncoding,  &kTimeTextEncoding,   &kPermutedRunsEncoding,
    &kRiceRunsEncoding,     &kHuffmanIdsEncoding, &kTsLineEncoding,
    &kFilteredHexEncoding,
};

// Rows sampled before building a dictionary: a column whose sample is mostly distinct
// (messages, ids) goes straight to plain without hashing every value.
constexpr size_t kDictSample = 64;

// ProbeTextLayout compresses its samples at this level: the ranking of the layouts is what it
// needs, and they differ by far more than the levels do.
constexpr int kProbeZstdLevel = 1;

bool ReadHeader(std::string_view* block, size_t max_count, Encoding* enc, size_t* count,
                Status* error) {
  uint64_t n;
  if (block->empty()) {
    *error = Status::DataLoss("empty column block");
    return false;
  }
  *enc = static_cast<Encoding>(static_cast<uint8_t>((*block)[0]));
  block->remove_prefix(1);
  if (!GetVarint64(block, &n) || n > max_count) {
    *error = Status::DataLoss("column block value count is missing or above " +
                              std::to_string(max_count));
    return false;
  }
  *count = static_cast<size_t>(n);
  return true;
}

}  // namespace

size_t ZstdBytes(std::string_view data, int level) {
  struct Context {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    std::string out;
    ~Context() { ZSTD_freeCCtx(cctx); }
  };
  thread_local Context ctx;
  ctx.out.resize(ZSTD_compressBound(data.size()));
  const size_t n =
      ZSTD_compressCCtx(ctx.cctx, ctx.out.data(), ctx.out.size(), data.data(), data.size(), level);
  return ZSTD_isError(n) ? data.size() : n;
}

namespace {

// Appends the values in "layout"; false (nothing appended) when they cannot take it.
bool EncodeAs(TextLayout layout, const std::string_view* values, size_t count, uint32_t min_rows,
              std::string* out) {
  switch (layout) {
    case TextLayout::kLines: return EncodeLines(values, count, out);
    case TextLayout::kDigitSplit: return EncodeDigitSplit(values, count, out);
    case TextLayout::kPrefixSplit: return EncodePrefixSplit(values, count, false, out, min_rows);
    case TextLayout::kPrefixSplitSeparators:
      return EncodePrefixSplit(values, count, true, out, min_rows);
  }
  return false;
}

// Appends kLines, kDigitSplit or (scratch->prefix_split) kPrefixSplit of the values, or returns
// false when none applies (a value holds a newline). Without scratch->layout_probe every
// candidate is encoded and the smallest under zstd 3 kept (the layouts differ by far more than
// the levels do); with it, only the layout ProbeTextLayout picks is encoded (kLines when the
// pick cannot take a row outside the sample).
bool EncodeTextLayout(const std::string_view* values, size_t count, StringEncodeScratch* scratch,
                      std::string* out) {
  const size_t start = out->size();
  if (scratch->layout_probe) {
    const TextLayout pick = ProbeTextLayout(values, count, scratch->prefix_split, scratch);
    if (pick != TextLayout::kLines && EncodeAs(pick, values, count, kPrefixSplitMinRows, out)) {
      return true;
    }
    return EncodeLines(values, count, out);
  }
  if (!EncodeLines(values, count, out)) return false;
  size_t best = ZstdBytes(std::string_view(*out).substr(start), 3);
  std::string& split = scratch->split;
  auto consider = [&](bool made) {
    if (!made) return;
    const size_t bytes = ZstdBytes(split, 3);
    if (bytes >= best) return;
    best = bytes;
    out->resize(start);
    out->append(split);
  };
  split.clear();
  consider(EncodeDigitSplit(values, count, &split));
  if (scratch->prefix_split) {
    for (bool with_separators : {false, true}) {
      split.clear();
      consider(EncodePrefixSplit(values, count, with_separators, &split));
    }
  }
  return true;
}

// Appends kIsoPrefix of the values when at least half of them begin with an RFC 3339 time and
// zstd (level 3, as for the text layouts) makes it smaller than plain; false otherwise. Times
// that do not follow the rows' order (a message's own stamp in rows sorted by another time)
// cost more as deltas than as text, where zstd finds the digits they share.
bool EncodeIsoPrefixIfSmaller(const std::string_view* values, size_t count,
                              StringEncodeScratch* scratch, std::string* out) {
  std::string& candidate = scratch->split;
  candidate.clear();
  if (!EncodeIsoPrefix(values, count, &candidate, scratch->marked_lines)) return false;
  const size_t start = out->size();
  EncodeRowTexts(values, count, scratch->marked_lines, out);
  if (ZstdBytes(candidate, 3) >= ZstdBytes(std::string_view(*out).substr(start), 3)) return true;
  out->resize(start);
  out->append(candidate);
  return true;
}

// Appends kTimeText of the values when at least half of them hold a time in a common log form
// and zstd makes it smaller than plain (or marked lines); false otherwise (nothing appended). A
// block of more rows than the text layouts' probe takes is judged on that probe's sample (16
// chunks of 128 rows spread over it, compressed at zstd 1) and only the winner is encoded whole:
// the corpus's messages (lines replayed from other logs, each with its own old stamp, rows of
// many sources in a block) hold times that do not pay, and comparing whole blocks at zstd 3
// cost its flushes 20 % more CPU for nothing (docs/performance.md "Session 15").
bool EncodeTimeTextIfSmaller(const std::string_view* values, size_t count,
                             StringEncodeScratch* scratch, std::string* out) {
  const int64_t* times = scratch->row_times;
  std::string& candidate = scratch->split;
  std::string& other = scratch->candidate;
  const size_t start = out->size();
  if (count > kProbeChunks * kProbeChunkRows) {
    std::vector<std::string_view>& sample = scratch->sample;
    std::vector<int64_t>& sample_times = scratch->ints;
    sample.clear();
    sample_times.clear();
    for (size_t chunk = 0; chunk < kProbeChunks; ++chunk) {
      const size_t first = chunk * count / kProbeChunks;
      sample.insert(sample.end(), values + first, values + first + kProbeChunkRows);
      if (times != nullptr) {
        sample_times.insert(sample_times.end(), times + first, times + first + kProbeChunkRows);
      }
    }
    candidate.clear();
    if (!EncodeTimeText(sample.data(), sample.size(), &candidate, scratch->marked_lines,
                        times != nullptr ? sample_times.data() : nullptr)) {
      return false;
    }
    other.clear();
    EncodeRowTexts(sample.data(), sample.size(), scratch->marked_lines, &other);
    if (ZstdBytes(candidate, kProbeZstdLevel) >= ZstdBytes(other, kProbeZstdLevel)) return false;
    return EncodeTimeText(values, count, out, scratch->marked_lines, times);
  }
  candidate.clear();
  if (!EncodeTimeText(values, count, &candidate, scratch->marked_lines, times)) return false;
  EncodeRowTexts(values, count, scratch->marked_lines, out);
  if (ZstdBytes(candidate, 3) >= ZstdBytes(std::string_view(*out).substr(start), 3)) {
    out->resize(start);
    return false;
  }
  out->resize(start);
  out->append(candidate);
  return true;
}

}  // namespace

void EncodeRowTexts(const std::string_view* values, size_t count, bool marked_lines,
                    std::string* out) {
  if (!marked_lines || !EncodeMarkedLines(values, count, out)) EncodePlain(values, count, out);
}

uint64_t TextBytesThroughAfter(std::string_view prefix, size_t header, size_t max_count,
                               uint32_t last_row) {
  if (header == 0) return 0;
  const uint64_t inner = TextBytesThrough(prefix.substr(header), max_count, last_row);
  return inner == 0 || inner == UINT64_MAX ? inner : header + inner;
}

void AppendArenaViews(const std::string& arena, const std::vector<size_t>& ends,
                      std::vector<std::string_view>* out) {
  size_t begin = 0;
  for (size_t end : ends) {
    out->emplace_back(arena.data() + begin, end - begin);
    begin = end;
  }
}

TextLayout ProbeTextLayout(const std::string_view* values, size_t count, bool prefix_split,
                           StringEncodeScratch* scratch) {
  std::vector<std::string_view>& sample = scratch->sample;
  sample.clear();
  if (count <= kProbeChunks * kProbeChunkRows) {
    sample.assign(values, values + count);
  } else {
    for (size_t chunk = 0; chunk < kProbeChunks; ++chunk) {
      const std::string_view* first = values + chunk * count / kProbeChunks;
      sample.insert(sample.end(), first, first + kProbeChunkRows);
    }
  }
  // A prefix is shared by as large a part of the sample as kPrefixSplitMinRows is of the block
  // (at least 2 rows: text of one row is never a prefix to split at).
  const uint32_t min_rows = static_cast<uint32_t>(std::max<size_t>(
      2, (kPrefixSplitMinRows * sample.size() + count - 1) / std::max<size_t>(count, 1)));
  TextLayout best = TextLayout::kLines;
  size_t best_bytes = SIZE_MAX;
  std::string& encoded = scratch->split;
  for (TextLayout layout : {TextLayout::kLines, TextLayout::kDigitSplit, TextLayout::kPrefixSplit,
                            TextLayout::kPrefixSplitSeparators}) {
    if (!prefix_split && layout >= TextLayout::kPrefixSplit) break;
    encoded.clear();
    if (!EncodeAs(layout, sample.data(), sample.size(), min_rows, &encoded)) continue;
    const size_t bytes = ZstdBytes(encoded, kProbeZstdLevel);
    if (bytes < best_bytes) {
      best = layout;
      best_bytes = bytes;
    }
  }
  return best;
}

void EncodeStringColumn(const std::string_view* values, size_t count, StringEncodeScratch* scratch,
                        std::string* out) {
  auto& index = scratch->dict_index;
  auto& dict = scratch->dict;
  auto& ids = scratch->ids;
  index.clear();
  dict.clear();
  ids.clear();
  // Dictionary when the values repeat: at most half as many distinct values as rows.
  size_t limit = count / 2 + 1;
  size_t sample_distinct = 0;
  ids.reserve(count);
  bool use_dict = true;
  for (size_t row = 0; row < count; ++row) {
    auto [it, inserted] = index.try_emplace(values[row], static_cast<uint32_t>(dict.size()));
    if (inserted) {
      dict.push_back(values[row]);
      if (dict.size() > limit) {
        use_dict = false;
        break;
      }
    }
    ids.push_back(it->second);
    if (row + 1 == kDictSample) {
      sample_distinct = dict.size();
      if (count > 4 * kDictSample && sample_distinct > kDictSample * 3 / 4) {
        use_dict = false;
        break;
      }
    }
  }
  // Numbers kept as strings: their integer form, unless a dictionary is smaller.
  std::string& candidate = scratch->candidate;
  candidate.clear();
  bool decimal = count > 0 && (EncodeDecimal(values, count, &scratch->ints, &candidate) ||
                               EncodeIsoTime(values, count, &scratch->ints, &candidate));
  size_t start = out->size();
  if (use_dict && count > 0) {
    EncodeDict(dict, ids.data(), count, out);
    if (decimal && candidate.size() < out->size() - start) {
      out->resize(start);
      out->append(candidate);
    }
  } else if (decimal) {
    out->append(candidate);
  } else if (scratch->hex && count > 0 && EncodeHex(values, count, out)) {
    // ids: their bytes
  } else if (scratch->iso_prefix && !scratch->text_layouts && count > 0 &&
             EncodeIsoPrefixIfSmaller(values, count, scratch, out)) {
    // log lines stamped with their RFC 3339 time: the times as nanoseconds
  } else if (scratch->time_text && !scratch->text_layouts && count > 0 &&
             EncodeTimeTextIfSmaller(values, count, scratch, out)) {
    // log lines with a time in another common form: the times as numbers
  } else if (scratch->text_layouts && count > 0 && EncodeTextLayout(values, count, scratch, out)) {
    // the warm tier's layouts
  } else if (!scratch->marked_lines || count == 0 || !EncodeMarkedLines(values, count, out)) {
    EncodePlain(values, count, out);
  }
  // Ids spelled as a prefix and a fixed-width number (user ids): the numbers, where smaller.
  // Any other text is refused at its first value without the fixed width's digits.
  if (scratch->prefixed_number && count > 0) {
    candidate.clear();
    if (EncodePrefixedNumber(values, count, &scratch->ints, &candidate, scratch->huffman_ids) &&
        ZstdBytes(candidate, 3) < ZstdBytes(std::string_view(*out).substr(start), 3)) {
      out->resize(start);
      out->append(candidate);
    }
  }
}

void EncodeTimeColumn(const int64_t* values, size_t count, bool scaled, std::string* out,
                      bool int_dict, bool rice_runs) {
  const size_t start = out->size();
  EncodeDeltaOfDelta(values, count, out);
  if (!scaled) return;
  size_t best = ZstdBytes(std::string_view(*out).substr(start), 3);
  std::string candidate;
  auto consider = [&] {
    const size_t bytes = ZstdBytes(candidate, 3);
    if (bytes >= best) return;
    best = bytes;
    out->resize(start);
    out->append(candidate);
  };
  if (EncodeScaled(values, count, &candidate)) consider();
  // A time of one value per request (ingest_ts): its distinct values and an id per row, which
  // steps through them in the rows' time order.
  thread_local std::vector<int64_t> scratch;
  candidate.clear();
  if (int_dict && EncodeIntDict(values, count, true, &scratch, &candidate)) consider();
  // Rows sorted by source, then time: each source's times a run of ascending values. Its Rice
  // codes are about as dense as zstd would leave them, so its own size is compared (no trial).
  candidate.clear();
  if (rice_runs && EncodeRiceRuns(values, count, &candidate) && candidate.size() < best) {
    out->resize(start);
    out->append(candidate);
  }
}

void EncodeSeqColumn(const int64_t* values, size_t count, bool permuted_runs, std::string* out,
                     const int64_t* times) {
  const size_t start = out->size();
  EncodeDelta(values, count, out);
  thread_local std::string candidate;
  size_t best = SIZE_MAX;  // the bytes zstd makes of the block kept so far, once needed
  auto smaller = [&](size_t bytes) {
    if (best == SIZE_MAX) best = ZstdBytes(std::string_view(*out).substr(start), 3);
    if (bytes >= best) return false;
    best = bytes;
    out->resize(start);
    out->append(candidate);
    return true;
  };
  // Rows in seq order (nearly every source) are kDelta's best case: no permutation to store.
  candidate.clear();
  if (permuted_runs && !std::is_sorted(values, values + count) &&
      EncodePermutedRuns(values, count, &candidate)) {
    smaller(ZstdBytes(candidate, 3));
  }
  // (Version 25) Rows of many sources that arrived roughly in time order: seq less a line in ts.
  // Its digits are about as dense as zstd would leave them: its own bytes are compared.
  candidate.clear();
  if (times != nullptr && EncodeTsLine(values, times, count, &candidate)) {
    smaller(candidate.size());
  }
}

void EncodeLevelColumn(const uint64_t* values, size_t count, bool int_dict, std::string* out,
                       bool packed_ids) {
  const size_t start = out->size();
  EncodeRle(values, count, out);
  if (!int_dict || count == 0) return;
  // Levels that change from row to row (rows sorted by source and time mix them) cost two
  // varints a row as runs; as ids, one byte that zstd's entropy coder brings to about 2 bits;
  // (version 17) packed four to a byte, which zstd's byte-wise entropy coder brings near the
  // levels' entropy (1.6 bits a row for the corpus's four levels drawn at random).
  thread_local std::vector<int64_t> ints, scratch;
  ints.resize(count);
  for (size_t row = 0; row < count; ++row) {
    if (values[row] > uint64_t{INT64_MAX}) return;
    ints[row] = static_cast<int64_t>(values[row]);
  }
  size_t best = ZstdBytes(std::string_view(*out).substr(start), 3);
  std::string candidate;
  for (int mode = 0; mode < (packed_ids ? 2 : 1); ++mode) {
    candidate.clear();
    const bool made = mode == 0 ? EncodeIntDict(ints.data(), count, false, &scratch, &candidate)
                                : EncodeIntDictPacked(ints.data(), count, &scratch, &candidate);
    if (!made) continue;
    const size_t bytes = ZstdBytes(candidate, 3);
    if (bytes < best) {
      best = bytes;
      out->resize(start);
      out->append(candidate);
    }
  }
}

const ColumnEncoding* FindColumnEncoding(Encoding id) {
  for (const ColumnEncoding* e : kEncodings) {
    if (e->id == id) return e;
  }
  return nullptr;
}

Status DecodeIntColumn(std::string_view block, size_t max_count, std::vector<int64_t>* out) {
  Encoding enc;
  size_t count;
  Status error;
  if (!ReadHeader(&block, max_count, &enc, &count, &error)) return error;
  const ColumnEncoding* e = FindColumnEncoding(enc);
  if (e != nullptr && e->decode_ints != nullptr) return e->decode_ints(block, count, out);
  return Status::DataLoss("encoding " + std::to_string(static_cast<int>(enc)) +
                          " is not an integer encoding");
}

Status DecodeIntColumnThrough(std::string_view block, size_t max_count, size_t through,
                              std::vector<int64_t>* out) {
  std::string_view body = block;
  Encoding enc;
  size_t count;
  Status error;
  if (!ReadHeader(&body, max_count, &enc, &count, &error)) return error;
  if (enc == Encoding::kRle) return DecodeRlePrefix(body, count, through, out);
  if (enc == Encoding::kDelta || enc == Encoding::kDeltaOfDelta) {
    return DecodeDeltaPrefix(body, count, enc == Encoding::kDeltaOfDelta, through, out);
  }
  if (enc == Encoding::kScaled) return DecodeScaledPrefix(body, count, through, out);
  if (enc == Encoding::kIntDict) return DecodeIntDictThrough(body, count, through, out);
  if (enc == Encoding::kRiceRuns) return DecodeRiceRunsThrough(body, count, through, out);
  if (enc == Encoding::kHuffmanIds) return DecodeHuffmanIdsThrough(body, count, through, out);
  return DecodeIntColumn(block, max_count, out);
}

Status DecodeIntColumnRows(std::string_view block, size_t max_count,
                           const std::vector<uint32_t>& rows, std::vector<int64_t>* out) {
  std::string_view body = block;
  Encoding enc;
  size_t count;
  Status error;
  if (!ReadHeader(&body, max_count, &enc, &count, &error)) return error;
  RETURN_IF_ERROR(CheckRowsAscending(rows, count));
  if (rows.empty()) return Status::OK();
  if (enc == Encoding::kRiceRuns) return DecodeRiceRunsListed(body, count, rows, out);
  if (enc == Encoding::kIntDict || enc == Encoding::kHuffmanIds) {
    return DecodeIntRows(block, count, rows, out);
  }
  thread_local std::vector<int64_t> first;
  first.clear();
  const size_t through = size_t{rows.back()} + 1;
  RETURN_IF_ERROR(DecodeIntColumnThrough(block, max_count, through, &first));
  if (first.size() < through) {
    return Status::DataLoss("int column block holds " + std::to_string(first.size()) +
                            " values, not row " + std::to_string(rows.back()));
  }
  for (uint32_t row : rows) out->push_back(first[row]);
  return Status::OK();
}

Status DecodeStringColumn(std::string_view block, size_t max_count,
                          std::vector<std::string_view>* out, std::string* arena) {
  Encoding enc;
  size_t count;
  Status error;
  if (!ReadHeader(&block, max_count, &enc, &count, &error)) return error;
  const ColumnEncoding* e = FindColumnEncoding(enc);
  if (e != nullptr && e->decode_strings != nullptr) {
    return e->decode_strings(block, count, out, arena);
  }
  return Status::DataLoss("encoding " + std::to_string(static_cast<int>(enc)) +
                          " is not a string encoding");
}

Status CheckRowsAscending(const std::vector<uint32_t>& rows, size_t count) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= count) return Status::DataLoss("holds no row " + std::to_string(rows[i]));
    if (i > 0 && rows[i] < rows[i - 1]) {
      return Status::InvalidArgument("rows to decode must be ascending: row " +
                                     std::to_string(rows[i]) + " is listed after row " +
                                     std::to_string(rows[i - 1]));
    }
  }
  return Status::OK();
}

Status DecodeFailure(const std::string& where, const Status& decoded) {
  if (decoded.IsInvalidArgument()) return Status::InvalidArgument(where + ": " + decoded.message());
  return Status::DataLoss(where + ": " + decoded.message());
}

Status DecodeStringRows(std::string_view block, size_t count, const std::vector<uint32_t>& rows,
                        std::vector<std::string_view>* out, std::string* arena) {
  std::string_view body = block;
  Encoding enc;
  size_t n;
  Status error;
  if (!ReadHeader(&body, count, &enc, &n, &error)) return error;
  if (n != count) return Status::DataLoss("holds " + std::to_string(n) + " values");
  RETURN_IF_ERROR(CheckRowsAscending(rows, count));
  if (enc == Encoding::kPlain) return DecodePlainRows(block, block.size(), count, rows, out);
  if (enc == Encoding::kMarkedLines) {
    return DecodeMarkedLinesRows(block, block.size(), count, rows, out);
  }
  if (enc == Encoding::kDict) return DecodeDictRows(body, count, rows, out);
  if (enc == Encoding::kIsoPrefix) {
    return DecodeIsoPrefixRows(block, block.size(), count, rows, out, arena);
  }
  if (enc == Encoding::kTimeText) {
    return DecodeTimeTextRows(block, block.size(), count, rows, out, arena);
  }
  if (enc == Encoding::kPrefixedNumber) {
    return DecodePrefixedNumberRows(body, count, rows, out, arena);
  }
  if (enc == Encoding::kHex) return DecodeHexRows(body, count, rows, out, arena);
  if (enc == Encoding::kFilteredHex) return DecodeFilteredHexRows(body, count, rows, out, arena);
  std::vector<std::string_view> all;
  RETURN_IF_ERROR(DecodeStringColumn(block, count, &all, arena));
  if (all.size() != count)
    return Status::DataLoss("holds " + std::to_string(all.size()) + " values");
  out->clear();
  out->reserve(rows.size());
  for (uint32_t row : rows) out->push_back(all[row]);
  return Status::OK();
}

}  // namespace sawmill::segment
