// The footer: segment metadata and the directory of every physical block in the file.
//
//   footer      := version(varint) info block_rows(varint) block_count(varint) block_info*
//                  column_count(varint) column* index_count(varint) index*
//                  bloom_count(varint) bloom* [kind_count(varint) kind_index*]   (v3 and later)
//   info        := id tenant partition rows min_ts max_ts min_ingest_ts max_ingest_ts
//                  min_seq max_seq raw_bytes
//   block_info  := rows min_ts max_ts min_ingest_ts max_ingest_ts    (first_row is implied)
//                  [frame]                  (v8: the row block's shared frame)
//   column      := column_id(u8) name(lp) block_ref[block_count]      (versions 1 to 7)
//                | column_id(u8) name(lp) column_ref[block_count]     (v8)
//   frame       := 0 (none) | block_ref                                (v8; offset >= 16)
//   column_ref  := 0                       no block (no values)
//                | 1 raw_size(varint)      a slice of the row block's shared frame; the slices
//                                          lie back to back in FrameOrder (below)
//                | block_ref               its own physical block (its offset is >= 16)
//                | 2 count(varint) offset(varint) sub_block*count
//                                          (v9) split into sub-blocks of consecutive rows,
//                                          physical blocks back to back from offset
//   sub_block   := rows(varint) size(varint) raw_size(varint)
//   index       := field(lp) distinct_values(varint) block_ref
//   bloom       := field(lp) distinct_tokens(varint) block_ref(segment filter)
//                  block_ref(block filters)
//   kind_index  := kind(lp) kind_version(varint) block_ref   (an index/index_kind.h kind)
//   block_ref   := offset(varint) size(varint) raw_size(varint)     size 0: no block (no values)
// Integers are varints, signed ones zigzag; lp is a varint length and the bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace sawmill::segment {

struct BlockRef {
  uint64_t offset = 0;
  uint64_t size = 0;  // physical bytes including the block trailer; 0 when absent
  uint64_t raw_size = 0;
  // (Version 8) A column block packed with the other small column blocks of its row block into
  // the block's shared frame: offset and size are then the frame's, and the column block is the
  // bytes [slice_start, slice_start + raw_size) of the frame's frame_raw_size decompressed bytes
  // (SegmentFileReader::ReadPhysical reads it like any block).
  bool packed = false;
  uint64_t slice_start = 0;
  uint64_t frame_raw_size = 0;
  // (Version 9) A column block split into sub-blocks (Footer::splits[split]): offset, size and
  // raw_size then cover all of them. kNotSplit: one block (or a slice, or none).
  static constexpr uint32_t kNotSplit = UINT32_MAX;
  uint32_t split = kNotSplit;
  bool present() const { return size != 0; }
  bool is_split() const { return split != kNotSplit; }
};

// (Version 9) One sub-block of a split column block: its own physical block whose payload is a
// whole column block (encoding count body) of the rows [first_row, first_row + rows) of its row
// block (block-relative).
struct SubBlock {
  uint64_t offset = 0;
  uint64_t size = 0;  // physical bytes including the block trailer
  uint64_t raw_size = 0;
  uint32_t first_row = 0;
  uint32_t rows = 0;
};

// (Version 9) The columns a column block may be split in: the built-in text columns that hold
// one value per row (not the overflow column's key, value pairs, nor a dynamic field's values
// of the rows that have it).
inline bool SplittableColumn(ColumnId id) {
  switch (id) {
    case ColumnId::kService:
    case ColumnId::kHost:
    case ColumnId::kTraceId:
    case ColumnId::kSpanId:
    case ColumnId::kUserId:
    case ColumnId::kMessage:
    case ColumnId::kFieldLayout:
    case ColumnId::kMessageShape:
    case ColumnId::kMessageExtra: return true;
    default: return false;
  }
}

// (Version 8) The order of the slices in a shared frame: larger first, then by directory
// position. zstd matches only backwards, and the larger columns hold the text that the smaller
// ones repeat (docs/format/segment.md "Shared frames"). The reader derives it from the
// directory's raw sizes, so it costs no byte.
inline bool FrameOrder(uint64_t raw_a, size_t column_a, uint64_t raw_b, size_t column_b) {
  return raw_a != raw_b ? raw_a > raw_b : column_a < column_b;
}

// The stored bytes a block accounts for: its physical block, or for a packed column block its
// share of the shared frame by raw bytes (rounded down; dumps and benchmarks).
inline uint64_t StoredShare(const BlockRef& ref) {
  if (!ref.packed || ref.frame_raw_size == 0) return ref.size;
  return ref.size * ref.raw_size / ref.frame_raw_size;
}

struct ColumnMeta {
  ColumnId id = ColumnId::kDynamic;
  std::string name;  // the field name for dynamic columns, ColumnName(id) otherwise
  std::vector<BlockRef> blocks;
};

struct IndexMeta {
  std::string field;
  uint64_t distinct_values = 0;
  BlockRef ref;
};

// Blooms of one field: one filter over the whole segment, and one physical block holding a
// filter per row block:  block_filters := count(varint) (lp filter)*
struct BloomMeta {
  std::string field;
  uint64_t distinct_tokens = 0;  // in the whole segment
  BlockRef segment_filter;
  BlockRef block_filters;
};

// The block of one registered index kind (index/index_kind.h), from format version 3.
struct KindIndexMeta {
  std::string kind;      // IndexKind::name
  uint32_t version = 0;  // the kind's serialized-block version
  BlockRef ref;
};

struct Footer {
  uint32_t version = kFormatVersion;
  SegmentInfo info;
  uint32_t block_rows = 0;
  std::vector<BlockInfo> blocks;
  // (Version 8) By row block: its shared frame, the physical block holding the packed column
  // blocks (absent when none is packed). Empty before version 8.
  std::vector<BlockRef> frames;
  // (Version 9) The sub-blocks of each split column block, in row order (BlockRef::split).
  std::vector<std::vector<SubBlock>> splits;
  std::vector<ColumnMeta> columns;  // built-in columns first, then dynamic ones
  std::vector<IndexMeta> indexes;
  std::vector<BloomMeta> blooms;
  std::vector<KindIndexMeta> kind_indexes;  // always empty before version 3
};

void EncodeFooter(const Footer& footer, std::string* out);

// The header identity (format version 2): id tenant(lp) partition rows min_seq max_seq.
void EncodeIdentity(const SegmentIdentity& id, std::string* out);
// Errors: DataLoss saying what is wrong.
Status DecodeIdentity(std::string_view in, SegmentIdentity* out);

// Parses and validates the footer: every block reference must lie in [kHeaderSize, data_end),
// row counts must add up. Errors: DataLoss saying what is wrong.
Status DecodeFooter(std::string_view in, uint64_t data_end, Footer* out);

}  // namespace sawmill::segment
