// Whole-value glob matching: '*' matches any run of bytes (possibly empty), every other byte
// itself. One implementation for the query language's `field=val*` (query/evaluator) and the
// retention's service patterns (storage/retention), which may not include each other's layer.
#pragma once

#include <string_view>

namespace sawmill {

// "pattern" against the whole of "text". Greedy with backtracking to the last '*': linear in
// practice, O(text x pattern) at worst.
bool GlobMatch(std::string_view text, std::string_view pattern);

}  // namespace sawmill
