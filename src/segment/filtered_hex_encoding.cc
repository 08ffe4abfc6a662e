// Encoding::kFilteredHex (format version 26, `filtered-hex`): a trace id column block whose
// values are all 32 lower-case hex digits keeps only what its row block's trace_id filter does
// not. The filter (index/bloom.h, a mixed id filter, version 3) holds the top bits of each
// distinct id's mix (MixId, a bijection of the id's 128 bits), ascending; this block holds the
// other bits of each distinct mix in the same order, and each row's rank among them:
//
//   body := keys(varint k) fingerprint_bits(u8 B) filter_crc(fixed32)
//           ranks(count x w bits) rests(k x (128 - B) bits)
//
// w = index::MixedIdHighBits(k) (0 when k is 1), B the filter's low_bits + high_bits, each
// section padded to a whole byte, bits least significant first; a rest is its mix's low 64 bits
// then the 64 - B bits above them. filter_crc is the masked CRC32C of the filter's bytes: a
// block is decoded only with the very filter it was written beside (docs/format/segment.md
// "Trace ids inside their filters"). A row's id is its rank's fingerprint (the filter's, an
// Elias-Fano select) and rest, unmixed: a row is read without the rows before it, and an id is
// found by the filter's probe and a comparison of the rests of its fingerprint's keys.
#include <algorithm>
#include <cstring>

#include "common/bits.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "index/bloom.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

thread_local const std::string_view* scoped_filter = nullptr;

void PutBits(std::string* bytes, uint64_t bit, int width, uint64_t value) {
  // "value" below 2^width, width at most 57: one unaligned 64-bit OR (the string has 8 bytes
  // of slack, cut by the caller).
  uint64_t word;
  std::memcpy(&word, bytes->data() + (bit >> 3), 8);
  word |= value << (bit & 7);
  std::memcpy(bytes->data() + (bit >> 3), &word, 8);
  (void)width;
}

inline uint64_t GetBits(std::string_view bytes, uint64_t bit, int width) {
  return GetLsbBits(bytes, bit, width);
}

// A rest of "bits" (65 to 127) bits: the mix's low 64 bits, then the bits above them.
void PutRest(std::string* bytes, uint64_t bit, int bits, const index::Id128& m) {
  PutBits(bytes, bit, 32, m.lo & 0xffffffffULL);
  PutBits(bytes, bit + 32, 32, m.lo >> 32);
  PutBits(bytes, bit + 64, bits - 64, m.hi & ((uint64_t{1} << (bits - 64)) - 1));
}

index::Id128 GetRest(std::string_view bytes, uint64_t bit, int bits) {
  index::Id128 m;
  m.lo = GetBits(bytes, bit, 32) | GetBits(bytes, bit + 32, 32) << 32;
  m.hi = GetBits(bytes, bit + 64, bits - 64);
  return m;
}

// The mix of a fingerprint (the top "fp_bits" bits) and a rest.
index::Id128 Join(uint64_t fingerprint, int fp_bits, const index::Id128& rest) {
  return index::Id128{fingerprint << (64 - fp_bits) | rest.hi, rest.lo};
}

// A parsed block and the filter it was written beside.
struct Parsed {
  size_t keys = 0;
  int fp_bits = 0;
  int rank_bits = 0;
  int rest_bits = 0;
  std::string_view ranks, rests;
  index::BloomView filter;

  uint64_t RankOf(uint32_t row) const {
    return rank_bits == 0 ? 0 : GetBits(ranks, uint64_t{row} * rank_bits, rank_bits);
  }
  index::Id128 Rest(uint64_t rank) const {
    return GetRest(rests, rank * static_cast<uint64_t>(rest_bits), rest_bits);
  }
};

Status Parse(std::string_view body, size_t count, Parsed* p) {
  uint64_t keys;
  if (!GetVarint64(&body, &keys) || keys == 0 || keys > count || body.size() < 5) {
    return Status::DataLoss("filtered-hex column: bad distinct id count");
  }
  const int fp_bits = static_cast<uint8_t>(body[0]);
  uint32_t crc;
  std::memcpy(&crc, body.data() + 1, 4);  // fixed32, little-endian (as PutFixed32)
  body.remove_prefix(5);
  const int rank_bits = index::MixedIdHighBits(keys);
  // (A rest's bits above its low 64 are read in one piece of at most 57 bits.)
  if (fp_bits < 7 || fp_bits > 56) return Status::DataLoss("filtered-hex column: bad fingerprint");
  const uint64_t rank_bytes = (count * rank_bits + 7) / 8;
  const uint64_t rest_bytes = (keys * (128 - fp_bits) + 7) / 8;
  if (body.size() != rank_bytes + rest_bytes) {
    return Status::DataLoss("filtered-hex column: " + std::to_string(body.size()) + " bytes for " +
                            std::to_string(count) + " rows of " + std::to_string(keys) + " ids");
  }
  if (scoped_filter == nullptr) {
    return Status::DataLoss("filtered-hex column: its block's trace_id filter was not given");
  }
  const std::string_view filter = *scoped_filter;
  if (crc32c::Mask(crc32c::Value(filter.data(), filter.size())) != crc) {
    return Status::DataLoss(
        "filtered-hex column: its block's trace_id filter is not the one it was written beside "
        "(checksum)");
  }
  p->filter = index::BloomView(filter);
  if (!p->filter.mixed() || p->filter.keys() != keys || p->filter.fingerprint_bits() != fp_bits) {
    return Status::DataLoss("filtered-hex column: its block's trace_id filter does not hold its " +
                            std::to_string(keys) + " ids");
  }
  p->keys = keys;
  p->fp_bits = fp_bits;
  p->rank_bits = rank_bits;
  p->rest_bits = 128 - fp_bits;
  p->ranks = body.substr(0, rank_bytes);
  p->rests = body.substr(rank_bytes);
  return Status::OK();
}

Status BadRank(uint32_t row, uint64_t rank) {
  return Status::DataLoss("filtered-hex column: row " + std::to_string(row) + " has rank " +
                          std::to_string(rank) + ", past its ids");
}

// The values of every row ("rows" null) or of the listed rows, rendered into "*arena".
Status Render(std::string_view body, size_t count, const std::vector<uint32_t>* rows,
              std::vector<std::string_view>* out, std::string* arena) {
  Parsed p;
  RETURN_IF_ERROR(Parse(body, count, &p));
  if (rows == nullptr) {
    // Every distinct id once, in rank order; the rows point at them.
    std::vector<uint64_t> fingerprints;
    if (!p.filter.AllFingerprints(&fingerprints)) {
      return Status::DataLoss("filtered-hex column: its block's trace_id filter does not read");
    }
    arena->resize(p.keys * 32);
    for (uint64_t r = 0; r < p.keys; ++r) {
      index::RenderHexId(index::UnmixId(Join(fingerprints[r], p.fp_bits, p.Rest(r))),
                         arena->data() + r * 32);
    }
    out->reserve(out->size() + count);
    for (uint32_t row = 0; row < count; ++row) {
      const uint64_t r = p.RankOf(row);
      if (r >= p.keys) return BadRank(row, r);
      out->emplace_back(arena->data() + r * 32, 32);
    }
    return Status::OK();
  }
  arena->resize(rows->size() * 32);
  for (size_t i = 0; i < rows->size(); ++i) {
    const uint32_t row = (*rows)[i];
    if (row >= count)
      return Status::DataLoss("filtered-hex column: holds no row " + std::to_string(row));
    const uint64_t r = p.RankOf(row);
    uint64_t fingerprint;
    if (r >= p.keys) return BadRank(row, r);
    if (!p.filter.FingerprintAt(r, &fingerprint)) {
      return Status::DataLoss("filtered-hex column: its block's trace_id filter holds no id " +
                              std::to_string(r));
    }
    index::RenderHexId(index::UnmixId(Join(fingerprint, p.fp_bits, p.Rest(r))),
                       arena->data() + i * 32);
  }
  out->reserve(out->size() + rows->size());
  for (size_t i = 0; i < rows->size(); ++i) out->emplace_back(arena->data() + i * 32, 32);
  return Status::OK();
}

Status DecodeFilteredHex(std::string_view body, size_t count, std::vector<std::string_view>* out,
                         std::string* arena) {
  return Render(body, count, nullptr, out, arena);
}

}  // namespace

IdFilterScope::IdFilterScope(std::string_view filter) : prev_(scoped_filter), filter_(filter) {
  scoped_filter = &filter_;
}

IdFilterScope::~IdFilterScope() { scoped_filter = prev_; }

bool IsFilteredHex(std::string_view block) {
  return !block.empty() && static_cast<Encoding>(block[0]) == Encoding::kFilteredHex;
}

bool FilteredHexWrittenBeside(std::string_view block, std::string_view filter) {
  if (!IsFilteredHex(block)) return false;
  block.remove_prefix(1);
  uint64_t count, keys;
  if (!GetVarint64(&block, &count) || !GetVarint64(&block, &keys) || block.size() < 5) {
    return false;
  }
  uint32_t crc;
  std::memcpy(&crc, block.data() + 1, 4);  // after fingerprint_bits (as Parse)
  return crc32c::Mask(crc32c::Value(filter.data(), filter.size())) == crc;
}

bool EncodeFilteredHex(const std::string_view* values, size_t count, std::string* out) {
  if (count == 0 || count > UINT32_MAX) return false;
  std::vector<index::Id128> mixes(count);
  for (size_t row = 0; row < count; ++row) {
    index::Id128 id;
    if (!index::ParseHexId(values[row], &id)) return false;
    mixes[row] = id;
  }
  // Ids with a structure zstd finds (counters, a fixed prefix) are smaller as kHex: the mix
  // spreads them, and the rests do not compress. The bytes of the first kStructureSample rows'
  // distinct ids (in row order: repeats are no structure, the ranks hold them) are asked (zstd
  // 1); random ids (W3C trace ids, the corpus's) do not shrink.
  constexpr size_t kStructureSample = 512;
  {
    const size_t n = std::min(count, kStructureSample);
    std::vector<index::Id128> seen(mixes.begin(), mixes.begin() + n);
    std::sort(seen.begin(), seen.end());
    std::vector<bool> taken(n, false);
    std::string bytes;
    bytes.reserve(n * 16);
    for (size_t i = 0; i < n; ++i) {
      const size_t at =
          static_cast<size_t>(std::lower_bound(seen.begin(), seen.end(), mixes[i]) - seen.begin());
      if (taken[at]) continue;
      taken[at] = true;
      for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>(mixes[i].hi >> (56 - 8 * b)));
      for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>(mixes[i].lo >> (56 - 8 * b)));
    }
    if (ZstdBytes(bytes, 1) * 10 < bytes.size() * 9) return false;
  }
  for (index::Id128& m : mixes) m = index::MixId(m);
  std::vector<index::Id128> sorted(mixes);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const uint64_t keys = sorted.size();
  // The filter the bloom kind writes for this block (index/bloom_kind.cc MixedFilterOf).
  std::string filter;
  index::WriteMixedIdFilter(sorted, &filter, index::kIdLowBitsV23);
  const int fp_bits = index::kIdLowBitsV23 + index::MixedIdHighBits(keys);
  const int rank_bits = index::MixedIdHighBits(keys);
  const int rest_bits = 128 - fp_bits;
  out->push_back(static_cast<char>(Encoding::kFilteredHex));
  PutVarint64(out, count);
  PutVarint64(out, keys);
  out->push_back(static_cast<char>(fp_bits));
  PutFixed32(out, crc32c::Mask(crc32c::Value(filter.data(), filter.size())));
  std::string ranks((count * rank_bits + 7) / 8 + 8, '\0');
  for (size_t row = 0; row < count && rank_bits > 0; ++row) {
    const auto rank = static_cast<uint64_t>(
        std::lower_bound(sorted.begin(), sorted.end(), mixes[row]) - sorted.begin());
    PutBits(&ranks, row * rank_bits, rank_bits, rank);
  }
  ranks.resize(ranks.size() - 8);
  std::string rests((keys * rest_bits + 7) / 8 + 8, '\0');
  for (uint64_t r = 0; r < keys; ++r) PutRest(&rests, r * rest_bits, rest_bits, sorted[r]);
  rests.resize(rests.size() - 8);
  out->append(ranks);
  out->append(rests);
  return true;
}

Status DecodeFilteredHexRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                             std::vector<std::string_view>* out, std::string* arena) {
  out->clear();
  RETURN_IF_ERROR(CheckRowsAscending(rows, count).WithContext("filtered-hex column"));
  return Render(body, count, &rows, out, arena);
}

Result<bool> KeepFilteredHexRowsHolding(std::string_view block, size_t count,
                                        std::string_view value, std::vector<uint32_t>* rows) {
  if (!IsFilteredHex(block)) return false;
  std::string_view body = block.substr(1);
  uint64_t n;
  if (!GetVarint64(&body, &n) || n != count) {
    return Status::DataLoss("filtered-hex column: holds " + std::to_string(n) + " values");
  }
  Parsed p;
  RETURN_IF_ERROR(Parse(body, count, &p));
  for (uint32_t row : *rows) {
    if (row >= count)
      return Status::DataLoss("filtered-hex column: holds no row " + std::to_string(row));
  }
  index::Id128 id;
  // Only ids of 32 lower-case hex digits are in such a block.
  if (!index::ParseHexId(value, &id)) {
    rows->clear();
    return true;
  }
  const index::Id128 mixed = index::MixId(id);
  const uint64_t fingerprint = mixed.hi >> (64 - p.fp_bits);
  const index::Id128 rest{mixed.hi & ((uint64_t{1} << (64 - p.fp_bits)) - 1), mixed.lo};
  uint64_t first, end;
  p.filter.FindFingerprint(fingerprint, &first, &end);
  uint64_t rank = p.keys;
  for (uint64_t r = first; r < end && r < p.keys; ++r) {
    if (p.Rest(r) == rest) rank = r;
  }
  size_t kept = 0;
  if (rank < p.keys) {
    for (uint32_t row : *rows) {
      if (p.RankOf(row) == rank) (*rows)[kept++] = row;
    }
  }
  rows->resize(kept);
  return true;
}

extern const ColumnEncoding kFilteredHexEncoding;  // registered in column_encoding.cc
const ColumnEncoding kFilteredHexEncoding{Encoding::kFilteredHex, "filtered-hex", nullptr,
                                          &DecodeFilteredHex};

}  // namespace sawmill::segment
