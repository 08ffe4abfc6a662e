// WriteSegment: sorts the rows, cuts them into blocks, encodes and compresses each column block,
// builds the registered index kinds (index/index_kind.h), and writes header, blocks, each kind's
// data where its layout keeps it (indexes, blooms, kind indexes), footer and trailer
// (docs/format/segment.md) through an object store's writer (for the local store: a temporary
// file that is synced and renamed), 1 MiB at a time.
#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <list>
#include <numeric>
#include <unordered_map>

#include "common/coding.h"
#include "common/string_pair_hash.h"
#include "index/index_kind.h"
#include "index/word_hash.h"
#include "objstore/local_directory_store.h"
#include "segment/block_codec.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"
#include "segment/compression_policy.h"
#include "segment/footer.h"
#include "segment/format.h"
#include "segment/json_shape.h"
#include "segment/segment.h"
#include "segment/segment_merge.h"
#include "segment/writer_test_hook.h"

namespace sawmill::segment {

namespace {

// Tests only (writer_test_hook.h).
std::atomic<EncodedBlockHook> encoded_block_hook{nullptr};

constexpr size_t kFlushBytes = 1 << 20;
// (Version 8) A shared frame of small column blocks holds at most this many bytes before
// compression (a whole block packed is bounded by WriterOptions::pack_blocks_below instead).
constexpr size_t kMaxFrameRawBytes = 256 << 10;
// ... and a whole block packed at most this many (whatever WriterOptions::pack_blocks_below).
constexpr size_t kMaxWholeFrameRawBytes = 16 << 20;
// (Version 9) A text column block that zstd shrinks this many times or more is never split into
// sub-blocks (Writer::EmitTextColumn).
constexpr size_t kSplitMinRatio = 4;

class Writer {
 public:
  Writer(const WriterOptions& options, std::unique_ptr<objstore::ObjectWriter> file)
      : options_(options), file_(std::move(file)) {}

  // Gives the rows [first, first + count) in the order they are written, valid until the next
  // call.
  using BlockFn = std::function<const Record*(uint32_t first, uint32_t count)>;
  // "info" holds the segment's row count and ranges (RangesOf). A null row pointer from
  // "block" ends the write with Internal (the caller keeps the reason). "late_ranges", when set,
  // is read after the last block: the rows' time, ingest time and raw byte ranges that the
  // footer keeps (a caller that learns them while handing out the rows); its row count and seq
  // range must be the ones "info" gave the header.
  Status Write(const SegmentInfo& info, const BlockFn& block,
               const SegmentInfo* late_ranges = nullptr);
  // REQUIRES: Write returned OK.
  const SegmentInfo& result() const { return footer_.info; }

 private:
  Status WriteBlock(const Record* rows, uint32_t count, uint32_t first_row);
  // Compresses "raw" as a physical block and returns where it went.
  Status EmitBlock(std::string_view raw, CodecChoice choice, BlockRef* ref);
  // Appends physical blocks compressed already ("stored") and returns where they went.
  Status EmitStored(std::string_view stored, uint64_t raw_size, BlockRef* ref);
  // Writes the current row block's block of "column": its own physical block, or (version 8,
  // options_.pack_columns_below) a slice of the block's shared frame, which EmitFrame writes.
  Status EmitColumn(ColumnMeta* column, std::string_view raw, CodecChoice choice);
  // EmitColumn of the per-row text column "column" (SplittableColumn) holding "values", one per
  // row of the current block; (version 9, options_.subblock_bytes) a large one is split into
  // sub-blocks of consecutive rows instead, each its own physical block.
  Status EmitTextColumn(ColumnMeta* column, const std::string_view* values, uint32_t count,
                        CodecChoice choice);
  // (Version 8) Writes the current row block's shared frame, if any, and places its slices.
  Status EmitFrame();
  // (Version 8) Once the row block is too large to be packed whole: writes the waiting column
  // blocks of at least pack_columns_below bytes, and those past kMaxFrameRawBytes, as blocks
  // of their own.
  Status EmitLargeSlices();
  // (Version 8) Whether a column block of "size" encoded bytes of "column" waits for the shared
  // frame in a row block not packed whole (pack_columns_below, pack_fields_below).
  bool Packable(const ColumnMeta& column, size_t size) const {
    return size < options_.pack_columns_below ||
           (column.id == ColumnId::kDynamic && size < options_.pack_fields_below);
  }
  Status FlushPending(bool force);
  void AssignFieldOrdinals(const Record& r, uint32_t row_in_block);
  // CodecFor with the options' zstd levels.
  CodecChoice Choice(ColumnId id) const {
    CodecChoice c = CodecFor(id);
    const bool text = id == ColumnId::kMessage || id == ColumnId::kDynamic ||
                      id == ColumnId::kFieldOverflow || id == ColumnId::kMessageShape ||
                      id == ColumnId::kMessageExtra;
    const int level = text ? options_.text_zstd_level : options_.other_zstd_level;
    if (c.codec == Codec::kZstd && level != 0) c.level = level;
    return c;
  }
  uint32_t NewFieldColumn(std::string_view name);
  // (Version 4) The shape and extras of each row's message (empty: the message is stored as
  // text); true when any row of the block has a shape.
  bool ShapeMessages(const Record* rows, uint32_t count);
  CodecChoice MetadataChoice() const {
    CodecChoice c = kMetadataCodec;
    if (options_.metadata_zstd_level != 0) c.level = options_.metadata_zstd_level;
    return c;
  }

  const WriterOptions& options_;
  std::unique_ptr<objstore::ObjectWriter> file_;
  BlockCodec codec_;
  std::string pending_;  // bytes not yet appended to the file
  uint64_t offset_ = 0;  // file offset of pending_[0]
  Footer footer_;
  std::string raw_;           // one encoded column block
  std::string hook_scratch_;  // a block changed by the test hook (writer_test_hook.h)
  std::string sub_raw_;       // one encoded sub-block (version 9)
  std::string whole_stored_;  // a column block compressed whole, beside ...
  std::string split_stored_;  // ... its sub-blocks compressed, back to back (version 9)

  // (Version 8) The column blocks of the current row block waiting for its shared frame.
  struct Slice {
    size_t column;  // in footer_.columns
    CodecChoice choice;
  };
  std::vector<Slice> slices_;
  std::vector<std::string> slice_bytes_;  // by slices_ position; strings reused across blocks
  size_t slice_total_ = 0;
  // Whether the current row block may still be packed whole (options_.pack_blocks_below).
  bool whole_block_ = false;
  std::string frame_;
  std::string layout_bytes_;
  std::vector<size_t> layout_ends_;
  StringEncodeScratch scratch_;
  bool int_dict_ = false;       // kIntDict for ingest_ts and level (format version 10)
  bool permuted_runs_ = false;  // kPermutedRuns for seq (format version 14)
  bool ts_line_ = false;        // kTsLine for seq, against the rows' ts (format version 25)
  bool rice_runs_ = false;      // kRiceRuns for the time columns (format version 15)
  bool packed_ids_ = false;     // kIntDict ids mode 3 for the level (format version 17)
  // kFilteredHex for the trace ids, beside their mixed id filters (format version 26, trace_id
  // with a bloom).
  bool filtered_hex_ = false;
  std::vector<bool> trace_filtered_;  // by row block: its trace_id took kFilteredHex
  bool message_lines_ = false;        // (version 12) scratch_.marked_lines for the message column
  std::vector<int64_t> ints_;
  std::vector<int64_t> row_ts_;  // (version 13) the ts of the block's rows, for the message
  std::vector<uint64_t> uints_;
  std::vector<std::string_view> views_;

  // Dynamic field columns: ordinal k >= 1 is footer_.columns[builtin + k - 1].
  std::unordered_map<std::string_view, uint32_t> first_ordinal_;  // keys in key_names_
  std::deque<std::string> key_names_;                             // a deque never moves its strings
  std::vector<uint32_t> next_duplicate_;                          // by ordinal; 0 = none yet
  std::vector<uint32_t> seen_in_row_;                             // by ordinal; row stamp
  std::vector<std::vector<std::string_view>> field_values_;       // by ordinal, present rows only
  std::vector<std::string_view> overflow_values_;
  uint32_t row_stamp_ = 0;
  size_t builtin_columns_ = 0;  // BuiltinColumnCount(version)

  // Message shapes of the current block, by row (segment/json_shape.h).
  std::vector<std::string> shapes_;
  std::vector<std::string> extras_;
  ShapeScratch shape_scratch_;

  // The words of the block's messages, split once for every kind that reads them; filled only
  // when one does (split_words_).
  index::BlockWords block_words_;
  bool split_words_ = false;
  // (Version 12) The words the word postings decide, which the message blooms leave out.
  index::DecidedWords decided_words_;
  // (Version 16) The fields the inverted index stores as block lists, which the blooms leave out.
  index::PostedFields posted_fields_;
  // The registered index kinds this format version stores, with their builders.
  std::vector<std::pair<const index::IndexKind*, std::unique_ptr<index::IndexBuilder>>> kinds_;
};

// The order rows are written in: by (slice, service, host, ts, seq), without comparing strings
// per row: (service, host) pairs are ranked once, then rows are sorted by integer keys. The slice
// of a row is its position in (ts, seq) order divided by "slice_rows" (0: one slice), so every
// slice holds the rows of one stretch of time. "rows" gives service(i), host(i), ts(i) and
// seq(i) for i < n. Returns row numbers in write order; empty when that is the order given.
template <typename Rows>
std::vector<uint32_t> SortedOrder(const Rows& rows, size_t n, uint32_t slice_rows) {
  std::unordered_map<std::pair<std::string_view, std::string_view>, uint32_t, StringViewPairHash>
      groups;
  std::vector<std::pair<std::string_view, std::string_view>> names;
  std::vector<uint32_t> group_of(n);
  uint32_t last = UINT32_MAX;
  for (size_t row = 0; row < n; ++row) {
    const std::string_view service = rows.service(row), host = rows.host(row);
    if (last != UINT32_MAX && names[last].first == service && names[last].second == host) {
      group_of[row] = last;
      continue;
    }
    auto [it, inserted] = groups.try_emplace({service, host}, static_cast<uint32_t>(names.size()));
    if (inserted) names.emplace_back(service, host);
    group_of[row] = last = it->second;
  }
  std::vector<uint32_t> by_name(names.size());
  std::iota(by_name.begin(), by_name.end(), 0);
  std::sort(by_name.begin(), by_name.end(),
            [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
  std::vector<uint32_t> rank(names.size());
  for (uint32_t i = 0; i < by_name.size(); ++i) rank[by_name[i]] = i;
  struct Key {
    uint32_t slice;
    uint32_t rank;
    uint32_t row;
    int64_t ts;
    uint64_t seq;
  };
  std::vector<Key> keys(n);
  for (size_t row = 0; row < n; ++row) {
    keys[row] =
        Key{0, rank[group_of[row]], static_cast<uint32_t>(row), rows.ts(row), rows.seq(row)};
  }
  auto by_time = [](const Key& a, const Key& b) {
    return std::tie(a.ts, a.seq, a.row) < std::tie(b.ts, b.seq, b.row);
  };
  auto by_group = [](const Key& a, const Key& b) {
    return std::tie(a.slice, a.rank, a.ts, a.seq, a.row) <
           std::tie(b.slice, b.rank, b.ts, b.seq, b.row);
  };
  if (slice_rows > 0 && keys.size() > slice_rows) {
    // Memtables arrive nearly in time order: check before sorting.
    if (!std::is_sorted(keys.begin(), keys.end(), by_time)) {
      std::sort(keys.begin(), keys.end(), by_time);
    }
    for (size_t i = 0; i < keys.size(); ++i) keys[i].slice = static_cast<uint32_t>(i / slice_rows);
    // Inside each slice (already in time order) by (service, host, ts).
    for (size_t start = 0; start < keys.size(); start += slice_rows) {
      auto first = keys.begin() + static_cast<long>(start);
      auto last = keys.begin() + static_cast<long>(std::min(keys.size(), start + slice_rows));
      std::sort(first, last, by_group);
    }
  } else {
    if (std::is_sorted(keys.begin(), keys.end(), by_group)) return {};
    std::sort(keys.begin(), keys.end(), by_group);
  }
  bool identity = true;
  for (size_t i = 0; i < keys.size() && identity; ++i) identity = keys[i].row == i;
  if (identity) return {};
  std::vector<uint32_t> order(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) order[i] = keys[i].row;
  return order;
}

// A vector of records as SortedOrder reads it.
struct VectorRows {
  const std::vector<Record>& records;
  std::string_view service(size_t i) const { return records[i].service; }
  std::string_view host(size_t i) const { return records[i].host; }
  int64_t ts(size_t i) const { return records[i].ts; }
  uint64_t seq(size_t i) const { return records[i].seq; }
};

// Sorts "records" into write order (SortedOrder).
void SortRows(std::vector<Record>* records, uint32_t slice_rows) {
  std::vector<uint32_t> order = SortedOrder(VectorRows{*records}, records->size(), slice_rows);
  if (order.empty()) return;
  std::vector<Record> out;
  out.reserve(records->size());
  for (uint32_t row : order) out.push_back(std::move((*records)[row]));
  records->swap(out);
}

// Counts one more row into "*out": its row count, time, ingest time and seq ranges and raw
// bytes (the first row, rows == 0, sets the ranges).
void AddRow(int64_t ts, int64_t ingest_ts, uint64_t seq, uint64_t raw_bytes, SegmentInfo* out) {
  if (out->rows == 0) {
    out->min_ts = out->max_ts = ts;
    out->min_ingest_ts = out->max_ingest_ts = ingest_ts;
    out->min_seq = out->max_seq = seq;
    out->raw_bytes = 0;
  }
  ++out->rows;
  out->min_ts = std::min(out->min_ts, ts);
  out->max_ts = std::max(out->max_ts, ts);
  out->min_ingest_ts = std::min(out->min_ingest_ts, ingest_ts);
  out->max_ingest_ts = std::max(out->max_ingest_ts, ingest_ts);
  out->min_seq = std::min(out->min_seq, seq);
  out->max_seq = std::max(out->max_seq, seq);
  out->raw_bytes += raw_bytes;
}

// The bytes of a record that SegmentInfo::raw_bytes counts: its message and its fields.
uint64_t RawBytes(const Record& r) {
  uint64_t n = r.message.size();
  for (const auto& [key, value] : r.fields) n += key.size() + value.size();
  return n;
}

// The row count, time, ingest time and seq ranges and raw bytes of a segment of "n" rows.
template <typename Rows>
void RangesOf(const Rows& rows, size_t n, SegmentInfo* out) {
  out->rows = 0;
  for (size_t i = 0; i < n; ++i) {
    AddRow(rows.ts(i), rows.ingest_ts(i), rows.seq(i), rows.raw_bytes(i), out);
  }
}

// A vector of records as RangesOf reads it.
struct VectorRanges {
  const std::vector<Record>& records;
  int64_t ts(size_t i) const { return records[i].ts; }
  int64_t ingest_ts(size_t i) const { return records[i].ingest_ts; }
  uint64_t seq(size_t i) const { return records[i].seq; }
  uint64_t raw_bytes(size_t i) const { return RawBytes(records[i]); }
};

Status Writer::FlushPending(bool force) {
  if (pending_.empty() || (!force && pending_.size() < kFlushBytes)) return Status::OK();
  RETURN_IF_ERROR(file_->Append(pending_));
  offset_ += pending_.size();
  pending_.clear();
  return Status::OK();
}

Status Writer::EmitBlock(std::string_view raw, CodecChoice choice, BlockRef* ref) {
  size_t start = pending_.size();
  codec_.Compress(raw, choice, &pending_);
  ref->offset = offset_ + start;
  ref->size = pending_.size() - start;
  ref->raw_size = raw.size();
  return FlushPending(false);
}

Status Writer::EmitColumn(ColumnMeta* column, std::string_view raw, CodecChoice choice) {
  if (const EncodedBlockHook hook = encoded_block_hook.load(std::memory_order_relaxed)) {
    std::string planted(raw);  // tests only (writer_test_hook.h)
    hook(column->id, &planted);
    hook_scratch_ = std::move(planted);
    raw = hook_scratch_;
  }
  column->blocks.emplace_back();
  BlockRef* ref = &column->blocks.back();
  if (footer_.version < 8) return EmitBlock(raw, choice, ref);
  // While the block's column blocks add up to at most pack_blocks_below, all of them wait for
  // the frame; past it, only those below pack_columns_below do.
  if (whole_block_ && slice_total_ + raw.size() >
                          std::min<size_t>(options_.pack_blocks_below, kMaxWholeFrameRawBytes)) {
    whole_block_ = false;
    RETURN_IF_ERROR(EmitLargeSlices());
  }
  const bool small =
      Packable(*column, raw.size()) && slice_total_ + raw.size() <= kMaxFrameRawBytes;
  if (!whole_block_ && !small) return EmitBlock(raw, choice, ref);
  const size_t at = slices_.size();
  slices_.push_back(Slice{static_cast<size_t>(column - footer_.columns.data()), choice});
  if (slice_bytes_.size() <= at) slice_bytes_.emplace_back();
  slice_bytes_[at].assign(raw);
  slice_total_ += raw.size();
  return Status::OK();
}

Status Writer::EmitTextColumn(ColumnMeta* column, const std::string_view* values, uint32_t count,
                              CodecChoice choice) {
  raw_.clear();
  EncodeStringColumn(values, count, &scratch_, &raw_);
  const uint64_t target = options_.subblock_bytes;
  // A block packed whole (its column blocks add up to at most pack_blocks_below) is never split:
  // reading any of its columns decompresses the frame anyway.
  const bool packed_whole =
      whole_block_ && slice_total_ + raw_.size() <=
                          std::min<size_t>(options_.pack_blocks_below, kMaxWholeFrameRawBytes);
  if (footer_.version < 9 || target == 0 || raw_.size() <= target + target / 2 || packed_whole ||
      count < 2) {
    return EmitColumn(column, raw_, choice);
  }
  if (whole_block_) {
    whole_block_ = false;
    RETURN_IF_ERROR(EmitLargeSlices());
  }
  // Split only where it costs (almost) nothing: text that zstd shrinks 4 times or more (log
  // lines, whose templates repeat across the whole block) loses that to independent sub-blocks
  // (the corpus's messages: +46 % at 32 KiB, docs/performance.md "Reading a few rows of a
  // block"), so it stays whole; ids and hashes compress little either way, and are kept split
  // when the sub-blocks add up to at most 1 % more.
  whole_stored_.clear();
  codec_.Compress(raw_, choice, &whole_stored_);
  if (whole_stored_.size() * kSplitMinRatio <= raw_.size() && !options_.subblock_always) {
    return EmitStored(whole_stored_, raw_.size(), &column->blocks.emplace_back());
  }
  // Rows are cut where the values' bytes reach each piece's share: sub-blocks of about "target"
  // encoded bytes (a dictionary-encoded piece is smaller).
  const uint64_t pieces = std::min<uint64_t>((raw_.size() + target - 1) / target, count);
  uint64_t total = 0;
  for (uint32_t row = 0; row < count; ++row) total += values[row].size() + 1;
  std::vector<SubBlock> subs;
  subs.reserve(pieces);
  split_stored_.clear();
  uint64_t bytes = 0;
  uint32_t first = 0;
  for (uint32_t row = 0; row < count; ++row) {
    bytes += values[row].size() + 1;
    const uint64_t k = subs.size() + 1;  // the piece that ends here, if it does
    const bool last = row + 1 == count;
    // Leave at least one row for each piece still to come.
    const bool cut = k < pieces && bytes * pieces >= total * k && count - row - 1 >= pieces - k;
    if (!cut && !last) continue;
    SubBlock sub;
    sub.first_row = first;
    sub.rows = row + 1 - first;
    sub_raw_.clear();
    {
      // The rows' times of the piece (kTimeText stored against them), as the reader gives them.
      const int64_t* block_times = scratch_.row_times;
      if (block_times != nullptr) scratch_.row_times = block_times + first;
      EncodeStringColumn(values + first, sub.rows, &scratch_, &sub_raw_);
      scratch_.row_times = block_times;
    }
    sub.offset = split_stored_.size();  // relative until placed
    codec_.Compress(sub_raw_, choice, &split_stored_);
    sub.size = split_stored_.size() - sub.offset;
    sub.raw_size = sub_raw_.size();
    subs.push_back(sub);
    first = row + 1;
  }
  BlockRef& ref = column->blocks.emplace_back();
  if (subs.size() < 2 ||
      (split_stored_.size() > whole_stored_.size() + whole_stored_.size() / 100 &&
       !options_.subblock_always)) {
    return EmitStored(whole_stored_, raw_.size(), &ref);
  }
  RETURN_IF_ERROR(EmitStored(split_stored_, 0, &ref));
  for (SubBlock& sub : subs) {
    sub.offset += ref.offset;
    ref.raw_size += sub.raw_size;
  }
  ref.split = static_cast<uint32_t>(footer_.splits.size());
  footer_.splits.push_back(std::move(subs));
  return Status::OK();
}

Status Writer::EmitStored(std::string_view stored, uint64_t raw_size, BlockRef* ref) {
  ref->offset = offset_ + pending_.size();
  ref->size = stored.size();
  ref->raw_size = raw_size;
  pending_.append(stored);
  return FlushPending(false);
}

Status Writer::EmitLargeSlices() {
  const size_t block = footer_.blocks.size();
  size_t kept = 0;
  slice_total_ = 0;
  for (size_t i = 0; i < slices_.size(); ++i) {
    if (!Packable(footer_.columns[slices_[i].column], slice_bytes_[i].size()) ||
        slice_total_ + slice_bytes_[i].size() > kMaxFrameRawBytes) {
      RETURN_IF_ERROR(EmitBlock(slice_bytes_[i], slices_[i].choice,
                                &footer_.columns[slices_[i].column].blocks[block]));
      continue;
    }
    slices_[kept] = slices_[i];
    std::swap(slice_bytes_[kept], slice_bytes_[i]);
    slice_total_ += slice_bytes_[kept].size();
    ++kept;
  }
  slices_.resize(kept);
  return Status::OK();
}

Status Writer::EmitFrame() {
  const size_t block = footer_.blocks.size();  // the row block being written
  if (footer_.version < 8) return Status::OK();
  footer_.frames.emplace_back();
  const size_t n = slices_.size();
  slice_total_ = 0;
  whole_block_ = options_.pack_blocks_below > 0;
  if (n == 1) {
    // Nothing to share: its own block, which spares the frame's directory entry.
    const Slice only = slices_[0];
    slices_.clear();
    return EmitBlock(slice_bytes_[0], only.choice, &footer_.columns[only.column].blocks[block]);
  }
  if (n == 0) return Status::OK();
  // The slices in FrameOrder, as the reader places them back; the frame's codec is the
  // strongest its columns ask for (zstd at the highest level among them).
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return FrameOrder(slice_bytes_[a].size(), slices_[a].column, slice_bytes_[b].size(),
                      slices_[b].column);
  });
  CodecChoice choice = slices_[order[0]].choice;
  frame_.clear();
  for (size_t i : order) {
    const Slice& slice = slices_[i];
    if (slice.choice.codec == Codec::kZstd &&
        (choice.codec != Codec::kZstd || slice.choice.level > choice.level)) {
      choice = slice.choice;
    }
    BlockRef& ref = footer_.columns[slice.column].blocks[block];
    ref.packed = true;
    ref.slice_start = frame_.size();
    ref.raw_size = slice_bytes_[i].size();
    frame_ += slice_bytes_[i];
  }
  BlockRef& frame = footer_.frames.back();
  RETURN_IF_ERROR(EmitBlock(frame_, choice, &frame));
  for (const Slice& slice : slices_) {
    BlockRef& ref = footer_.columns[slice.column].blocks[block];
    ref.offset = frame.offset;
    ref.size = frame.size;
    ref.frame_raw_size = frame.raw_size;
  }
  slices_.clear();
  return Status::OK();
}

uint32_t Writer::NewFieldColumn(std::string_view name) {
  ColumnMeta meta;
  meta.id = ColumnId::kDynamic;
  meta.name = std::string(name);
  meta.blocks.resize(footer_.blocks.size());  // absent in earlier blocks
  footer_.columns.push_back(std::move(meta));
  field_values_.emplace_back();
  next_duplicate_.push_back(0);
  seen_in_row_.push_back(0);
  return static_cast<uint32_t>(field_values_.size() - 1);
}

void Writer::AssignFieldOrdinals(const Record& r, uint32_t /*row_in_block*/) {
  ++row_stamp_;
  for (const auto& [key, value] : r.fields) {
    uint32_t ord = kOverflowOrdinal;
    auto it = first_ordinal_.find(key);
    if (it != first_ordinal_.end()) {
      ord = it->second;
    } else if (field_values_.size() - 1 < kMaxFieldColumns) {
      ord = NewFieldColumn(key);
      // A copy: the rows of a block are valid only while it is written.
      first_ordinal_.emplace(std::string_view(key_names_.emplace_back(key)), ord);
    }
    // A key repeated within one record goes to its next duplicate column.
    while (ord != kOverflowOrdinal && seen_in_row_[ord] == row_stamp_) {
      if (next_duplicate_[ord] == 0) {
        if (field_values_.size() - 1 >= kMaxFieldColumns) {
          ord = kOverflowOrdinal;
          break;
        }
        uint32_t dup = NewFieldColumn(key);
        next_duplicate_[ord] = dup;
      }
      ord = next_duplicate_[ord];
    }
    if (ord == kOverflowOrdinal) {
      overflow_values_.push_back(key);
      overflow_values_.push_back(value);
    } else {
      seen_in_row_[ord] = row_stamp_;
      field_values_[ord].push_back(value);
    }
    char buf[kMaxVarint32Bytes];
    char* end = EncodeVarint64(buf, ord);
    layout_bytes_.append(buf, static_cast<size_t>(end - buf));
  }
}

bool Writer::ShapeMessages(const Record* rows, uint32_t count) {
  if (footer_.version < 4 || !options_.json_shapes) return false;
  if (shapes_.size() < count) {
    shapes_.resize(count);
    extras_.resize(count);
  }
  bool any = false;
  for (uint32_t row = 0; row < count; ++row) {
    if (BuildJsonShape(rows[row], &shapes_[row], &extras_[row], &shape_scratch_)) {
      any = true;
    } else {
      shapes_[row].clear();
      extras_[row].clear();
    }
  }
  return any;
}

Status Writer::WriteBlock(const Record* rows, uint32_t count, uint32_t first_row) {
  BlockInfo info;
  info.first_row = first_row;
  info.rows = count;
  info.min_ts = info.max_ts = rows[0].ts;
  info.min_ingest_ts = info.max_ingest_ts = rows[0].ingest_ts;
  for (uint32_t row = 0; row < count; ++row) {
    info.min_ts = std::min(info.min_ts, rows[row].ts);
    info.max_ts = std::max(info.max_ts, rows[row].ts);
    info.min_ingest_ts = std::min(info.min_ingest_ts, rows[row].ingest_ts);
    info.max_ingest_ts = std::max(info.max_ingest_ts, rows[row].ingest_ts);
  }
  auto& cols = footer_.columns;
  auto col = [&](ColumnId id) { return &cols[static_cast<size_t>(id)]; };
  const bool shaped = ShapeMessages(rows, count);

  // The built-in columns, in table (and file) order; the internal ones follow below.
  for (const BuiltinField& field : kBuiltinFields) {
    raw_.clear();
    switch (field.type) {
      case FieldType::kTime:
        ints_.resize(count);
        for (uint32_t row = 0; row < count; ++row) ints_[row] = rows[row].*field.time;
        EncodeTimeColumn(ints_.data(), count, scratch_.hex, &raw_, int_dict_, rice_runs_);
        break;
      case FieldType::kSequence:
        ints_.resize(count);
        for (uint32_t row = 0; row < count; ++row) ints_[row] = static_cast<int64_t>(rows[row].seq);
        if (ts_line_) {
          row_ts_.resize(count);
          for (uint32_t row = 0; row < count; ++row) row_ts_[row] = rows[row].ts;
        }
        EncodeSeqColumn(ints_.data(), count, permuted_runs_, &raw_,
                        ts_line_ ? row_ts_.data() : nullptr);
        break;
      case FieldType::kString:
        views_.resize(count);
        for (uint32_t row = 0; row < count; ++row) views_[row] = rows[row].*field.text;
        if (shaped && field.column == ColumnId::kMessage) {
          // A shaped message is stored once, in its shape and the columns it refers to.
          for (uint32_t row = 0; row < count; ++row) {
            if (!shapes_[row].empty()) views_[row] = std::string_view();
          }
        }
        // Version 12: the message as marked lines (a hot or compacted segment's).
        scratch_.marked_lines = message_lines_ && field.column == ColumnId::kMessage;
        // Version 13: the times its text holds stored against the rows' ts (kTimeText).
        if (scratch_.time_text && options_.time_text_against_ts &&
            field.column == ColumnId::kMessage) {
          row_ts_.resize(count);
          for (uint32_t row = 0; row < count; ++row) row_ts_[row] = rows[row].ts;
          scratch_.row_times = row_ts_.data();
        }
        // Version 26: trace ids inside their filters, the column block never split (a row's
        // rank and its id's rest are anywhere in it).
        if (field.column == ColumnId::kTraceId && filtered_hex_) {
          trace_filtered_.push_back(EncodeFilteredHex(views_.data(), count, &raw_));
          if (trace_filtered_.back()) {
            RETURN_IF_ERROR(EmitColumn(col(field.column), raw_, Choice(field.column)));
            continue;
          }
        }
        {
          const Status s =
              EmitTextColumn(col(field.column), views_.data(), count, Choice(field.column));
          scratch_.marked_lines = false;
          scratch_.row_times = nullptr;
          RETURN_IF_ERROR(s);
        }
        continue;
      case FieldType::kLevel:
        uints_.resize(count);
        for (uint32_t row = 0; row < count; ++row) {
          uints_[row] = static_cast<uint64_t>(rows[row].level);
        }
        EncodeLevelColumn(uints_.data(), count, int_dict_, &raw_, packed_ids_);
        break;
      case FieldType::kFlags:
        uints_.resize(count);
        for (uint32_t row = 0; row < count; ++row) uints_[row] = rows[row].flags;
        EncodeRle(uints_.data(), count, &raw_);
        break;
      case FieldType::kInternal: continue;
    }
    RETURN_IF_ERROR(EmitColumn(col(field.column), raw_, Choice(field.column)));
  }

  // Dynamic fields: the layout column, then one column per key (present rows only).
  layout_bytes_.clear();
  layout_ends_.clear();
  overflow_values_.clear();
  for (auto& values : field_values_) values.clear();
  for (uint32_t row = 0; row < count; ++row) {
    AssignFieldOrdinals(rows[row], row);
    layout_ends_.push_back(layout_bytes_.size());
  }
  views_.resize(count);
  for (uint32_t row = 0, begin = 0; row < count; ++row) {
    views_[row] = std::string_view(layout_bytes_).substr(begin, layout_ends_[row] - begin);
    begin = static_cast<uint32_t>(layout_ends_[row]);
  }
  RETURN_IF_ERROR(EmitTextColumn(col(ColumnId::kFieldLayout), views_.data(), count,
                                 Choice(ColumnId::kFieldLayout)));
  if (overflow_values_.empty()) {
    col(ColumnId::kFieldOverflow)->blocks.emplace_back();
  } else {
    raw_.clear();
    EncodeStringColumn(overflow_values_.data(), overflow_values_.size(), &scratch_, &raw_);
    RETURN_IF_ERROR(
        EmitColumn(col(ColumnId::kFieldOverflow), raw_, Choice(ColumnId::kFieldOverflow)));
  }
  // The message shapes and their extras (version 4; no block when no row of it has a shape).
  if (footer_.version >= 4) {
    bool any_extra = false;
    for (ColumnId id : {ColumnId::kMessageShape, ColumnId::kMessageExtra}) {
      const auto& by_row = id == ColumnId::kMessageShape ? shapes_ : extras_;
      if (shaped && id == ColumnId::kMessageExtra) {
        for (uint32_t row = 0; row < count && !any_extra; ++row) any_extra = !extras_[row].empty();
      }
      if (!shaped || (id == ColumnId::kMessageExtra && !any_extra)) {
        col(id)->blocks.emplace_back();
        continue;
      }
      for (uint32_t row = 0; row < count; ++row) views_[row] = by_row[row];
      RETURN_IF_ERROR(EmitTextColumn(col(id), views_.data(), count, Choice(id)));
    }
  }
  const size_t builtin = builtin_columns_;
  for (size_t ord = 1; ord < field_values_.size(); ++ord) {
    ColumnMeta* meta = &cols[builtin + ord - 1];
    const auto& values = field_values_[ord];
    if (values.empty()) {
      meta->blocks.emplace_back();
      continue;
    }
    raw_.clear();
    EncodeStringColumn(values.data(), values.size(), &scratch_, &raw_);
    RETURN_IF_ERROR(EmitColumn(meta, raw_, Choice(ColumnId::kDynamic)));
  }

  RETURN_IF_ERROR(EmitFrame());

  // The index kinds.
  if (split_words_) block_words_.Fill(rows, count);
  for (auto& [kind, builder] : kinds_) builder->AddBlock(rows, count);
  footer_.blocks.push_back(info);
  return Status::OK();
}

Status Writer::Write(const SegmentInfo& info, const BlockFn& block,
                     const SegmentInfo* late_ranges) {
  uint32_t block_rows = std::clamp<uint32_t>(options_.block_rows, 1, kMaxBlockRows);
  footer_.block_rows = block_rows;
  footer_.info = info;
  SegmentInfo& out = footer_.info;
  builtin_columns_ = BuiltinColumnCount(options_.format_version);
  whole_block_ = options_.pack_blocks_below > 0;
  footer_.version = options_.format_version;
  for (uint8_t id = 0; id < builtin_columns_; ++id) {
    ColumnMeta meta;
    meta.id = static_cast<ColumnId>(id);
    meta.name = std::string(ColumnName(meta.id));
    footer_.columns.push_back(std::move(meta));
  }
  field_values_.emplace_back();  // ordinal 0 is the overflow column
  next_duplicate_.push_back(0);
  seen_in_row_.push_back(0);

  // What the index kinds are asked to index: service, host and level always, then the
  // options' fields ("message": its words' postings, the word_postings kind).
  index::BuildOptions build;
  auto add = [](std::vector<index::IndexedField>* to, std::string_view field) {
    for (const index::IndexedField& f : *to) {
      if (f.name == field) return;
    }
    to->push_back(IndexedFieldOf(field));
  };
  for (const std::string& f : BuiltinFieldsWith(kIndexAlways)) add(&build.indexed, f);
  for (const std::string& f : options_.indexed_fields) {
    if (!f.empty()) add(&build.indexed, f);
  }
  for (const std::string& f : options_.bloom_fields) {
    if (!f.empty()) add(&build.blooms, f);
  }

  build.words = options_.word_postings;
  build.values = options_.value_postings;
  build.word_postings_version = options_.word_postings_version;
  build.segment_rows = out.rows;  // exactly the rows the loop below writes
  for (const auto* fields : {&build.indexed, &build.blooms}) {
    for (const index::IndexedField& f : *fields) split_words_ = split_words_ || f.message_words;
  }
  if (split_words_) build.block_words = &block_words_;
  const uint32_t version = options_.format_version;
  footer_.version = version;
  scratch_.text_layouts = options_.text_layouts && version >= 5;
  scratch_.prefix_split = scratch_.text_layouts && version >= 6;
  scratch_.layout_probe = options_.text_layout_probe;
  // Version 7: time columns divided by their common divisor, hex ids as bytes (both tiers).
  scratch_.hex = version >= 7;
  // Version 10: int columns whose values repeat (ingest_ts, level) as distinct values and ids.
  int_dict_ = version >= 10;
  permuted_runs_ = version >= 14;
  // Version 25: seq less a line in the rows' ts (rows of many sources that arrived roughly in
  // time order), read with the block's ts.
  ts_line_ = version >= 25;
  // Version 15: times in runs of ascending values (a source's, rows sorted by source and time)
  // as Rice-coded steps.
  rice_runs_ = version >= 15;
  // Version 17: the level's ids packed in the fewest bits (int-dict ids mode 3).
  packed_ids_ = version >= 17;
  // Version 10: text rows that begin with an RFC 3339 UTC time keep it as nanoseconds.
  scratch_.iso_prefix = version >= 10;
  // Version 11: ids spelled as a prefix and a fixed-width number (user ids) as the numbers.
  scratch_.prefixed_number = version >= 11;
  // Version 20: those numbers (user ids) may be canonical Huffman codes of the block's counts.
  scratch_.huffman_ids = version >= 20;
  // Version 13: text rows holding a time in another common log form keep it as a number.
  scratch_.time_text = version >= 13;
  // Version 12: the message of a hot or compacted segment as kMarkedLines instead of plain (the
  // warm tier's layouts choose their own).
  message_lines_ = version >= 12 && !scratch_.text_layouts;
  // Version 11: the block filters of ids as sorted fingerprints (index/bloom.h, id filters).
  build.id_filters = version >= 11;
  // Version 23: their fingerprints keep two low bits fewer (a filter records its own).
  build.id_low_bits = version >= 23 ? index::kIdLowBitsV23 : index::kIdLowBits;
  // Version 26: the trace ids of a block that are all 32 lower-case hex digits are kept in
  // their block's filter (a mixed id filter) and the column (kFilteredHex), which needs it: only
  // where trace_id has filters.
  filtered_hex_ = version >= 26 && std::any_of(build.blooms.begin(), build.blooms.end(),
                                               [](const index::IndexedField& f) {
                                                 return f.builtin && f.name == "trace_id";
                                               });
  if (filtered_hex_) build.mixed_trace_blocks = &trace_filtered_;
  // Version 17: the postings of service, host and level as inverted index version 3 (Rice-coded
  // rows, the most frequent value as the rest).
  build.rest_postings = version >= 17;
  // Version 12: the message blooms leave out the words the word postings decide.
  if (version >= 12) build.decided_words = &decided_words_;
  // Version 16: the posted fields with a bloom (user ids) as inverted index version 2 (rows, or
  // block lists below ValuePostingsRule::list_below_rows), without blooms.
  if (version >= 16) {
    build.value_block_lists = true;
    build.posted_fields = &posted_fields_;
  }
  // Version 22: those fields (user ids) as inverted index version 3: each value's rows as runs
  // or Rice codes, whichever is smaller (block lists as version 16's).
  build.rice_value_rows = version >= 22;
  // Version 23: those fields (user ids) as inverted index version 4: the Rice-coded values'
  // counts in a section of their own, their k implied by count and rows, their codes in one bit
  // stream.
  build.rice_value_stream = version >= 23;
  // Version 27: the user ids as inverted index version 5, the block map (each user's blocks,
  // in every segment; no blooms): about a tenth of version 4's rows and the blooms it replaces.
  build.user_block_map = version >= 27;
  // Version 19: each block's rows counted per minute of ts and ingest_ts and per level (the
  // minute_counts kind), so that `count by bucket(1m), level` reads no column of a block its
  // filter matches whole.
  build.minute_counts = version >= 19;
  for (const index::IndexKind* kind : index::RegisteredIndexKinds()) {
    // kKindBlock data lives in the kind_index directory, which format version 3 added.
    if (kind->new_builder == nullptr ||
        (kind->layout == index::IndexLayout::kKindBlock && version < 3)) {
      continue;
    }
    kinds_.emplace_back(kind, kind->new_builder(build));
  }
  pending_.append(kMagic);
  PutFixed32(&pending_, version);
  if (version == 1) {
    PutFixed32(&pending_, 0);  // flags
  } else {
    // Format 2: the identity block, so that the file says who it is even if its footer is lost.
    SegmentIdentity identity;
    identity.id = out.id;
    identity.tenant = out.tenant;
    identity.partition = out.partition;
    identity.rows = out.rows;
    identity.min_seq = out.min_seq;
    identity.max_seq = out.max_seq;
    std::string raw, block;
    EncodeIdentity(identity, &raw);
    codec_.Compress(raw, CodecChoice{Codec::kNone, 0}, &block);
    PutFixed32(&pending_, static_cast<uint32_t>(block.size()));
    pending_.append(block);
  }

  for (uint32_t first = 0; first < out.rows; first += block_rows) {
    uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(block_rows, out.rows - first));
    const Record* rows = block(first, count);
    if (rows == nullptr)
      return Status::Internal("no rows for the block at row " + std::to_string(first));
    RETURN_IF_ERROR(WriteBlock(rows, count, first));
    if (options_.block_written) options_.block_written(first + count, out.rows);
  }
  if (late_ranges != nullptr) {
    if (late_ranges->rows != out.rows || late_ranges->min_seq != out.min_seq ||
        late_ranges->max_seq != out.max_seq) {
      return Status::Internal(
          "the rows written (" + std::to_string(late_ranges->rows) + ", seqs " +
          std::to_string(late_ranges->min_seq) + ".." + std::to_string(late_ranges->max_seq) +
          ") are not the ones the header names (" + std::to_string(out.rows) + ", seqs " +
          std::to_string(out.min_seq) + ".." + std::to_string(out.max_seq) + ")");
    }
    out.min_ts = late_ranges->min_ts;
    out.max_ts = late_ranges->max_ts;
    out.min_ingest_ts = late_ranges->min_ingest_ts;
    out.max_ingest_ts = late_ranges->max_ingest_ts;
    out.raw_bytes = late_ranges->raw_bytes;
  }

  // Each kind's data, in registration order, where its layout keeps it. The blooms finish last:
  // from version 12 they leave out the words the word postings decided in their Finish.
  std::vector<std::vector<index::IndexPart>> finished(kinds_.size());
  for (bool blooms : {false, true}) {
    for (size_t k = 0; k < kinds_.size(); ++k) {
      if ((kinds_[k].first->layout == index::IndexLayout::kFieldBlooms) == blooms) {
        kinds_[k].second->Finish(&finished[k]);
      }
    }
  }
  for (size_t k = 0; k < kinds_.size(); ++k) {
    const index::IndexKind* kind = kinds_[k].first;
    for (index::IndexPart& part : finished[k]) {
      switch (kind->layout) {
        case index::IndexLayout::kFieldIndexes: {
          IndexMeta meta;
          meta.field = part.field.name;
          meta.distinct_values = part.count;
          RETURN_IF_ERROR(EmitBlock(part.blobs.at(0), MetadataChoice(), &meta.ref));
          footer_.indexes.push_back(std::move(meta));
          break;
        }
        case index::IndexLayout::kFieldBlooms: {
          BloomMeta meta;
          meta.field = part.field.name;
          meta.distinct_tokens = part.count;
          const std::string& segment_filter = part.blobs.at(0);
          if (!segment_filter.empty() && options_.segment_blooms) {
            RETURN_IF_ERROR(
                EmitBlock(segment_filter, CodecChoice{Codec::kNone, 0}, &meta.segment_filter));
          }
          RETURN_IF_ERROR(
              EmitBlock(part.blobs.at(1), CodecChoice{Codec::kNone, 0}, &meta.block_filters));
          footer_.blooms.push_back(std::move(meta));
          break;
        }
        case index::IndexLayout::kKindBlock: {
          if (part.blobs.empty() || part.blobs[0].empty()) break;  // nothing to index
          KindIndexMeta meta;
          meta.kind = std::string(kind->name);
          meta.version = part.version != 0 ? part.version : kind->version;
          RETURN_IF_ERROR(EmitBlock(part.blobs[0], MetadataChoice(), &meta.ref));
          footer_.kind_indexes.push_back(std::move(meta));
          break;
        }
        case index::IndexLayout::kBlockList: break;  // the footer's block list is its data
      }
    }
  }

  std::string buf;
  buf.clear();
  EncodeFooter(footer_, &buf);
  BlockRef footer_ref;
  RETURN_IF_ERROR(EmitBlock(buf, MetadataChoice(), &footer_ref));
  PutFixed64(&pending_, footer_ref.offset);
  PutFixed32(&pending_, static_cast<uint32_t>(footer_ref.size));
  PutFixed32(&pending_, static_cast<uint32_t>(footer_ref.raw_size));
  PutFixed32(&pending_, version);
  pending_.append(kMagic);
  RETURN_IF_ERROR(FlushPending(true));
  footer_.info.file_bytes = offset_;
  return file_->Commit();
}

}  // namespace

WriterOptions WarmWriterOptions() {
  WriterOptions o;
  o.block_rows = 65536;
  // One time slice per (larger) block: the warm tier's blocks keep their service grouping, which
  // its size depends on, and still cover one stretch of time each.
  o.time_slice_rows = o.block_rows;
  o.text_zstd_level = 19;
  o.other_zstd_level = 19;
  o.indexed_fields = {"message"};
  // Measured (docs/storage.md "Warm encoding: measured"): the text layouts, the index and kind
  // blocks and the footer at zstd 19 too, and no segment-wide blooms (the block filters answer
  // the same question).
  o.text_layouts = true;
  // Each block's layout picked by a probe of a sample of its rows rather than by compressing
  // every candidate whole (docs/storage.md "Text layouts picked by a probe").
  o.text_layout_probe = true;
  o.metadata_zstd_level = 19;
  o.segment_blooms = false;
  // Words in 3 or 4 rows are left to the message bloom (which finds their blocks) and a read of
  // those blocks for their counts: their postings were what kept elastic_apache_access over
  // the goal warm <= zstd -19 (docs/storage.md "Warm encoding: measured").
  o.word_postings.min_rows = 5;
  // The rows per block of the words too frequent to post only in segments of more than one
  // block: they cost elastic_apache_access's one-block warm segment 2,572 bytes where it had 596
  // to spare below zstd -19 (docs/format/index.md "Words too frequent to post"); a count of such
  // a word in a one-block warm segment reads that block, as before.
  o.word_postings.counts_above_rows = o.block_rows;
  // Words without a digit from one row on, as in the hot tier, in segments of more than one of
  // its blocks (a rare word in a one-block segment reads that block for its count): posted in
  // every warm segment of more than 8,192 rows (the hot rule) they cost elastic_apache_access's
  // and loghub_2k's one-block segments 8,938 and 14,798 bytes, both then over zstd -19
  // (docs/format/index.md "Words without a digit").
  o.word_postings.letter_words_above_rows = o.block_rows;
  o.pack_columns_below = 2 << 10;
  o.pack_blocks_below = 1 << 20;
  return o;
}

Status WriteSegment(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                    std::vector<Record> records, const WriterOptions& options, SegmentInfo* out) {
  if (records.empty()) return Status::InvalidArgument("WriteSegment: empty batch of records");
  if (records.size() >= UINT32_MAX) {
    return Status::InvalidArgument("WriteSegment: " + std::to_string(records.size()) +
                                   " records is more than one segment can hold");
  }
  if (options.format_version < kMinReadableVersion || options.format_version > kFormatVersion) {
    return Status::InvalidArgument("WriteSegment: cannot write format version " +
                                   std::to_string(options.format_version));
  }
  if (options.sort_rows) SortRows(&records, options.time_slice_rows);
  SegmentInfo ranges = info;
  RangesOf(VectorRanges{records}, records.size(), &ranges);
  auto file = store->NewWriter(name);
  if (!file.ok()) return file.status().WithContext("writing segment " + store->Location(name));
  Writer writer(options, std::move(file).value());
  // On an error the writer is destroyed uncommitted, which removes what it wrote.
  Status s = writer.Write(
      ranges, [&](uint32_t first, uint32_t /*count*/) { return records.data() + first; });
  if (!s.ok()) return s.WithContext("writing segment " + store->Location(name));
  if (out != nullptr) *out = writer.result();
  return Status::OK();
}

Status WriteSegment(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                    const RowSource& rows, const WriterOptions& options, SegmentInfo* out) {
  const size_t n = rows.size();
  if (n == 0) return Status::InvalidArgument("WriteSegment: empty batch of records");
  if (n >= UINT32_MAX) {
    return Status::InvalidArgument("WriteSegment: " + std::to_string(n) +
                                   " records is more than one segment can hold");
  }
  if (options.format_version < kMinReadableVersion || options.format_version > kFormatVersion) {
    return Status::InvalidArgument("WriteSegment: cannot write format version " +
                                   std::to_string(options.format_version));
  }
  // The write order as row numbers: the rows stay where they are, and only the block being
  // written is decoded (one block of records, reused).
  std::vector<uint32_t> order;
  if (options.sort_rows) order = SortedOrder(rows, n, options.time_slice_rows);
  SegmentInfo ranges = info;
  RangesOf(rows, n, &ranges);
  std::vector<Record> block;
  std::vector<uint32_t> in_order;  // the block's row numbers when "order" is empty (identity)
  auto file = store->NewWriter(name);
  if (!file.ok()) return file.status().WithContext("writing segment " + store->Location(name));
  Writer writer(options, std::move(file).value());
  Status s = writer.Write(ranges, [&](uint32_t first, uint32_t count) {
    if (block.size() < count) block.resize(count);
    const uint32_t* ids;
    if (order.empty()) {
      in_order.resize(count);
      std::iota(in_order.begin(), in_order.end(), first);
      ids = in_order.data();
    } else {
      ids = order.data() + first;
    }
    rows.WillGet(ids, count);
    for (uint32_t i = 0; i < count; ++i) rows.Get(ids[i], &block[i]);
    return block.data();
  });
  if (!s.ok()) return s.WithContext("writing segment " + store->Location(name));
  if (out != nullptr) *out = writer.result();
  return Status::OK();
}

namespace {

// The rows of merged segments in the order SortedOrder gives the records of all of them
// concatenated (input by input, each in its row order), produced slice by slice: each input
// block is decoded when the merge reaches its first timestamp and let go when its last row has
// been handed out, so what is held is the blocks whose time ranges overlap the merge's position
// plus one slice (docs/storage.md, "Compaction memory").
class SegmentMerger {
 public:
  SegmentMerger(const std::vector<std::shared_ptr<SegmentReader>>& inputs,
                const WriterOptions& options, uint64_t rows, MergeStats* stats)
      : inputs_(inputs), stats_(stats) {
    // One slice holds every row when the segment is sorted as a whole (as SortedOrder does for
    // time_slice_rows 0 or a segment of at most one slice); unsorted rows pass through in
    // input order, a block at a time.
    sort_ = options.sort_rows;
    slice_rows_ = options.time_slice_rows;
    if (!sort_) {
      slice_rows_ = std::max<uint32_t>(options.block_rows, 1);
    } else if (slice_rows_ == 0 || rows <= slice_rows_) {
      slice_rows_ = rows;
    }
    uint64_t first = 0;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const std::vector<BlockInfo>& blocks = inputs_[i]->blocks();
      for (uint32_t b = 0; b < blocks.size(); ++b) {
        pending_.push_back(
            Pending{sort_ ? blocks[b].min_ts : 0, first + blocks[b].first_row, i, b});
      }
      first += inputs_[i]->info().rows;
    }
    // Unsorted: in row order. Sorted: by first timestamp, the order in which the merge needs them.
    std::sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
      return std::tie(a.min_ts, a.first_row) < std::tie(b.min_ts, b.first_row);
    });
  }

  // Appends the next slice of rows in write order to "*out" (none at the end), accumulating
  // their ranges into "*ranges". Errors: the input's read error ("failed_input" names it);
  // DataLoss when an input's block list gives a time range its rows do not keep to.
  Status NextSlice(std::vector<Record>* out, SegmentInfo* ranges) {
    slice_.clear();
    slice_rows_of_.clear();
    while (slice_.size() < slice_rows_) {
      RETURN_IF_ERROR(Open());
      if (heap_.empty()) break;
      std::pop_heap(heap_.begin(), heap_.end(), Later);
      Run* run = heap_.back();
      const uint32_t i =
          run->order.empty() ? static_cast<uint32_t>(run->pos) : run->order[run->pos];
      const Key key{run->rows[i].ts, run->rows[i].seq, run->first_row + i};
      if (sort_ && have_last_ && !(last_ < key)) {
        failed_input_ = static_cast<int>(run->input);
        return Status::DataLoss("segment " + std::to_string(inputs_[run->input]->info().id) +
                                " holds a row before the time range its block list gives");
      }
      last_ = key;
      have_last_ = true;
      slice_.push_back(std::move(run->rows[i]));
      slice_rows_of_.push_back(key);
      held_ -= 1;
      if (++run->pos == run->rows.size()) {
        heap_.pop_back();
        runs_.erase(run->self);
      } else {
        std::push_heap(heap_.begin(), heap_.end(), Later);
      }
    }
    if (slice_.empty()) return Status::OK();
    // Inside a slice (already in time order): by (service, host, ts, seq, row). The (service,
    // host) rank of SortedOrder is the names' order, so comparing the names gives its order.
    order_.resize(slice_.size());
    std::iota(order_.begin(), order_.end(), 0);
    if (sort_) {
      std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
        const Record& x = slice_[a];
        const Record& y = slice_[b];
        if (int c = x.service.compare(y.service); c != 0) return c < 0;
        if (int c = x.host.compare(y.host); c != 0) return c < 0;
        return slice_rows_of_[a] < slice_rows_of_[b];
      });
    }
    for (uint32_t i : order_) {
      Record& r = slice_[i];
      AddRow(r.ts, r.ingest_ts, r.seq, RawBytes(r), ranges);
      out->push_back(std::move(r));
    }
    return Status::OK();
  }

  int failed_input() const { return failed_input_; }
  // Rows decoded and not yet handed out.
  uint64_t held() const { return held_; }

 private:
  struct Key {
    int64_t ts;
    uint64_t seq;
    uint64_t row;  // in the inputs concatenated
    bool operator<(const Key& o) const {
      return std::tie(ts, seq, row) < std::tie(o.ts, o.seq, o.row);
    }
  };
  struct Pending {
    int64_t min_ts;
    uint64_t first_row;
    size_t input;
    uint32_t block;
  };
  struct Run {  // one decoded input block
    std::vector<Record> rows;
    std::vector<uint32_t> order;  // rows by (ts, seq, row); empty: row order
    size_t pos = 0;
    uint64_t first_row = 0;
    size_t input = 0;
    std::list<Run>::iterator self;
    Key key() const {
      const uint32_t i = order.empty() ? static_cast<uint32_t>(pos) : order[pos];
      return Key{rows[i].ts, rows[i].seq, first_row + i};
    }
  };
  // The heap's order: the run with the smallest next row on top.
  static bool Later(const Run* a, const Run* b) { return b->key() < a->key(); }

  // Decodes the pending blocks that may hold the next row: every block whose first timestamp
  // is not after the smallest next row of the open ones (all of them when none is open).
  Status Open() {
    while (next_ < pending_.size() &&
           (heap_.empty() || !sort_ || pending_[next_].min_ts <= heap_.front()->key().ts)) {
      if (!sort_ && !heap_.empty()) break;  // unsorted: one block at a time, in row order
      const Pending& p = pending_[next_++];
      runs_.emplace_front();
      Run& run = runs_.front();
      run.self = runs_.begin();
      run.first_row = p.first_row;
      run.input = p.input;
      Status s = inputs_[p.input]->ReadBlock(p.block, kColAll, &run.rows,
                                             stats_ ? &stats_->read : nullptr);
      if (!s.ok()) {
        failed_input_ = static_cast<int>(p.input);
        return s;
      }
      if (run.rows.empty()) {
        runs_.pop_front();
        continue;
      }
      if (sort_) {
        run.order.resize(run.rows.size());
        std::iota(run.order.begin(), run.order.end(), 0);
        std::sort(run.order.begin(), run.order.end(), [&](uint32_t a, uint32_t b) {
          return std::tie(run.rows[a].ts, run.rows[a].seq, a) <
                 std::tie(run.rows[b].ts, run.rows[b].seq, b);
        });
        if (run.rows[run.order[0]].ts < p.min_ts) {
          failed_input_ = static_cast<int>(p.input);
          return Status::DataLoss("segment " + std::to_string(inputs_[p.input]->info().id) +
                                  " block " + std::to_string(p.block) +
                                  " holds a row before the time range its block list gives");
        }
      }
      held_ += run.rows.size();
      heap_.push_back(&run);
      std::push_heap(heap_.begin(), heap_.end(), Later);
      if (stats_ != nullptr) {
        stats_->max_open_blocks = std::max<uint64_t>(stats_->max_open_blocks, heap_.size());
      }
    }
    return Status::OK();
  }

  const std::vector<std::shared_ptr<SegmentReader>>& inputs_;
  MergeStats* stats_;
  bool sort_ = true;
  uint64_t slice_rows_ = 0;
  std::vector<Pending> pending_;
  size_t next_ = 0;
  std::list<Run> runs_;     // the open blocks
  std::vector<Run*> heap_;  // the same, by next row
  std::vector<Record> slice_;
  std::vector<Key> slice_rows_of_;
  std::vector<uint32_t> order_;
  Key last_{};
  bool have_last_ = false;
  uint64_t held_ = 0;
  int failed_input_ = -1;
};

}  // namespace

Status MergeSegments(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                     const std::vector<std::shared_ptr<SegmentReader>>& inputs,
                     const WriterOptions& options, SegmentInfo* out, MergeStats* stats,
                     const std::function<bool()>& stop) {
  if (stats != nullptr) *stats = MergeStats{};
  if (options.format_version < kMinReadableVersion || options.format_version > kFormatVersion) {
    return Status::InvalidArgument("MergeSegments: cannot write format version " +
                                   std::to_string(options.format_version));
  }
  // The header's identity (row count, seq range) from the inputs' footers; the writer checks
  // them against the rows it was given before it writes the footer.
  SegmentInfo header = info;
  header.rows = 0;
  bool any = false;
  for (const auto& input : inputs) {
    const SegmentInfo& in = input->info();
    uint64_t block_rows = 0;
    for (const BlockInfo& b : input->blocks()) block_rows += b.rows;
    if (block_rows != in.rows) {
      return Status::InvalidArgument(
          "MergeSegments: the block list of segment " + std::to_string(in.id) + " holds " +
          std::to_string(block_rows) + " rows, its footer says " + std::to_string(in.rows));
    }
    if (in.rows == 0) continue;
    header.min_seq = any ? std::min(header.min_seq, in.min_seq) : in.min_seq;
    header.max_seq = any ? std::max(header.max_seq, in.max_seq) : in.max_seq;
    header.rows += in.rows;
    any = true;
  }
  if (header.rows == 0) return Status::InvalidArgument("MergeSegments: no rows to merge");
  if (header.rows >= UINT32_MAX) {
    return Status::InvalidArgument("MergeSegments: " + std::to_string(header.rows) +
                                   " records is more than one segment can hold");
  }
  SegmentMerger merger(inputs, options, header.rows, stats);
  SegmentInfo ranges;         // learnt as the rows go by
  std::vector<Record> ready;  // rows from "ready_first" on, in write order
  uint64_t ready_first = 0;
  Status merge_status;
  auto file = store->NewWriter(name);
  if (!file.ok()) return file.status().WithContext("writing segment " + store->Location(name));
  Writer writer(options, std::move(file).value());
  Status s = writer.Write(
      header,
      [&](uint32_t first, uint32_t count) -> const Record* {
        if (stop && stop()) {
          merge_status = Status::Unavailable("merge abandoned at row " + std::to_string(first) +
                                             " of " + std::to_string(header.rows) + ": stopping");
          return nullptr;
        }
        if (first > ready_first) {
          ready.erase(ready.begin(), ready.begin() + static_cast<long>(first - ready_first));
          ready_first = first;
        }
        while (ready.size() < count) {
          const size_t before = ready.size();
          merge_status = merger.NextSlice(&ready, &ranges);
          if (!merge_status.ok() || ready.size() == before) return nullptr;
          if (stats != nullptr) {
            stats->max_held_rows =
                std::max<uint64_t>(stats->max_held_rows, merger.held() + ready.size());
          }
        }
        return ready.data();
      },
      &ranges);
  if (!merge_status.ok()) s = merge_status;
  if (stats != nullptr) {
    stats->rows = ranges.rows;
    stats->failed_input = merger.failed_input();
  }
  if (!s.ok()) return s.WithContext("writing segment " + store->Location(name));
  if (out != nullptr) *out = writer.result();
  return Status::OK();
}

Status WriteSegment(Env* env, const std::string& path, const SegmentInfo& info,
                    std::vector<Record> records, const WriterOptions& options, SegmentInfo* out) {
  const size_t slash = path.find_last_of('/');
  objstore::LocalDirectoryStore store(env, DirName(path));
  return WriteSegment(&store, slash == std::string::npos ? path : path.substr(slash + 1), info,
                      std::move(records), options, out);
}

void SetEncodedBlockHookForTest(EncodedBlockHook hook) { encoded_block_hook.store(hook); }

}  // namespace sawmill::segment
