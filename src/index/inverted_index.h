// The per-segment inverted index of one field: value -> rows holding it.
//
// Serialized (a "versioned serialized block", stored compressed in the segment):
//   inverted_index := version(u8 = 1) value_count(varint) entry*     (entries sorted by value)
//   entry          := value(varint length, bytes) postings_size(varint) postings
//   postings       := run*     run := gap(varint) length_minus_1(varint)
// where gap is the first row of the run minus the end of the previous run (0 at the start).
// Runs make the postings of sorted service/host columns a handful of bytes.
#pragma once

#include <cstdint>
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

 private:
  struct Entry {
    std::string_view value;
    std::string runs;        // finished runs
    uint32_t run_start = 0;  // the open run, [run_start, run_end)
    uint32_t run_end = 0;
    uint32_t prev_end = 0;  // end of the last finished run
    bool open = false;
  };
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

  // Rows holding "value" (empty when none). Errors: DataLoss for malformed postings.
  Result<roaring::Roaring> Lookup(std::string_view value) const;
  std::vector<std::string> Values() const;
  size_t size() const { return values_.size(); }
  // Bytes of the postings of the value at "i" (for dump).
  size_t postings_bytes(size_t i) const { return postings_[i].size(); }

 private:
  std::string data_;
  std::vector<std::string_view> values_;
  std::vector<std::string_view> postings_;
  uint32_t max_rows_ = 0;
};

// Decodes postings runs into "*out". Errors: DataLoss (rows beyond "max_rows", bad varints).
Status DecodePostings(std::string_view runs, uint32_t max_rows, roaring::Roaring* out);
// One run of postings, as DecodePostings reads them: rows ["*pos" + gap, + len_minus_1 + 1) added
// to "out", "*pos" moved to the run's end. DataLoss when the run names a row past "max_rows".
// Shared by every layout of postings (the word postings' version 2 keeps gaps and lengths in
// separate columns).
Status AddPostingsRun(uint64_t gap, uint64_t len_minus_1, uint32_t max_rows, uint64_t* pos,
                      roaring::Roaring* out);

}  // namespace sawmill::index
