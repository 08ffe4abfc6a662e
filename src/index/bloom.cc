#include "index/bloom.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// XXH3 compiled into this file (BloomHash below) instead of called through the shared library.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/bits.h"
#include "common/coding.h"

namespace sawmill::index {

namespace {

constexpr size_t kBlockBytes = 32;
// Odd salts from the Parquet specification, one per 32-bit word of a block.
constexpr uint32_t kSalt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                               0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

inline size_t BlockIndex(uint64_t hash, size_t num_blocks) {
  return static_cast<size_t>(((hash >> 32) * static_cast<uint64_t>(num_blocks)) >> 32);
}

inline uint32_t Bit(uint32_t key, int word) { return 1u << ((key * kSalt[word]) >> 27); }

// Id filters: "width" (at most 57) bits at bit "bit" of "bytes" (least significant first), the
// bytes past its end read as zeros.
inline uint64_t GetBits(std::string_view bytes, uint64_t bit, int width) {
  return GetLsbBits(bytes, bit, width);
}

void PutBits(std::string* bytes, uint64_t bit, int width, uint64_t value) {
  for (int i = 0; i < width; ++i, ++bit) {
    if ((value >> i) & 1)
      (*bytes)[bit >> 3] = static_cast<char>((*bytes)[bit >> 3] | (1 << (bit & 7)));
  }
}

inline uint64_t IdValue(uint64_t hash, uint64_t range) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(hash) * range) >> 64);
}

constexpr uint64_t kIdBucket = 64;  // high values per directory entry

int BitWidth(uint64_t v) { return v == 0 ? 1 : 64 - __builtin_clzll(v); }

}  // namespace

// Hash64(token, 0x5eed5a11) (common/hash.h), the same XXH3, with the hash function inlined: every
// word of every message a flush writes is hashed here, and the call through the shared library
// cost about as much as the hash of a short word (BloomTest.BloomHashIsHash64WithItsSeed).
uint64_t BloomHash(std::string_view token) {
  return XXH3_64bits_withSeed(token.data(), token.size(), 0x5eed5a11ULL);
}

void WriteBloom(std::span<const uint64_t> hashes, std::string* out, double bits_per_key) {
  out->push_back(static_cast<char>(kBloomVersion));
  if (hashes.empty()) return;
  size_t bits = static_cast<size_t>(std::ceil(static_cast<double>(hashes.size()) * bits_per_key));
  size_t num_blocks = std::max<size_t>(1, (bits + kBlockBytes * 8 - 1) / (kBlockBytes * 8));
  size_t start = out->size();
  out->resize(start + num_blocks * kBlockBytes, '\0');
  char* base = out->data() + start;
  for (uint64_t hash : hashes) {
    char* block = base + BlockIndex(hash, num_blocks) * kBlockBytes;
    auto key = static_cast<uint32_t>(hash);
    for (int word = 0; word < 8; ++word) {
      uint32_t w;
      std::memcpy(&w, block + word * 4, 4);
      w |= Bit(key, word);
      std::memcpy(block + word * 4, &w, 4);
    }
  }
}

// The sections of an id filter after its header: "keys" ascending values below
// high_values << low_bits, the i-th "value_of(i)", Elias-Fano (bloom.h).
template <typename ValueOf>
void WriteIdSections(uint64_t keys, int low_bits, uint64_t high_values, ValueOf value_of,
                     std::string* out) {
  const uint64_t buckets = (high_values + kIdBucket - 1) / kIdBucket;
  const int width = BitWidth(keys);
  std::string directory(((buckets - 1) * width + 7) / 8, '\0');
  std::string lows((keys * low_bits + 7) / 8, '\0');
  std::string highs((keys + high_values + 7) / 8, '\0');
  uint64_t bucket = 1;  // the next directory entry to fill: keys below bucket * kIdBucket
  for (uint64_t i = 0; i < keys; ++i) {
    const uint64_t v = value_of(i);
    const uint64_t high = v >> low_bits;
    for (; bucket < buckets && bucket * kIdBucket <= high; ++bucket) {
      PutBits(&directory, (bucket - 1) * width, width, i);
    }
    PutBits(&lows, i * low_bits, low_bits, v);
    PutBits(&highs, high + i, 1, 1);
  }
  for (; bucket < buckets; ++bucket) PutBits(&directory, (bucket - 1) * width, width, keys);
  out->append(directory);
  out->append(lows);
  out->append(highs);
}

void WriteIdFilter(std::span<const uint64_t> hashes, std::string* out, int low_bits) {
  out->push_back(static_cast<char>(kIdFilterVersion));
  const uint64_t keys = hashes.size();
  PutVarint64(out, keys);
  out->push_back(static_cast<char>(low_bits));
  if (keys == 0) return;
  const uint64_t range = keys << low_bits;
  WriteIdSections(
      keys, low_bits, keys, [&](uint64_t i) { return IdValue(hashes[i], range); }, out);
}

namespace {

// The Feistel rounds' keys (any fixed odd constants: the mix must never change, files hold it).
constexpr uint64_t kMixKeys[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                  0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL};

// MurmurHash3's 64-bit finalizer of x ^ key: a round function (it need not be invertible).
inline uint64_t Round(uint64_t x, uint64_t key) {
  x ^= key;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// The value of a lower-case hex digit, or 16.
inline uint8_t HexDigit(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  return 16;
}

}  // namespace

bool ParseHexId(std::string_view hex, Id128* id) {
  if (hex.size() != 32) return false;
  uint64_t half[2] = {0, 0};
  uint8_t bad = 0;
  for (size_t i = 0; i < 32; ++i) {
    const uint8_t d = HexDigit(hex[i]);
    bad |= d;
    half[i / 16] = half[i / 16] << 4 | (d & 15);
  }
  if (bad & 16) return false;
  id->hi = half[0];
  id->lo = half[1];
  return true;
}

void RenderHexId(const Id128& id, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) out[i] = kDigits[(id.hi >> (60 - 4 * i)) & 15];
  for (int i = 0; i < 16; ++i) out[16 + i] = kDigits[(id.lo >> (60 - 4 * i)) & 15];
}

// Four Feistel rounds over the two halves: each round is undone by the same round function, so
// the mix is a bijection whatever Round is, and after four every output bit depends on every
// input bit.
Id128 MixId(const Id128& id) {
  uint64_t hi = id.hi, lo = id.lo;
  for (uint64_t key : kMixKeys) {
    const uint64_t next_lo = hi ^ Round(lo, key);
    hi = lo;
    lo = next_lo;
  }
  return Id128{hi, lo};
}

Id128 UnmixId(const Id128& mixed) {
  uint64_t hi = mixed.hi, lo = mixed.lo;
  for (int r = 3; r >= 0; --r) {
    const uint64_t prev_hi = lo ^ Round(hi, kMixKeys[r]);
    lo = hi;
    hi = prev_hi;
  }
  return Id128{hi, lo};
}

int MixedIdHighBits(uint64_t keys) { return keys <= 1 ? 0 : 64 - __builtin_clzll(keys - 1); }

void WriteMixedIdFilter(std::span<const Id128> mixed, std::string* out, int low_bits) {
  out->push_back(static_cast<char>(kMixedIdFilterVersion));
  const uint64_t keys = mixed.size();
  const int high_bits = MixedIdHighBits(keys);
  PutVarint64(out, keys);
  out->push_back(static_cast<char>(low_bits));
  out->push_back(static_cast<char>(high_bits));
  if (keys == 0) return;
  const int bits = low_bits + high_bits;
  WriteIdSections(
      keys, low_bits, uint64_t{1} << high_bits,
      [&](uint64_t i) { return mixed[i].hi >> (64 - bits); }, out);
}

void SortUniqueHashes(std::vector<uint64_t>* hashes, std::vector<uint64_t>* scratch) {
  std::vector<uint64_t>& v = *hashes;
  const size_t n = v.size();
  // Below this std::sort is as fast (the six histograms alone are 48 KiB to clear).
  constexpr size_t kRadixMin = 4096;
  if (n < kRadixMin || n > UINT32_MAX) {
    std::sort(v.begin(), v.end());
  } else {
    // Least significant digit first, six passes of 11 bits; the histograms of every pass are
    // counted in one read, and a pass whose digit is the same in every hash is skipped.
    constexpr int kBits = 11;
    constexpr int kPasses = 6;  // 6 x 11 >= 64
    constexpr size_t kBuckets = size_t{1} << kBits;
    constexpr uint64_t kMask = kBuckets - 1;
    std::vector<uint32_t> counts(kPasses * kBuckets, 0);
    for (uint64_t h : v) {
      for (int p = 0; p < kPasses; ++p) ++counts[p * kBuckets + ((h >> (p * kBits)) & kMask)];
    }
    scratch->resize(n);
    uint64_t* from = v.data();
    uint64_t* to = scratch->data();
    for (int p = 0; p < kPasses; ++p) {
      uint32_t* count = &counts[p * kBuckets];
      const int shift = p * kBits;
      if (count[(from[0] >> shift) & kMask] == n) continue;  // one digit for all
      uint32_t at = 0;
      for (size_t b = 0; b < kBuckets; ++b) {
        const uint32_t c = count[b];
        count[b] = at;
        at += c;
      }
      for (size_t i = 0; i < n; ++i) {
        const uint64_t h = from[i];
        to[count[(h >> shift) & kMask]++] = h;
      }
      std::swap(from, to);
    }
    if (from != v.data()) v.swap(*scratch);  // the sorted hashes are in the scratch buffer
  }
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

void BloomBuilder::Finish(std::string* out, size_t* distinct_out) {
  std::vector<uint64_t> scratch;
  SortUniqueHashes(&hashes_, &scratch);
  WriteBloom(hashes_, out);
  if (distinct_out != nullptr) *distinct_out = hashes_.size();
  hashes_.clear();
}

BloomView::BloomView(std::string_view serialized) {
  const uint8_t version = serialized.empty() ? 0 : static_cast<uint8_t>(serialized[0]);
  if (version == kIdFilterVersion || version == kMixedIdFilterVersion) {
    // An id filter: every section's size follows from keys and low_bits (and, version 3,
    // high_bits), and must be exact.
    serialized.remove_prefix(1);
    uint64_t keys;
    if (!GetVarint64(&serialized, &keys) || serialized.empty() || keys > UINT32_MAX) return;
    const int low_bits = static_cast<uint8_t>(serialized[0]);
    serialized.remove_prefix(1);
    if (low_bits < 1 || low_bits > 32) return;
    mixed_ = version == kMixedIdFilterVersion;
    if (mixed_) {
      if (serialized.empty()) return;
      high_bits_ = static_cast<uint8_t>(serialized[0]);
      serialized.remove_prefix(1);
      if (high_bits_ > 24) return;
    }
    id_filter_ = true;
    keys_ = keys;
    low_bits_ = low_bits;
    if (keys == 0) {
      valid_ = serialized.empty();
      return;
    }
    // The high values: below keys (version 2) or 2^high_bits (version 3).
    const uint64_t high_values = mixed_ ? uint64_t{1} << high_bits_ : keys;
    const uint64_t buckets = (high_values + kIdBucket - 1) / kIdBucket;
    directory_width_ = BitWidth(keys);
    const uint64_t directory_bytes = ((buckets - 1) * directory_width_ + 7) / 8;
    const uint64_t low_bytes = (keys * low_bits + 7) / 8;
    const uint64_t high_bytes = (keys + high_values + 7) / 8;
    if (serialized.size() != directory_bytes + low_bytes + high_bytes) return;
    directory_ = serialized.substr(0, directory_bytes);
    lows_ = serialized.substr(directory_bytes, low_bytes);
    highs_ = serialized.substr(directory_bytes + low_bytes);
    valid_ = true;
    return;
  }
  if (serialized.empty() || static_cast<uint8_t>(serialized[0]) != kBloomVersion) return;
  serialized.remove_prefix(1);
  if (serialized.size() % kBlockBytes != 0) return;
  blocks_ = serialized.data();
  num_blocks_ = serialized.size() / kBlockBytes;
  valid_ = true;
}

uint64_t BloomView::IdValueOf(uint64_t hash) const {
  if (mixed_) return hash >> (64 - low_bits_ - high_bits_);
  return IdValue(hash, keys_ << low_bits_);
}

bool BloomView::RunOf(uint64_t high, uint64_t* key_out, uint64_t* bit_out) const {
  // Pass (high - bucket start) zeros of "highs" from the start of high's bucket, counting the
  // ones (keys) on the way, a few bytes at a time. Every index is checked against the
  // sections, so a damaged filter gives a wrong answer at worst, never a read out of bounds.
  const uint64_t bucket = high / kIdBucket;
  uint64_t key =
      bucket == 0 ? 0 : GetBits(directory_, (bucket - 1) * directory_width_, directory_width_);
  uint64_t bit = bucket * kIdBucket + key;
  uint64_t zeros = high - bucket * kIdBucket;  // still to pass
  const uint64_t high_bits = highs_.size() * 8;
  while (zeros > 0) {
    if (bit >= high_bits || key > keys_) return false;
    constexpr int width = 57;  // GetBits' most
    const uint64_t ones = GetBits(highs_, bit, width);
    const uint64_t clear = ~ones & ((uint64_t{1} << width) - 1);
    const auto count = static_cast<uint64_t>(__builtin_popcountll(clear));
    if (count < zeros) {
      zeros -= count;
      key += width - count;
      bit += width;
      continue;
    }
    // The zeros-th clear bit of this word: drop the ones before it.
    uint64_t rest = clear;
    for (uint64_t z = 1; z < zeros; ++z) rest &= rest - 1;
    const int at = __builtin_ctzll(rest);
    key += static_cast<uint64_t>(at) + 1 - zeros;  // the ones below it
    bit += static_cast<uint64_t>(at) + 1;
    zeros = 0;
  }
  *key_out = key;
  *bit_out = bit;
  return true;
}

bool BloomView::IdFilterMayContain(uint64_t hash) const {
  uint64_t first, end;
  FindFingerprint(IdValueOf(hash), &first, &end);
  return first < end;
}

void BloomView::FindFingerprint(uint64_t v, uint64_t* first, uint64_t* end) const {
  *first = *end = 0;
  if (keys_ == 0) return;
  const uint64_t high = v >> low_bits_;
  const uint64_t low = v & ((uint64_t{1} << low_bits_) - 1);
  uint64_t key, bit;
  if (!RunOf(high, &key, &bit)) return;
  // The run of ones that follows: the keys whose high part is high's, their lows ascending.
  const uint64_t high_bits = highs_.size() * 8;
  bool found = false;
  for (; bit < high_bits && key < keys_; ++bit, ++key) {
    if (((static_cast<unsigned char>(highs_[bit >> 3]) >> (bit & 7)) & 1) == 0) break;
    const bool same = GetBits(lows_, key * low_bits_, low_bits_) == low;
    if (same && !found) {
      *first = key;
      found = true;
    }
    if (!same && found) break;
  }
  if (found) *end = key;
}

bool BloomView::FingerprintAt(uint64_t rank, uint64_t* fingerprint) const {
  if (!id_filter_ || !valid_ || rank >= keys_) return false;
  // The last bucket whose keys below it are at most "rank" (the directory ascends).
  const uint64_t high_values = mixed_ ? uint64_t{1} << high_bits_ : keys_;
  const uint64_t buckets = (high_values + kIdBucket - 1) / kIdBucket;
  auto below = [&](uint64_t b) {
    return b == 0 ? 0 : GetBits(directory_, (b - 1) * directory_width_, directory_width_);
  };
  uint64_t lo = 0, hi = buckets;  // below(lo) <= rank; the answer is in [lo, hi)
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (below(mid) <= rank) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  uint64_t key = below(lo);
  uint64_t high = lo * kIdBucket;
  uint64_t bit = high + key;
  const uint64_t high_bits = highs_.size() * 8;
  while (bit < high_bits) {
    constexpr int width = 57;
    const uint64_t ones = GetBits(highs_, bit, std::min<uint64_t>(width, high_bits - bit));
    const auto count = static_cast<uint64_t>(__builtin_popcountll(ones));
    if (key + count <= rank) {
      key += count;
      high += std::min<uint64_t>(width, high_bits - bit) - count;
      bit += width;
      continue;
    }
    uint64_t rest = ones;
    for (uint64_t k = key; k < rank; ++k) rest &= rest - 1;
    const int at = __builtin_ctzll(rest);
    high += static_cast<uint64_t>(at) - (rank - key);  // the zeros before it
    *fingerprint = high << low_bits_ | GetBits(lows_, rank * low_bits_, low_bits_);
    return true;
  }
  return false;
}

bool BloomView::AllFingerprints(std::vector<uint64_t>* out) const {
  out->clear();
  if (!id_filter_ || !valid_) return false;
  out->reserve(keys_);
  uint64_t high = 0;
  const uint64_t high_bits = highs_.size() * 8;
  for (uint64_t bit = 0; bit < high_bits && out->size() < keys_; bit += 57) {
    const int width = static_cast<int>(std::min<uint64_t>(57, high_bits - bit));
    uint64_t ones = GetBits(highs_, bit, width);
    int done = 0;  // bits of this word passed
    while (ones != 0 && out->size() < keys_) {
      const int at = __builtin_ctzll(ones);
      high += static_cast<uint64_t>(at - done);
      const uint64_t key = out->size();
      out->push_back(high << low_bits_ | GetBits(lows_, key * low_bits_, low_bits_));
      done = at + 1;
      ones &= ones - 1;
    }
    if (out->size() < keys_) high += static_cast<uint64_t>(width - done);
  }
  return out->size() == keys_;
}

bool BloomView::MayContainHash(uint64_t hash) const {
  // A mixed id filter holds mixes, not hashes: only MayContainId asks it.
  if (!valid_ || mixed_) return true;
  if (id_filter_) return IdFilterMayContain(hash);
  if (num_blocks_ == 0) return false;
  const char* block = blocks_ + BlockIndex(hash, num_blocks_) * kBlockBytes;
  auto key = static_cast<uint32_t>(hash);
  for (int word = 0; word < 8; ++word) {
    uint32_t w;
    std::memcpy(&w, block + word * 4, 4);
    if ((w & Bit(key, word)) == 0) return false;
  }
  return true;
}

}  // namespace sawmill::index
