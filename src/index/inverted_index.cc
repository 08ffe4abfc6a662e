#include "index/inverted_index.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"
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
    return;
  }
  if (e->open && row < e->run_end) return;  // the same row twice
  if (e->open) {
    PutVarint32(&e->runs, e->run_start - e->prev_end);
    PutVarint32(&e->runs, e->run_end - e->run_start - 1);
    e->prev_end = e->run_end;
  }
  e->open = true;
  e->run_start = row;
  e->run_end = row + 1;
}

void InvertedIndexBuilder::Finish(std::string* out) const {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const Entry& e : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return a->value < b->value; });
  out->push_back(static_cast<char>(kInvertedIndexVersion));
  PutVarint64(out, sorted.size());
  std::string tail;
  for (const Entry* e : sorted) {
    PutLengthPrefixed(out, e->value);
    tail.clear();
    if (e->open) {
      PutVarint32(&tail, e->run_start - e->prev_end);
      PutVarint32(&tail, e->run_end - e->run_start - 1);
    }
    PutVarint64(out, e->runs.size() + tail.size());
    out->append(e->runs);
    out->append(tail);
  }
}

Result<std::unique_ptr<InvertedIndexReader>> InvertedIndexReader::Parse(std::string data,
                                                                        uint32_t max_rows) {
  auto reader = std::make_unique<InvertedIndexReader>();
  reader->data_ = std::move(data);
  reader->max_rows_ = max_rows;
  std::string_view in(reader->data_);
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

Result<roaring::Roaring> InvertedIndexReader::Lookup(std::string_view value) const {
  roaring::Roaring rows;
  auto it = std::lower_bound(values_.begin(), values_.end(), value);
  if (it == values_.end() || *it != value) return rows;
  RETURN_IF_ERROR(
      DecodePostings(postings_[static_cast<size_t>(it - values_.begin())], max_rows_, &rows));
  rows.runOptimize();
  return rows;
}

std::vector<std::string> InvertedIndexReader::Values() const {
  return std::vector<std::string>(values_.begin(), values_.end());
}

}  // namespace sawmill::index
