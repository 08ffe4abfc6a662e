#include "common/hash.h"

#include <xxhash.h>

namespace sawmill {

uint64_t Hash64(std::string_view data, uint64_t seed) {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

uint32_t PartitionOf(std::string_view service, std::string_view host, uint32_t partitions) {
  if (partitions <= 1) return 0;
  uint64_t h = Hash64(service, 0x5a5a);
  h = Hash64(host, h);
  return static_cast<uint32_t>(h % partitions);
}

}  // namespace sawmill
