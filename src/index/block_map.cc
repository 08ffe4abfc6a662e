// The inverted index's version 5 (segment format version 27): the block map of user ids, each
// value's row blocks as Rice-coded gaps (inverted_index.h has the bytes; docs/format/index.md
// "The block map"). The user id column holds each row's user (huffman-ids); the map only says
// which blocks a search of a user reads, in about a tenth of the bytes of version 4's rows.
#include <algorithm>

#include "common/coding.h"
#include "common/rice_code.h"
#include "index/inverted_index.h"

namespace sawmill::index {

void InvertedIndexBuilder::BlocksOf(const Entry& e, const std::vector<uint32_t>& block_starts,
                                    std::vector<uint32_t>* out) {
  out->clear();
  // The block holding row "start" and those up to the one holding "end - 1".
  auto add_run = [&](uint32_t start, uint32_t end) {
    auto first = std::upper_bound(block_starts.begin(), block_starts.end(), start) - 1;
    auto last = std::upper_bound(first, block_starts.end(), end - 1) - 1;
    for (auto b = first; b <= last; ++b) {
      const auto block = static_cast<uint32_t>(b - block_starts.begin());
      if (out->empty() || out->back() != block) out->push_back(block);
    }
  };
  ForEachRun(e, add_run);
}

void InvertedIndexBuilder::FinishBlockMap(const std::vector<uint32_t>& block_starts,
                                          std::string* out) const {
  const std::vector<const Entry*> sorted = Sorted();
  const auto block_count = static_cast<uint32_t>(block_starts.size());
  std::string values, counts, codes;
  RiceBitWriter stream(&codes);
  std::vector<uint32_t> blocks;
  std::string_view prev;
  for (const Entry* e : sorted) {
    size_t shared = 0;
    const size_t most = std::min(prev.size(), e->value.size());
    while (shared < most && prev[shared] == e->value[shared]) ++shared;
    PutVarint64(&values, shared);
    PutLengthPrefixed(&values, e->value.substr(shared));
    prev = e->value;
    BlocksOf(*e, block_starts, &blocks);
    PutVarint64(&counts, blocks.size() - 1);
    const uint32_t k = ImpliedRiceK(blocks.size(), block_count);
    int64_t last = -1;
    for (uint32_t b : blocks) {
      stream.Rice(static_cast<uint64_t>(static_cast<int64_t>(b) - last - 1), k);
      last = b;
    }
  }
  stream.Finish();
  out->push_back(static_cast<char>(kInvertedIndexBlockMapVersion));
  PutVarint64(out, sorted.size());
  PutVarint64(out, block_count);
  PutLengthPrefixed(out, values);
  PutLengthPrefixed(out, counts);
  out->append(codes);
}

Status InvertedIndexReader::ParseBlockMap(std::string_view in, InvertedIndexReader* reader) {
  const std::string what = "inverted index (block map)";
  uint64_t count = 0, blocks = 0;
  if (!GetVarint64(&in, &count) || count > in.size()) {
    return Status::DataLoss(what + " has a bad value count");
  }
  if (!GetVarint64(&in, &blocks) || blocks > UINT32_MAX || (count > 0 && blocks == 0)) {
    return Status::DataLoss(what + " has a bad block count");
  }
  reader->version_ = kInvertedIndexBlockMapVersion;
  reader->block_count_ = static_cast<uint32_t>(blocks);
  std::string_view values, counts;
  if (!GetLengthPrefixed(&in, &values))
    return Status::DataLoss(what + ": its values are truncated");
  if (!GetLengthPrefixed(&in, &counts))
    return Status::DataLoss(what + ": its counts are truncated");
  reader->map_codes_ = in;
  std::string& all = reader->map_values_;
  reader->map_offsets_.reserve(count + 1);
  reader->map_offsets_.push_back(0);
  reader->map_counts_.reserve(count);
  reader->map_bits_.reserve(count + 1);
  RiceBitReader bits(in);
  const uint64_t total_bits = bits.BitsLeft();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t shared = 0, blocks_minus_1 = 0;
    std::string_view suffix;
    const size_t at = reader->map_offsets_.back();  // == all.size()
    const size_t prev_at = i > 0 ? reader->map_offsets_[i - 1] : at;
    if (!GetVarint64(&values, &shared) || !GetLengthPrefixed(&values, &suffix) ||
        shared > at - prev_at) {
      return Status::DataLoss(what + ": value " + std::to_string(i) + " is truncated or shares " +
                              std::to_string(shared) + " bytes of a value of " +
                              std::to_string(at - prev_at));
    }
    if (at + shared + suffix.size() > UINT32_MAX) {
      return Status::DataLoss(what + ": its values are too long");
    }
    all.append(all, prev_at, shared);  // the previous value's first "shared" bytes
    all.append(suffix);
    if (i > 0 &&
        !(std::string_view(all).substr(prev_at, at - prev_at) < std::string_view(all).substr(at))) {
      return Status::DataLoss(what + ": values out of order at value " + std::to_string(i));
    }
    reader->map_offsets_.push_back(static_cast<uint32_t>(all.size()));
    if (!GetVarint64(&counts, &blocks_minus_1) || blocks_minus_1 >= blocks) {
      return Status::DataLoss(what + ": value '" + all.substr(at) + "' has a bad block count");
    }
    const auto n = static_cast<uint32_t>(blocks_minus_1 + 1);
    reader->map_counts_.push_back(n);
    // Where its codes begin: passed over here, decoded (and checked) by MapBlocks.
    reader->map_bits_.push_back(total_bits - bits.BitsLeft());
    const uint32_t k = ImpliedRiceK(n, blocks);
    uint64_t left = n - bits.FastSkip(k, n), v = 0;
    for (; left > 0; --left) {
      if (bits.Next(k, &v) != RiceBitReader::Read::kOk) {
        return Status::DataLoss(what + ": the codes end in value '" + all.substr(at) + "'");
      }
    }
  }
  reader->map_bits_.push_back(total_bits - bits.BitsLeft());
  if (!values.empty() || !counts.empty() || !bits.Done()) {
    return Status::DataLoss(what + " has bytes left over after its " + std::to_string(count) +
                            " values");
  }
  return Status::OK();
}

int64_t InvertedIndexReader::MapFind(std::string_view value) const {
  size_t lo = 0, hi = map_counts_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (MapValue(mid) < value) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < map_counts_.size() && MapValue(lo) == value ? static_cast<int64_t>(lo) : -1;
}

Status InvertedIndexReader::MapBlocks(size_t i, std::vector<BlockEntry>* out) const {
  out->clear();
  const uint32_t n = map_counts_[i];
  const uint32_t k = ImpliedRiceK(n, block_count_);
  const uint64_t from = map_bits_[i], to = map_bits_[i + 1];
  RiceBitReader bits(map_codes_.substr(from / 8));
  bits.Skip(static_cast<uint32_t>(from % 8));  // (Parse: within the bytes)
  const uint64_t left_at_start = bits.BitsLeft();
  out->reserve(n);
  uint64_t next = 0;  // the least block the next code may name
  for (uint32_t e = 0; e < n; ++e) {
    uint64_t gap = 0;
    if (bits.Next(k, &gap) != RiceBitReader::Read::kOk || gap >= block_count_ ||
        next + gap >= block_count_) {
      return Status::DataLoss("block map of value '" + std::string(MapValue(i)) + "': block " +
                              std::to_string(e) + " of " + std::to_string(n) +
                              " is past the segment's " + std::to_string(block_count_) +
                              " blocks or its code ends early");
    }
    out->push_back(BlockEntry{static_cast<uint32_t>(next + gap), 0});
    next += gap + 1;
  }
  if (left_at_start - bits.BitsLeft() != to - from) {
    return Status::DataLoss("block map of value '" + std::string(MapValue(i)) +
                            "': its codes take " + std::to_string(left_at_start - bits.BitsLeft()) +
                            " bits, not " + std::to_string(to - from));
  }
  return Status::OK();
}

}  // namespace sawmill::index
