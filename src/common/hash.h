// 64-bit hashing (XXH3) for blooms, partitioning and cache keys.
#pragma once

#include <cstdint>
#include <string_view>

namespace sawmill {

uint64_t Hash64(std::string_view data, uint64_t seed = 0);

// Partition of a (service, host) pair among "partitions" memtables / segment streams.
uint32_t PartitionOf(std::string_view service, std::string_view host, uint32_t partitions);

}  // namespace sawmill
