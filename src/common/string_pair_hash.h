#ifndef SAWMILL_COMMON_STRING_PAIR_HASH_H_
#define SAWMILL_COMMON_STRING_PAIR_HASH_H_

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>

namespace sawmill {

// Hash of a pair of string views, for maps keyed by (service, host) without copying the names
// (the segment writer's row sort and the memtable chunks' source groups).
struct StringViewPairHash {
  size_t operator()(const std::pair<std::string_view, std::string_view>& p) const {
    return std::hash<std::string_view>()(p.first) * 31 + std::hash<std::string_view>()(p.second);
  }
};

}  // namespace sawmill

#endif  // SAWMILL_COMMON_STRING_PAIR_HASH_H_
