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

// True for number-like words: ASCII digits, optionally followed by at most three ASCII
// letters (a unit or zone: "10ms", "066s", "0513221z" from "18.0513221Z"). Message blooms
// leave them out: on the real datasets they are almost all of the distinct words (times,
// ports, pids, counters) and so of the bloom bytes, while a search for a bare number is rare
// and rarely selective. For such a word a message bloom always answers "maybe"
// (docs/format/index.md). Expects a folded word (no upper-case ASCII).
inline bool IsNumberWord(std::string_view word) {
  size_t digits = 0;
  while (digits < word.size() && word[digits] >= '0' && word[digits] <= '9') ++digits;
  if (digits == 0) return false;
  size_t letters = word.size() - digits;
  if (letters > 3) return false;
  for (size_t i = digits; i < word.size(); ++i) {
    if (word[i] < 'a' || word[i] > 'z') return false;
  }
  return true;
}

// Appends BloomHash(word) for each word of "text" to "*out" (numbers too only when
// "with_numbers"). "*scratch" is reused between calls to hold a lower-cased word.
inline void AppendWordHashes(std::string_view text, std::string* scratch,
                             std::vector<uint64_t>* out, bool with_numbers = true) {
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
    if (!with_numbers && IsNumberWord(word)) continue;
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
