// Split-block bloom filters (as in Parquet and Impala): the filter is an array of 32-byte
// blocks; a key picks one block with the high half of its XXH3 hash and sets one bit in each of
// the block's eight 32-bit words with the low half, so a probe touches one cache line.
//
// Serialized filter (a "versioned serialized block"):
//   bloom := version(u8 = 1) block(32 bytes)*
// A filter with no blocks holds no key. Sized at kBitsPerKey bits per distinct key, which gives
// a false positive rate of about 1% (measured in bloom_test.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill::index {

inline constexpr uint8_t kBloomVersion = 1;
inline constexpr double kBitsPerKey = 11.0;
// The block filters of a field whose values are each in one block (ids; bloom_kind.cc) are
// sized at this many bits per key: a lookup of such a value probes every block filter of every
// segment, so the false blocks it reads are the blocks times the rate (about 0.13 % here against
// 0.9 % at kBitsPerKey; docs/format/index.md "Blooms").
inline constexpr double kIdBitsPerKey = 16.0;

// The hash every bloom of a segment uses for a token.
uint64_t BloomHash(std::string_view token);

// Collects key hashes, then writes a filter sized for the distinct ones.
class BloomBuilder {
 public:
  void AddHash(uint64_t hash) { hashes_.push_back(hash); }
  void Add(std::string_view token) { AddHash(BloomHash(token)); }
  size_t pending() const { return hashes_.size(); }
  // Appends the serialized filter to "*out" and clears the builder (keeping its capacity).
  // "distinct_out", when not null, receives the number of distinct keys.
  void Finish(std::string* out, size_t* distinct_out = nullptr);

 private:
  std::vector<uint64_t> hashes_;
};

// Sorts "*hashes" and drops repeats; "*scratch" is a buffer reused between calls (its contents
// are not kept). A radix sort above a few thousand hashes: the segment writer sorts every
// block's bloom hashes (about 20 per message) and then a segment's, which std::sort made 4 % of
// a flush's CPU.
void SortUniqueHashes(std::vector<uint64_t>* hashes, std::vector<uint64_t>* scratch);

// Writes a filter holding the distinct "hashes", sized at "bits_per_key" bits per hash.
void WriteBloom(std::span<const uint64_t> hashes, std::string* out,
                double bits_per_key = kBitsPerKey);

// Id filters (version 2, segment format version 11): the block filters of ids (bloom_kind.cc)
// as a compressed set of hash fingerprints instead of bloom bits, for the same false positive
// rate in three quarters of the bytes:
//   id_filter := version(u8 = 2) keys(varint) low_bits(u8, 1..32) directory lows highs
// (keys 0: a block without ids).
// Each key's hash h becomes v = (h * (keys << low_bits)) >> 64, a number below keys << low_bits
// that keeps the hashes' order; the sorted v are stored Elias-Fano: "lows" holds each one's
// low_bits low bits (packed, least significant bit first), "highs" is a bit vector of
// 2 * keys bits where the i-th v (from 0) sets bit (v >> low_bits) + i, and "directory" holds,
// for every 64 high values after the first 64, how many v lie below them, in
// bit_width(keys) bits each (so a probe reads about 64 bits of "highs", not all of them). Each
// section is padded to a whole byte. A probe finds v's high part and compares the lows there:
// a key not in the set matches with probability 2^-low_bits (kIdLowBits: 0.1 %). A filter
// records its low_bits, so a reader needs no segment format version to read it: segment format
// versions 11 to 22 write kIdLowBits, version 23 kIdLowBitsV23 (0.4 %, two bits a key fewer:
// docs/performance.md "Session 22: format 23").
inline constexpr uint8_t kIdFilterVersion = 2;
inline constexpr int kIdLowBits = 10;
inline constexpr int kIdLowBitsV23 = 8;
void WriteIdFilter(std::span<const uint64_t> sorted_unique_hashes, std::string* out,
                   int low_bits = kIdLowBits);

// A read-only view of a serialized filter. An unknown version or malformed size makes
// every probe answer true (a bloom may say "maybe", never a false "no").
// Version 2 (an id filter, above) is read too.
class BloomView {
 public:
  BloomView() = default;
  explicit BloomView(std::string_view serialized);
  bool MayContainHash(uint64_t hash) const;
  bool MayContain(std::string_view token) const { return MayContainHash(BloomHash(token)); }
  bool valid() const { return valid_; }
  size_t num_blocks() const { return num_blocks_; }

 private:
  bool IdFilterMayContain(uint64_t hash) const;

  const char* blocks_ = nullptr;
  size_t num_blocks_ = 0;
  bool valid_ = false;
  // An id filter (version 2): its sections, each bounds-checked when the view is made.
  bool id_filter_ = false;
  uint64_t keys_ = 0;
  int low_bits_ = 0;
  int directory_width_ = 0;
  std::string_view directory_, lows_, highs_;
};

}  // namespace sawmill::index
