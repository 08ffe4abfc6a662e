// Hashes of the words of a text, exactly as index/tokenizer.h splits and folds them, without
// allocating per call: the builders of message blooms use this on every row.
#pragma once

#include <cstdint>
#include <cstring>
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

// Per byte value: bit 0 IsWordByte, bit 1 upper-case ASCII (a table: one load per byte of every
// message a flush writes instead of four comparisons).
inline const uint8_t* WordByteKinds() {
  static const struct Table {
    uint8_t kind[256];
    Table() {
      for (int c = 0; c < 256; ++c) {
        kind[c] = static_cast<uint8_t>((IsWordByte(static_cast<unsigned char>(c)) ? 1 : 0) |
                                       (c >= 'A' && c <= 'Z' ? 2 : 0));
      }
    }
  } table;
  return table.kind;
}

// Calls fn(std::string_view word) for each word of "text" as index/tokenizer.h splits and folds
// them, in order, without allocating per call: a word without upper-case ASCII is a view into
// "text", any other is folded into "*scratch" (reused between calls). The view is valid only
// during the call. The one split of the write path: the message blooms (bloom_kind.cc) and
// the word postings (word_postings_kind.cc) both read a message's words through it, once per
// block (BlockWords below).
template <typename Fn>
inline void ForEachFoldedWord(std::string_view text, std::string* scratch, Fn&& fn) {
  const uint8_t* kind = WordByteKinds();
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && (kind[static_cast<unsigned char>(text[i])] & 1) == 0) ++i;
    size_t start = i;
    uint8_t seen = 0;  // the kinds of the word's bytes together
    while (i < n) {
      const uint8_t k = kind[static_cast<unsigned char>(text[i])];
      if ((k & 1) == 0) break;
      seen |= k;
      ++i;
    }
    const bool upper = (seen & 2) != 0;
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

// The words of the messages of one row block, split, folded and hashed once for every index kind
// that reads them (the message blooms and the word postings): the segment writer fills it
// before it hands the block to the builders (BuildOptions::block_words). Each distinct word of
// the block is kept once, so that the word postings look a word up in the segment's table once
// per block rather than once per occurrence, and the blooms take the block's distinct keys as
// they are instead of sorting every occurrence's hash (docs/performance.md "Session 15: flush
// CPU and ack p99").
struct BlockWords {
  // Words of row r, in order: occurrences [row_begin[r], row_begin[r + 1]); occurrence i is the
  // distinct word ids[i].
  std::vector<uint32_t> row_begin;
  std::vector<uint32_t> ids;
  // The block's distinct words (by their bytes), in the order of their first occurrence.
  std::vector<std::string_view> words;  // folded; views into the rows' messages or into folded
  std::vector<uint64_t> hashes;         // BloomHash(words[d])
  std::vector<uint8_t> numbers;         // IsNumberWord(words[d])
  // The distinct hashes of the distinct words that are not numbers, in no particular order: the
  // block's keys of a message bloom (two words of one hash give it once).
  std::vector<uint64_t> bloom_hashes;
  std::string folded;  // the folded copies; never reallocated while filled

  // Splits the messages of rows [0, count). The rows must outlive the next Fill.
  template <typename RecordT>
  void Fill(const RecordT* rows, uint32_t count) {
    row_begin.clear();
    ids.clear();
    words.clear();
    hashes.clear();
    numbers.clear();
    bloom_hashes.clear();
    folded.clear();
    size_t bytes = 0;
    for (uint32_t r = 0; r < count; ++r) bytes += rows[r].message.size();
    // A folded word is a copy of message bytes, so the buffer never needs more: views into it
    // stay valid.
    if (folded.capacity() < bytes) folded.reserve(bytes);
    // At most half full; sized from the block before (blocks of one segment are alike).
    size_t size = 1 << 10;
    while (size < last_distinct_ * 2) size *= 2;
    table_.assign(size, Slot{});
    for (uint32_t r = 0; r < count; ++r) {
      row_begin.push_back(static_cast<uint32_t>(ids.size()));
      ForEachFoldedWord(rows[r].message, &scratch_, [&](std::string_view word) {
        Add(word, /*in_scratch=*/word.data() == scratch_.data());
      });
    }
    row_begin.push_back(static_cast<uint32_t>(ids.size()));
    last_distinct_ = words.size();
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = 0;  // 1 + the word's index in words; 0: empty
  };

  // One occurrence of "word": a view into a row's message, or (in_scratch) into the folding
  // scratch, copied into "folded" when the word is new.
  void Add(std::string_view word, bool in_scratch) {
    const uint64_t hash = BloomHash(word);
    size_t mask = table_.size() - 1;
    size_t slot = static_cast<size_t>(hash) & mask;
    bool hash_kept = false;  // a word of this hash already gave it to bloom_hashes
    while (table_[slot].id != 0) {
      const Slot& s = table_[slot];
      if (s.hash == hash) {
        if (SameBytes(words[s.id - 1], word)) {
          ids.push_back(s.id - 1);
          return;
        }
        hash_kept = hash_kept || numbers[s.id - 1] == 0;
      }
      slot = (slot + 1) & mask;
    }
    if (in_scratch) {
      const size_t at = folded.size();
      folded.append(word);
      word = std::string_view(folded).substr(at, word.size());
    }
    const bool number = IsNumberWord(word);
    ids.push_back(static_cast<uint32_t>(words.size()));
    words.push_back(word);
    hashes.push_back(hash);
    numbers.push_back(number ? 1 : 0);
    if (!number && !hash_kept) bloom_hashes.push_back(hash);
    table_[slot] = Slot{hash, static_cast<uint32_t>(words.size())};
    if (words.size() * 2 > table_.size()) {
      std::vector<Slot> old = std::move(table_);
      table_.assign(old.size() * 2, Slot{});
      mask = table_.size() - 1;
      for (const Slot& o : old) {
        if (o.id == 0) continue;
        size_t at = static_cast<size_t>(o.hash) & mask;
        while (table_[at].id != 0) at = (at + 1) & mask;
        table_[at] = o;
      }
    }
  }

  // a == b, inline: the words are short and almost always equal here (their hashes are), where
  // a call of memcmp per occurrence was a tenth of the block's split.
  static bool SameBytes(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    const char* p = a.data();
    const char* q = b.data();
    size_t n = a.size();
    for (; n >= 8; n -= 8, p += 8, q += 8) {
      uint64_t x, y;
      std::memcpy(&x, p, 8);
      std::memcpy(&y, q, 8);
      if (x != y) return false;
    }
    for (; n > 0; --n, ++p, ++q) {
      if (*p != *q) return false;
    }
    return true;
  }

  std::vector<Slot> table_;  // the block's distinct words by hash, open addressing
  std::string scratch_;      // ForEachFoldedWord's, kept between blocks
  size_t last_distinct_ = 0;
};

// The words of the block of rows [0, count) for a kind that reads them: "given" (the writer's,
// BuildOptions::block_words) when set, else "*own" filled here (a caller that split nothing, as
// the kinds' own tests). The kinds read message words this one way.
template <typename RecordT>
const BlockWords& BlockWordsOf(const BlockWords* given, BlockWords* own, const RecordT* rows,
                               uint32_t count) {
  if (given != nullptr) return *given;
  own->Fill(rows, count);
  return *own;
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
