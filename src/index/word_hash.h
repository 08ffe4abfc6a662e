// Hashes of the words of a text, exactly as index/tokenizer.h splits and folds them, without
// allocating per call: the builders of message blooms use this on every row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/bloom.h"
#include "index/tokenizer.h"

namespace sawmill::index {

// Appends BloomHash(word) for each word of "text" to "*out". "*scratch" is reused between
// calls to hold a lower-cased word.
inline void AppendWordHashes(std::string_view text, std::string* scratch,
                             std::vector<uint64_t>* out) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    bool upper = false;
    while (i < n && IsWordByte(static_cast<unsigned char>(text[i]))) {
      upper |= text[i] >= 'A' && text[i] <= 'Z';
      ++i;
    }
    if (i == start) break;
    std::string_view word = text.substr(start, i - start);
    if (upper) {
      scratch->assign(word);
      for (char& c : *scratch) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      word = *scratch;
    }
    out->push_back(BloomHash(word));
  }
}

// True when "token" is one word as the tokenizer produces it (non-empty, only word bytes,
// no upper-case ASCII).
inline bool IsSingleFoldedWord(std::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    auto u = static_cast<unsigned char>(c);
    if (!IsWordByte(u) || (u >= 'A' && u <= 'Z')) return false;
  }
  return true;
}

}  // namespace sawmill::index
