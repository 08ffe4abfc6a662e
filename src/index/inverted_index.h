// The per-segment inverted index of one field: value -> rows holding it.
//
// Serialized (a "versioned serialized block", stored compressed in the segment):
//   inverted_index := version(u8 = 1) value_count(varint) entry*     (entries sorted by value)
//   entry          := value(varint length, bytes) postings_size(varint) postings
//   postings       := run*     run := gap(varint) length_minus_1(varint)
// where gap is the first row of the run minus the end of the previous run (0 at the start).
// Runs make the postings of sorted service/host columns a handful of bytes.
//
// Version 2 (segment format version 16): block lists for rare values, rows for frequent ones,
// for a field whose values are spread over the segment's blocks a few rows each (user ids): a
// value in fewer rows than a threshold (ValuePostingsRule::list_below_rows) keeps the row
// blocks holding it and how many of each block's rows hold it, not the rows; the others keep
// their rows as version 1 does:
//   inverted_index := version(u8 = 2) value_count(varint) block_count(varint)
//                     values_size(varint) values lists_size(varint) lists
//                     rows_size(varint) rows counts
//   values := (value: varint length, bytes)*                                (sorted)
//   lists  := per value: tag(varint), then block_gap(varint) x entries when tag = 2 x entries
//             (a block list, entries >= 1); tag = 1: the value's rows are in "rows"
//   rows   := per value of tag 1: runs_size(varint) runs                    (version 1's)
//   counts := per value, per block list entry: rows_minus_1(varint)
// where block_gap is the block minus the one after the previous entry's (0 at the start). The
// sections apart compress better than interleaved (docs/format/index.md "Block lists").
//
// Version 3 (segment format version 17): version 2's layout, with two more tags, so that a value's
// rows may be Rice-coded and one value may be "the rest":
//   tag = 3: the value's rows are in "rows" as rice_size(varint) rice
//   tag = 5: the rest: the value's rows are every row of the segment no other value holds;
//            nothing in "rows" or "counts"; at most one, and not beside a block list
//   rice := count(varint >= 1) k(u8 <= 31) codes
// codes: per row, gap = row - previous row - 1 (the first: its row) as a Rice code: q = gap >> k
// as q 0-bits and a 1-bit, then gap's k low bits; q >= 48 as 48 0-bits and gap's 64 bits; bits
// least significant first from the first byte's low bit, the last byte's unused high bits 0
// (common/rice_code.h, as the ts column's rice-runs). Written for a field of which every row
// holds exactly one value (service, host, level) with at most kRestMaxValues values: the value
// in the most rows as the rest, each other as runs or Rice codes, whichever is smaller. Levels
// are random from row to row, so runs cost two varints a row and the most frequent level most
// of all; Rice codes store a value's rows near their entropy (docs/format/index.md).
//
// Version 4 (segment format version 23): version 3 without a rest, for the posted fields with a
// bloom (user ids), with the Rice-coded values' headers apart from their codes:
//   inverted_index := version(u8 = 4) value_count(varint) block_count(varint)
//                     values_size(varint) values lists_size(varint) lists
//                     rows_size(varint) rows counts_size(varint) counts
//                     rice_counts_size(varint) rice_counts rice_extra_size(varint) rice_extra
//                     codes
//   lists: tags 1 and 2 as version 2's; tag = 3: the value's rows are Rice codes in "codes"
//   rice_counts := per value of tag 3: count(varint >= 1)
//   rice_extra  := per value of tag 3: extra(varint)
//   codes       := the codes of every value of tag 3, in the values' order, one bit stream
// A value's k is implied by its count and the segment's rows (ImpliedRiceK: floor(log2(rows /
// count)), about the k of the fewest bits for rows spread at random); its codes (version 3's
// Rice codes of the gaps, bits least significant first) take count x (k + 1) + extra bits and
// begin where the previous value's end, the first at the first byte's low bit. The stream's
// last byte's unused high bits are 0 and nothing follows it. Against version 3 a value saves
// its size varint, its k byte and its padding, and its count compresses among the counts.
//
// Version 5 (segment format version 27): the block map of user ids (block_map.cc): each value's
// row blocks only, no rows and no rows per block (the column holds the rows; a search reads the
// blocks named and compares each row):
//   inverted_index := version(u8 = 5) value_count(varint) block_count(varint)
//                     values_size(varint) values counts_size(varint) counts codes
//   values := per value: shared(varint) suffix_size(varint) suffix   (front-coded, sorted,
//             distinct: the value is the previous one's first "shared" bytes and the suffix)
//   counts := per value: blocks_minus_1(varint)                (the blocks holding it, >= 1)
//   codes  := per value, per block holding it, gap = block - previous block - 1 (the first: its
//             block) as a Rice code with k = ImpliedRiceK(blocks, block_count), one bit stream
//             (version 3's codes), the values' in their order; the last byte's unused high bits
//             are 0 and nothing follows it
// Every value holds a block of the list; a value not in "values" is in no row of the segment.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/bloom.h"
#include "index/flat_id_table.h"
#include "index/roaring_compat.h"
#include "sawmill/status.h"

namespace sawmill::index {

inline constexpr uint8_t kInvertedIndexVersion = 1;
inline constexpr uint8_t kInvertedIndexBlockListsVersion = 2;
inline constexpr uint8_t kInvertedIndexRestVersion = 3;
inline constexpr uint8_t kInvertedIndexRiceStreamVersion = 4;
inline constexpr uint8_t kInvertedIndexBlockMapVersion = 5;
// Version 3's most values with a rest: a lookup of the rest decodes every other value's rows.
inline constexpr size_t kRestMaxValues = 16;

// One entry of a block list: block "block" holds "rows" rows with the value.
struct BlockEntry {
  uint32_t block = 0;
  uint32_t rows = 0;
};

// Fed rows in increasing row order. Not thread-safe.
class InvertedIndexBuilder {
 public:
  // REQUIRES: "row" is not smaller than any row added before. The builder keeps a copy of each
  // distinct value (in a few large blocks), so "value" need only be valid during the call: the
  // segment writer hands one block of rows at a time.
  void Add(std::string_view value, uint32_t row);
  size_t distinct_values() const { return entries_.size(); }
  // Tests: the hash the values are found by (BloomHash unless set; a constant makes every value
  // collide). Before the first Add.
  void SetHashForTest(uint64_t (*hash)(std::string_view)) { hash_ = hash; }
  // Whether the values were crafted to share hashes so that the builder keeps them in an ordered
  // map instead (FlatIdTable::kCrowded).
  bool left_table() const { return crowded_ != nullptr; }
  // Appends the serialized index to "*out".
  void Finish(std::string* out) const;
  // Appends the serialized index as version 2 to "*out": a value in fewer than "list_below"
  // rows as a block list, the others as rows. "block_starts" holds the first row of every row
  // block, ascending from 0; every row added is below "rows".
  void FinishBlockLists(const std::vector<uint32_t>& block_starts, uint32_t rows,
                        uint32_t list_below, std::string* out) const;
  // Appends the serialized index as version 3 to "*out": as FinishBlockLists, but each value
  // kept as rows as runs or Rice codes, whichever is smaller, and, when no value is listed, at
  // most kRestMaxValues values and every row of [0, "rows") was added exactly once, the value
  // in the most rows as the rest.
  void FinishVersion3(const std::vector<uint32_t>& block_starts, uint32_t rows, uint32_t list_below,
                      std::string* out) const;
  // Appends the serialized index as version 3 without a rest to "*out": as FinishBlockLists,
  // but each value kept as rows as runs or Rice codes, whichever is smaller.
  void FinishRiceRows(const std::vector<uint32_t>& block_starts, uint32_t rows, uint32_t list_below,
                      std::string* out) const;
  // Appends the serialized index as version 4 to "*out": as FinishRiceRows, the Rice-coded
  // values' counts and extra bits in sections of their own and their codes one bit stream.
  void FinishRiceStream(const std::vector<uint32_t>& block_starts, uint32_t rows,
                        uint32_t list_below, std::string* out) const;
  // Appends the serialized index as version 5 to "*out": each value's blocks ("block_starts" as
  // FinishBlockLists'), nothing of its rows (block_map.cc).
  void FinishBlockMap(const std::vector<uint32_t>& block_starts, std::string* out) const;
  // Appends version 3 without block lists where it has a rest (FinishVersion3), else version 1
  // (Finish).
  void FinishRest(const std::vector<uint32_t>& block_starts, uint32_t rows, std::string* out) const;

 private:
  struct Entry {
    std::string_view value;
    std::string runs;        // finished runs
    uint32_t run_start = 0;  // the open run, [run_start, run_end)
    uint32_t run_end = 0;
    uint32_t prev_end = 0;  // end of the last finished run
    uint32_t rows = 0;      // rows holding the value
    bool open = false;
  };
  // Appends the entry's postings (runs), size first.
  static void PutRuns(const Entry& e, std::string* out);
  // The entry's runs, the open one included (valid by construction).
  static std::string Runs(const Entry& e);
  // The entries sorted by value.
  std::vector<const Entry*> Sorted() const;
  // Calls "f"(start, end) for each run [start, end) of entry "e"'s rows, ascending.
  static void ForEachRun(const Entry& e, const std::function<void(uint32_t, uint32_t)>& f);
  // The blocks holding entry "e"'s rows, ascending ("block_starts" as FinishBlockLists').
  static void BlocksOf(const Entry& e, const std::vector<uint32_t>& block_starts,
                       std::vector<uint32_t>* out);
  // The entry to store as the rest: the one in the most rows (the first by value of those) when
  // every row of [0, "rows") holds exactly one value, there are at most kRestMaxValues and none
  // is in fewer than "list_below" rows; null otherwise.
  const Entry* RestOf(const std::vector<const Entry*>& sorted, uint32_t rows,
                      uint32_t list_below) const;
  // Version 2, 3 (with "rest", RestOf's, stored as the rest when not null) or 4: the layout
  // they share, of the entries "sorted" (Sorted).
  void FinishSections(const std::vector<const Entry*>& sorted, const Entry* rest,
                      const std::vector<uint32_t>& block_starts, uint32_t rows, uint32_t list_below,
                      uint8_t version, std::string* out) const;
  // A copy of "value" that stays where it is until the builder goes.
  std::string_view Keep(std::string_view value);

  // The entry of "value", added when new.
  uint32_t IdOf(std::string_view value);
  // by_value_ said kCrowded (values crafted to share a hash): every value's id goes into
  // crowded_ (compared by bytes, a few dozen compares at most for any values) and by_value_ is
  // no longer used.
  void LeaveTable();

  FlatIdTable by_value_;  // entries_' ids by their values
  // After LeaveTable: entries_' ids by their values (views of their kept bytes).
  std::unique_ptr<std::map<std::string_view, uint32_t>> crowded_;
  uint64_t (*hash_)(std::string_view) = &BloomHash;
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<char[]>> blocks_;  // the distinct values' bytes
  char* block_at_ = nullptr;
  size_t block_left_ = 0;
  uint32_t last_entry_ = UINT32_MAX;
};

// Reads a serialized index. Immutable after Parse, so thread-safe.
class InvertedIndexReader {
 public:
  // Takes ownership of "data". Errors: DataLoss when the bytes are malformed, saying where.
  static Result<std::unique_ptr<InvertedIndexReader>> Parse(std::string data, uint32_t max_rows);

  // Rows holding "value" (empty when none). Errors: DataLoss for malformed postings;
  // FailedPrecondition for a value stored as a block list (Listed); (version 3) DataLoss naming
  // the rest and the other value for the rest when another value's rows are malformed.
  Result<roaring::Roaring> Lookup(std::string_view value) const;
  // Whether the index is version 2, 3, 4 (block lists for rare values, rows for the others) or
  // 5 (every value's blocks).
  bool block_lists() const { return version_ >= kInvertedIndexBlockListsVersion; }
  // (Version 5) Whether every value is stored as its blocks without their rows: LookupBlocks
  // gives entries of 0 rows (unknown), Lookup rows only of a value held by none (empty).
  bool block_map() const { return version_ == kInvertedIndexBlockMapVersion; }
  // The index's version byte (1 to 5).
  uint8_t version() const { return version_; }
  // (Version 2) Whether "value" is stored as a block list: LookupBlocks, not Lookup. False for
  // a value stored as rows, or held by no row (Lookup: none).
  bool Listed(std::string_view value) const;
  // (Versions 3 and 4) Whether "value" is stored as Rice-coded rows (tag 3).
  bool RiceCoded(std::string_view value) const;
  // Whether some row holds "value" (a value stored holds at least one), without decoding.
  bool Holds(std::string_view value) const;
  // (Version 2) The row blocks the lists name, as stored.
  uint32_t block_count() const { return block_count_; }
  // (Version 2) The blocks holding a listed "value", ascending, with their rows holding it;
  // empty when no row holds it. Errors: DataLoss for a malformed list (a block past
  // block_count, rows past max_rows); FailedPrecondition for a value stored as rows or an
  // index of version 1.
  Status LookupBlocks(std::string_view value, std::vector<BlockEntry>* out) const;
  std::vector<std::string> Values() const;
  size_t size() const { return block_map() ? map_counts_.size() : values_.size(); }
  // Bytes of the postings of the value at "i" (for dump; 0 for the rest; version 5: its codes,
  // rounded up to bytes).
  size_t postings_bytes(size_t i) const {
    return block_map() ? static_cast<size_t>((map_bits_[i + 1] - map_bits_[i] + 7) / 8)
                       : postings_[i].size();
  }

 private:
  // How a value of version 2, 3 or 4 is stored: its tag (kRiceStream: version 4's tag 3).
  enum class Form : uint8_t { kRuns = 1, kList = 2, kRice = 3, kRest = 5, kRiceStream = 7 };
  // (Version 4) Where a value of tag 3 is in the codes: postings_ holds the bytes its bits
  // touch, of which the first "skip" low bits of the first byte and the last "pad" high bits
  // of the last byte are other values'.
  struct RiceSpan {
    uint32_t count = 0;
    uint8_t skip = 0;
    uint8_t pad = 0;
  };
  static Status ParseBlockLists(std::string_view in, uint8_t version, InvertedIndexReader* reader);
  // (Version 5) Parses what follows the version byte (block_map.cc).
  static Status ParseBlockMap(std::string_view in, InvertedIndexReader* reader);
  // (Version 5) The index of "value" in the map, or -1.
  int64_t MapFind(std::string_view value) const;
  std::string_view MapValue(size_t i) const {
    return std::string_view(map_values_)
        .substr(map_offsets_[i], map_offsets_[i + 1] - map_offsets_[i]);
  }
  // (Version 5) The blocks of the value at "i" into "*out" (entries of 0 rows). Errors: DataLoss
  // naming the value when its codes name a block past block_count or do not fill their bits.
  Status MapBlocks(size_t i, std::vector<BlockEntry>* out) const;
  // The rows of the value at "i", as stored (the rest: every row no other value holds).
  Status Decode(size_t i, roaring::Roaring* out) const;
  bool IsListed(size_t i) const { return !forms_.empty() && forms_[i] == Form::kList; }

  std::string data_;
  std::vector<std::string_view> values_;
  std::vector<std::string_view> postings_;  // rows; block lists: each value's list
  std::vector<std::string_view> counts_;    // block lists: each value's rows per entry
  std::vector<Form> forms_;                 // versions 2 to 4: each value's; 1: empty (runs)
  std::vector<RiceSpan> spans_;             // version 4: each value's (tag 3's only set)
  // Version 5: the values back to back, value i at [map_offsets_[i], map_offsets_[i + 1]);
  // its block count; its codes' first bit in map_codes_ (map_bits_[i + 1]: their end).
  std::string map_values_;
  std::vector<uint32_t> map_offsets_;
  std::vector<uint32_t> map_counts_;
  std::vector<uint64_t> map_bits_;
  std::string_view map_codes_;
  uint32_t max_rows_ = 0;
  uint8_t version_ = kInvertedIndexVersion;
  uint32_t block_count_ = 0;
};

// Decodes postings runs into "*out". Errors: DataLoss (rows beyond "max_rows", bad varints).
Status DecodePostings(std::string_view runs, uint32_t max_rows, roaring::Roaring* out);
// One run of postings, as DecodePostings reads them: rows ["*pos" + gap, + len_minus_1 + 1) added
// to "out", "*pos" moved to the run's end. DataLoss when the run names a row past "max_rows".
// Shared by every layout of postings (the word postings' version 2 keeps gaps and lengths in
// separate columns).
Status AddPostingsRun(uint64_t gap, uint64_t len_minus_1, uint32_t max_rows, uint64_t* pos,
                      roaring::Roaring* out);
// Appends "rows" (ascending, at least one) as version 3's Rice-coded rows: count, k and the
// codes, with the k of the fewest bits.
void PutRicePostings(const std::vector<uint32_t>& rows, std::string* out);
// Decodes Rice-coded rows into "*out". Errors: DataLoss naming the row (rows beyond
// "max_rows", codes that end early, bits left over).
Status DecodeRicePostings(std::string_view postings, uint32_t max_rows, roaring::Roaring* out);
// (Version 4) The Rice parameter of a value in "count" (>= 1) of "rows" rows: floor(log2(rows /
// count)), at most 31 (0 when count > rows).
uint32_t ImpliedRiceK(uint64_t count, uint64_t rows);
// The bits of "rows" (ascending) as Rice codes of their gaps with parameter k (version 3's and
// 4's codes).
uint64_t RiceBits(const std::vector<uint32_t>& rows, uint32_t k);

}  // namespace sawmill::index
