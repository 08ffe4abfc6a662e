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

void WriteBloom(const std::vector<uint64_t>& hashes, std::string* out) {
  out->push_back(static_cast<char>(kBloomVersion));
  if (hashes.empty()) return;
  size_t bits = static_cast<size_t>(std::ceil(static_cast<double>(hashes.size()) * kBitsPerKey));
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

void BloomBuilder::TakeDistinct(std::vector<uint64_t>* out) {
  std::sort(hashes_.begin(), hashes_.end());
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
  out->assign(hashes_.begin(), hashes_.end());
  hashes_.clear();
}

void BloomBuilder::Finish(std::string* out, size_t* distinct_out) {
  std::sort(hashes_.begin(), hashes_.end());
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
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
