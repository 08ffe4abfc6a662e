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

// True for a word without an ASCII digit: letters and bytes >= 0x80 only ("accountname",
// "refused"). The word postings post such words from one row on in large segments
// (WordPostingsRule::letter_words_above_rows): they are what a person searches for, while the
// near-unique words of a log (ids, hashes, hex, times) almost all hold a digit.
inline bool IsLetterWord(std::string_view word) {
  for (char c : word) {
    if (c >= '0' && c <= '9') return false;
  }
  return true;
}

// Calls fn(std::string_view word) for each word of "text" as index/tokenizer.h splits and folds
// them, in order, without allocating per call: a word without upper-case ASCII is a view into
// "text", any other is folded into "*scratch" (reused between calls). The view is valid only
// during the call. The one split of the write path: the message blooms (AppendWordHashes) and
// the word postings (word_postings_kind.cc) both read a message's words through it, once per
// block (BlockWords below).
template <typename Fn>
inline void ForEachFoldedWord(std::string_view text, std::string* scratch, Fn&& fn) {
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
    fn(word);
  }
}

// Appends BloomHash(word) for each word of "text" to "*out" (numbers too only when
// "with_numbers"). "*scratch" is reused between calls to hold a lower-cased word.
inline void AppendWordHashes(std::string_view text, std::string* scratch,
                             std::vector<uint64_t>* out, bool with_numbers = true) {
  ForEachFoldedWord(text, scratch, [&](std::string_view word) {
    if (!with_numbers && IsNumberWord(word)) return;
    out->push_back(BloomHash(word));
  });
}

// The words of the messages of one row block, split, folded and hashed once for every index kind
// that reads them (the message blooms and the word postings): the segment writer fills it
// before it hands the block to the builders (BuildOptions::block_words).
struct BlockWords {
  // Words of row r: [row_begin[r], row_begin[r + 1]).
  std::vector<uint32_t> row_begin;
  std::vector<std::string_view> words;  // folded; views into the rows' messages or into folded
  std::vector<uint64_t> hashes;         // BloomHash(words[i])
  std::vector<uint8_t> numbers;         // IsNumberWord(words[i])
  std::string folded;                   // the folded copies; never reallocated while filled

  // Splits the messages of rows [0, count). The rows must outlive the next Fill.
  template <typename RecordT>
  void Fill(const RecordT* rows, uint32_t count) {
    row_begin.clear();
    words.clear();
    hashes.clear();
    numbers.clear();
    folded.clear();
    size_t bytes = 0;
    for (uint32_t r = 0; r < count; ++r) bytes += rows[r].message.size();
    // A folded word is a copy of message bytes, so the buffer never needs more: views into it
    // stay valid.
    if (folded.capacity() < bytes) folded.reserve(bytes);
    std::string scratch;
    for (uint32_t r = 0; r < count; ++r) {
      row_begin.push_back(static_cast<uint32_t>(words.size()));
      const std::string_view text = rows[r].message;
      ForEachFoldedWord(text, &scratch, [&](std::string_view word) {
        if (word.data() == scratch.data()) {
          size_t at = folded.size();
          folded.append(word);
          word = std::string_view(folded).substr(at, word.size());
        }
        words.push_back(word);
        hashes.push_back(BloomHash(word));
        numbers.push_back(IsNumberWord(word) ? 1 : 0);
      });
    }
    row_begin.push_back(static_cast<uint32_t>(words.size()));
  }
};

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
