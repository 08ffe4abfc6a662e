#include "index/inverted_index.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/coding.h"
#include "common/rice_code.h"
#include "index/bloom.h"

namespace sawmill::index {

std::string_view InvertedIndexBuilder::Keep(std::string_view value) {
  constexpr size_t kBlockBytes = 64 << 10;
  if (value.size() > block_left_) {
    const size_t size = std::max(kBlockBytes, value.size());
    blocks_.push_back(std::make_unique<char[]>(size));
    block_at_ = blocks_.back().get();
    block_left_ = size;
  }
  if (!value.empty()) std::memcpy(block_at_, value.data(), value.size());
  std::string_view kept(block_at_, value.size());
  block_at_ += value.size();
  block_left_ -= value.size();
  return kept;
}

uint32_t InvertedIndexBuilder::IdOf(std::string_view value) {
  if (crowded_ == nullptr) {
    const uint64_t hash = hash_(value);
    const uint32_t id =
        by_value_.Find(hash, [&](uint32_t i) { return entries_[i].value == value; });
    if (id != FlatIdTable::kNone && id != FlatIdTable::kCrowded) return id;
    if (id == FlatIdTable::kNone) {
      const auto added = static_cast<uint32_t>(entries_.size());
      by_value_.Insert(hash, added);
      entries_.emplace_back();
      entries_.back().value = Keep(value);
      return added;
    }
    LeaveTable();
  }
  if (auto it = crowded_->find(value); it != crowded_->end()) return it->second;
  const auto added = static_cast<uint32_t>(entries_.size());
  entries_.emplace_back();
  entries_.back().value = Keep(value);
  crowded_->emplace(entries_.back().value, added);  // the kept copy, which outlives "value"
  return added;
}

void InvertedIndexBuilder::LeaveTable() {
  crowded_ = std::make_unique<std::map<std::string_view, uint32_t>>();
  for (uint32_t i = 0; i < entries_.size(); ++i) crowded_->emplace(entries_[i].value, i);
  by_value_.Release();
}

void InvertedIndexBuilder::Add(std::string_view value, uint32_t row) {
  Entry* e;
  if (last_entry_ != UINT32_MAX && entries_[last_entry_].value == value) {
    e = &entries_[last_entry_];
  } else {
    last_entry_ = IdOf(value);
    e = &entries_[last_entry_];
  }
  if (e->open && row == e->run_end) {
    e->run_end = row + 1;
    ++e->rows;
    return;
  }
  if (e->open && row < e->run_end) return;  // the same row twice
  ++e->rows;
  if (e->open) {
    PutVarint32(&e->runs, e->run_start - e->prev_end);
    PutVarint32(&e->runs, e->run_end - e->run_start - 1);
    e->prev_end = e->run_end;
  }
  e->open = true;
  e->run_start = row;
  e->run_end = row + 1;
}

std::vector<const InvertedIndexBuilder::Entry*> InvertedIndexBuilder::Sorted() const {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const Entry& e : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return a->value < b->value; });
  return sorted;
}

void InvertedIndexBuilder::Finish(std::string* out) const {
  const std::vector<const Entry*> sorted = Sorted();
  out->push_back(static_cast<char>(kInvertedIndexVersion));
  PutVarint64(out, sorted.size());
  for (const Entry* e : sorted) {
    PutLengthPrefixed(out, e->value);
    PutRuns(*e, out);
  }
}

void InvertedIndexBuilder::PutRuns(const Entry& e, std::string* out) {
  std::string tail;
  if (e.open) {
    PutVarint32(&tail, e.run_start - e.prev_end);
    PutVarint32(&tail, e.run_end - e.run_start - 1);
  }
  PutVarint64(out, e.runs.size() + tail.size());
  out->append(e.runs);
  out->append(tail);
}

void InvertedIndexBuilder::ForEachRun(const Entry& e,
                                      const std::function<void(uint32_t, uint32_t)>& f) {
  std::string_view runs(e.runs);
  uint64_t pos = 0;
  while (!runs.empty()) {
    uint64_t gap = 0, len_minus_1 = 0;
    GetVarint64(&runs, &gap);
    GetVarint64(&runs, &len_minus_1);
    const uint64_t start = pos + gap;
    pos = start + len_minus_1 + 1;
    f(static_cast<uint32_t>(start), static_cast<uint32_t>(pos));
  }
  if (e.open) f(e.run_start, e.run_end);
}

std::string InvertedIndexBuilder::Runs(const Entry& e) {
  std::string runs = e.runs;
  if (e.open) {
    PutVarint32(&runs, e.run_start - e.prev_end);
    PutVarint32(&runs, e.run_end - e.run_start - 1);
  }
  return runs;
}

namespace {

// The rows of runs the builder wrote (valid by construction), ascending.
void RowsOfRuns(std::string_view runs, std::vector<uint32_t>* out) {
  uint32_t pos = 0;
  uint32_t gap, len_minus_1;
  while (GetVarint32(&runs, &gap) && GetVarint32(&runs, &len_minus_1)) {
    pos += gap;
    for (uint32_t i = 0; i <= len_minus_1; ++i) out->push_back(pos + i);
    pos += len_minus_1 + 1;
  }
}

// Writes "rows" (ascending) as Rice codes of their gaps with parameter k (version 3's codes).
void PutRiceCodes(const std::vector<uint32_t>& rows, uint32_t k, RiceBitWriter* w) {
  int64_t prev = -1;
  for (uint32_t row : rows) {
    w->Rice(static_cast<uint64_t>(static_cast<int64_t>(row) - prev - 1), k);
    prev = row;
  }
}

}  // namespace

uint64_t RiceBits(const std::vector<uint32_t>& rows, uint32_t k) {
  uint64_t bits = 0;
  int64_t prev = -1;
  for (uint32_t row : rows) {
    bits += RiceCodeBits(static_cast<uint64_t>(static_cast<int64_t>(row) - prev - 1), k);
    prev = row;
  }
  return bits;
}

uint32_t ImpliedRiceK(uint64_t count, uint64_t rows) {
  if (count == 0 || count > rows) return 0;
  return std::min<uint32_t>(31, static_cast<uint32_t>(std::bit_width(rows / count)) - 1);
}

const InvertedIndexBuilder::Entry* InvertedIndexBuilder::RestOf(
    const std::vector<const Entry*>& sorted, uint32_t rows, uint32_t list_below) const {
  if (sorted.empty() || sorted.size() > kRestMaxValues) return nullptr;
  // Each row of [0, rows) holds exactly one value: the values' rows add up to "rows" and
  // together cover them (so no row holds two).
  uint64_t held = 0;
  for (const Entry* e : sorted) {
    if (e->rows < list_below) return nullptr;  // a block list: its rows are not known
    held += e->rows;
  }
  if (held != rows) return nullptr;
  roaring::Roaring all;
  for (const Entry* e : sorted) {
    if (!DecodePostings(Runs(*e), rows, &all).ok()) return nullptr;
  }
  if (all.cardinality() != rows) return nullptr;
  const Entry* rest = sorted[0];
  for (const Entry* e : sorted) {
    if (e->rows > rest->rows) rest = e;
  }
  return rest;
}

void InvertedIndexBuilder::FinishBlockLists(const std::vector<uint32_t>& block_starts,
                                            uint32_t rows, uint32_t list_below,
                                            std::string* out) const {
  FinishSections(Sorted(), nullptr, block_starts, rows, list_below, kInvertedIndexBlockListsVersion,
                 out);
}

void InvertedIndexBuilder::FinishVersion3(const std::vector<uint32_t>& block_starts, uint32_t rows,
                                          uint32_t list_below, std::string* out) const {
  const std::vector<const Entry*> sorted = Sorted();
  FinishSections(sorted, RestOf(sorted, rows, list_below), block_starts, rows, list_below,
                 kInvertedIndexRestVersion, out);
}

void InvertedIndexBuilder::FinishRiceRows(const std::vector<uint32_t>& block_starts, uint32_t rows,
                                          uint32_t list_below, std::string* out) const {
  FinishSections(Sorted(), nullptr, block_starts, rows, list_below, kInvertedIndexRestVersion, out);
}

void InvertedIndexBuilder::FinishRiceStream(const std::vector<uint32_t>& block_starts,
                                            uint32_t rows, uint32_t list_below,
                                            std::string* out) const {
  FinishSections(Sorted(), nullptr, block_starts, rows, list_below, kInvertedIndexRiceStreamVersion,
                 out);
}

void InvertedIndexBuilder::FinishRest(const std::vector<uint32_t>& block_starts, uint32_t rows,
                                      std::string* out) const {
  const std::vector<const Entry*> sorted = Sorted();
  const Entry* rest = RestOf(sorted, rows, 0);
  if (rest == nullptr) {
    Finish(out);
    return;
  }
  FinishSections(sorted, rest, block_starts, rows, 0, kInvertedIndexRestVersion, out);
}

void InvertedIndexBuilder::FinishSections(const std::vector<const Entry*>& sorted,
                                          const Entry* rest,
                                          const std::vector<uint32_t>& block_starts, uint32_t rows,
                                          uint32_t list_below, uint8_t version,
                                          std::string* out) const {
  std::string values, lists, rows_section, counts, runs, rice;
  // (Version 4) The Rice-coded values' counts and extra bits, and their codes.
  std::string rice_counts, rice_extra, codes;
  RiceBitWriter stream(&codes);
  std::vector<BlockEntry> entries;
  std::vector<uint32_t> rows_of;
  const bool version3 = version >= kInvertedIndexRestVersion;
  for (const Entry* e : sorted) {
    PutLengthPrefixed(&values, e->value);
    if (e == rest) {
      PutVarint32(&lists, 5);  // the rest: no rows stored
      continue;
    }
    if (e->rows >= list_below && !version3) {
      PutVarint32(&lists, 1);  // rows as runs
      PutRuns(*e, &rows_section);
      continue;
    }
    if (e->rows >= list_below) {
      // Version 3: runs or Rice codes, whichever is smaller.
      runs = Runs(*e);
      rows_of.clear();
      RowsOfRuns(runs, &rows_of);
      if (version == kInvertedIndexRiceStreamVersion) {
        // Runs or codes in the stream, whichever is fewer bytes (the codes' bits rounded up).
        const uint32_t k = ImpliedRiceK(rows_of.size(), rows);
        const uint64_t bits = RiceBits(rows_of, k);
        const uint64_t extra = bits - uint64_t{k + 1} * rows_of.size();
        const uint64_t rice_bytes =
            (bits + 7) / 8 + VarintLength(rows_of.size()) + VarintLength(extra);
        if (rice_bytes < runs.size() + VarintLength(runs.size())) {
          PutVarint32(&lists, 3);
          PutVarint64(&rice_counts, rows_of.size());
          PutVarint64(&rice_extra, extra);
          PutRiceCodes(rows_of, k, &stream);
        } else {
          PutVarint32(&lists, 1);
          PutLengthPrefixed(&rows_section, runs);
        }
        continue;
      }
      rice.clear();
      PutRicePostings(rows_of, &rice);
      const bool use_rice = rice.size() < runs.size();
      PutVarint32(&lists, use_rice ? 3 : 1);
      PutLengthPrefixed(&rows_section, use_rice ? rice : runs);
      continue;
    }
    // The entry's runs, the open one last, as rows per block.
    entries.clear();
    auto add_run = [&](uint32_t start, uint32_t end) {
      // The block holding "start": the last whose first row is not after it.
      size_t b =
          static_cast<size_t>(std::upper_bound(block_starts.begin(), block_starts.end(), start) -
                              block_starts.begin() - 1);
      while (start < end) {
        const uint32_t block_end = b + 1 < block_starts.size() ? block_starts[b + 1] : rows;
        const uint32_t stop = std::min(end, block_end);
        if (!entries.empty() && entries.back().block == b) {
          entries.back().rows += stop - start;
        } else {
          entries.push_back(BlockEntry{static_cast<uint32_t>(b), stop - start});
        }
        start = stop;
        ++b;
      }
    };
    ForEachRun(*e, add_run);
    PutVarint64(&lists, 2 * entries.size());
    uint32_t next = 0;
    for (const BlockEntry& be : entries) {
      PutVarint32(&lists, be.block - next);
      next = be.block + 1;
      PutVarint32(&counts, be.rows - 1);
    }
  }
  out->push_back(static_cast<char>(version));
  PutVarint64(out, sorted.size());
  PutVarint64(out, block_starts.size());
  PutVarint64(out, values.size());
  out->append(values);
  PutVarint64(out, lists.size());
  out->append(lists);
  PutVarint64(out, rows_section.size());
  out->append(rows_section);
  if (version == kInvertedIndexRiceStreamVersion) {
    stream.Finish();
    PutLengthPrefixed(out, counts);
    PutLengthPrefixed(out, rice_counts);
    PutLengthPrefixed(out, rice_extra);
    out->append(codes);
    return;
  }
  out->append(counts);
}

Status InvertedIndexReader::ParseBlockLists(std::string_view in, uint8_t version,
                                            InvertedIndexReader* reader) {
  const bool version3 = version == kInvertedIndexRestVersion;
  const bool version4 = version == kInvertedIndexRiceStreamVersion;
  const std::string what = version4   ? "inverted index (version 4)"
                           : version3 ? "inverted index (version 3)"
                                      : "inverted index (block lists)";
  uint64_t count = 0, blocks = 0, size = 0;
  if (!GetVarint64(&in, &count) || count > in.size()) {
    return Status::DataLoss(what + " has a bad value count");
  }
  if (!GetVarint64(&in, &blocks) || blocks > UINT32_MAX) {
    return Status::DataLoss(what + " has a bad block count");
  }
  reader->version_ = version;
  reader->block_count_ = static_cast<uint32_t>(blocks);
  auto section = [&](const char* name, std::string_view* out) -> Status {
    if (!GetVarint64(&in, &size) || size > in.size()) {
      return Status::DataLoss(what + ": its " + name + " are truncated");
    }
    *out = in.substr(0, size);
    in.remove_prefix(size);
    return Status::OK();
  };
  std::string_view values, lists, rows, counts, rice_counts, rice_extra;
  RETURN_IF_ERROR(section("values", &values));
  RETURN_IF_ERROR(section("lists", &lists));
  RETURN_IF_ERROR(section("rows", &rows));
  if (version4) {
    RETURN_IF_ERROR(section("counts", &counts));
    RETURN_IF_ERROR(section("rice counts", &rice_counts));
    RETURN_IF_ERROR(section("rice extra bits", &rice_extra));
    reader->spans_.resize(count);
  }
  if (!version4) counts = in;
  // (Version 4) The codes of the values of tag 3, one bit stream; the next value's first bit.
  const std::string_view codes = version4 ? in : std::string_view();
  uint64_t code_bit = 0;
  reader->values_.reserve(count);
  reader->postings_.reserve(count);
  reader->counts_.reserve(count);
  reader->forms_.reserve(count);
  int64_t rest = -1, listed = -1;  // (version 3) the rest's entry, a block list's
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view value;
    if (!GetLengthPrefixed(&values, &value)) {
      return Status::DataLoss(what + " value " + std::to_string(i) + " is truncated");
    }
    if (!reader->values_.empty() && !(reader->values_.back() < value)) {
      return Status::DataLoss("inverted index values out of order at entry " + std::to_string(i));
    }
    reader->values_.push_back(value);
    const char* list_start = lists.data();
    uint64_t tag = 0, v = 0;
    if (!GetVarint64(&lists, &tag)) {
      return Status::DataLoss(what + ": the list of value " + std::to_string(i) + " is truncated");
    }
    if (version4 && tag == 3) {
      // Rice codes in the stream: count and extra bits in their sections, k implied.
      const std::string name = what + ": value '" + std::string(value) + "'";
      uint64_t n = 0, extra = 0;
      if (!GetVarint64(&rice_counts, &n) || n == 0 || n > reader->max_rows_) {
        return Status::DataLoss(name + " has a bad rice row count (" + std::to_string(n) + " of " +
                                std::to_string(reader->max_rows_) + " rows)");
      }
      if (!GetVarint64(&rice_extra, &extra)) {
        return Status::DataLoss(name + ": its rice extra bits are truncated");
      }
      const uint32_t k = ImpliedRiceK(n, reader->max_rows_);
      const uint64_t left = codes.size() * 8 - code_bit;
      if (extra > left || n * (k + 1) > left - extra) {
        return Status::DataLoss(name + ": its codes (" + std::to_string(n) + " rows, k " +
                                std::to_string(k) + ", " + std::to_string(extra) +
                                " extra bits) run past the codes' end at bit " +
                                std::to_string(codes.size() * 8));
      }
      const uint64_t end = code_bit + n * (k + 1) + extra;
      const uint64_t first = code_bit / 8, last = (end + 7) / 8;
      reader->postings_.push_back(codes.substr(first, last - first));
      reader->counts_.emplace_back();
      reader->forms_.push_back(Form::kRiceStream);
      reader->spans_[i] = RiceSpan{static_cast<uint32_t>(n), static_cast<uint8_t>(code_bit % 8),
                                   static_cast<uint8_t>(last * 8 - end)};
      code_bit = end;
      continue;
    }
    if (version3 && (tag == 3 || tag == 5)) {
      // Rice-coded rows, or the rest (rows of its own none).
      if (tag == 5 && rest >= 0) {
        return Status::DataLoss(what + ": value " + std::to_string(i) + " is a second rest (" +
                                std::to_string(rest) + " the first)");
      }
      std::string_view rice;
      if (tag == 3 && !GetLengthPrefixed(&rows, &rice)) {
        return Status::DataLoss(what + ": the rows of value " + std::to_string(i) +
                                " are truncated");
      }
      if (tag == 5) rest = static_cast<int64_t>(i);
      reader->postings_.push_back(rice);
      reader->counts_.emplace_back();
      reader->forms_.push_back(tag == 3 ? Form::kRice : Form::kRest);
      continue;
    }
    if (tag == 0 || tag / 2 > blocks || (tag % 2 == 1 && tag != 1)) {
      return Status::DataLoss(what + ": the list of value " + std::to_string(i) + " has tag " +
                              std::to_string(tag) + " (empty, names more than " +
                              std::to_string(blocks) + " blocks, or unknown)");
    }
    if (tag == 1) {
      // Rows, as version 1 keeps them.
      std::string_view runs;
      if (!GetLengthPrefixed(&rows, &runs)) {
        return Status::DataLoss(what + ": the rows of value " + std::to_string(i) +
                                " are truncated");
      }
      reader->postings_.push_back(runs);
      reader->counts_.emplace_back();
      reader->forms_.push_back(Form::kRuns);
      continue;
    }
    const uint64_t entries = tag / 2;
    const char* counts_start = counts.data();
    for (uint64_t e = 0; e < entries; ++e) {
      if (!GetVarint64(&lists, &v) || !GetVarint64(&counts, &v)) {
        return Status::DataLoss(what + ": the list of value " + std::to_string(i) +
                                " is truncated at its entry " + std::to_string(e));
      }
    }
    listed = static_cast<int64_t>(i);
    reader->postings_.emplace_back(list_start, static_cast<size_t>(lists.data() - list_start));
    reader->counts_.emplace_back(counts_start, static_cast<size_t>(counts.data() - counts_start));
    reader->forms_.push_back(Form::kList);
  }
  if (rest >= 0 && listed >= 0) {
    // The rest is every row no other value holds, and a block list does not say which rows.
    return Status::DataLoss(what + ": value " + std::to_string(rest) +
                            " is the rest beside the block list of value " +
                            std::to_string(listed));
  }
  if (!values.empty() || !lists.empty() || !rows.empty() || !counts.empty() ||
      !rice_counts.empty() || !rice_extra.empty()) {
    return Status::DataLoss(what + " has trailing bytes");
  }
  if (version4 &&
      ((code_bit + 7) / 8 != codes.size() ||
       (code_bit % 8 != 0 && (static_cast<uint8_t>(codes.back()) >> (code_bit % 8)) != 0))) {
    return Status::DataLoss(what + ": its codes hold " + std::to_string(codes.size()) +
                            " bytes after the values' " + std::to_string(code_bit) + " bits");
  }
  return Status::OK();
}

Result<std::unique_ptr<InvertedIndexReader>> InvertedIndexReader::Parse(std::string data,
                                                                        uint32_t max_rows) {
  auto reader = std::make_unique<InvertedIndexReader>();
  reader->data_ = std::move(data);
  reader->max_rows_ = max_rows;
  std::string_view in(reader->data_);
  if (!in.empty() && (static_cast<uint8_t>(in[0]) == kInvertedIndexBlockListsVersion ||
                      static_cast<uint8_t>(in[0]) == kInvertedIndexRestVersion ||
                      static_cast<uint8_t>(in[0]) == kInvertedIndexRiceStreamVersion)) {
    RETURN_IF_ERROR(ParseBlockLists(in.substr(1), static_cast<uint8_t>(in[0]), reader.get()));
    return reader;
  }
  if (!in.empty() && static_cast<uint8_t>(in[0]) == kInvertedIndexBlockMapVersion) {
    RETURN_IF_ERROR(ParseBlockMap(in.substr(1), reader.get()));
    return reader;
  }
  if (in.empty() || static_cast<uint8_t>(in[0]) != kInvertedIndexVersion) {
    return Status::DataLoss("inverted index has unknown version " +
                            std::to_string(in.empty() ? -1 : static_cast<uint8_t>(in[0])));
  }
  in.remove_prefix(1);
  uint64_t count;
  if (!GetVarint64(&in, &count) || count > in.size()) {
    return Status::DataLoss("inverted index has a bad value count");
  }
  reader->values_.reserve(count);
  reader->postings_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view value, postings;
    if (!GetLengthPrefixed(&in, &value) || !GetLengthPrefixed(&in, &postings)) {
      return Status::DataLoss("inverted index entry " + std::to_string(i) +
                              " is truncated at byte " +
                              std::to_string(reader->data_.size() - in.size()));
    }
    if (!reader->values_.empty() && !(reader->values_.back() < value)) {
      return Status::DataLoss("inverted index values out of order at entry " + std::to_string(i));
    }
    reader->values_.push_back(value);
    reader->postings_.push_back(postings);
  }
  if (!in.empty()) return Status::DataLoss("inverted index has trailing bytes");
  return reader;
}

Status AddPostingsRun(uint64_t gap, uint64_t len_minus_1, uint32_t max_rows, uint64_t* pos,
                      roaring::Roaring* out) {
  const uint64_t start = *pos + gap;
  const uint64_t end = start + len_minus_1 + 1;
  if (gap > max_rows || len_minus_1 >= max_rows || end > max_rows) {
    return Status::DataLoss("postings name row " + std::to_string(end - 1) + " of only " +
                            std::to_string(max_rows));
  }
  if (end - start == 1) {
    out->add(static_cast<uint32_t>(start));
  } else {
    out->addRange(start, end);
  }
  *pos = end;
  return Status::OK();
}

Status DecodePostings(std::string_view runs, uint32_t max_rows, roaring::Roaring* out) {
  uint64_t pos = 0;
  while (!runs.empty()) {
    uint64_t gap, len_minus_1;
    if (!GetVarint64(&runs, &gap) || !GetVarint64(&runs, &len_minus_1)) {
      return Status::DataLoss("truncated postings");
    }
    RETURN_IF_ERROR(AddPostingsRun(gap, len_minus_1, max_rows, &pos, out));
  }
  return Status::OK();
}

Status InvertedIndexReader::LookupBlocks(std::string_view value,
                                         std::vector<BlockEntry>* out) const {
  out->clear();
  if (!block_lists()) {
    return Status::FailedPrecondition("the inverted index holds rows, not block lists");
  }
  if (block_map()) {
    const int64_t i = MapFind(value);
    return i < 0 ? Status::OK() : MapBlocks(static_cast<size_t>(i), out);
  }
  auto it = std::lower_bound(values_.begin(), values_.end(), value);
  if (it == values_.end() || *it != value) return Status::OK();
  const size_t i = static_cast<size_t>(it - values_.begin());
  if (!IsListed(i)) {
    return Status::FailedPrecondition("the inverted index holds rows of this value, not blocks");
  }
  std::string_view list = postings_[i], counts = counts_[i];
  uint64_t entries = 0;
  GetVarint64(&list, &entries);  // the tag (checked by Parse, as the varints below)
  entries /= 2;
  out->reserve(entries);
  uint64_t next = 0;
  for (uint64_t e = 0; e < entries; ++e) {
    uint64_t gap = 0, rows_minus_1 = 0;
    GetVarint64(&list, &gap);
    GetVarint64(&counts, &rows_minus_1);
    const uint64_t block = next + gap;
    if (gap >= block_count_ || block >= block_count_ || rows_minus_1 >= max_rows_) {
      return Status::DataLoss("block list of value '" + std::string(value) + "' names block " +
                              std::to_string(block) + " of " + std::to_string(block_count_) +
                              " with " + std::to_string(rows_minus_1 + 1) + " rows");
    }
    out->push_back(
        BlockEntry{static_cast<uint32_t>(block), static_cast<uint32_t>(rows_minus_1 + 1)});
    next = block + 1;
  }
  return Status::OK();
}

bool InvertedIndexReader::Holds(std::string_view value) const {
  if (block_map()) return MapFind(value) >= 0;
  return std::binary_search(values_.begin(), values_.end(), value);
}

bool InvertedIndexReader::Listed(std::string_view value) const {
  if (block_map()) return MapFind(value) >= 0;
  auto it = std::lower_bound(values_.begin(), values_.end(), value);
  return it != values_.end() && *it == value && IsListed(static_cast<size_t>(it - values_.begin()));
}

void PutRicePostings(const std::vector<uint32_t>& rows, std::string* out) {
  // A geometric gap's best k is about log2 of its mean; try those around it and keep the best.
  const uint64_t span = rows.empty() ? 0 : uint64_t{rows.back()} + 1;
  const auto guess = static_cast<uint32_t>(rows.empty() ? 0 : std::bit_width(span / rows.size()));
  uint32_t best_k = 0;
  uint64_t best = UINT64_MAX;
  for (uint32_t k = guess > 3 ? guess - 3 : 0; k <= std::min(31u, guess + 2); ++k) {
    const uint64_t bits = RiceBits(rows, k);
    if (bits < best) {
      best = bits;
      best_k = k;
    }
  }
  PutVarint64(out, rows.size());
  out->push_back(static_cast<char>(best_k));
  RiceBitWriter w(out);
  PutRiceCodes(rows, best_k, &w);
  w.Finish();
}

namespace {

// Decodes "count" Rice codes of row gaps with parameter k from "*reader" into "*rows_out"
// (cleared first), the rows ascending.
Status DecodeRiceCodes(RiceBitReader* reader, uint64_t count, uint32_t k, uint32_t max_rows,
                       std::vector<uint32_t>* rows_out) {
  RiceBitReader& bits = *reader;
  std::vector<uint32_t>& rows = *rows_out;
  rows.clear();
  rows.reserve(count);
  uint64_t next = 0;  // the least row the next code may name
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t gap;
    if (bits.Next(k, &gap) != RiceBitReader::Read::kOk) {
      return Status::DataLoss("rice postings end before row " + std::to_string(i) + " of " +
                              std::to_string(count));
    }
    if (gap >= max_rows || next + gap >= max_rows) {
      return Status::DataLoss("rice postings name row " +
                              std::to_string(gap >= max_rows ? gap : next + gap) + " of only " +
                              std::to_string(max_rows));
    }
    rows.push_back(static_cast<uint32_t>(next + gap));
    next += gap + 1;
  }
  return Status::OK();
}

// DecodeRiceCodes' rows, kept between calls.
thread_local std::vector<uint32_t> decoded_rows;

}  // namespace

Status DecodeRicePostings(std::string_view postings, uint32_t max_rows, roaring::Roaring* out) {
  uint64_t count;
  if (!GetVarint64(&postings, &count) || count == 0 || count > max_rows || postings.empty()) {
    return Status::DataLoss("rice postings have a bad row count or no k");
  }
  const uint32_t k = static_cast<uint8_t>(postings[0]);
  postings.remove_prefix(1);
  if (k > 31)
    return Status::DataLoss("rice postings have k " + std::to_string(k) + " (at most 31)");
  RiceBitReader bits(postings);
  RETURN_IF_ERROR(DecodeRiceCodes(&bits, count, k, max_rows, &decoded_rows));
  if (!bits.Done())
    return Status::DataLoss("rice postings have bits left over after " + std::to_string(count) +
                            " rows");
  out->addMany(decoded_rows.size(), decoded_rows.data());
  return Status::OK();
}

Status InvertedIndexReader::Decode(size_t i, roaring::Roaring* out) const {
  if (forms_.empty() || forms_[i] == Form::kRuns) {
    return DecodePostings(postings_[i], max_rows_, out);
  }
  if (forms_[i] == Form::kRice) return DecodeRicePostings(postings_[i], max_rows_, out);
  if (forms_[i] == Form::kRiceStream) {
    // (Version 4) Its codes take exactly the bits Parse placed them in.
    const RiceSpan span = spans_[i];
    const uint32_t k = ImpliedRiceK(span.count, max_rows_);
    RiceBitReader bits(postings_[i]);
    bits.Skip(span.skip);  // (Parse: within the bytes)
    RETURN_IF_ERROR(DecodeRiceCodes(&bits, span.count, k, max_rows_, &decoded_rows));
    if (bits.BitsLeft() != span.pad) {
      return Status::DataLoss("rice codes of " + std::to_string(span.count) + " rows (k " +
                              std::to_string(k) + ") leave " + std::to_string(bits.BitsLeft()) +
                              " bits of their span unread, not " + std::to_string(span.pad));
    }
    out->addMany(decoded_rows.size(), decoded_rows.data());
    return Status::OK();
  }
  // The rest: the rows no other value holds (Parse: no value beside it is a block list).
  roaring::Roaring others;
  for (size_t j = 0; j < values_.size(); ++j) {
    if (j == i) continue;
    Status st = Decode(j, &others);
    if (!st.ok()) {
      return Status::DataLoss("the rest '" + std::string(values_[i]) + "' from value '" +
                              std::string(values_[j]) + "': " + st.message());
    }
  }
  roaring::Roaring rest;
  rest.addRange(0, max_rows_);
  rest -= others;
  *out |= rest;
  return Status::OK();
}

bool InvertedIndexReader::RiceCoded(std::string_view value) const {
  auto it = std::lower_bound(values_.begin(), values_.end(), value);
  if (it == values_.end() || *it != value || forms_.empty()) return false;
  const Form form = forms_[static_cast<size_t>(it - values_.begin())];
  return form == Form::kRice || form == Form::kRiceStream;
}

Result<roaring::Roaring> InvertedIndexReader::Lookup(std::string_view value) const {
  roaring::Roaring rows;
  if (block_map() && MapFind(value) >= 0) {
    return Status::FailedPrecondition("the inverted index holds blocks of this value, not rows");
  }
  auto it = std::lower_bound(values_.begin(), values_.end(), value);
  if (it == values_.end() || *it != value) return rows;
  const size_t i = static_cast<size_t>(it - values_.begin());
  if (IsListed(i)) {
    return Status::FailedPrecondition("the inverted index holds blocks of this value, not rows");
  }
  RETURN_IF_ERROR(Decode(i, &rows));
  rows.runOptimize();
  return rows;
}

std::vector<std::string> InvertedIndexReader::Values() const {
  if (block_map()) {
    std::vector<std::string> out;
    out.reserve(map_counts_.size());
    for (size_t i = 0; i < map_counts_.size(); ++i) out.emplace_back(MapValue(i));
    return out;
  }
  return std::vector<std::string>(values_.begin(), values_.end());
}

}  // namespace sawmill::index
