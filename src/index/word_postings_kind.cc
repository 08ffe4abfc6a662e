// Index kind "word_postings": the full-text inverted index of the message, word -> the rows whose
// message holds it, with the words of index/tokenizer.h (the query language's bare word and
// phrase use the same split and fold, so a word's postings are exactly the rows `word` matches).
// A rare word's `| count` is then its postings' cardinality, and its newest hits read only the
// blocks its postings name, where the blooms (bloom_kind.cc) can only rule blocks out.
//
// Which words are posted is a rule (WordPostingsRule, chosen by measurement: docs/format/index.md
// "Word postings") stored in the block itself, so a reader knows whether a word it does not find
// is absent (no row holds it) or was only left out (it then answers "cannot tell").
//
// Serialized block, version 1 (integers are varints; postings as in inverted_index.h):
//   word_postings := min_rows flags rows posted_count entry* unposted_count word(lp)*
//   entry         := word(lp) postings(lp)
// min_rows: words in fewer rows are not posted. flags bit 0: number words
// (IsNumberWord) are posted. "rows" is the segment's row count. Entries and unposted words are
// sorted by their bytes; unposted words are those above the rule's row limit, listed only when
// min_rows is 1 (otherwise a word not found is "cannot tell" anyway); words below min_rows and
// unposted numbers are not listed.
// Written from segment format version 3 (the kind_index directory); a segment without the
// block answers the same queries through the blooms and by reading blocks.
#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>

#include "common/coding.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"
#include "index/word_hash.h"

namespace sawmill::index {

namespace {

constexpr uint32_t kVersion = 1;
constexpr uint64_t kFlagNumbers = 1;
// Distinct words a builder tracks per segment (bounded memory, about 150 bytes each); words met
// after that are not posted, and the block then says "cannot tell" for a word it lacks.
constexpr size_t kMaxWords = 1 << 20;

bool Answers(const FieldPredicate& p) {
  return p.op == FieldPredicate::Op::kWord && p.builtin && p.field == "message";
}

// A word with its hash (BloomHash, computed once per word of a block: BlockWords).
struct HashedWord {
  std::string_view word;
  uint64_t hash;
  bool operator==(const HashedWord& o) const { return word == o.word; }
};
struct HashOfWord {
  size_t operator()(const HashedWord& w) const { return static_cast<size_t>(w.hash); }
};

class WordPostingsBuilder final : public IndexBuilder {
 public:
  explicit WordPostingsBuilder(const BuildOptions& options)
      : rule_(options.words), block_words_(options.block_words) {
    for (const IndexedField& f : options.indexed) enabled_ = enabled_ || f.message_words;
  }

  void AddBlock(const Record* rows, uint32_t count) override {
    if (enabled_ && block_words_ != nullptr) {
      // The block's words, split and hashed once for every kind (the blooms read them too).
      const BlockWords& w = *block_words_;
      for (uint32_t row = 0; row < count; ++row) {
        for (uint32_t i = w.row_begin[row]; i < w.row_begin[row + 1]; ++i) {
          if (!rule_.numbers && w.numbers[i] != 0) continue;
          Add(w.words[i], w.hashes[i], rows_ + row);
        }
      }
    } else if (enabled_) {
      for (uint32_t row = 0; row < count; ++row) {
        ForEachFoldedWord(rows[row].message, &scratch_, [&](std::string_view word) {
          if (!rule_.numbers && IsNumberWord(word)) return;
          Add(word, BloomHash(word), rows_ + row);
        });
      }
    }
    rows_ += count;
  }

  void Finish(std::vector<IndexPart>* parts) override {
    if (!enabled_ || rows_ == 0) return;
    std::vector<const Entry*> sorted;
    sorted.reserve(entries_.size());
    for (const Entry& e : entries_) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry* a, const Entry* b) { return a->word < b->word; });
    const uint64_t max_rows =
        rule_.max_fraction >= 1.0
            ? UINT64_MAX
            : std::max<uint64_t>(rule_.max_rows_floor,
                                 static_cast<uint64_t>(
                                     std::floor(rule_.max_fraction * static_cast<double>(rows_))));
    uint32_t min_rows =
        rows_ <= rule_.small_segment_rows ? 1 : std::max<uint32_t>(1, rule_.min_rows);
    // Words were dropped at the cap: a word not found may be one of them.
    if (capped_) min_rows = std::max<uint32_t>(min_rows, 2);
    std::vector<const Entry*> posted, unposted;
    for (const Entry* e : sorted) {
      if (!rule_.numbers && IsNumberWord(e->word)) continue;
      if (e->rows < min_rows) continue;
      if (e->rows <= max_rows) {
        posted.push_back(e);
      } else if (min_rows <= 1) {
        // Listed so that "not found" still proves absence; with min_rows > 1 it cannot anyway.
        unposted.push_back(e);
      }
    }
    IndexPart part;
    part.count = posted.size();
    std::string& out = part.blobs.emplace_back();
    PutVarint32(&out, min_rows);
    PutVarint64(&out, rule_.numbers ? kFlagNumbers : 0);
    PutVarint64(&out, rows_);
    PutVarint64(&out, posted.size());
    std::string runs;
    for (const Entry* e : posted) {
      PutLengthPrefixed(&out, e->word);
      runs = e->runs;
      PutVarint32(&runs, e->run_start - e->prev_end);
      PutVarint32(&runs, e->run_end - e->run_start - 1);
      PutLengthPrefixed(&out, runs);
    }
    PutVarint64(&out, unposted.size());
    for (const Entry* e : unposted) PutLengthPrefixed(&out, e->word);
    parts->push_back(std::move(part));
  }

 private:
  struct Entry {
    std::string_view word;                // in arena_
    std::string runs;                     // finished runs
    uint32_t run_start = 0, run_end = 0;  // the open run [run_start, run_end)
    uint32_t prev_end = 0;                // end of the last finished run
    uint32_t rows = 0;
  };

  // Adds "word" (folded, "hash" its BloomHash) for "row".
  void Add(std::string_view word, uint64_t hash, uint32_t row) {
    auto it = by_word_.find(HashedWord{word, hash});
    if (it == by_word_.end()) {
      if (entries_.size() >= kMaxWords) {
        capped_ = true;
        return;
      }
      std::string_view stable = arena_.emplace_back(word);
      it = by_word_.emplace(HashedWord{stable, hash}, static_cast<uint32_t>(entries_.size())).first;
      Entry& e = entries_.emplace_back();
      e.word = stable;
      e.run_start = row;
      e.run_end = row + 1;
      e.rows = 1;
      return;
    }
    Entry& e = entries_[it->second];
    if (row < e.run_end) return;  // the same row again
    ++e.rows;
    if (row == e.run_end) {
      e.run_end = row + 1;
      return;
    }
    PutVarint32(&e.runs, e.run_start - e.prev_end);
    PutVarint32(&e.runs, e.run_end - e.run_start - 1);
    e.prev_end = e.run_end;
    e.run_start = row;
    e.run_end = row + 1;
  }

  WordPostingsRule rule_;
  const BlockWords* block_words_;
  bool enabled_ = false;
  bool capped_ = false;
  uint32_t rows_ = 0;
  std::string scratch_;
  std::deque<std::string> arena_;  // the distinct words; a deque never moves its elements
  std::deque<Entry> entries_;
  std::unordered_map<HashedWord, uint32_t, HashOfWord> by_word_;
};

class WordPostingsView final : public IndexView {
 public:
  // What the block says about a word.
  enum class State : uint8_t { kPosted, kAbsent, kUnknown };

  Result<std::optional<roaring::Roaring>> Rows(const FieldPredicate& p) const override {
    if (!Answers(p)) return std::optional<roaring::Roaring>();
    size_t at = 0;
    std::string folded;
    State state = Find(p.value, &folded, &at);
    if (state == State::kUnknown) return std::optional<roaring::Roaring>();
    roaring::Roaring rows;
    if (state == State::kPosted) {
      Status st = DecodePostings(postings_[at], static_cast<uint32_t>(rows_), &rows);
      if (!st.ok()) {
        return Status::DataLoss("word postings of '" + folded + "': " + st.message());
      }
      rows.runOptimize();
    }
    return std::optional<roaring::Roaring>(std::move(rows));
  }

  bool SegmentMayMatch(const FieldPredicate& p) const override {
    if (!Answers(p)) return true;
    size_t at = 0;
    std::string folded;
    return Find(p.value, &folded, &at) != State::kAbsent;
  }

  // Where "word" (as the query wrote it; folded here) stands in this block.
  State Find(std::string_view word, std::string* folded, size_t* at) const {
    folded->assign(word);
    for (char& c : *folded) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    if (!IsSingleFoldedWord(*folded)) return State::kUnknown;
    if (!numbers_ && IsNumberWord(*folded)) return State::kUnknown;
    auto it = std::lower_bound(words_.begin(), words_.end(), std::string_view(*folded));
    if (it != words_.end() && *it == *folded) {
      *at = static_cast<size_t>(it - words_.begin());
      return State::kPosted;
    }
    if (std::binary_search(unposted_.begin(), unposted_.end(), std::string_view(*folded))) {
      return State::kUnknown;
    }
    return min_rows_ <= 1 ? State::kAbsent : State::kUnknown;
  }

  static Result<std::unique_ptr<WordPostingsView>> Parse(uint32_t version, std::string data,
                                                         uint64_t segment_rows) {
    if (version != kVersion) {
      return Status::DataLoss("word_postings version " + std::to_string(version) +
                              " is not readable by this build");
    }
    auto view = std::make_unique<WordPostingsView>();
    view->data_ = std::move(data);
    std::string_view in(view->data_);
    uint64_t flags, posted;
    if (!GetVarint32(&in, &view->min_rows_) || !GetVarint64(&in, &flags) ||
        !GetVarint64(&in, &view->rows_) || !GetVarint64(&in, &posted) || posted > in.size()) {
      return Status::DataLoss("word_postings: bad header");
    }
    if (view->rows_ > UINT32_MAX || (segment_rows != 0 && view->rows_ != segment_rows)) {
      return Status::DataLoss("word_postings: made for " + std::to_string(view->rows_) +
                              " rows, the segment has " + std::to_string(segment_rows));
    }
    view->numbers_ = (flags & kFlagNumbers) != 0;
    view->words_.reserve(posted);
    view->postings_.reserve(posted);
    for (uint64_t i = 0; i < posted; ++i) {
      std::string_view word, postings;
      if (!GetLengthPrefixed(&in, &word) || !GetLengthPrefixed(&in, &postings)) {
        return Status::DataLoss("word_postings: entry " + std::to_string(i) + " is truncated");
      }
      if (!view->words_.empty() && !(view->words_.back() < word)) {
        return Status::DataLoss("word_postings: words out of order at entry " + std::to_string(i));
      }
      view->words_.push_back(word);
      view->postings_.push_back(postings);
    }
    uint64_t unposted;
    if (!GetVarint64(&in, &unposted) || unposted > in.size()) {
      return Status::DataLoss("word_postings: bad unposted word count");
    }
    for (uint64_t i = 0; i < unposted; ++i) {
      std::string_view word;
      if (!GetLengthPrefixed(&in, &word) ||
          (!view->unposted_.empty() && !(view->unposted_.back() < word))) {
        return Status::DataLoss("word_postings: bad unposted word " + std::to_string(i));
      }
      view->unposted_.push_back(word);
    }
    if (!in.empty()) return Status::DataLoss("word_postings: trailing bytes");
    return view;
  }

 private:
  std::string data_;
  uint32_t min_rows_ = 1;
  bool numbers_ = true;
  uint64_t rows_ = 0;
  std::vector<std::string_view> words_;     // posted, sorted
  std::vector<std::string_view> postings_;  // of words_[i]
  std::vector<std::string_view> unposted_;  // frequent words without postings, sorted
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& options) {
  return std::make_unique<WordPostingsBuilder>(options);
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  if (source->parts().size() != 1) return Status::DataLoss("word_postings: not one block");
  std::string raw;
  RETURN_IF_ERROR(source->Read(0, 0, &raw));
  ASSIGN_OR_RETURN(
      std::unique_ptr<WordPostingsView> view,
      WordPostingsView::Parse(source->parts()[0].version, std::move(raw), source->row_count()));
  return std::unique_ptr<IndexView>(std::move(view));
}

}  // namespace

extern const IndexKind kWordPostingsKind;
const IndexKind kWordPostingsKind{
    "word_postings", kVersion, IndexLayout::kKindBlock, true, &Answers, &NewBuilder, &Open};

}  // namespace sawmill::index
