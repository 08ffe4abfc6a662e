// Constants shared by the segment writer and reader. The layout is described in
// docs/format/segment.md; a change here is a format change and needs a new kFormatVersion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sawmill::segment {

// "SAWMSEG1": the first 8 bytes of a segment file and the last 8 bytes of its trailer.
inline constexpr std::string_view kMagic = "SAWMSEG1";
inline constexpr size_t kMagicSize = 8;

// Version 1: the first. Version 2: the header carries the segment's identity (below).
// Version 3: the footer ends with the directory of the registered index kinds' blocks
// (index/index_kind.h; footer.h kind_index). Header and trailer are as in version 2.
// Version 4: two more built-in columns, the message shapes and their extras (segment/json_shape.h:
// a JSON line without a message key is stored once, in its columns); the dynamic columns follow
// them. Version 5: column blocks may use the encodings kLines and kDigitSplit (the warm tier's
// text layouts); nothing else changed. Version 6: column blocks may use the encoding
// kPrefixSplit (the warm tier's third text layout); nothing else changed. Version 7: column
// blocks may use the encodings kScaled (time columns) and kHex (ids); nothing else changed.
// Version 8: the small column blocks of a row block may share one physical block, its shared
// frame (footer.h: block_info names the frame, a column_ref a slice of it). Version 9: a large
// per-row text column block may be split into sub-blocks of consecutive rows, each its own
// physical block (footer.h: a column_ref lists them), so that reading a few rows decompresses
// only the sub-blocks holding them. Version 10: int column blocks may use the encoding kIntDict
// (distinct values and an id per row: ingest_ts, level), and text column blocks the encoding
// kIsoPrefix (rows that begin with an RFC 3339 UTC time keep it as nanoseconds). Version 11:
// string column blocks may use the encoding kPrefixedNumber, and the index id filters. Version
// 12: text column blocks may use the encoding kMarkedLines (the message of hot and compacted
// segments: lines with the offset of every 64th row), and the message's bloom filters leave out
// the words the segment's word postings decide (index_kind.h DecidedWords; a reader asks the
// postings first). Version 13: text column blocks may use the encoding kTimeText (a time in one
// of the common log forms among a row's first bytes, kept as a number). Version 14: int column
// blocks may use the encoding kPermutedRuns (seq: the values ascending and the permutation
// that puts them in the rows' order); nothing else changed. Version 15: int column blocks may
// use the encoding kRiceRuns (ts: runs of ascending values, Rice-coded steps); nothing else
// changed. Version 16: a field with a bloom that the segment's inverted index posts (user ids:
// their values repeat) is indexed as index/inverted_index.h version 2 (a value in fewer rows
// than ValuePostingsRule::list_below_rows as a block list: its blocks and their rows holding it;
// the others as rows; by default every value as rows) and has no blooms; nothing else changed.
// Version 17: the inverted index of service, host and level may be version 3
// (index/inverted_index.h: version 2's layout, and rows Rice-coded, the most frequent value as
// the rest of the rows), and kIntDict blocks may use ids mode 3 (the level's ids packed in the
// fewest bits); nothing else changed. (Session 19's branch disk19 wrote this as version 19,
// never released.)
// Version 18: not used; a writer asked for 18 writes what 17 writes (session 20's branch rare20,
// message pieces, took the number and was not merged: it needs a version above 20).
// Version 19: the index kind minute_counts (index/index_kind.h MinuteCounts: per row block, its
// rows per minute of ts and of ingest_ts and per level) is written; nothing else changed.
// Version 20:
// int column blocks may use the encoding kHuffmanIds (a block's distinct values and each row's
// canonical Huffman code: user ids inside kPrefixedNumber); nothing else changed.
// Version 21: not used; a writer asked for 21 writes what 20 writes (session 21's branch rare21,
// message pieces again, took the number and was not merged; its footer field gated `>= 21`
// would misread versions 22 and up: a later merge needs a version above the newest written).
// Version 22: the inverted index of a field with a bloom that the segment posts (user ids) is
// index/inverted_index.h version 3 without a rest (each value's rows as runs or Rice codes,
// whichever is smaller; block lists as version 16's); nothing else changed.
// Version 23: the id filters' fingerprints keep index::kIdLowBitsV23 (8) low bits instead of
// kIdLowBits (10; each filter records its own, so a reader reads either), and the user ids'
// inverted index is index/inverted_index.h version 4 (version 3 without a rest, the Rice-coded
// values' counts in a section of their own, their k implied by count and rows, their codes one
// bit stream); nothing else changed.
// Version 24: never written by main. Session 23's branch trace23 (trace ids inside their
// filters, encoding 27) wrote it and was not merged. A writer asked for 24 writes what 23 writes.
// Version 25: the seq column may use the encoding kTsLine (each row's seq less a line in the
// block's ts, in the fewest values its bucket of ts needs: read with the block's ts); nothing
// else changed.
// Version 26: version 25, and the trace_id column blocks whose ids are all 32 lower-case hex
// digits use the encoding kFilteredHex, and their row blocks' trace_id filters are index/bloom.h
// mixed id filters (version 3: the top bits of a keyed bijection of each id's 128 bits), written
// for every such block whatever the id-filter rules say; the column block keeps each row's rank
// and the other bits, and is decoded with its block's filter (trace23's format 24, renumbered).
// Nothing else changed. (Never the newest main wrote: main went from 25 to 27 in session 24.)
// Version 27: version 26, and the user ids' inverted index is index/inverted_index.h version 5,
// the block map (each user's row blocks, Rice-coded gaps; no rows), written in every segment that
// indexes user_id whatever its distinct users, and the user ids have no blooms; nothing else
// changed.
// Readers accept every version in [kMinReadableVersion, kFormatVersion].
inline constexpr uint32_t kFormatVersion = 27;
inline constexpr uint32_t kMinReadableVersion = 1;

// header (v1) := magic(8) version(fixed32 = 1) flags(fixed32 = 0)
// header (v2, v3) := magic(8) version(fixed32) identity_size(fixed32) identity_block
//   identity_block: a physical block (codec none, CRC) of identity_size bytes holding
//   id(varint) tenant(lp) partition(varint) rows(varint) min_seq(varint) max_seq(varint),
//   the same values as the footer's info, which the reader checks against each other.
// kHeaderSize is the fixed part; in v2 the identity block follows it.
inline constexpr size_t kHeaderSize = kMagicSize + 4 + 4;
inline constexpr uint32_t kMaxIdentityBytes = 1 << 20;

// trailer := footer_offset(fixed64) footer_size(fixed32) footer_raw_size(fixed32) version(fixed32)
//            magic(8)
//   footer_size is the footer's physical block as stored (payload, codec byte, CRC);
//   footer_raw_size its payload once decompressed. The footer's CRC is in its block trailer.
inline constexpr size_t kTrailerSize = 8 + 4 + 4 + 4 + kMagicSize;

// Every physical block (column block, index block, bloom block, footer) ends with
// codec(1 byte) crc(fixed32, masked CRC32C over the stored payload and the codec byte).
inline constexpr size_t kBlockTrailerSize = 1 + 4;

// How a physical block's payload is stored.
enum class Codec : uint8_t {
  kNone = 0,
  kLz4 = 1,
  kZstd = 2,  // one zstd frame, magicless, without content size, checksum or dictionary id
};

// How a column block's values are laid out once decompressed (its first byte).
enum class Encoding : uint8_t {
  kDeltaOfDelta = 1,  // int64: first value, first delta, then zigzag varint delta-of-deltas
  kDelta = 2,         // int64: first value, then zigzag varint deltas
  kRle = 3,           // uint64: (run length, value) varint pairs
  kPlain = 4,         // strings: count, varint lengths, then the bytes back to back
  kDict = 5,          // strings: dictionary, then the ids per row (plain or RLE)
  kDecimal = 6,       // strings that are all canonical decimal integers: an int block
  kIsoTime = 7,       // strings that are all "YYYY-MM-DDTHH:MM:SS[.f]Z": ns and digit counts
  kLines = 8,         // strings without a newline, joined by newlines (format version 5)
  kDigitSplit = 9,    // skeletons (digit runs marked) and the runs grouped (format version 5)
  kPrefixSplit = 10,  // skeletons (leading runs of shared text marked), runs grouped (version 6)
  kScaled = 11,       // int64 divided by their common divisor, then a delta block (version 7)
  kHex = 12,          // strings that are all lower-case hex of one even length: the bytes (v7)
  kIntDict = 13,      // int64: distinct values (a delta block) and an id per row (version 10)
  kIsoPrefix = 14,  // strings mostly beginning "YYYY-MM-DDTHH:MM:SS[.f]Z": ns, then the rest (v10)
  kPrefixedNumber = 15,  // strings that are all one prefix + fixed-width digits: ints (v11)
  kMarkedLines = 16,     // strings without a newline, joined by newlines, every 64th row's
                         // offset first, so that a few rows are found without a scan (v12)
  kTimeText = 18,        // strings mostly holding a time in a common log form near their start: the
                         // forms, offsets and times as ints, then the rest (v13)
  kPermutedRuns = 19,    // int64 distinct values (seq): ascending, then the permutation to the
                         // rows' order in runs (v14)
  kRiceRuns = 22,        // int64 in runs of ascending values (ts): each run's first value, then
                         // its steps as Rice codes (v15)
  kHuffmanIds = 25,      // int64 whose values repeat (user ids): the distinct values ascending,
                         // then each row's canonical Huffman code (v20)
  kFilteredHex = 27,     // trace ids that are all 32 lower-case hex digits: each row's rank and
                         // the bits of each distinct id's mix its block's trace_id filter does
                         // not hold; decoded only with that filter (v26)
  kTsLine = 28,          // int64 (seq) less a line in the block's ts, each row's rest in the
                         // fewest values its bucket of ts needs; read with the block's ts (v25)
};

// The built-in columns. Their ids are stored on disk: never renumber.
enum class ColumnId : uint8_t {
  kTs = 0,
  kIngestTs = 1,
  kSeq = 2,
  kService = 3,
  kHost = 4,
  kLevel = 5,
  kTraceId = 6,
  kSpanId = 7,
  kUserId = 8,
  kMessage = 9,
  kFlags = 10,
  kFieldLayout = 11,    // per row: varint list of the dynamic columns present, in field order
  kFieldOverflow = 12,  // key, value, key, value... of fields beyond kMaxFieldColumns
  kMessageShape = 13,   // (version 4) per row: the shape of a JSON message, or empty
  kMessageExtra = 14,   // (version 4) per row: the values of its shape that no column holds
  kBuiltinCount = 15,
  kDynamic = 255,  // a dynamic field column; its name is in the directory
};

// How many built-in columns a file of format "version" lists before its dynamic ones.
inline constexpr size_t BuiltinColumnCount(uint32_t version) {
  return version >= 4 ? static_cast<size_t>(ColumnId::kBuiltinCount)
                      : static_cast<size_t>(ColumnId::kMessageShape);
}

// Ordinal 0 in a layout means "the next key and value of the overflow column".
inline constexpr uint32_t kOverflowOrdinal = 0;

// At most this many dynamic field columns per segment; further keys go to the overflow column,
// which keeps the directory (and the footer) bounded whatever the input.
inline constexpr uint32_t kMaxFieldColumns = 1024;

// Limits that keep a corrupt or hostile file from making the reader allocate without bound.
inline constexpr uint64_t kMaxBlockRawBytes = 1ull << 31;
inline constexpr uint64_t kMaxFooterBytes = 256ull << 20;
inline constexpr uint32_t kMaxBlockRows = 1u << 20;

// Names of the built-in columns, as `sawmill segment dump` and errors print them (the names of
// segment/builtin_fields.h; defined there).
std::string_view ColumnName(ColumnId id);

}  // namespace sawmill::segment
