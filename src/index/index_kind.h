// An index kind: how one kind of index is built from the rows of a segment, stored in the
// segment, and asked what it can prove about a condition. A new kind is one file implementing
// IndexKind plus one line in index_kinds.cc (docs/extending.md walks through it). The kinds of
// this build: the inverted index (inverted_index_kind.cc), the blooms (bloom_kind.cc), the
// per-block time ranges (time_range_kind.cc) and the per-block numeric ranges of dynamic fields
// (numeric_range_index.cc).
//
// A kind may answer these questions, each only when it can (the defaults say "cannot tell"):
//   - which rows of the segment satisfy a condition, exactly (Rows, Values: postings);
//   - how many rows of each block satisfy it, exactly (BlockCounts: counts without postings);
//   - "may the segment / this row block hold a match?" (SegmentMayMatch, BlockMayMatch).
// "May match" false is a proof that no row satisfies the predicate, true means "read it". A
// kind that cannot decide says true (or nullopt for rows), so a query over a segment without the
// index (an older file, an unknown kind) still gives the right answer, only with more reading. A
// kind whose stored data is damaged says so, in every answer (may-match ones included: session
// 22): DataLoss naming the segment, the index and its offset, which the caller reports as the
// segment's damage and answers without the index (a scan).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "index/bloom.h"
#include "index/roaring_compat.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::index {

// One condition of a filter on one field, in terms an index kind can check without knowing the
// query language. The query planner makes them from the filters it can prune with; only
// conditions a record must satisfy to match are passed (never one under a NOT).
struct FieldPredicate {
  enum class Op : uint8_t {
    kEquals,  // the field's value is "value" exactly
    kLess,
    kLessEqual,
    kGreater,
    kGreaterEqual,
    kWord,        // the message holds the word "value" (as index/tokenizer.h splits and folds)
    kTimeWithin,  // the built-in time field "field" (ts or ingest_ts) is in [from_ns, to_ns)
  };
  std::string_view field;  // a field name: built-in when "builtin", else a dynamic field
  Op op = Op::kEquals;
  std::string_view value;        // kEquals, kWord: the value or word
  std::optional<double> number;  // comparisons: the bound as a number, when it is one
  bool builtin = false;          // "field" is the built-in field of that name
  int64_t from_ns = INT64_MIN;   // kTimeWithin
  int64_t to_ns = INT64_MAX;
};

// A field the segment writer was asked to index, and how its value is read from a record. The
// segment layer makes these from its table of built-in fields (segment/builtin_fields.h).
struct IndexedField {
  std::string name;
  bool builtin = false;                 // the built-in field of that name; false: a dynamic field
  bool message_words = false;           // the message, indexed by its words (blooms only)
  bool keep_empty = false;              // empty values are indexed too (service, host, level)
  std::string Record::*text = nullptr;  // a built-in text field's member; null for the level
};

// The value of a built-in "field" of "r" as indexes see it: the text, or the LevelName of the
// level. REQUIRES: field.builtin.
std::string_view BuiltinValue(const Record& r, const IndexedField& field);

// What the segment writer asks the kinds to index (WriterOptions: indexed_fields, bloom_fields,
// resolved to fields). Each kind takes what concerns it.
// Which words of the message get postings in the word_postings kind (word_postings_kind.cc,
// docs/format/index.md "Word postings"); the rule is stored in each segment, so a reader knows
// whether a word it does not find is absent or only not posted.
// The defaults post every word; segment::DefaultWordPostingsRule() is the measured rule.
struct WordPostingsRule {
  // Words in fewer rows are not posted (near-unique tokens: the blooms find their blocks)...
  uint32_t min_rows = 1;
  // ...except in segments of at most this many rows, which post words from one row on.
  uint64_t small_segment_rows = 0;
  // Number-like words (index::IsNumberWord: "404", "10ms") are posted.
  bool numbers = true;
  // Words in more rows than max(max_rows_floor, max_fraction x the segment's rows) are not
  // posted (their blocks are read; the query checks each row).
  double max_fraction = 1.0;
  uint64_t max_rows_floor = 0;
  // The rows of each block holding each word above that limit (word_postings version 3) are
  // written in segments of more than this many rows; smaller segments get version 2, without
  // them (a count of such a word then reads its blocks).
  uint64_t counts_above_rows = 0;
  // In segments of more than this many rows, words without a digit (index::IsLetterWord:
  // "accountname", not ids, hex or times) are posted from one row on, whatever min_rows: a rare
  // word of a large segment (one or two of its hundreds of thousands of rows) is then answered
  // from postings, where below min_rows its blocks were read whole. UINT64_MAX: never.
  uint64_t letter_words_above_rows = UINT64_MAX;
};

// Which exact-value fields of the writer's indexed_fields get postings in a segment's inverted
// index (inverted_index_kind.cc; docs/format/index.md "Near-unique fields"). The rule is decided
// per field and per segment on the values the segment holds. A field left out has no index in
// that segment, exactly as if it were not in indexed_fields: its values are "cannot tell" (its
// blooms, then a scan of the blocks they leave), never "no row". service, host and level, and
// fields without a bloom, are always posted. The defaults post every field;
// segment::DefaultValuePostingsRule() is the measured rule.
struct ValuePostingsRule {
  // A field whose distinct values are more than this fraction of its values (occurrences) in
  // the segment is near-unique (trace ids, user ids): its postings are about one entry per row,
  // the value spelt out each time, while its bloom finds the one or few blocks of a value.
  // >= 1: every field is posted.
  double max_distinct_fraction = 1.0;
  // Segments of at most this many rows post every field.
  uint64_t small_segment_rows = 0;
  // (Segment format version 16, BuildOptions::value_block_lists) Of a posted field with a bloom
  // (user ids), a value in fewer rows of the segment than this is stored as a block list (its
  // blocks and their rows holding it), a value in as many or more as rows: a frequent value's
  // rows keep its ANDs with other filters exact without reading a block, while a rare value's
  // rows cost ~18 bits each against ~5 for its blocks (docs/format/index.md "Block lists").
  // 0 (the default, as segment::DefaultValuePostingsRule()): every value as rows, which answer
  // the filter's rows exactly; UINT32_MAX: every value as a block list, whose rows only a read
  // of its blocks tells (a writer option, measured slower).
  uint32_t list_below_rows = 0;
};

struct BlockWords;  // index/word_hash.h

// (Segment format version 12) The message words the segment's word postings decide, by their
// BloomHash: posted (their rows) or counted in each block (version 3). The word postings
// builder fills it in Finish and the message blooms leave these words out (the writer finishes
// the blooms last), so a bloom holds only what the postings cannot answer: ids of one or two
// rows (docs/format/index.md "Blooms"). A hash shared with a word the postings do not decide
// is not in it. "filled" false: no word postings, or words dropped at the builder's cap; the
// blooms then keep every word.
struct DecidedWords {
  bool filled = false;
  std::vector<uint64_t> hashes;  // sorted, distinct
};

// (Segment format version 16) The fields the inverted kind stores as block lists in the
// segment (BuildOptions::value_block_lists), filled by its Finish, read by the bloom kind's (the
// writer finishes the blooms last): a block list says exactly which blocks hold a value, so the
// field's blooms would only repeat it, less exactly, in more bytes. The bloom kind leaves such a
// field out (docs/format/index.md "Block lists"). "filled" false: every bloom field keeps its
// filters (earlier versions).
struct PostedFields {
  bool filled = false;
  std::vector<std::pair<std::string, bool>> fields;  // (name, builtin)
  bool Has(std::string_view name, bool builtin) const {
    for (const auto& [n, b] : fields) {
      if (n == name && b == builtin) return true;
    }
    return false;
  }
};

// (Segment format version 19) Per row block, how many of its rows fall in each minute of a
// built-in time field (ts, ingest_ts), per level: the minute_counts kind
// (minute_counts_kind.cc; docs/format/segment.md "Minute counts"). A `count by bucket(N), level`
// with N whole minutes then counts a block its filter matches whole from these cells, reading no
// column (docs/query-language.md "Counts from the index").
struct MinuteCounts {
  static constexpr int64_t kMinuteNs = 60'000'000'000;
  // Block b's counts, when known[b]: the minutes [first_minute[b], first_minute[b] +
  // minutes[b]) (minutes of the Unix epoch: a minute m holds the times [m x kMinuteNs, (m + 1) x
  // kMinuteNs)), each with a count per level of levels[b] (a bit per Level value, lowest first):
  // Counts(b) gives them, the count of a minute and level at [minute x popcount(levels[b]) + the
  // level's rank among levels[b]]. known[b] false: the block's minutes were too many to store
  // (MinuteCounts::kMaxMinutes).
  static constexpr uint32_t kMaxMinutes = 1440;
  std::vector<bool> known;
  std::vector<int64_t> first_minute;
  std::vector<uint32_t> minutes;
  std::vector<uint8_t> levels;
  // The counts are kept as stored, varints (a byte each below 128), block b's from byte at[b] of
  // "cells", checked when read: a quiet source's block spans many minutes of few rows, whose
  // counts as 4-byte cells took more memory than its segment file (docs/performance.md "Session
  // 21: aggregations over partly matching blocks").
  std::vector<uint32_t> at;
  std::string cells;
  // Block b's counts (known[b]) into "*out" (replacing its contents).
  void Counts(uint32_t b, std::vector<uint32_t>* out) const;
  // The memory these counts hold (their vectors' and string's capacity).
  size_t ResidentBytes() const;
};

// (Segment format version 19) Per row block, how many of its rows hold each (service, level):
// the minute_counts kind's second part. A filter on service and level only, grouped by service
// and level (`level=ERROR | top 10 service`), is then counted from these cells, decoding no
// postings (docs/format/segment.md "Minute counts").
struct ServiceLevelCounts {
  struct Cell {
    uint32_t service = 0;  // into "services"
    uint32_t level = 0;    // a Level value
    uint32_t count = 0;
  };
  std::vector<std::string> services;  // the segment's distinct services, sorted
  std::vector<uint32_t> at;           // block b's cells are [at[b], at[b + 1]) of "cells"
  std::vector<Cell> cells;
};

struct BuildOptions {
  std::vector<IndexedField> indexed;  // exact-value inverted indexes; "message": word postings
  std::vector<IndexedField> blooms;   // per-block blooms
  WordPostingsRule words;
  ValuePostingsRule values;  // which exact-value fields get postings (the inverted kind)
  // The layout of the word_postings block to write: 0 the kind's newest (3: words front-coded,
  // gaps and run lengths in columns of their own, the rows of each unposted word in each block),
  // 1 or 2 the layouts builds before it wrote (compatibility tests and the size comparisons of
  // bench_segment).
  uint32_t word_postings_version = 0;
  // When set, the words of the messages of the block being added, split once for every kind
  // (the writer fills it before each AddBlock); kinds that read message words use it instead of
  // splitting the messages again. Null: each kind splits them itself.
  const BlockWords* block_words = nullptr;
  // The rows the segment will hold (all blocks together), when the writer knows them before the
  // first block (it always does); 0: unknown. The inverted kind stops collecting a built-in
  // field's values as soon as it is sure the ValuePostingsRule will find it near-unique.
  uint64_t segment_rows = 0;
  // (Segment format version 11) The block filters of ids as id filters (bloom.h, version 2):
  // the false positives of kIdBitsPerKey in about 12 bits a key. False: bloom bits.
  bool id_filters = false;
  // The low bits of an id filter's fingerprints (WriteIdFilter): kIdLowBits, or kIdLowBitsV23
  // from segment format version 23.
  int id_low_bits = kIdLowBits;
  // (Segment format version 26) By row block, whether its trace_id column block took the
  // filtered-hex encoding (the segment writer sets each block's before it adds the block): the
  // block filter of the built-in trace_id of such a block is a mixed id filter (bloom.h,
  // version 3), written whatever the rules above say (the column block is read with it), even
  // for a field the segment posts. Null: none.
  const std::vector<bool>* mixed_trace_blocks = nullptr;
  // (Segment format version 17) The inverted index of a field every row holds one value of
  // (service, host, level) as version 3 (inverted_index.h) where it has a rest: the value in
  // the most rows without postings, the others' rows Rice-coded where smaller than runs.
  bool rest_postings = false;
  // (Segment format version 12) Filled by the word postings builder, read by the bloom builder
  // (DecidedWords); null: the message blooms keep every word (earlier versions).
  DecidedWords* decided_words = nullptr;
  // (Segment format version 16) A field with a bloom that the ValuePostingsRule posts (its
  // values repeat: user ids) is stored as block lists (inverted_index.h version 2: per value its
  // blocks and their rows holding it) instead of rows, and the bloom kind leaves it out
  // (PostedFields). Rows then come from reading the blocks; counts from the lists.
  bool value_block_lists = false;
  // (Segment format version 16) Filled by the inverted kind, read by the bloom kind
  // (PostedFields); null: every bloom field keeps its filters (earlier versions).
  PostedFields* posted_fields = nullptr;
  // (Segment format version 22, with value_block_lists) Those fields as inverted index version
  // 3 without a rest: each value kept as rows stored as runs or Rice codes, whichever is fewer
  // bytes (a user's rows are near random in a segment sorted by service, host and ts: Rice
  // codes store them near their entropy, runs spend two varints a row); block lists as before.
  bool rice_value_rows = false;
  // (Segment format version 23, with rice_value_rows) Those fields as inverted index version 4:
  // version 3's without a rest, the Rice-coded values' counts and code lengths in sections of
  // their own, each one's k implied by its count and the segment's rows, and their codes one
  // bit stream (no k byte, size or padding a value).
  bool rice_value_stream = false;
  // (Segment format version 27, with value_block_lists) The user ids (the built-in field whose
  // text is Record::user_id, when it has a bloom) as inverted index version 5, the block map:
  // each user's blocks, nothing of its rows, in every segment (never left out as near-unique),
  // and no blooms (PostedFields). A search of a user reads the blocks named.
  bool user_block_map = false;
  // (Segment format version 19) Per row block, its rows counted per minute of ts and of
  // ingest_ts and per level, and per service and level (the minute_counts kind: MinuteCounts,
  // ServiceLevelCounts). False: not written.
  bool minute_counts = false;
};

// Where a kind's data lives in a segment file (docs/format/segment.md). A new kind uses
// kKindBlock; the others are the sections the first kinds had before the registry existed,
// kept so that every file ever written reads the same.
enum class IndexLayout : uint8_t {
  kKindBlock,     // one block in the footer's kind_index directory under the kind's name (v3+)
  kFieldIndexes,  // the footer's index directory: per field, one compressed block (every version)
  kFieldBlooms,   // the footer's bloom directory: per field, a segment filter and block filters
  kBlockList,     // nothing of its own: the ts and ingest_ts ranges of the footer's block list
};

// One stored unit of a kind: a whole-kind block (kKindBlock, "field" empty) or one field's data.
struct IndexPart {
  IndexedField field;
  uint64_t count = 0;              // distinct values or tokens, as the directory records them
  std::vector<std::string> blobs;  // the stored blocks, in the layout's order; "" is absent
  uint32_t version = 0;            // kKindBlock: the version the block is in; 0: the kind's
};

// Builds one kind's index for one segment. Not thread-safe; one per segment being written.
class IndexBuilder {
 public:
  virtual ~IndexBuilder() = default;
  // Called once per row block, in block order (the first call is block 0). The rows are valid
  // only during the call (the segment writer decodes one block at a time): a builder copies
  // what it keeps.
  virtual void AddBlock(const Record* rows, uint32_t count) = 0;
  // Appends the parts to store. Appending nothing means "nothing worth storing": the writer
  // then leaves the kind out of the segment.
  virtual void Finish(std::vector<IndexPart>* parts) = 0;
};

// A segment's stored data of one kind, as the segment reader hands it to IndexKind::open.
// Thread-safe; reads nothing until asked.
class IndexSource {
 public:
  struct Part {
    IndexedField field;
    uint64_t count = 0;
    uint32_t version = 0;  // kKindBlock: the version the block was written with
    size_t blobs = 0;
  };
  struct BlockTimes {
    int64_t min_ts = 0, max_ts = 0, min_ingest_ts = 0, max_ingest_ts = 0;
  };
  virtual ~IndexSource() = default;
  virtual uint32_t block_count() const = 0;
  virtual uint64_t row_count() const = 0;
  virtual const std::vector<Part>& parts() const = 0;
  // Reads, verifies and decompresses blob "blob" of part "part" ("" when not stored).
  // Errors: DataLoss naming the segment, the block and its offset; IOError from the store.
  virtual Status Read(size_t part, size_t blob, std::string* out) const = 0;
  // The bytes of blob "blob" of part "part" as stored, whatever its checksum says, when it was
  // stored uncompressed (a bloom's block filters, which the bloom kind cuts into per-block
  // filters for callers that check each: IndexView::BlockFilter). Errors: DataLoss when they
  // cannot be had so (compressed, packed or split; the file too short); IOError from the store.
  virtual Status ReadUnchecked(size_t /*part*/, size_t /*blob*/, std::string* /*out*/) const {
    return Status::DataLoss("not readable without its checksum");
  }
  // "segment PATH: index 'FIELD' at offset N": how errors about a part's data start.
  virtual std::string Where(size_t part, size_t blob) const = 0;
  // REQUIRES: block < block_count().
  virtual BlockTimes Times(uint32_t block) const = 0;
  // The segment-global rows of "block": [*first_row, *first_row + *rows). False when the
  // source does not know them (a kind block held alone). REQUIRES: block < block_count().
  virtual bool BlockRows(uint32_t /*block*/, uint32_t* /*first_row*/, uint32_t* /*rows*/) const {
    return false;
  }
};

// A kind's view of one segment. Safe to use from many threads.
class IndexView {
 public:
  virtual ~IndexView() = default;
  // The rows (segment-global numbers) satisfying "predicate", exactly; nullopt when this kind
  // cannot say. Errors: DataLoss when the kind's data is damaged.
  virtual Result<std::optional<roaring::Roaring>> Rows(const FieldPredicate& /*predicate*/) const {
    return std::optional<roaring::Roaring>();
  }
  // How many rows of each row block of the segment satisfy "predicate", exactly (one count per
  // block, in block order), for a predicate the kind counts without giving its rows (the word
  // postings: words too frequent to post); nullopt when this kind cannot say. A plain count is
  // then the sum over the blocks inside a query's time range. Errors: DataLoss when damaged.
  virtual Result<std::optional<std::vector<uint32_t>>> BlockCounts(
      const FieldPredicate& /*predicate*/) const {
    return std::optional<std::vector<uint32_t>>();
  }
  // (Segment format version 19) The rows of each block per minute of the built-in time field
  // "time_field" (ts or ingest_ts) and per level (MinuteCounts), or null when this kind cannot
  // say. Errors: DataLoss naming the segment, the kind and the block when its data is damaged.
  virtual Result<std::shared_ptr<const MinuteCounts>> BlockMinutes(
      std::string_view /*time_field*/) const {
    return std::shared_ptr<const MinuteCounts>();
  }
  // (Segment format version 19) The rows of each block per (service, level)
  // (ServiceLevelCounts), or null when this kind cannot say. Errors: as BlockMinutes.
  virtual Result<std::shared_ptr<const ServiceLevelCounts>> BlockServiceLevels() const {
    return std::shared_ptr<const ServiceLevelCounts>();
  }
  // Every distinct value of a field the kind answers Rows for (for prefix, range and !=
  // filters), or nullopt.
  virtual Result<std::optional<std::vector<std::string>>> Values(std::string_view /*field*/,
                                                                 bool /*builtin*/) const {
    return std::optional<std::vector<std::string>>();
  }
  // False only when no row of the segment can satisfy "predicate". Errors: DataLoss when the
  // data the answer needs is damaged (never "maybe" in its place: the damage would go unseen);
  // IOError from the store.
  virtual Result<bool> SegmentMayMatch(const FieldPredicate& /*predicate*/) const { return true; }
  // False only when no row of "block" can satisfy "predicate". Errors: as SegmentMayMatch.
  virtual Result<bool> BlockMayMatch(uint32_t /*block*/,
                                     const FieldPredicate& /*predicate*/) const {
    return true;
  }
  // (Segment format version 26) The serialized block filter of "block" of the bloom of "field"
  // (the bloom kind: what a filtered-hex trace id column block is decoded with), valid while
  // this view lives; empty when this kind holds none. When the field's block filters fail their
  // checksum, the filter is still cut out of them (their count and length prefixes, bounds
  // checked) and returned with "*unchecked" set to that damage: the caller takes it only if it
  // matches a checksum of its own (a filtered-hex block's filter_crc). Errors: DataLoss naming
  // the segment, the field's filters, their offset (and the block, for one filter that does not
  // parse or cannot be cut); IOError from the store.
  virtual Result<std::string_view> BlockFilter(const IndexedField& /*field*/, uint32_t /*block*/,
                                               Status* /*unchecked*/) const {
    return std::string_view();
  }
};

struct IndexKind {
  // Stored in the segment footer (kKindBlock) to say which kind a block is: never rename a kind.
  std::string_view name;
  // The version of the serialized data this build writes; open reads every version up to it.
  uint32_t version = 1;
  IndexLayout layout = IndexLayout::kKindBlock;
  // Whether the kind answers Rows and Values (postings): only such kinds are asked for rows.
  bool gives_rows = false;
  // Whether the kind may answer anything about "predicate" (cheap, no I/O): the reader opens a
  // kind's view and asks it only then, so a query never loads an index that cannot help it.
  bool (*answers)(const FieldPredicate& predicate) = nullptr;
  // nullptr for kBlockList (the writer's block list is the data).
  std::unique_ptr<IndexBuilder> (*new_builder)(const BuildOptions& options) = nullptr;
  // Opens a segment's data. Reading may happen here or lazily in the view. Errors: DataLoss
  // saying what is wrong (the reader keeps it and answers it to every question of the kind:
  // the segment is reported corrupt and scanned); a failed read (IOError, Unavailable), which
  // the reader does not keep: the next question opens the kind again.
  Result<std::unique_ptr<IndexView>> (*open)(std::shared_ptr<const IndexSource> source) = nullptr;
};

// Every kind of this build, in registration order (index_kinds.cc): the writer builds them and
// stores their data in this order.
std::span<const IndexKind* const> RegisteredIndexKinds();

// The registered kind called "name", or nullptr (a segment written by a newer build).
const IndexKind* FindIndexKind(std::string_view name);

// Opens a kKindBlock kind's block "serialized", written with "version", for a segment of
// "block_count" row blocks, without a segment file (tests, `sawmill segment verify`).
Result<std::unique_ptr<IndexView>> OpenKindBlock(const IndexKind& kind, uint32_t version,
                                                 std::string serialized, uint32_t block_count);

}  // namespace sawmill::index
