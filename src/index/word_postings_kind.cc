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
// Serialized block (integers are varints; postings as in inverted_index.h), version 1:
//   word_postings := min_rows flags rows posted_count entry* unposted_count word(lp)*
//   entry         := word(lp) postings(lp)
// version 2 (the same content, as columns):
//   word_postings := min_rows flags rows posted_count unposted_count
//                    words(posted_count) run_count[posted_count] gap[runs] length_minus_1[runs]
//                    words(unposted_count)
//   words(n)      := shared[n] (suffix '\n')[n]
// version 3 (written since issue 19's counts; version 2 and the rows of the unposted words in
// each row block):
//   word_postings := <version 2> block_count row_count[unposted_count x block_count]
// The row counts are word by word, each word's in block order: how many rows of each block hold
// the word. So `word | count` of a word too frequent to post is the sum of its counts over the
// blocks inside the query's time range; only blocks the range cuts are read.
// A word of version 2 is the first "shared" bytes of the word before it followed by its suffix
// (front coding: sorted words share long prefixes; no word holds a newline, tokenizer.h), and
// each word's runs are the next run_count of the gap and of the length column. Words, gaps and
// lengths each predict their own kind of bytes, so zstd compresses the columns 15-20 % smaller
// than the entries word by word (docs/format/index.md "Word postings").
// min_rows: words in fewer rows are not posted. flags bit 0: number words
// (IsNumberWord) are posted; bit 1: words without a digit (IsLetterWord) are posted from one row
// on whatever min_rows (WordPostingsRule::letter_words_above_rows), so such a word not found is
// in no row. "rows" is the segment's row count. Entries and unposted words are sorted by their
// bytes; unposted words are those above the rule's row limit, listed (up to version 2) only when
// min_rows is 1 or bit 1 is set (otherwise a word not found is "cannot tell" anyway), always
// from version 3 (they carry their row counts); words below min_rows and unposted numbers are not
// listed. Builds before bit 1 ignore it: they answer the posted words and "cannot tell" for the
// rest, as for any block with min_rows above 1.
// Written from segment format version 3 (the kind_index directory); a segment without the
// block answers the same queries through the blooms and by reading blocks, and so does a build
// that knows only version 1 (the reader leaves out a kind block of a newer version).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <deque>
#include <iterator>
#include <vector>

#include "common/coding.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"
#include "index/word_hash.h"

namespace sawmill::index {

namespace {

constexpr uint32_t kVersion = 3;  // written by default; 1 and 2 are still read and can be written
constexpr uint64_t kFlagNumbers = 1;
constexpr uint64_t kFlagLetterWords = 2;
// Version 2's words spelt out are at most this many times the block's bytes. Front coding lets
// a word repeat all of the word before it, so a crafted block could otherwise spell out the
// square of its size (n words each one byte longer than the last); the writer shares fewer
// bytes where a list would pass the bound (PutWords), so every block it writes opens.
constexpr uint64_t kMaxSpeltPerByte = 16;
// Distinct words a builder tracks per segment (bounded memory, about 150 bytes each); words met
// after that are not posted, and the block then says "cannot tell" for a word it lacks.
constexpr size_t kMaxWords = 1 << 20;

bool Answers(const FieldPredicate& p) {
  return p.op == FieldPredicate::Op::kWord && p.builtin && p.field == "message";
}

class WordPostingsBuilder final : public IndexBuilder {
 public:
  explicit WordPostingsBuilder(const BuildOptions& options)
      : rule_(options.words),
        version_(options.word_postings_version == 1 || options.word_postings_version == 2
                     ? options.word_postings_version
                     : kVersion),
        block_words_(options.block_words),
        decided_words_(options.decided_words) {
    for (const IndexedField& f : options.indexed) enabled_ = enabled_ || f.message_words;
  }

  void AddBlock(const Record* rows, uint32_t count) override {
    if (enabled_) {
      // The block's words, split and hashed once for every kind (the blooms read them too);
      // each distinct word is looked up in the segment's table once, at its first occurrence.
      const BlockWords& w = BlockWordsOf(block_words_, &own_words_, rows, count);
      entry_of_.assign(w.words.size(), kUnresolved);
      for (uint32_t row = 0; row < count; ++row) {
        for (uint32_t i = w.row_begin[row]; i < w.row_begin[row + 1]; ++i) {
          const uint32_t d = w.ids[i];
          if (!rule_.numbers && w.numbers[d] != 0) continue;
          uint32_t& entry = entry_of_[d];
          bool created = false;
          if (entry == kUnresolved) entry = EntryOf(w.words[d], w.hashes[d], rows_ + row, &created);
          if (entry != kCapped && !created) AddRow(&entries_[entry], rows_ + row);
        }
      }
    }
    rows_ += count;
    block_ends_.push_back(rows_);
  }

  void Finish(std::vector<IndexPart>* parts) override {
    if (!enabled_ || rows_ == 0) return;
    std::vector<Entry*> sorted;
    sorted.reserve(entries_.size());
    for (Entry& e : entries_) sorted.push_back(&e);
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
    // Words without a digit from one row on in a large segment (flag bit 1): not when the cap
    // dropped words (one of them may have been such a word).
    const bool letters = !capped_ && min_rows > 1 && rows_ > rule_.letter_words_above_rows;
    // The counts per block (version 3) only in segments above the rule's size.
    const uint32_t version = version_ >= 3 && rows_ <= rule_.counts_above_rows ? 2 : version_;
    std::vector<const Entry*> posted, unposted;
    for (Entry* e : sorted) {
      if (!rule_.numbers && IsNumberWord(e->word)) continue;
      if (e->rows < min_rows && !(letters && IsLetterWord(e->word))) continue;
      if (e->rows <= max_rows) {
        posted.push_back(e);
        e->decided = true;
      } else if (min_rows <= 1 || letters || version >= 3) {
        // Listed so that "not found" still proves absence (with min_rows > 1 and no flag bit 1
        // it cannot anyway), and from version 3 with its rows in each block.
        unposted.push_back(e);
        e->decided = version >= 3;  // its rows in each block answer any block
      }
    }
    FillDecided();
    IndexPart part;
    part.count = posted.size();
    part.version = version;
    std::string& out = part.blobs.emplace_back();
    PutVarint32(&out, min_rows);
    PutVarint64(&out, (rule_.numbers ? kFlagNumbers : 0) | (letters ? kFlagLetterWords : 0));
    PutVarint64(&out, rows_);
    PutVarint64(&out, posted.size());
    if (version == 1) {
      std::string runs;
      for (const Entry* e : posted) {
        PutLengthPrefixed(&out, e->word);
        runs.clear();
        ForEachRun(*e, [&](uint32_t gap, uint32_t length_minus_1) {
          PutVarint32(&runs, gap);
          PutVarint32(&runs, length_minus_1);
        });
        PutLengthPrefixed(&out, runs);
      }
      PutVarint64(&out, unposted.size());
      for (const Entry* e : unposted) PutLengthPrefixed(&out, e->word);
    } else {
      PutVarint64(&out, unposted.size());
      PutWords(posted, &out);
      std::string gaps, lengths;
      for (const Entry* e : posted) {
        uint32_t runs = 0;
        ForEachRun(*e, [&](uint32_t gap, uint32_t length_minus_1) {
          PutVarint32(&gaps, gap);
          PutVarint32(&lengths, length_minus_1);
          ++runs;
        });
        PutVarint32(&out, runs);
      }
      out += gaps;
      out += lengths;
      PutWords(unposted, &out);
      if (version >= 3) PutBlockCounts(unposted, &out);
    }
    parts->push_back(std::move(part));
  }

 private:
  struct Entry {
    std::string_view word;                // in arena_
    std::string runs;                     // finished runs
    uint32_t run_start = 0, run_end = 0;  // the open run [run_start, run_end)
    uint32_t prev_end = 0;                // end of the last finished run
    uint32_t rows = 0;
    bool decided = false;  // posted, or counted in each block (DecidedWords)
  };

  // The hashes of the words this block decides (BuildOptions::decided_words), less any hash a
  // word it does not decide shares: the blooms leave them out. Not when words were dropped at
  // the cap (one of them may share a decided word's hash).
  void FillDecided() {
    if (decided_words_ == nullptr || capped_) return;
    std::vector<uint64_t> decided, undecided;
    for (const Slot& s : slots_) {
      if (s.entry == 0) continue;
      (entries_[s.entry - 1].decided ? decided : undecided).push_back(s.hash);
    }
    std::sort(decided.begin(), decided.end());
    decided.erase(std::unique(decided.begin(), decided.end()), decided.end());
    std::sort(undecided.begin(), undecided.end());
    decided_words_->hashes.clear();
    std::set_difference(decided.begin(), decided.end(), undecided.begin(), undecided.end(),
                        std::back_inserter(decided_words_->hashes));
    decided_words_->filled = true;
  }

  // Calls fn(gap, length_minus_1) for each run of "e"'s rows: the finished runs, then the open one.
  template <class Fn>
  static void ForEachRun(const Entry& e, Fn fn) {
    std::string_view finished(e.runs);
    uint32_t gap = 0, length_minus_1 = 0;
    while (GetVarint32(&finished, &gap) && GetVarint32(&finished, &length_minus_1)) {
      fn(gap, length_minus_1);
    }
    fn(e.run_start - e.prev_end, e.run_end - e.run_start - 1);
  }

  // Version 2's words(n): each word's bytes shared with the word before it, then each word's
  // suffix ended by a newline (no word holds one: tokenizer.h). "entries" are sorted by word.
  // A word shares nothing when sharing would spell out more than kMaxSpeltPerByte times the
  // list's bytes so far (only lists of long words that differ at their ends come near it).
  static void PutWords(const std::vector<const Entry*>& entries, std::string* out) {
    std::string suffixes;
    std::string_view prev;
    uint64_t spelt = 0, encoded = 0;  // of the words so far: spelt out, and as written
    for (const Entry* e : entries) {
      const std::string_view word = e->word;
      const size_t limit = std::min(prev.size(), word.size());
      size_t shared = 0;
      while (shared < limit && prev[shared] == word[shared]) ++shared;
      auto bytes = [&](size_t s) { return encoded + VarintLength(s) + (word.size() - s) + 1; };
      if (spelt + word.size() > kMaxSpeltPerByte * bytes(shared)) shared = 0;
      spelt += word.size();
      encoded = bytes(shared);
      PutVarint64(out, shared);
      suffixes.append(word.substr(shared));
      suffixes.push_back('\n');
      prev = word;
    }
    out->append(suffixes);
  }

  // Version 3's block_count row_count[entries x block_count]: how many rows of each block hold
  // each word, from its runs (a run may span blocks).
  void PutBlockCounts(const std::vector<const Entry*>& entries, std::string* out) const {
    PutVarint64(out, block_ends_.size());
    std::vector<uint32_t> counts(block_ends_.size());
    for (const Entry* e : entries) {
      std::fill(counts.begin(), counts.end(), 0);
      size_t block = 0;
      uint32_t end = 0;  // of the run before
      ForEachRun(*e, [&](uint32_t gap, uint32_t length_minus_1) {
        uint32_t row = end + gap;
        end = row + length_minus_1 + 1;
        while (row < end) {
          while (block_ends_[block] <= row) ++block;
          const uint32_t stop = std::min(end, block_ends_[block]);
          counts[block] += stop - row;
          row = stop;
        }
      });
      for (uint32_t n : counts) PutVarint32(out, n);
    }
  }

  // The index in entries_ of "word" ("hash" its BloomHash); when it has none, a new entry that
  // holds "row" ("*created" set), or kCapped when the builder tracks kMaxWords words already.
  uint32_t EntryOf(std::string_view word, uint64_t hash, uint32_t row, bool* created) {
    if (slots_.empty()) Rehash(1 << 12);
    size_t slot = static_cast<size_t>(hash) & (slots_.size() - 1);
    while (slots_[slot].entry != 0 &&
           (slots_[slot].hash != hash || entries_[slots_[slot].entry - 1].word != word)) {
      slot = (slot + 1) & (slots_.size() - 1);
    }
    if (slots_[slot].entry != 0) return slots_[slot].entry - 1;
    if (entries_.size() >= kMaxWords) {
      capped_ = true;
      return kCapped;
    }
    std::string_view stable = arena_.emplace_back(word);
    Entry& e = entries_.emplace_back();
    e.word = stable;
    e.run_start = row;
    e.run_end = row + 1;
    e.rows = 1;
    const uint32_t index = static_cast<uint32_t>(entries_.size() - 1);
    slots_[slot] = Slot{hash, index + 1};
    *created = true;
    // At most half full: probes stay short.
    if (entries_.size() * 2 > slots_.size()) Rehash(slots_.size() * 2);
    return index;
  }

  // Counts "row" (not before any row counted so far) into "*e".
  static void AddRow(Entry* e, uint32_t row) {
    if (row < e->run_end) return;  // the same row again
    ++e->rows;
    if (row == e->run_end) {
      e->run_end = row + 1;
      return;
    }
    PutVarint32(&e->runs, e->run_start - e->prev_end);
    PutVarint32(&e->runs, e->run_end - e->run_start - 1);
    e->prev_end = e->run_end;
    e->run_start = row;
    e->run_end = row + 1;
  }

  static constexpr uint32_t kUnresolved = UINT32_MAX;
  static constexpr uint32_t kCapped = UINT32_MAX - 1;

  WordPostingsRule rule_;
  uint32_t version_;  // of the block written (2 in segments of at most rule_.counts_above_rows)
  const BlockWords* block_words_;  // null: split into own_words_
  BlockWords own_words_;
  DecidedWords* decided_words_;  // null: not asked (segment format before 12)
  bool enabled_ = false;
  bool capped_ = false;
  uint32_t rows_ = 0;
  std::vector<uint32_t> block_ends_;  // the row after each block added
  std::vector<uint32_t> entry_of_;    // by distinct word of the block: its entry (AddBlock)
  std::deque<std::string> arena_;     // the distinct words; a deque never moves its elements
  std::deque<Entry> entries_;
  // The words' index, open addressing by their BloomHash (an unordered_map's node per word and
  // its pointer chase were half of this builder's time in a flush).
  struct Slot {
    uint64_t hash = 0;
    uint32_t entry = 0;  // 1 + the word's index in entries_; 0: empty
  };
  std::vector<Slot> slots_;  // a power of two long

  // Moves every word into a table of "size" slots (a power of two).
  void Rehash(size_t size) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(size, Slot{});
    for (const Slot& s : old) {
      if (s.entry == 0) continue;
      size_t slot = static_cast<size_t>(s.hash) & (size - 1);
      while (slots_[slot].entry != 0) slot = (slot + 1) & (size - 1);
      slots_[slot] = s;
    }
  }
};

// Decodes version 2's postings of one word: its gaps and lengths, each "runs" varints from the
// start of "gaps" and "lengths" (the columns' rest follows). Checks as DecodePostings.
Status DecodeSplitPostings(std::string_view gaps, std::string_view lengths, uint32_t runs,
                           uint32_t max_rows, roaring::Roaring* out) {
  uint64_t pos = 0;
  for (uint32_t i = 0; i < runs; ++i) {
    uint64_t gap, length_minus_1;
    if (!GetVarint64(&gaps, &gap) || !GetVarint64(&lengths, &length_minus_1)) {
      return Status::DataLoss("truncated postings");
    }
    RETURN_IF_ERROR(AddPostingsRun(gap, length_minus_1, max_rows, &pos, out));
  }
  return Status::OK();
}

// Skips "n" varints of "*in" (a varint ends at a byte below 0x80). False when they are not
// there or one is longer than 10 bytes. Opening a block skips every gap and run length once, so
// this counts the ending bytes of 8 bytes at a time.
bool SkipVarints(std::string_view* in, uint64_t n) {
  const char* p = in->data();
  const char* const end = p + in->size();
  size_t since_end = 0;  // bytes of the varint being skipped so far
  while (n > 0) {
    if (end - p >= 8) {
      uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      const uint64_t ends = ~chunk & 0x8080808080808080ull;
      const uint64_t count = static_cast<uint64_t>(std::popcount(ends));
      // Whole chunks while they end fewer varints than are left and the varint being skipped
      // stays within 10 bytes (a chunk with no ending byte extends it).
      const size_t first_end = static_cast<size_t>(std::countr_zero(ends)) / 8;  // 8: none
      if (count < n && since_end + first_end < 10) {
        n -= count;
        since_end = count > 0 ? static_cast<size_t>(std::countl_zero(ends)) / 8 : since_end + 8;
        p += 8;
        continue;
      }
    }
    if (p == end || since_end >= 10) return false;
    ++since_end;
    if ((static_cast<uint8_t>(*p++) & 0x80) == 0) {
      --n;
      since_end = 0;
    }
  }
  in->remove_prefix(static_cast<size_t>(p - in->data()));
  return true;
}

class WordPostingsView final : public IndexView {
 public:
  // What the block says about a word: its rows; no row; listed as too frequent to post (its
  // rows per block from version 3); cannot tell.
  enum class State : uint8_t { kPosted, kAbsent, kFrequent, kUnknown };

  Result<std::optional<roaring::Roaring>> Rows(const FieldPredicate& p) const override {
    if (!Answers(p)) return std::optional<roaring::Roaring>();
    size_t at = 0;
    std::string folded;
    State state = Find(p.value, &folded, &at);
    if (state == State::kUnknown || state == State::kFrequent) {
      return std::optional<roaring::Roaring>();
    }
    roaring::Roaring rows;
    if (state == State::kPosted) {
      Status st = version_ == 1 ? DecodePostings(postings_[at], static_cast<uint32_t>(rows_), &rows)
                                : DecodeColumns(at, &rows);
      if (!st.ok()) {
        return Status::DataLoss("word postings of '" + folded + "': " + st.message());
      }
      rows.runOptimize();
    }
    return std::optional<roaring::Roaring>(std::move(rows));
  }

  // Version 3: a word too frequent to post has its row count in every block.
  Result<std::optional<std::vector<uint32_t>>> BlockCounts(const FieldPredicate& p) const override {
    if (!Answers(p) || version_ < 3) return std::optional<std::vector<uint32_t>>();
    size_t at = 0;
    std::string folded;
    if (Find(p.value, &folded, &at) != State::kFrequent) {
      return std::optional<std::vector<uint32_t>>();
    }
    std::vector<uint32_t> counts(block_count_);
    std::string_view in = std::string_view(data_).substr(counts_at_[at]);
    for (uint32_t& n : counts) {
      if (!GetVarint32(&in, &n)) {  // checked when the block was opened
        return Status::DataLoss("word_postings: the block counts of '" + folded +
                                "' are truncated");
      }
    }
    return std::optional<std::vector<uint32_t>>(std::move(counts));
  }

  Result<bool> SegmentMayMatch(const FieldPredicate& p) const override {
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
    auto frequent = std::lower_bound(unposted_.begin(), unposted_.end(), std::string_view(*folded));
    if (frequent != unposted_.end() && *frequent == *folded) {
      *at = static_cast<size_t>(frequent - unposted_.begin());
      return State::kFrequent;
    }
    // Not found: no row holds it when every word (min_rows 1), or every word without a digit
    // (flag bit 1), of one row and up was posted or listed.
    if (min_rows_ <= 1 || (letters_ && IsLetterWord(*folded))) return State::kAbsent;
    return State::kUnknown;
  }

  // "block_count": the segment's row blocks (version 3 counts rows in each).
  static Result<std::unique_ptr<WordPostingsView>> Parse(uint32_t version, std::string data,
                                                         uint64_t segment_rows,
                                                         uint32_t block_count) {
    if (version < 1 || version > kVersion) {
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
    view->letters_ = (flags & kFlagLetterWords) != 0;
    view->version_ = version;
    view->block_count_ = block_count;
    Status st = version == 1 ? view->ParseEntries(in, posted) : view->ParseColumns(in, posted);
    if (!st.ok()) return st;
    return view;
  }

 private:
  // Version 2: words between two checkpoints, whose gaps and run lengths start are kept.
  static constexpr size_t kCheckpointWords = 64;

  // Decodes the postings of posted word "at" of version 2 into "*rows": from the checkpoint
  // before it, skips the runs of the words in between in both columns.
  Status DecodeColumns(size_t at, roaring::Roaring* rows) const {
    const size_t checkpoint = at / kCheckpointWords;
    uint64_t skip = 0;
    for (size_t i = checkpoint * kCheckpointWords; i < at; ++i) skip += runs_[i];
    std::string_view gaps = std::string_view(data_).substr(gaps_at_[checkpoint]);
    std::string_view lengths = std::string_view(data_).substr(lengths_at_[checkpoint]);
    if (!SkipVarints(&gaps, skip) || !SkipVarints(&lengths, skip)) {
      return Status::DataLoss("truncated postings");
    }
    return DecodeSplitPostings(gaps, lengths, runs_[at], static_cast<uint32_t>(rows_), rows);
  }

  // Version 1 after the header: entry* unposted_count word(lp)*.
  Status ParseEntries(std::string_view in, uint64_t posted) {
    version_ = 1;
    words_.reserve(posted);
    postings_.reserve(posted);
    for (uint64_t i = 0; i < posted; ++i) {
      std::string_view word, runs;
      if (!GetLengthPrefixed(&in, &word) || !GetLengthPrefixed(&in, &runs)) {
        return Status::DataLoss("word_postings: entry " + std::to_string(i) + " is truncated");
      }
      if (!words_.empty() && !(words_.back() < word)) {
        return Status::DataLoss("word_postings: words out of order at entry " + std::to_string(i));
      }
      words_.push_back(word);
      postings_.push_back(runs);
    }
    uint64_t unposted;
    if (!GetVarint64(&in, &unposted) || unposted > in.size()) {
      return Status::DataLoss("word_postings: bad unposted word count");
    }
    for (uint64_t i = 0; i < unposted; ++i) {
      std::string_view word;
      if (!GetLengthPrefixed(&in, &word) || (!unposted_.empty() && !(unposted_.back() < word))) {
        return Status::DataLoss("word_postings: bad unposted word " + std::to_string(i));
      }
      unposted_.push_back(word);
    }
    if (!in.empty()) return Status::DataLoss("word_postings: trailing bytes");
    return Status::OK();
  }

  // Version 2 after posted_count: unposted_count words(posted) run_count[posted] gap[runs]
  // length_minus_1[runs] words(unposted); version 3 then block_count row_count[unposted x
  // block_count].
  Status ParseColumns(std::string_view in, uint64_t posted) {
    uint64_t unposted;
    if (!GetVarint64(&in, &unposted) || unposted > in.size()) {
      return Status::DataLoss("word_postings: bad unposted word count");
    }
    std::vector<uint32_t> ends;  // of each word in text_: the posted, then the unposted
    ends.reserve(posted + unposted);
    RETURN_IF_ERROR(GetWords(&in, posted, "posted", &ends));
    runs_.resize(posted);
    uint64_t total_runs = 0;
    for (uint64_t i = 0; i < posted; ++i) {
      // A word has at least one run and no more than the segment has rows.
      if (!GetVarint32(&in, &runs_[i]) || runs_[i] == 0 || runs_[i] > rows_) {
        return Status::DataLoss("word_postings: bad run count of word " + std::to_string(i));
      }
      total_runs += runs_[i];
    }
    if (total_runs > in.size()) {
      return Status::DataLoss("word_postings: " + std::to_string(total_runs) +
                              " runs in a block of " + std::to_string(in.size()) + " bytes left");
    }
    // Where the gaps and lengths of every kCheckpointWords-th word start; both columns must
    // hold all their varints.
    for (std::vector<uint32_t>* at : {&gaps_at_, &lengths_at_}) {
      at->reserve(posted / kCheckpointWords + 1);
      for (size_t first = 0; first < posted; first += kCheckpointWords) {
        at->push_back(static_cast<uint32_t>(in.data() - data_.data()));
        const size_t last = std::min<size_t>(posted, first + kCheckpointWords);
        uint64_t skip = 0;
        for (size_t i = first; i < last; ++i) skip += runs_[i];
        if (!SkipVarints(&in, skip)) {
          return Status::DataLoss(std::string("word_postings: the ") +
                                  (at == &gaps_at_ ? "gaps" : "run lengths") + " of words " +
                                  std::to_string(first) + " to " + std::to_string(last - 1) +
                                  " are truncated");
        }
      }
    }
    RETURN_IF_ERROR(GetWords(&in, unposted, "unposted", &ends));
    if (version_ >= 3) RETURN_IF_ERROR(GetBlockCounts(&in, unposted));
    if (!in.empty()) return Status::DataLoss("word_postings: trailing bytes");
    // text_ no longer grows: the views into it stay valid.
    words_.reserve(posted);
    unposted_.reserve(unposted);
    uint32_t begin = 0;
    for (size_t i = 0; i < ends.size(); ++i) {
      std::string_view word(text_.data() + begin, ends[i] - begin);
      (i < posted ? words_ : unposted_).push_back(word);
      begin = ends[i];
    }
    return Status::OK();
  }

  // Reads version 3's block_count row_count[words x block_count] from "*in", keeping where each
  // word's counts start. The block count must be the segment's, and a word's counts may not add
  // up to more than the segment's rows.
  Status GetBlockCounts(std::string_view* in, uint64_t words) {
    uint64_t blocks;
    if (!GetVarint64(in, &blocks) || blocks != block_count_) {
      return Status::DataLoss("word_postings: block counts for " + std::to_string(blocks) +
                              " blocks, the segment has " + std::to_string(block_count_));
    }
    if (words * blocks > in->size()) {
      return Status::DataLoss("word_postings: " + std::to_string(words) + " words' counts in " +
                              std::to_string(blocks) + " blocks do not fit in " +
                              std::to_string(in->size()) + " bytes");
    }
    counts_at_.reserve(words);
    for (uint64_t i = 0; i < words; ++i) {
      counts_at_.push_back(static_cast<uint32_t>(in->data() - data_.data()));
      uint64_t sum = 0;
      for (uint64_t b = 0; b < blocks; ++b) {
        uint32_t n;
        if (!GetVarint32(in, &n)) {
          return Status::DataLoss("word_postings: the block counts of unposted word " +
                                  std::to_string(i) + " are truncated");
        }
        sum += n;
      }
      if (sum > rows_) {
        return Status::DataLoss("word_postings: unposted word " + std::to_string(i) + " is in " +
                                std::to_string(sum) + " rows of a segment of " +
                                std::to_string(rows_));
      }
    }
    return Status::OK();
  }

  // Reads version 2's words(n) from "*in", appending each word to text_ and its end to "*ends".
  // The words must be in increasing order. "what" names the list in errors.
  Status GetWords(std::string_view* in, uint64_t n, const char* what, std::vector<uint32_t>* ends) {
    auto bad = [&](uint64_t i, const std::string& why) {
      return Status::DataLoss(std::string("word_postings: ") + what + " word " + std::to_string(i) +
                              ": " + why);
    };
    std::vector<uint64_t> shared(n);
    uint64_t spelt = 0;  // bytes the shared prefixes add to the suffixes
    for (uint64_t i = 0; i < n; ++i) {
      if (!GetVarint64(in, &shared[i])) return bad(i, "truncated");
      spelt += std::min<uint64_t>(shared[i], 1024);
    }
    // The spelt-out words, at most the suffixes and the prefixes, and (checked below) at most
    // kMaxSpeltPerByte times the block's bytes.
    const uint64_t max_text = kMaxSpeltPerByte * data_.size();
    text_.reserve(std::min<uint64_t>(text_.size() + spelt + in->size(), max_text));
    size_t prev_begin = 0, prev_size = 0;  // the word before, in text_
    for (uint64_t i = 0; i < n; ++i) {
      const size_t end = in->find('\n');
      if (end == std::string_view::npos) return bad(i, "truncated");
      if (shared[i] > prev_size) {
        return bad(i, "shares " + std::to_string(shared[i]) + " bytes of a word of " +
                          std::to_string(prev_size));
      }
      if (text_.size() + shared[i] + end > max_text) {
        // A crafted block (a checksum stops only random damage): refused before it allocates.
        return bad(i, "the words spelt out would pass " + std::to_string(max_text) + " bytes, " +
                          std::to_string(kMaxSpeltPerByte) + " times the block's " +
                          std::to_string(data_.size()) + " bytes");
      }
      if (text_.size() + shared[i] + end > UINT32_MAX) return bad(i, "too long");
      const size_t begin = text_.size();
      text_.append(text_, prev_begin, shared[i]);
      text_.append(in->substr(0, end));
      in->remove_prefix(end + 1);
      const std::string_view word(text_.data() + begin, text_.size() - begin);
      if (i > 0 && !(std::string_view(text_.data() + prev_begin, prev_size) < word)) {
        return bad(i, "out of order");
      }
      prev_begin = begin;
      prev_size = word.size();
      ends->push_back(static_cast<uint32_t>(text_.size()));
    }
    return Status::OK();
  }

  std::string data_;
  std::string text_;  // version 2: the words, spelt out
  uint32_t min_rows_ = 1;
  bool numbers_ = true;
  bool letters_ = false;  // flag bit 1: words without a digit posted from one row on
  uint64_t rows_ = 0;
  std::vector<std::string_view> words_;  // posted, sorted
  uint32_t version_ = 2;
  uint32_t block_count_ = 0;                    // the segment's row blocks
  std::vector<std::string_view> postings_;      // version 1: the runs of words_[i]
  std::vector<uint32_t> runs_;                  // version 2: the run count of words_[i]
  std::vector<uint32_t> gaps_at_, lengths_at_;  // version 2: checkpoints, offsets in data_
  std::vector<std::string_view> unposted_;      // frequent words without postings, sorted
  std::vector<uint32_t> counts_at_;  // version 3: where unposted_[i]'s block counts start
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& options) {
  return std::make_unique<WordPostingsBuilder>(options);
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  if (source->parts().size() != 1) return Status::DataLoss("word_postings: not one block");
  std::string raw;
  RETURN_IF_ERROR(source->Read(0, 0, &raw));
  ASSIGN_OR_RETURN(std::unique_ptr<WordPostingsView> view,
                   WordPostingsView::Parse(source->parts()[0].version, std::move(raw),
                                           source->row_count(), source->block_count()));
  return std::unique_ptr<IndexView>(std::move(view));
}

}  // namespace

extern const IndexKind kWordPostingsKind;
const IndexKind kWordPostingsKind{
    "word_postings", kVersion, IndexLayout::kKindBlock, true, &Answers, &NewBuilder, &Open};

}  // namespace sawmill::index
