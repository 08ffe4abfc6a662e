// CONTRACT between the segment format (src/segment, src/index) and its users (src/storage,
// src/query, `sawmill segment`). The segment owner implements it; users code against it.
// Changing a signature here means telling every user.
//
// A segment is one immutable file holding the records of one tenant and one partition,
// columnar, cut into blocks of a bounded number of rows, with the data of the index kinds
// (index/index_kind.h) and a footer. Format: docs/format/segment.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "index/index_kind.h"
#include "index/roaring_compat.h"
#include "sawmill/record.h"
#include "sawmill/status.h"
#include "segment/format.h"

namespace sawmill::objstore {
class ObjectStore;
}  // namespace sawmill::objstore

namespace sawmill::segment {

// Columns a reader can decode, as a bit mask. kColFields decodes every dynamic field column.
enum ColumnBit : uint32_t {
  kColTs = 1u << 0,
  kColIngestTs = 1u << 1,
  kColSeq = 1u << 2,
  kColService = 1u << 3,
  kColHost = 1u << 4,
  kColLevel = 1u << 5,
  kColTraceId = 1u << 6,
  kColSpanId = 1u << 7,
  kColUserId = 1u << 8,
  kColMessage = 1u << 9,
  kColFields = 1u << 10,
  kColFlags = 1u << 11,
  kColAll = (1u << 12) - 1,
};

struct SegmentInfo {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  uint64_t rows = 0;
  int64_t min_ts = 0, max_ts = 0;                // source timestamps
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;  // server timestamps
  uint64_t min_seq = 0, max_seq = 0;
  uint64_t file_bytes = 0;  // size of the file on disk (index and blooms included)
  uint64_t raw_bytes = 0;   // sum of the message and field bytes the segment holds
};

// Who a segment file says it is. Format version 2 writes it twice, in the header (readable
// when the footer is damaged) and in the footer, each under its own CRC32C.
struct SegmentIdentity {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  uint64_t rows = 0;
  uint64_t min_seq = 0, max_seq = 0;
  uint32_t format_version = 0;
};

// Reads only the header's identity block: one small read, and it works when the footer or a
// block is damaged. Errors: NotFound; DataLoss (bad magic, checksum, truncated header);
// FailedPrecondition for a format-version-1 file, whose header holds no identity.
Result<SegmentIdentity> ReadSegmentIdentity(Env* env, const std::string& path);

struct BlockInfo {
  uint32_t first_row = 0;  // segment-global row number of the block's first row
  uint32_t rows = 0;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
};

// The built-in fields indexed / with blooms by default (kIndexByDefault / kBloomByDefault in
// segment/builtin_fields.h): trace_id, user_id, message (its words: the word_postings kind) /
// trace_id, span_id, user_id, message.
std::vector<std::string> DefaultIndexedFields();
std::vector<std::string> DefaultBloomFields();
// The measured rule of which message words get postings (docs/format/index.md "Word postings").
index::WordPostingsRule DefaultWordPostingsRule();
// The measured rule of which exact-value fields get postings: none for a near-unique field
// (docs/format/index.md "Near-unique fields").
index::ValuePostingsRule DefaultValuePostingsRule();

struct WriterOptions {
  uint32_t block_rows = 8192;  // rows per column block
  // Fields with an exact-value inverted index besides service, host and level; "message" means
  // the postings of the message's words (index kind word_postings).
  std::vector<std::string> indexed_fields = DefaultIndexedFields();
  // Which words get postings (docs/format/index.md "Word postings").
  index::WordPostingsRule word_postings = DefaultWordPostingsRule();
  // Which of indexed_fields get postings in a segment (docs/format/index.md "Near-unique fields").
  index::ValuePostingsRule value_postings = DefaultValuePostingsRule();
  // The layout of the word postings block (docs/format/index.md "Word postings"): 0 the newest
  // (version 3: version 2's front-coded words and column-split postings, and the rows of each
  // word too frequent to post in each block), 1 or 2 as builds before it wrote it (compatibility
  // tests, bench_segment's comparisons). Old builds ignore a block of a newer version.
  uint32_t word_postings_version = 0;
  // Fields with per-block blooms; "message" means the words of the message.
  std::vector<std::string> bloom_fields = DefaultBloomFields();
  // Sort rows before writing (compresses better). Row numbers then follow the sorted order.
  bool sort_rows = true;
  // With sort_rows: the rows are cut, in time order, into slices of this many rows, and sorted
  // by (service, host, ts) inside each slice, so that each block covers a narrow stretch of the
  // segment's time and a newest-first search can stop after the newest blocks (issue 19). 0
  // sorts the whole segment by (service, host, ts), as builds before it did. The default was
  // chosen by measurement (docs/performance.md, "Time-ordered blocks").
  uint32_t time_slice_rows = 8192;
  // The format version to write: kFormatVersion (9), or 8 down to 1 to produce files as older
  // builds wrote them (compatibility tests; 1 and 2 hold no index kinds of index/index_kind.h,
  // only 5 and later may use the text layouts, 6 and later the prefix split, 7 the scaled and
  // hex encodings, 8 shared frames, 9 sub-blocks). Anything else is InvalidArgument.
  uint32_t format_version = kFormatVersion;
  // (Version 4 and later) A JSON message that the record's columns reproduce is stored as its
  // shape (segment/json_shape.h) instead of its text. false stores every message as text, as
  // version 3 did (the comparison path of the tests and benchmarks).
  bool json_shapes = true;
  // zstd levels instead of the measured defaults (segment/compression_policy.h): for text
  // columns (message, dynamic fields) and for the others; 0 keeps the default.
  int text_zstd_level = 0;
  int other_zstd_level = 0;
  // The zstd level of the index blocks, the index kinds' blocks and the footer; 0 keeps the
  // default (kMetadataCodec, 3).
  int metadata_zstd_level = 0;
  // Blooms: a filter over the whole segment besides the per-block filters. Without it (the
  // warm tier) a reader asks each block filter, which says the same for a word the segment does
  // not hold; one-block segments never store it (it would repeat the block filter).
  bool segment_blooms = true;
  // String column blocks that would be plain use the text layouts (newline-joined, or digit
  // runs split out: column_encoding.h) when zstd makes them smaller. Needs format version 5
  // (and 6 for the third, kPrefixSplit).
  bool text_layouts = false;
  // With text_layouts: each block's layout is picked by a probe of a sample of its rows
  // (column_encoding.h ProbeTextLayout) instead of by compressing every candidate layout of the
  // whole block, for less writer CPU (docs/storage.md "Text layouts picked by a probe").
  bool text_layout_probe = false;
  // (Version 8) Column blocks of fewer encoded bytes than this share one physical block per row
  // block, its shared frame, compressed as one (docs/format/segment.md "Shared frames"): a small
  // column compressed alone loses the context the others give, and costs a block trailer and a
  // directory entry. Reading one of them decompresses the frame (once per block read). 0 gives
  // every column block its own physical block, as versions 1 to 7 always do.
  uint32_t pack_columns_below = 0;
  // (Version 8) The same for the blocks of dynamic fields (fields.*) only, whatever
  // pack_columns_below: a many-field JSON source's small field columns then share the frame,
  // while the built-in columns an aggregation reads (level, service, host, the layout) keep
  // their own blocks. Reading a packed field decompresses the frame, which holds only small
  // field blocks (at most this many bytes each). Measured: docs/performance.md "Session 17:
  // otrf and fixed costs".
  uint32_t pack_fields_below = 2 << 10;
  // (Version 8) A row block whose column blocks add up to at most this many encoded bytes is
  // packed whole into its shared frame: its columns repeat each other's text (one JSON key's
  // value inside another's, a source's lines beside their parsed fields), which zstd finds
  // only in one frame. Reading any of its columns then decompresses the whole block. 0: never.
  uint32_t pack_blocks_below = 0;
  // (Version 9) A per-row text column block (message, trace_id, ...: SplittableColumn in
  // footer.h) whose encoding exceeds 1.5 times this many bytes is split into sub-blocks of
  // consecutive rows of about this many encoded bytes each, each its own physical block, so that
  // ReadRows decompresses only the sub-blocks holding the rows it lists (docs/format/segment.md
  // "Sub-blocks"). 0: never split. The default was chosen by measurement (docs/performance.md,
  // "Reading a few rows of a block").
  uint32_t subblock_bytes = 32 << 10;
  // (Tests) Split every such block, whatever it costs: the writer otherwise keeps a block whole
  // when zstd shrinks it 4 times or more, or when its sub-blocks would take over 1 % more.
  bool subblock_always = false;
  // (Version 13; benchmarks, bench_recode's "timeref=0") false: the message's kTimeText blocks
  // store their times themselves, not against the rows' ts (which a reader then does not need).
  bool time_text_against_ts = true;
  // Told after each block of rows is written, on the writing thread: the rows written so far
  // and the segment's rows (a flush's progress to the append pacer, docs/storage.md
  // "Backpressure"). The indexes, the footer and the sync come after the last call. Empty:
  // nothing is told.
  std::function<void(uint64_t written, uint64_t rows)> block_written;
};

// The warm tier's options (docs/storage.md "Tiers"): larger blocks, stronger zstd, and no
// inverted index besides the built-in service, host and level (trace_id and user_id needles are
// served by their blooms) and the message's word postings (65,536-row blocks are too coarse for
// blooms to prune a rare word).
WriterOptions WarmWriterOptions();

// Counters a reader adds to as it reads; the query engine reports them per query.
struct ReadStats {
  uint64_t blocks_read = 0;
  uint64_t bytes_read_compressed = 0;  // bytes of column blocks read from the file
  uint64_t bytes_read_raw = 0;         // the same blocks decompressed
};

// What the decoded values of one text column block point into (a reader's scratch).
struct TextBuffer {
  std::string raw, arena;
  std::vector<std::string> piece_arenas;  // (split blocks, format version 9) by sub-block read
  std::vector<std::string_view> piece;    // one sub-block's values
};

// Some built-in columns of one row block decoded as values, without building a Record per row:
// what an aggregation reads (docs/performance.md "Counts and aggregations without records").
// Slots are by column bit position (std::countr_zero of the ColumnBit): the integer columns
// (ts, ingest_ts, seq, level, flags) in "ints", the text columns in "text", whose views point
// into "buffers" (or "records"), so they live as long as this object is not reused.
struct BlockColumns {
  static constexpr size_t kSlots = 12;
  uint32_t rows = 0;
  std::array<std::vector<int64_t>, kSlots> ints;
  std::array<std::vector<std::string_view>, kSlots> text;
  std::array<TextBuffer, kSlots> buffers;
  std::vector<Record> records;  // SegmentReader's default ReadColumnValues keeps its rows here
};

// Writes "records" (all of tenant info.tenant) as the new object "name" of "store", streamed
// through ObjectStore::NewWriter (never the whole segment in memory) and committed: atomic and
// durable when it returns OK (the local store: a temporary file, synced, renamed, the directory
// synced). On an error nothing is visible under "name" (the writer removes what it wrote). On
// OK "*out" describes the segment (id, tenant and partition copied from "info"; the rest
// computed). Errors: IOError/Unavailable from the store; InvalidArgument for an empty batch.
Status WriteSegment(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                    std::vector<Record> records, const WriterOptions& options, SegmentInfo* out);

// Rows handed to WriteSegment without a vector of records (a memtable's arena chunks,
// storage/record_chunk.h): the sort keys and the segment's ranges are read row by row, and a
// row is decoded only when its block is written, into one block of records the writer reuses.
// The writer then holds one block of records (block_rows) at a time instead of every row
// twice (docs/storage.md, "Flush memory").
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual size_t size() const = 0;
  virtual int64_t ts(size_t row) const = 0;
  virtual int64_t ingest_ts(size_t row) const = 0;
  virtual uint64_t seq(size_t row) const = 0;
  virtual std::string_view service(size_t row) const = 0;
  virtual std::string_view host(size_t row) const = 0;
  // Bytes of the row's message and fields (keys and values).
  virtual uint64_t raw_bytes(size_t row) const = 0;
  // Decodes "row" into "*out", reusing the capacity of its strings.
  virtual void Get(size_t row, Record* out) const = 0;
  // Called before the rows of each block are read with Get: "rows" are their row numbers, each
  // block once, blocks in write order. A source that holds rows compressed (a flush's packed
  // memtable chunks) opens what these need and lets go of what they do not, so that it holds
  // about one block's worth instead of every row (docs/storage.md "Flush memory"). Get must work
  // without it. The default does nothing.
  virtual void WillGet(const uint32_t* rows, size_t count) const {
    (void)rows;
    (void)count;
  }
};
// WriteSegment over "rows" (which must stay unchanged during the call); the same segment bytes
// as the rows' records in a vector would give.
Status WriteSegment(objstore::ObjectStore* store, const std::string& name, const SegmentInfo& info,
                    const RowSource& rows, const WriterOptions& options, SegmentInfo* out);

// The same for the file "path" (tools, tests): the local store of its directory.
Status WriteSegment(Env* env, const std::string& path, const SegmentInfo& info,
                    std::vector<Record> records, const WriterOptions& options, SegmentInfo* out);

// A test of a row's message that a reader may apply to a block's message column as stored
// (SegmentReader::KeepRowsWithMessage): the words and phrases every match of a search holds.
// A kTimeText block (format version 13) stores each row's text with its time cut out: a test
// that AvoidsTimes() is asked PassesAround(the text before the time, the text after it) for a
// row whose time has a byte that is no word byte (index/tokenizer.h) or the line's end on either
// side, and answers as Passes would of the whole line; any other row is rendered and asked
// Passes (docs/format/segment.md "Times in text").
class TextTest {
 public:
  virtual ~TextTest() = default;
  // Whether the message "text" passes.
  virtual bool Passes(std::string_view text) const = 0;
  // True when no word the test looks for can be a word of a time as kTimeText writes one
  // (column_encoding.h WordMayBeInTime false for each).
  virtual bool AvoidsTimes() const = 0;
  // Passes of "before" + a time + "after", for a test that AvoidsTimes(), where "before" ends and
  // "after" begins with no word byte (or is empty).
  virtual bool PassesAround(std::string_view before, std::string_view after) const = 0;
};

// Thread-safe after Open: many queries may read one segment at once.
class SegmentReader {
 public:
  virtual ~SegmentReader() = default;

  // Opens segment "name" of "store" (objstore/object_store.h): reads the header, the trailer and
  // the footer with ranged reads and verifies them; afterwards each call reads only the byte
  // ranges of the blocks, index sections and blooms it needs, never the whole object. The reader
  // keeps "store" alive. Errors: NotFound, DataLoss (bad magic, checksum, or version this build
  // cannot read, with the byte offset), InvalidArgument for a bad name, IOError from the store.
  static Result<std::shared_ptr<SegmentReader>> Open(std::shared_ptr<objstore::ObjectStore> store,
                                                     const std::string& name);
  // The same for the file "path" (tools, tests, reconciliation of files found on disk).
  static Result<std::shared_ptr<SegmentReader>> Open(Env* env, const std::string& path);

  virtual const SegmentInfo& info() const = 0;
  virtual const std::vector<BlockInfo>& blocks() const = 0;
  // Names of the dynamic fields present in this segment.
  virtual const std::vector<std::string>& field_names() const = 0;

  // What the segment's index kinds (index/index_kind.h: the inverted index, the blooms, the
  // per-block time ranges, the numeric ranges of dynamic fields, ...) can prove. Each question
  // goes to every kind of this build that the segment holds data for and that answers that
  // kind of predicate (IndexKind::answers); a kind's data is read on first use and kept. A
  // segment without a kind's data (an older format) gives the weaker answer, never a wrong one;
  // a kind whose data is damaged gives DataLoss, whether the damage is met when the kind opens
  // (its block read whole: the word postings, the numeric ranges) or by an answer (session 23).
  // Every error of these questions names the kind as its subject() (sawmill/status.h), so that
  // a caller keys on the kind and the code without parsing the message (session 24); a failed
  // read (IOError, Unavailable) keeps its code and is not kept: the next question reads again.
  //
  // The rows (segment-global numbers) satisfying "predicate" exactly, from the first kind that
  // knows (the inverted index: service, host, level with empty values, and the writer's
  // indexed_fields); nullopt when none does: the caller must scan. Errors: DataLoss naming the
  // segment, the kind and the index when a kind's data is damaged.
  virtual Result<std::optional<roaring::Roaring>> MatchingRows(
      const index::FieldPredicate& predicate) const = 0;
  // How many rows of each block (in block order, one count per block) satisfy "predicate",
  // exactly, from the first kind that counts them without postings (the word postings: words too
  // frequent to post, index/index_kind.h BlockCounts); nullopt when none does (the default).
  // Errors: DataLoss naming the segment when a kind's data is damaged.
  virtual Result<std::optional<std::vector<uint32_t>>> MatchingRowsPerBlock(
      const index::FieldPredicate& /*predicate*/) const {
    return std::optional<std::vector<uint32_t>>();
  }
  // (Format version 19) The rows of each block per minute of ts ("ts" true) or ingest_ts and
  // per level (index/index_kind.h MinuteCounts), from the minute_counts kind; null when the
  // segment has none (older versions). Errors: DataLoss naming the segment, the kind and the
  // block when its data is damaged.
  virtual Result<std::shared_ptr<const index::MinuteCounts>> BlockMinuteCounts(bool /*ts*/) const {
    return std::shared_ptr<const index::MinuteCounts>();
  }
  // (Format version 19) The rows of each block per (service, level), from the minute_counts
  // kind; null when the segment has none. Errors: as BlockMinuteCounts.
  virtual Result<std::shared_ptr<const index::ServiceLevelCounts>> BlockServiceLevels() const {
    return std::shared_ptr<const index::ServiceLevelCounts>();
  }
  // Every distinct value of "field" (built-in when "builtin") a kind holds rows for, or nullopt.
  virtual Result<std::optional<std::vector<std::string>>> FieldValues(std::string_view field,
                                                                      bool builtin) const = 0;
  // False only when a kind proves that no row of the segment / of "block" satisfies
  // "predicate" (blooms; per-block ts ranges; numeric ranges: `status>=500`). Errors: DataLoss
  // naming the segment, the kind, the index and its offset when the data a kind's answer needs
  // is damaged (a block list, a bloom, the word postings: session 22; the caller reports the
  // segment and reads its blocks); IOError from the store.
  virtual Result<bool> SegmentMayMatch(const index::FieldPredicate& predicate) const = 0;
  virtual Result<bool> BlockMayMatch(uint32_t block,
                                     const index::FieldPredicate& predicate) const = 0;

  // Shorthands over the four above, with "field" a built-in field when it names one with a
  // text value (segment/builtin_fields.h IndexedFieldOf), else a dynamic field:
  // MatchingRows of `field = value`.
  Result<std::optional<roaring::Roaring>> Postings(std::string_view field,
                                                   std::string_view value) const;
  // FieldValues of "field".
  Result<std::optional<std::vector<std::string>>> IndexedValues(std::string_view field) const;
  // May-match of `field = token`; for "message", of the word "token".
  Result<bool> SegmentMayContain(std::string_view field, std::string_view token) const;
  Result<bool> BlockMayContain(uint32_t block, std::string_view field,
                               std::string_view token) const;

  // Decodes the columns in "column_mask" of every row of "block" and appends the rows to
  // "*out" in row order (tenant filled from info(); columns not asked for left default).
  // Errors: DataLoss naming the column and block when a checksum fails.
  virtual Status ReadBlock(uint32_t block, uint32_t column_mask, std::vector<Record>* out,
                           ReadStats* stats) const = 0;
  // Decodes the columns in "column_mask" of the rows "rows" of "block" (block-relative, strictly
  // ascending, each below the block's row count) and appends one record per listed row to
  // "*out", in that order: a newest-first search builds records only for the rows it may return.
  // Each column read is still decompressed whole; the file reader builds (and renders the JSON
  // shape of) the listed rows only. The default goes through ReadBlock. Errors: as ReadBlock;
  // InvalidArgument when "rows" is not ascending or names a row past the block.
  virtual Status ReadRows(uint32_t block, uint32_t column_mask, const std::vector<uint32_t>& rows,
                          std::vector<Record>* out, ReadStats* stats) const;
  // Decodes the built-in columns in "column_mask" (kColFields is not one) of every row of
  // "block" into "*out" (its old contents replaced), building no Record: an aggregation reads
  // the columns it groups by and nothing else. The default goes through ReadBlock (readers
  // that can do better override it; the file reader does, except for the message of a
  // version-4 block, which may be rendered from a JSON shape). Errors: as ReadBlock;
  // InvalidArgument for kColFields.
  virtual Status ReadColumnValues(uint32_t block, uint32_t column_mask, BlockColumns* out,
                                  ReadStats* stats) const;
  // ReadColumnValues of the integer columns of "column_mask" (ts, ingest_ts, seq, level, flags:
  // no text column) for the rows before "through" (1 to the block's row count) at least: a
  // column whose encoding can stop early (RLE, delta, scaled) is decoded only as far as row
  // through - 1, so "out->ints[slot]" holds at least "through" values, and all of them where
  // it cannot; "out->rows" is the block's row count. A newest-first search reads its rows' keys
  // so (docs/performance.md "Session 17: the rare word at 10 M"). The default reads every row.
  // Errors: as ReadColumnValues; InvalidArgument for a text column or "through" out of range.
  virtual Status ReadIntColumnsThrough(uint32_t block, uint32_t column_mask, uint32_t through,
                                       BlockColumns* out, ReadStats* stats) const;
  // The integer columns of "column_mask" (as ReadIntColumnsThrough) of the rows "rows" of
  // "block" only (block-relative, strictly ascending, each below the block's row count):
  // "out->ints[slot]" holds one value per listed row, in order, and "out->rows" is rows.size().
  // An aggregation over the rows a filter's postings select in a block reads them so
  // (query/executor.cc AggregateColumns): the file reader passes over a rice-runs `ts`'s runs
  // holding no listed row making no value, reads packed level ids of the listed rows alone, and
  // reads nothing after the last (DecodeIntColumnRows). The default reads every row
  // (ReadColumnValues) and picks. Errors: as ReadIntColumnsThrough; InvalidArgument when "rows"
  // is out of order, repeats a row or is past the block (as ReadRows).
  virtual Status ReadIntColumnRows(uint32_t block, uint32_t column_mask,
                                   const std::vector<uint32_t>& rows, BlockColumns* out,
                                   ReadStats* stats) const;
  // Keeps in "*rows" (block-relative, strictly ascending, each below the block's row count) the
  // rows of "block" whose built-in text column "column_bit" (one ColumnBit) holds exactly
  // "value": the first step of an id lookup (query/executor.cc NarrowById), which needs no view
  // of a row. The file reader compares a hex id column's stored bytes with the bytes "value"
  // spells instead of rendering every row's hex; the default (and any other encoding) decodes
  // the column as ReadColumnValues does. Errors: as ReadColumnValues; InvalidArgument when
  // "column_bit" is not one built-in text column or "rows" is out of order or past the block.
  virtual Status KeepRowsHolding(uint32_t block, uint32_t column_bit, std::string_view value,
                                 std::vector<uint32_t>* rows, ReadStats* stats) const;
  // Keeps in "*rows" (block-relative, strictly ascending, each below the block's row count) the
  // rows of "block" whose message passes "test", and sets "*messages" to their messages (one per
  // row kept, in order): a search's words and phrases checked before any other column of a row
  // is read (query/executor.cc NarrowByText). The file reader tests a kTimeText block's rows on
  // their stored text where the test allows it (TextTest) and renders only the rows it keeps or
  // cannot test so; the default (and a split block, or a message rendered from a JSON shape)
  // reads the rows' messages as ReadRows does. Errors: as ReadRows.
  virtual Status KeepRowsWithMessage(uint32_t block, const TextTest& test,
                                     std::vector<uint32_t>* rows,
                                     std::vector<std::string>* messages, ReadStats* stats) const;
};

}  // namespace sawmill::segment
