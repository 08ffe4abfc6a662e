// CONTRACT: the words of a message, shared by the index builder (blooms) and the query engine
// (word and phrase search), so both sides always agree.
//
// A word is a maximal run of ASCII letters and digits and of bytes >= 0x80 (so UTF-8 text stays
// whole); every other byte separates words. ASCII letters are folded to lower case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sawmill::index {

// Calls fn(std::string_view word) for each word in order. The view is valid only during the
// call (it points into a buffer holding the lower-cased word).
template <typename Fn>
void ForEachWord(std::string_view text, Fn&& fn);

std::vector<std::string> Tokenize(std::string_view text);

inline bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

template <typename Fn>
void ForEachWord(std::string_view text, Fn&& fn) {
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    unsigned char c = i < text.size() ? static_cast<unsigned char>(text[i]) : 0;
    if (i < text.size() && IsWordByte(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
    } else if (!word.empty()) {
      fn(std::string_view(word));
      word.clear();
    }
  }
}

inline std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> out;
  ForEachWord(text, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

}  // namespace sawmill::index
