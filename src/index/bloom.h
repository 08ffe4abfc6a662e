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

// Mixed id filters (version 3, segment format version 26): the block filter of a block whose
// trace ids are all 32 lower-case hex digits, whose column block (segment encoding 27,
// `filtered-hex`) keeps only what the filter does not (docs/format/index.md "Ids inside their
// filters"). Each id's 16 bytes (the first 8 as "hi", big-endian) go through MixId, a keyed
// bijection of 128 bits (so that structured ids still spread), and the filter holds the top
// low_bits + high_bits bits of each distinct id's mix, ascending (two ids may share them):
//   mixed_id_filter := version(u8 = 3) keys(varint) low_bits(u8, 1..32) high_bits(u8, 0..24)
//                      directory lows highs
// as version 2, except that a fingerprint f is the top bits themselves (no scaling by keys):
// its high part f >> low_bits is below 2^high_bits, "highs" has keys + 2^high_bits bits, and
// "directory" one entry for every 64 high values after the first 64. The writer takes
// high_bits = MixedIdHighBits(keys) (the fewest bits that number every key) and
// kIdLowBitsV23 low bits. A probe asks the top 64 bits of the id's mix (MayContainId); a value
// that is not 32 lower-case hex digits is in no such block.
inline constexpr uint8_t kMixedIdFilterVersion = 3;
struct Id128 {
  uint64_t hi = 0, lo = 0;
  friend bool operator==(const Id128&, const Id128&) = default;
  friend bool operator<(const Id128& a, const Id128& b) {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
  }
};
// The 16 bytes "hex" (exactly 32 lower-case hex digits) spells; false for anything else.
bool ParseHexId(std::string_view hex, Id128* id);
// Writes "id" as 32 lower-case hex digits at "out".
void RenderHexId(const Id128& id, char* out);
Id128 MixId(const Id128& id);
Id128 UnmixId(const Id128& mixed);
// ceil(log2(keys)): 0 for at most one key.
int MixedIdHighBits(uint64_t keys);
// Writes a mixed id filter of "sorted_mixed" (the distinct ids' mixes, ascending).
void WriteMixedIdFilter(std::span<const Id128> sorted_mixed, std::string* out,
                        int low_bits = kIdLowBitsV23);

// A read-only view of a serialized filter. An unknown version or malformed size makes
// every probe answer true (a bloom may say "maybe", never a false "no").
// Version 2 (an id filter, above) is read too.
class BloomView {
 public:
  BloomView() = default;
  explicit BloomView(std::string_view serialized);
  bool MayContainHash(uint64_t hash) const;
  bool MayContain(std::string_view token) const { return MayContainHash(BloomHash(token)); }
  // The question of a value whose BloomHash is "hash" and whose mix ("mixed": null when the
  // value is not 32 lower-case hex digits) a mixed id filter holds.
  // A filter that does not parse answers "maybe", a mixed one too (session 24, review23
  // MEDIUM-2: it answered "no", and `trace_id=X` lost the row).
  bool MayContainId(uint64_t hash, const Id128* mixed) const {
    if (!valid_) return true;
    if (!mixed_) return MayContainHash(hash);
    return mixed != nullptr && IdFilterMayContain(mixed->hi);
  }
  bool valid() const { return valid_; }
  size_t num_blocks() const { return num_blocks_; }

  // A mixed id filter (version 3) that checked: what a filtered-hex column block reads.
  bool mixed() const { return mixed_ && valid_; }
  uint64_t keys() const { return keys_; }
  // low_bits + high_bits: the top bits of each mix the filter holds.
  int fingerprint_bits() const { return low_bits_ + high_bits_; }
  // The fingerprint of key "rank" (below keys()); false when the filter's bits do not hold it.
  bool FingerprintAt(uint64_t rank, uint64_t* fingerprint) const;
  // Every key's fingerprint, ascending, into "*out"; false when the bits do not add up.
  bool AllFingerprints(std::vector<uint64_t>* out) const;
  // The keys [*first, *end) whose fingerprint is "fingerprint" (an empty range when none).
  void FindFingerprint(uint64_t fingerprint, uint64_t* first, uint64_t* end) const;

 private:
  bool IdFilterMayContain(uint64_t hash) const;
  // The value "hash" maps to (v2: scaled by keys; v3: its top bits).
  uint64_t IdValueOf(uint64_t hash) const;
  // The first key whose high part is "high" or more, and the bit of "highs" after the zeros of
  // the high values below it; false when the bits run out.
  bool RunOf(uint64_t high, uint64_t* key, uint64_t* bit) const;

  const char* blocks_ = nullptr;
  size_t num_blocks_ = 0;
  bool valid_ = false;
  // An id filter (version 2): its sections, each bounds-checked when the view is made.
  bool id_filter_ = false;
  uint64_t keys_ = 0;
  int low_bits_ = 0;
  int high_bits_ = 0;   // (version 3)
  bool mixed_ = false;  // version 3
  int directory_width_ = 0;
  std::string_view directory_, lows_, highs_;
};

}  // namespace sawmill::index
