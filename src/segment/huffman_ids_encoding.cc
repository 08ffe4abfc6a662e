// Encoding::kHuffmanIds (format version 20): an int64 column block whose values repeat with a
// skewed frequency (user ids: a Zipf-popular 100,000 inside kPrefixedNumber) stored as its
// distinct values and each row's canonical Huffman code, every part packed in bits.
//
//   body := n(varint >= 2) first(zigzag varint) k(u8 <= 32) max_length(u8, 1..20) bits
//   bits, most significant bit first from the high bit of the first byte, 0-bits padding the
//   last byte:
//     gaps: for each distinct value after the first (ascending), g = value - previous - 1 as a
//           Rice code with parameter k: q = g >> k as q 0-bits and a 1-bit, then g's k low bits;
//           a q of kEscape or more as kEscape 0-bits, a 1-bit, then g's 64 bits
//     lengths: for each distinct value, max_length - its code length (1..max_length) as that many
//           0-bits and a 1-bit
//     codes: each row's code
//
// The code is canonical: the values ordered by (length, index), the first gets the code of its
// length made of 0-bits, each next one the previous code plus one, shifted left by the
// difference of their lengths. The lengths must make a complete code (the sum of 2^-length is
// exactly 1), so every string of bits begins with a code: a reader meets no bad code, only codes
// that end early. A value past INT64_MAX, a length of 0, an incomplete or over-full code, bits
// that end early, fewer than two values or more values than rows, and bytes or set bits after
// the last code are DataLoss.
//
// Why: kIntDict's ids in byte planes (mode 2) give each row about log2(distinct) bits less what
// zstd's entropy tables take off the high plane; a block's frequent values repeat many times,
// and a Huffman code of the block's own counts stores each row near the block's entropy. Its
// parts are bit-packed rather than left to zstd because zstd codes a block's literals with one
// entropy table, which the codes (random bits) spoil for the values and lengths before them
// (docs/performance.md "Session 20: trace ids and the rest of the 10 M store"). The chooser
// (EncodePrefixedNumber) keeps it where zstd (level 3) makes it smaller than the other int
// blocks.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "common/coding.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr uint32_t kMaxCodeBits = 20;
constexpr uint32_t kMaxK = 32;
constexpr uint32_t kEscape = 48;
// The decoder's table is indexed by a window's first min(longest code, kTableBits) bits.
constexpr uint32_t kTableBits = 14;

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  // Appends the "bits" (at most 32) low bits of "value", the highest first.
  void Put(uint64_t value, uint32_t bits) {
    acc_ = (acc_ << bits) | (value & ((uint64_t{1} << bits) - 1));
    pending_ += bits;
    while (pending_ >= 8) {
      pending_ -= 8;
      out_->push_back(static_cast<char>((acc_ >> pending_) & 0xff));
    }
  }
  void Zeros(uint64_t n) {
    for (; n >= 32; n -= 32) Put(0, 32);
    Put(0, static_cast<uint32_t>(n));
  }
  void Finish() {
    if (pending_ > 0) out_->push_back(static_cast<char>((acc_ << (8 - pending_)) & 0xff));
    pending_ = 0;
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  uint32_t pending_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::string_view bytes) : bytes_(bytes), total_(uint64_t{bytes.size()} * 8) {}
  // The next 57 bits or more, left-aligned (0-bits past the end).
  uint64_t Peek() const {
    const size_t at = static_cast<size_t>(pos_ >> 3);
    uint64_t word = 0;
    if (at + 8 <= bytes_.size()) {
      word = __builtin_bswap64(DecodeFixed64(bytes_.data() + at));
    } else {
      for (size_t k = 0; k < 8; ++k) {
        word = (word << 8) |
               (at + k < bytes_.size() ? static_cast<unsigned char>(bytes_[at + k]) : 0u);
      }
    }
    return word << (pos_ & 7);
  }
  void Skip(uint32_t bits) { pos_ += bits; }
  // The next "bits" (at most 32) bits.
  uint64_t Read(uint32_t bits) {
    if (bits == 0) return 0;
    const uint64_t v = Peek() >> (64 - bits);
    pos_ += bits;
    return v;
  }
  // q 0-bits and a 1-bit: q (above 56: not all of them read, a caller's error).
  uint32_t Unary() {
    const auto q = static_cast<uint32_t>(std::countl_zero(Peek()));
    pos_ += q + 1;
    return q;
  }
  bool overrun() const { return pos_ > total_; }
  uint64_t pos() const { return pos_; }
  uint64_t total() const { return total_; }
  const std::string_view& bytes() const { return bytes_; }

 private:
  std::string_view bytes_;
  uint64_t total_;
  uint64_t pos_ = 0;
};

// Reads codes of at most 57 bits from one Peek of "reader" while they fit in it.
class Window {
 public:
  explicit Window(BitReader* reader) : reader_(reader), w_(reader->Peek()) {}
  // Makes sure the next "bits" (at most 57) bits are in the window.
  void Ensure(uint32_t bits) {
    if (used_ + bits <= 57) return;
    reader_->Skip(used_);
    w_ = reader_->Peek();
    used_ = 0;
  }
  uint64_t bits() const { return w_ << used_; }
  uint32_t valid() const { return 57 - used_; }
  // Whether "bits" more bits would end past the body.
  bool Past(uint64_t bits) const { return reader_->pos() + used_ + bits > reader_->total(); }
  void Consume(uint32_t bits) { used_ += bits; }
  // Hands the bits consumed back to the reader.
  void Sync() {
    reader_->Skip(used_);
    used_ = 0;
    w_ = reader_->Peek();
  }

 private:
  BitReader* reader_;
  uint64_t w_;
  uint32_t used_ = 0;
};

// The canonical code of a block, as the decoder uses it.
struct Code {
  std::array<uint32_t, kMaxCodeBits + 2> first{};  // first code of each length
  std::array<uint32_t, kMaxCodeBits + 2> base{};   // index in "ordered" of its first value
  // The codes of each length and every shorter one, each left-aligned to kMaxCodeBits bits,
  // are below limit[length]; limit[kMaxCodeBits + 1] stops the search.
  std::array<uint32_t, kMaxCodeBits + 2> limit{};
  // By a window's first table_bits bits: the length of the code it begins with, or 0 when that
  // code is longer than table_bits. Lengths only, one byte each: the table stays in the L1
  // cache, and the next code's place depends on nothing else.
  uint32_t table_bits = 0;
  std::vector<uint8_t> table;
  std::vector<int64_t> ordered;  // the values ordered by (length, index)
};

// Builds "*code" from "lengths" (each 1..kMaxCodeBits) of "values", or says what is wrong.
Status BuildCode(const std::vector<uint8_t>& lengths, const std::vector<int64_t>& values,
                 Code* code) {
  std::array<uint32_t, kMaxCodeBits + 2> count{};
  uint64_t kraft = 0;  // in units of 2^-kMaxCodeBits
  uint32_t longest = 0;
  for (uint8_t len : lengths) {
    ++count[len];
    kraft += uint64_t{1} << (kMaxCodeBits - len);
    longest = std::max<uint32_t>(longest, len);
  }
  if (kraft != uint64_t{1} << kMaxCodeBits) {
    return Status::DataLoss("huffman-ids column: the code lengths of " +
                            std::to_string(lengths.size()) + " values make no complete code");
  }
  uint32_t next = 0, index = 0;
  for (uint32_t len = 1; len <= kMaxCodeBits; ++len) {
    code->first[len] = next;
    code->base[len] = index;
    next += count[len];
    index += count[len];
    code->limit[len] = next << (kMaxCodeBits - len);
    next <<= 1;
  }
  code->limit[kMaxCodeBits + 1] = UINT32_MAX;
  code->ordered.resize(values.size());
  std::array<uint32_t, kMaxCodeBits + 2> fill = code->base;
  for (size_t i = 0; i < values.size(); ++i) code->ordered[fill[lengths[i]]++] = values[i];
  const uint32_t t = std::min(longest, kTableBits);
  code->table_bits = t;
  code->table.assign(size_t{1} << t, 0);
  // The codes of one length are consecutive, so their table entries are one run.
  for (uint32_t len = 1; len <= t; ++len) {
    std::memset(code->table.data() + (size_t{code->first[len]} << (t - len)), static_cast<int>(len),
                size_t{count[len]} << (t - len));
  }
  return Status::OK();
}

Status EndsEarly(std::string_view what) {
  return Status::DataLoss("huffman-ids column: the " + std::string(what) + " end early");
}

// The values of the first "through" rows (all "count" when through >= count) of a body.
Status DecodeThrough(std::string_view body, size_t count, size_t through,
                     std::vector<int64_t>* out) {
  through = std::min(through, count);
  uint64_t n, zigzag;
  if (!GetVarint64(&body, &n) || !GetVarint64(&body, &zigzag) || body.size() < 2) {
    return Status::DataLoss("huffman-ids column: header ends early");
  }
  if (n < 2 || n > count) {
    return Status::DataLoss("huffman-ids column: " + std::to_string(n) + " values for " +
                            std::to_string(count) + " rows");
  }
  const uint32_t k = static_cast<uint8_t>(body[0]);
  const uint32_t max_length = static_cast<uint8_t>(body[1]);
  body.remove_prefix(2);
  if (k > kMaxK || max_length == 0 || max_length > kMaxCodeBits) {
    return Status::DataLoss("huffman-ids column: Rice parameter " + std::to_string(k) +
                            ", longest code " + std::to_string(max_length));
  }
  BitReader bits(body);
  thread_local std::vector<int64_t> values;
  thread_local std::vector<uint8_t> lengths;
  values.resize(n);
  lengths.resize(n);
  values[0] = ZigZagDecode(zigzag);
  {
    Window window(&bits);
    for (size_t i = 1; i < n; ++i) {
      uint64_t w = window.bits();
      auto q = static_cast<uint32_t>(std::countl_zero(w));
      if (q >= kEscape || q + 1 + k > window.valid()) {
        window.Ensure(57);
        w = window.bits();
        q = static_cast<uint32_t>(std::countl_zero(w));
      }
      uint64_t g;
      if (q < kEscape && q + 1 + k <= window.valid()) {  // nearly every gap
        g = (uint64_t{q} << k) | (k == 0 ? 0 : (w << (q + 1)) >> (64 - k));
        window.Consume(q + 1 + k);
      } else {
        window.Sync();
        const uint32_t zeros = bits.Unary();
        if (bits.overrun()) return EndsEarly("values");
        if (zeros > kEscape) {
          return Status::DataLoss("huffman-ids column: value " + std::to_string(i) + " has " +
                                  std::to_string(zeros) + " 0-bits before its gap");
        }
        if (zeros == kEscape) {  // the high 32 bits first, as written: two statements, in order
          const uint64_t high = bits.Read(32);
          g = (high << 32) | bits.Read(32);
        } else {
          g = (uint64_t{zeros} << k) | bits.Read(k);
        }
        window = Window(&bits);
      }
      const uint64_t room = static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(values[i - 1]);
      if (g >= room) {
        return Status::DataLoss("huffman-ids column: value " + std::to_string(i) +
                                " is past the largest int64");
      }
      values[i] = static_cast<int64_t>(static_cast<uint64_t>(values[i - 1]) + g + 1);
    }
    window.Sync();
    if (bits.overrun()) return EndsEarly("values");
    for (size_t i = 0; i < n; ++i) {
      window.Ensure(max_length);
      const auto d = static_cast<uint32_t>(std::countl_zero(window.bits()));
      if (window.Past(d + 1)) return EndsEarly("code lengths");
      if (d >= max_length) {
        return Status::DataLoss("huffman-ids column: value " + std::to_string(i) +
                                " has a code length below 1");
      }
      window.Consume(d + 1);
      lengths[i] = static_cast<uint8_t>(max_length - d);
    }
    window.Sync();
  }
  if (bits.overrun()) return EndsEarly("code lengths");
  thread_local Code code;
  RETURN_IF_ERROR(BuildCode(lengths, values, &code));
  const size_t base = out->size();
  out->resize(base + through);
  int64_t* dst = out->data() + base;
  const uint8_t* table = code.table.data();
  const uint32_t t = code.table_bits;
  const uint32_t* limit = code.limit.data();
  const uint32_t* first = code.first.data();
  const uint32_t* first_index = code.base.data();
  const int64_t* ordered = code.ordered.data();
  Window window(&bits);
  for (size_t row = 0; row < through; ++row) {
    window.Ensure(kMaxCodeBits);
    const auto w = static_cast<uint32_t>(window.bits() >> (64 - kMaxCodeBits));
    uint32_t len = table[w >> (kMaxCodeBits - t)];
    if (len == 0) {  // a code longer than t bits
      len = t + 1;
      while (w >= limit[len]) ++len;
    }
    window.Consume(len);
    dst[row] = ordered[first_index[len] + ((w >> (kMaxCodeBits - len)) - first[len])];
  }
  window.Sync();
  if (bits.overrun()) {
    out->resize(base);
    return EndsEarly("codes of " + std::to_string(through) + " rows");
  }
  if (through == count) {
    // Whole reads check the rest: at most 7 padding bits, all 0.
    const uint64_t pos = bits.pos(), total = bits.total();
    const bool padded =
        total - pos < 8 && (pos == total || (static_cast<unsigned char>(bits.bytes()[pos >> 3]) &
                                             (0xffu >> (pos & 7))) == 0);
    if (!padded) {
      out->resize(base);
      return Status::DataLoss("huffman-ids column: bytes after the codes of " +
                              std::to_string(count) + " rows");
    }
  }
  return Status::OK();
}

Status DecodeHuffmanIds(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeThrough(body, count, count, out);
}

// The code lengths of a Huffman code of "counts" (each >= 1, at least two), empty when a code
// would be longer than kMaxCodeBits. The two-queue construction: the leaves sorted by count, the
// inner nodes made in order of weight, the lightest two fronts joined each step.
std::vector<uint8_t> CodeLengths(const std::vector<uint32_t>& counts) {
  const size_t n = counts.size();
  // Leaves 0..n-1, inner nodes n..2n-2 in the order they are made (the root last).
  std::vector<uint64_t> weight(2 * n - 1);
  std::vector<uint32_t> parent(2 * n - 1, 0), leaves(n);
  for (uint32_t i = 0; i < n; ++i) {
    weight[i] = counts[i];
    leaves[i] = i;
  }
  std::sort(leaves.begin(), leaves.end(), [&](uint32_t a, uint32_t b) {
    return counts[a] != counts[b] ? counts[a] < counts[b] : a < b;
  });
  size_t leaf = 0, inner = n, next = n;
  auto lightest = [&]() -> uint32_t {
    if (leaf < n && (inner == next || weight[leaves[leaf]] <= weight[inner])) return leaves[leaf++];
    return static_cast<uint32_t>(inner++);
  };
  for (; next < 2 * n - 1; ++next) {
    const uint32_t a = lightest(), b = lightest();
    weight[next] = weight[a] + weight[b];
    parent[a] = parent[b] = static_cast<uint32_t>(next);
  }
  std::vector<uint32_t> depth(2 * n - 1, 0);  // the root, node 2n - 2, at 0
  std::vector<uint8_t> lengths(n);
  for (size_t node = 2 * n - 2; node-- > 0;) {
    depth[node] = depth[parent[node]] + 1;
    if (node < n) {
      if (depth[node] > kMaxCodeBits) return {};
      lengths[node] = static_cast<uint8_t>(depth[node]);
    }
  }
  return lengths;
}

// The bits of the gaps as Rice codes with parameter "k".
uint64_t GapBits(const std::vector<int64_t>& distinct, uint32_t k) {
  uint64_t bits = 0;
  for (size_t i = 1; i < distinct.size(); ++i) {
    const uint64_t g =
        static_cast<uint64_t>(distinct[i]) - static_cast<uint64_t>(distinct[i - 1]) - 1;
    const uint64_t q = g >> k;
    bits += q >= kEscape ? kEscape + 1 + 64 : q + 1 + k;
  }
  return bits;
}

}  // namespace

bool EncodeHuffmanIds(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                      std::string* out) {
  if (count < 2 || count > UINT32_MAX) return false;
  std::vector<int64_t>& distinct = *scratch;
  distinct.assign(values, values + count);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() < 2) return false;
  std::vector<uint32_t> ids(count), counts(distinct.size(), 0);
  for (size_t row = 0; row < count; ++row) {
    ids[row] = static_cast<uint32_t>(
        std::lower_bound(distinct.begin(), distinct.end(), values[row]) - distinct.begin());
    ++counts[ids[row]];
  }
  const std::vector<uint8_t> lengths = CodeLengths(counts);
  if (lengths.empty()) return false;
  const uint8_t max_length = *std::max_element(lengths.begin(), lengths.end());
  // The canonical codes, as BuildCode derives them.
  std::array<uint32_t, kMaxCodeBits + 2> per_length{}, next{};
  for (uint8_t len : lengths) ++per_length[len];
  uint32_t code = 0;
  for (uint32_t len = 1; len <= kMaxCodeBits; ++len) {
    next[len] = code;
    code = (code + per_length[len]) << 1;
  }
  std::vector<uint32_t> codes(distinct.size());
  for (size_t i = 0; i < distinct.size(); ++i) codes[i] = next[lengths[i]]++;
  // The Rice parameter with the fewest bits, near log2 of the mean gap; at most kMaxK (the
  // format's), tried even when the mean gap wants more: with k = 32 a gap below 48 << 32 takes
  // q + 33 bits, not the 113 of an escape (values spread wider than 2^35 apart; before, the range
  // of k tried was then empty and every gap escaped).
  const uint64_t span = static_cast<uint64_t>(distinct.back()) - static_cast<uint64_t>(distinct[0]);
  const auto mean = static_cast<uint32_t>(std::bit_width(span / (distinct.size() - 1)));
  uint32_t k = 0;
  uint64_t fewest = UINT64_MAX;
  for (uint32_t c = std::min(mean > 2 ? mean - 2 : 0, kMaxK); c <= std::min(mean + 1, kMaxK); ++c) {
    const uint64_t bits = GapBits(distinct, c);
    if (bits < fewest) {
      fewest = bits;
      k = c;
    }
  }

  out->push_back(static_cast<char>(Encoding::kHuffmanIds));
  PutVarint64(out, count);
  PutVarint64(out, distinct.size());
  PutVarint64(out, ZigZagEncode(distinct[0]));
  out->push_back(static_cast<char>(k));
  out->push_back(static_cast<char>(max_length));
  BitWriter bits(out);
  for (size_t i = 1; i < distinct.size(); ++i) {
    const uint64_t g =
        static_cast<uint64_t>(distinct[i]) - static_cast<uint64_t>(distinct[i - 1]) - 1;
    const uint64_t q = g >> k;
    if (q >= kEscape) {
      bits.Zeros(kEscape);
      bits.Put(1, 1);
      bits.Put(g >> 32, 32);
      bits.Put(g & 0xffffffffu, 32);
    } else {
      bits.Zeros(q);
      bits.Put(1, 1);
      bits.Put(g, k);
    }
  }
  for (uint8_t len : lengths) {
    bits.Zeros(max_length - len);
    bits.Put(1, 1);
  }
  for (uint32_t id : ids) bits.Put(codes[id], lengths[id]);
  bits.Finish();
  return true;
}

Status DecodeHuffmanIdsThrough(std::string_view body, size_t count, size_t through,
                               std::vector<int64_t>* out) {
  return DecodeThrough(body, count, through, out);
}

extern const ColumnEncoding kHuffmanIdsEncoding;  // registered in column_encoding.cc
const ColumnEncoding kHuffmanIdsEncoding{Encoding::kHuffmanIds, "huffman-ids", &DecodeHuffmanIds,
                                         nullptr};

}  // namespace sawmill::segment
