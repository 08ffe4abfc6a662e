#include "index/bloom.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/hash.h"

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

}  // namespace

uint64_t BloomHash(std::string_view token) { return Hash64(token, 0x5eed5a11ULL); }

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
  if (serialized.empty() || static_cast<uint8_t>(serialized[0]) != kBloomVersion) return;
  serialized.remove_prefix(1);
  if (serialized.size() % kBlockBytes != 0) return;
  blocks_ = serialized.data();
  num_blocks_ = serialized.size() / kBlockBytes;
  valid_ = true;
}

bool BloomView::MayContainHash(uint64_t hash) const {
  if (!valid_) return true;
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
