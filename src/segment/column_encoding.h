// Column encodings: how the values of one column block are laid out before compression.
// Each encoded block starts with its Encoding byte and the value count (varint), so that a
// block can be decoded (and verified) without outside context:
//
//   column_block := encoding(u8) count(varint) body
//
// One file per encoding (delta_encoding.cc, rle_encoding.cc, plain_encoding.cc,
// dict_encoding.cc, decimal_encoding.cc, iso_time_encoding.cc), each defining its
// ColumnEncoding constant; the registry (kEncodings in column_encoding.cc, one line per
// encoding) is what the decoders dispatch on. This header declares them and the chooser.
// Decoders never trust their input: a malformed body gives DataLoss, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sawmill/status.h"
#include "segment/format.h"

namespace sawmill::segment {

class TextTest;  // segment.h

// A column encoding as the decoders see it: its id (the block's first byte) and the decoder of
// its body, which follows the encoding byte and the value count. Exactly one of the two
// decoders is set: an integer encoding or a string one. Decoders append "count" values to
// "*out" or fail with DataLoss (leaving "*out" as it was); string views point into "body" or
// into "*arena", which the decoder may overwrite.
struct ColumnEncoding {
  Encoding id;
  std::string_view name;
  Status (*decode_ints)(std::string_view body, size_t count, std::vector<int64_t>* out);
  Status (*decode_strings)(std::string_view body, size_t count, std::vector<std::string_view>* out,
                           std::string* arena);
};

// The registered encoding with byte "id", or nullptr (a corrupt or newer block).
const ColumnEncoding* FindColumnEncoding(Encoding id);

// --- int64 columns (timestamps, seq) ---
// Delta-of-delta with zigzag varints (Gorilla): regular timestamps cost one byte per row.
void EncodeDeltaOfDelta(const int64_t* values, size_t count, std::string* out);
// Zigzag varint deltas: for sequences that rise irregularly (seq).
void EncodeDelta(const int64_t* values, size_t count, std::string* out);
// (run, value) varint pairs: for level and flags.
void EncodeRle(const uint64_t* values, size_t count, std::string* out);

// Decodes an int column block of any int encoding; appends to "*out". "max_count" bounds the
// number of values accepted. Errors: DataLoss.
Status DecodeIntColumn(std::string_view block, size_t max_count, std::vector<int64_t>* out);

// --- string columns ---
// Reusable state for the string chooser (no allocation per row once warmed up).
struct StringEncodeScratch {
  // The warm tier's text layouts (kLines, kDigitSplit; format version 5) may be chosen instead
  // of the plain layout.
  bool text_layouts = false;
  // With text_layouts, kPrefixSplit (format version 6) is a candidate too.
  bool prefix_split = false;
  // kHex (format version 7) before the text layouts, for columns of hex ids; the writer also
  // lets time columns use kScaled (EncodeTimeColumn) when this is set.
  bool hex = false;
  // kIsoPrefix (format version 10) before the plain layout, for text whose rows mostly begin
  // with an RFC 3339 UTC time (not with text_layouts, whose digit split groups those digits).
  bool iso_prefix = false;
  // kPrefixedNumber (format version 11) where zstd makes it smaller than the other answer.
  bool prefixed_number = false;
  // (Format version 20) kPrefixedNumber's numbers may be kHuffmanIds.
  bool huffman_ids = false;
  // (Format version 12) A block that would be plain (or kIsoPrefix's text after the times) is
  // kMarkedLines when no value holds a newline. The writer sets it for the message column of
  // hot and compacted segments (not with text_layouts, whose candidates include kLines).
  bool marked_lines = false;
  // (Format version 13) kTimeText, after kIsoPrefix, for text whose rows mostly hold a time in
  // another common log form near their start (not with text_layouts).
  bool time_text = false;
  // With time_text: the ts of each row of the block (the message column's), which kTimeText's
  // times are then stored against (set by the writer; nullptr: the times themselves).
  const int64_t* row_times = nullptr;
  // With text_layouts: the layout is chosen by a probe (a sample of the block's rows encoded in
  // each candidate layout and compressed at zstd 1) and only the winner is encoded for the whole
  // block, instead of every candidate encoded and compressed whole (ProbeTextLayout).
  bool layout_probe = false;
  std::vector<int64_t> ints;
  std::string candidate;
  std::string split;
  std::vector<std::string_view> sample;
  std::unordered_map<std::string_view, uint32_t> dict_index;
  std::vector<std::string_view> dict;
  std::vector<uint32_t> ids;
};

// Count, varint lengths, then the bytes back to back.
void EncodePlain(const std::string_view* values, size_t count, std::string* out);
// The plain body without encoding byte and count (shared with the dictionary encoding).
void PutPlainValues(const std::string_view* values, size_t count, std::string* out);
// Count, dictionary (as plain), id mode (0 plain varints, 1 (run, id) pairs), ids.
// "ids"/"dict" are the dictionary ids of each value and the dictionary.
void EncodeDict(const std::vector<std::string_view>& dict, const uint32_t* ids, size_t count,
                std::string* out);

// Encoding::kLines (text_encoding.cc): the values joined by '\n'. Returns false (appends
// nothing) when a value holds a newline.
bool EncodeLines(const std::string_view* values, size_t count, std::string* out);
// Encoding::kDigitSplit (text_encoding.cc): skeletons with digit runs marked, then the runs
// grouped by (skeleton, position). Returns false (appends nothing) when a value holds a newline
// or the byte 0x11, or no value holds a digit.
bool EncodeDigitSplit(const std::string_view* values, size_t count, std::string* out);
// Encoding::kPrefixSplit (text_encoding.cc, format version 6): skeletons with each row's leading
// runs of widely shared text marked, the runs grouped by that text. A run is a digit run or,
// with "with_separators", digits with . : / , - between them ("10.0.0.1", "2015:10:05:03").
// A run is split out where the text before it is that of at least "min_rows" rows of the block
// (the writer's choice; a probe of a sample of the rows scales it down). Returns false (appends
// nothing) when a value holds a newline or the byte 0x11, or no run is split out.
constexpr uint32_t kPrefixSplitMinRows = 32;
bool EncodePrefixSplit(const std::string_view* values, size_t count, bool with_separators,
                       std::string* out, uint32_t min_rows = kPrefixSplitMinRows);

// The text layouts a block may take (EncodeStringColumn with scratch->text_layouts).
enum class TextLayout : uint8_t { kLines, kDigitSplit, kPrefixSplit, kPrefixSplitSeparators };
// The layout the probe picks for these values: a sample of rows (kProbeChunks chunks of
// kProbeChunkRows consecutive rows, spread evenly over the block, since rows are grouped by
// source within a block) encoded in each candidate layout and compressed at zstd 1, the
// smallest winning (ties: the earlier of lines, digit-split, prefix-split, prefix-split with
// separators). Candidates that cannot encode the sample are skipped; kLines when none can.
constexpr size_t kProbeChunks = 16;
constexpr size_t kProbeChunkRows = 128;
TextLayout ProbeTextLayout(const std::string_view* values, size_t count, bool prefix_split,
                           StringEncodeScratch* scratch);

// Encoding::kMarkedLines (marked_lines_encoding.cc, format version 12): the values joined by
// '\n' as kLines, after the byte size of each group of "step" rows but the last, so that a read
// of a few rows finds them without scanning the block from its start. Returns false (appends
// nothing) when a value holds a newline or "step" is 0.
inline constexpr uint32_t kLineMarkRows = 64;
bool EncodeMarkedLines(const std::string_view* values, size_t count, std::string* out,
                       uint32_t step = kLineMarkRows);

// Picks dictionary or plain by the values' cardinality and appends the encoded block. With
// scratch->text_layouts, a block that would be plain is kLines or kDigitSplit (or, with
// scratch->prefix_split, kPrefixSplit) instead when it can be, whichever zstd compresses
// smaller.
void EncodeStringColumn(const std::string_view* values, size_t count, StringEncodeScratch* scratch,
                        std::string* out);

// Decodes a string column block; the views point into "block" or, for values that had to be
// rendered (decimal integers), into "*arena", which is overwritten; both must outlive the
// views. Errors: DataLoss.
Status DecodeStringColumn(std::string_view block, size_t max_count,
                          std::vector<std::string_view>* out, std::string* arena);

// Reading a few rows of a kPlain block without decompressing all of it (ReadRows): its lengths
// come first, so the bytes of rows 0..last_row end at a known place. Given the first bytes of a
// column block, PlainBytesThrough says how many leading bytes hold rows 0..last_row: more than
// 0 when it cannot tell yet (the header is not all there), UINT64_MAX when the
// block is not kPlain or holds no row "last_row" (it is then read whole). DecodePlainRows
// decodes the rows "rows" (ascending) from such a prefix of a block of "raw_size" bytes holding
// exactly "count" values: "*views" gets one view per listed row. Errors: DataLoss (a malformed
// header, lengths that do not add up to raw_size, a listed row past the prefix).
// DecodeStringColumn of the rows "rows" (ascending, below the block's count, which must be
// exactly "count") only: "*out" gets one view per listed row (replacing what it held). A plain
// or dictionary block builds views for those rows only (a dictionary's ids are read up to the
// last listed row), a hex block renders those rows only; the other encodings decode every row
// and keep the listed ones. Rows not ascending: InvalidArgument (CheckRowsAscending).
Status DecodeStringRows(std::string_view block, size_t count, const std::vector<uint32_t>& rows,
                        std::vector<std::string_view>* out, std::string* arena);
Status DecodeDictRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                      std::vector<std::string_view>* out);
uint64_t PlainBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row);
Status DecodePlainRows(std::string_view prefix, uint64_t raw_size, size_t count,
                       const std::vector<uint32_t>& rows, std::vector<std::string_view>* views);
// The same for a kMarkedLines block (format version 12): once its row offsets are out, the
// bytes through the group of "step" rows holding "last_row" (UINT64_MAX for the last group,
// which ends at the block's end); only the groups holding listed rows are split into rows, each
// checked to hold exactly its rows (DataLoss naming the rows and bytes otherwise).
uint64_t MarkedLinesBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row);
Status DecodeMarkedLinesRows(std::string_view prefix, uint64_t raw_size, size_t count,
                             const std::vector<uint32_t>& rows,
                             std::vector<std::string_view>* views);
// How a marked lines group is split (exposed for tests): views[0..k) get the first k <=
// "newlines" newline-ended rows of text[begin, end), "*at" the offset after the k-th newline;
// returns k. "vectorised" (the reader's choice) scans 32 bytes at a time where the CPU has
// AVX2; false takes a memchr a row, as on a CPU without.
uint64_t SplitNewlineRows(std::string_view text, size_t begin, size_t end, uint64_t newlines,
                          std::string_view* views, size_t* at, bool vectorised = true);
// Either of the two (kPlain or kMarkedLines), as the block's first byte says.
uint64_t TextBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row);
Status DecodeTextRows(std::string_view prefix, uint64_t raw_size, size_t count,
                      const std::vector<uint32_t>& rows, std::vector<std::string_view>* views);

// Encoding::kDecimal (decimal_encoding.cc): a string column whose values are all canonical
// decimal integers ("0", "-17", "1674982348243675358"; no sign on zero, no leading zeros) is
// stored as those integers, delta-of-delta: numeric ids and epoch timestamps kept as strings
// (JSON, CSV) cost a byte or two instead of their digits. Returns false (and appends nothing)
// when some value is not canonical.
bool EncodeDecimal(const std::string_view* values, size_t count, std::vector<int64_t>* scratch,
                   std::string* out);
// Encoding::kIsoTime (iso_time_encoding.cc): values that are all "YYYY-MM-DDTHH:MM:SS[.f]Z"
// UTC timestamps, stored as nanoseconds (delta-of-delta) and fraction digit counts; only
// values that render back byte for byte qualify. Returns false (appends nothing) otherwise.
bool EncodeIsoTime(const std::string_view* values, size_t count, std::vector<int64_t>* scratch,
                   std::string* out);
// Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (years 1678..2261) into ns since the epoch.
bool ParseIsoTimestamp(std::string_view text, int64_t* ns);
Status DecodeIsoTimeBody(std::string_view body, size_t count, std::vector<std::string_view>* out,
                         std::string* arena);
Status DecodeDecimalBody(std::string_view body, size_t count, std::vector<std::string_view>* out,
                         std::string* arena);

// Appends the smaller of the delta-of-delta and the delta encodings of "values" (for integers
// whose regularity is unknown, such as numbers kept as text).
void EncodeIntsSmallest(const int64_t* values, size_t count, std::string* out);
// Encoding::kScaled (scaled_encoding.cc, format version 7): the values divided by their
// greatest common divisor (nanosecond times of microsecond precision: 1000), as the smaller
// delta block. Returns false (appends nothing) when the divisor is below 2.
bool EncodeScaled(const int64_t* values, size_t count, std::string* out);
// Encoding::kIntDict (int_dict_encoding.cc, format version 10): the distinct values, ascending,
// and one id per row, as varints ("id_steps" false) or as zigzag steps from the previous row's
// id. Returns false (appends nothing) when the values are not at most a quarter as many distinct
// as rows. "scratch" is working memory.
bool EncodeIntDict(const int64_t* values, size_t count, bool id_steps,
                   std::vector<int64_t>* scratch, std::string* out);
// A time column: delta-of-delta, or (with "scaled", format version 7) kScaled, or (with
// "int_dict", format version 10) kIntDict, or (with "rice_runs", format version 15) kRiceRuns,
// whichever zstd makes smallest.
void EncodeTimeColumn(const int64_t* values, size_t count, bool scaled, std::string* out,
                      bool int_dict = false, bool rice_runs = false);
// Encoding::kRiceRuns (rice_runs_encoding.cc, format version 15): the values less the block's
// least, divided by their common divisor, cut into runs where they fall; each run's first value,
// then its steps as Rice codes with the run's parameter. Returns false (appends nothing) for no
// values.
bool EncodeRiceRuns(const int64_t* values, size_t count, std::string* out);
// A kRiceRuns body's first "through" values (all "count" when through >= count).
Status DecodeRiceRunsThrough(std::string_view body, size_t count, size_t through,
                             std::vector<int64_t>* out);
// A kRiceRuns body's values of the rows "rows" (ascending, each below "count"), one each: the
// runs holding none are passed over, nothing after the last is read.
Status DecodeRiceRunsListed(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                            std::vector<int64_t>* out);
// The head of kIntDict and kPermutedRuns bodies: a varint size, then one complete kDelta int
// block of at most "max_count" values, strictly ascending; taken off the front of "*body".
// Errors: DataLoss, prefixed with "what" ("int-dict column"). With "through" below "max_count",
// the block's first "through" values at least (DecodeIntColumnThrough; ascending checked among
// them only).
Status TakeAscendingValues(std::string_view* body, size_t max_count, std::string_view what,
                           std::vector<int64_t>* values, size_t through = SIZE_MAX);
// Encoding::kPermutedRuns (permuted_runs_encoding.cc, format version 14): distinct values as
// the values ascending (a kDelta block) and the permutation to the rows' order, cut into runs
// of rows holding consecutive ranks, each run's Lehmer code packed in mixed-radix groups.
// Returns false (appends nothing) when fewer than two values or two are equal, or when nearly
// every row would be a run of its own (kDelta's case).
bool EncodePermutedRuns(const int64_t* values, size_t count, std::string* out);
// The seq column: kDelta, or (with "permuted_runs", format version 14) kPermutedRuns where zstd
// makes that smaller (rows sorted by time that arrived in another order), or (with "times", the
// ts of each row, format version 25) kTsLine where its bytes are fewer than the others' at zstd 3.
void EncodeSeqColumn(const int64_t* values, size_t count, bool permuted_runs, std::string* out,
                     const int64_t* times = nullptr);
// Encoding::kTsLine (ts_line_encoding.cc, format version 25): each value less a line in the
// row's time "times[i]" (least squares), the rows cut into buckets of time, each bucket's least
// rest and span, each row's rest in mixed-radix groups of its bucket's span + 1. Returns false
// (appends nothing) for no values or rests too wide. A reader decodes such a block only inside
// a RowTimesScope of every row's time (the block's ts), else DataLoss.
bool EncodeTsLine(const int64_t* values, const int64_t* times, size_t count, std::string* out);
// Whether "block" (a column block, or the front of one) is a kTsLine block (one that needs its
// rows' ts to be read).
bool TsLineNeedsRowTimes(std::string_view block);
// The level (or another small unsigned column): RLE, or (with "int_dict", format version 10)
// kIntDict when zstd makes that smaller (levels that change from row to row).
// With "packed_ids" (format version 17) also kIntDict with ids mode 3 (each row's id in the
// fewest bits), where zstd makes that smaller still.
void EncodeLevelColumn(const uint64_t* values, size_t count, bool int_dict, std::string* out,
                       bool packed_ids = false);
// Encoding::kHex (hex_encoding.cc, format version 7): values that are all lower-case hex of
// one even length of at most 2 x kMaxHexBytes characters, stored as the bytes they spell.
// Returns false (appends nothing) otherwise.
inline constexpr size_t kMaxHexBytes = 64;
// Encoding::kIsoPrefix (iso_prefix_encoding.cc, format version 10): at least half of the values
// begin with "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" that renders back to the same bytes; those times
// as nanoseconds, then every value's rest as a plain block (or, with "marked_lines" and no rest
// holding a newline, format version 12, a kMarkedLines block). Returns false (appends nothing)
// otherwise.
bool EncodeIsoPrefix(const std::string_view* values, size_t count, std::string* out,
                     bool marked_lines = false);
// TextBytesThrough and DecodeTextRows for a kIsoPrefix block: its two int blocks, then the
// plain (or marked lines) block's bytes through "last_row"; the rows' values are rendered into
// "arena".
uint64_t IsoPrefixBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row);
Status DecodeIsoPrefixRows(std::string_view prefix, uint64_t raw_size, size_t max_count,
                           const std::vector<uint32_t>& rows, std::vector<std::string_view>* views,
                           std::string* arena);
// Encoding::kTimeText (time_text_encoding.cc, format version 13): at least half of the values
// hold, among their first 64 bytes, a time in one of the encoding's forms (syslog, Apache, log4j,
// ...; time_text_encoding.cc kForms) that renders back to the same bytes; those times as
// numbers with their forms and offsets, then every value with its time cut out as a plain block
// (or, with "marked_lines" and no such text holding a newline, a kMarkedLines block). Returns
// false (appends nothing) otherwise.
// With "times" (the ts of each row, format version 13's message), each time is stored less its
// row's time: a block the reader then decodes only inside a RowTimesScope of those times.
bool EncodeTimeText(const std::string_view* values, size_t count, std::string* out,
                    bool marked_lines = false, const int64_t* times = nullptr);
// Whether "block" (a column block, or the front of one) is a kTimeText block stored against its
// rows' times.
bool TimeTextNeedsRowTimes(std::string_view block);
// The rows' times (the `ts` of each row of the column block being decoded) that a kTimeText
// block stored against them needs: the segment reader sets them around its decoding of the
// message column of a block (or sub-block: its rows' times). Without a scope whose count is the
// block's, such a block is DataLoss ("stored against its rows' times, which were not given"),
// except that a read of the block's rows before a row needs only those rows' times (a scope
// holding the first N rows' times serves a read of rows before N: HeldThrough).
// Scopes nest; one thread's scope is not seen by another. A reader that opens a scope around
// more than one decoding names itself and the block ("owner", "block"), and trusts an enclosing
// scope only when HeldFor says it is its own (never one left open for another block of as many
// rows). The segment reader names itself as the SegmentReader it is, so that a caller holding
// a block's ts already (the executor's newest-first read, which reads ts first) may open the
// scope around its reads of that block, naming the reader and block, and the reader takes them
// instead of decoding the block's ts again.
class RowTimesScope {
 public:
  RowTimesScope(const int64_t* times, size_t count, const void* owner = nullptr,
                uint32_t block = 0);
  ~RowTimesScope();
  RowTimesScope(const RowTimesScope&) = delete;
  RowTimesScope& operator=(const RowTimesScope&) = delete;
  static const int64_t* times();
  static size_t count();
  // Whether the innermost scope holds "count" times and was opened by "owner" for "block".
  static bool HeldFor(const void* owner, uint32_t block, size_t count);
  // Whether the innermost scope was opened by "owner" for "block" and holds the times of its
  // first "through" rows at least.
  static bool HeldThrough(const void* owner, uint32_t block, size_t through);

 private:
  const int64_t* prev_times_;
  size_t prev_count_;
  const void* prev_owner_;
  uint32_t prev_block_;
};
// Whether "word" (lower case, as index/tokenizer.h gives words) may be a word of a time as
// kTimeText writes one, or with "prefix" the start of one: such a time's words are numbers (ISO's
// "18T18" among them) and month and weekday names; a word holding no digit and no such name
// (nor, with "prefix", the start of one) is never one.
bool WordMayBeInTime(std::string_view word, bool prefix);
// SegmentReader::KeepRowsWithMessage of the whole kTimeText block "block" of "count" values
// (inside a RowTimesScope of the block's ts when it is stored against them): keeps in "*rows"
// (ascending, each below "count") the rows whose value passes "test", testing each on its stored
// text as TextTest says where it can, and appends the values of the rows kept to "*kept". Errors:
// DataLoss for a malformed block.
Status KeepTimeTextRowsPassing(std::string_view block, size_t count, const TextTest& test,
                               std::vector<uint32_t>* rows, std::vector<std::string>* kept);
// TextBytesThrough and DecodeTextRows for a kTimeText block: its three int blocks, then the
// text block's bytes through "last_row"; the rows' values are rendered into "arena".
uint64_t TimeTextBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row);
Status DecodeTimeTextRows(std::string_view prefix, uint64_t raw_size, size_t max_count,
                          const std::vector<uint32_t>& rows, std::vector<std::string_view>* views,
                          std::string* arena);
bool EncodeHex(const std::string_view* values, size_t count, std::string* out);
// An id lookup on a column block of "count" values (SegmentReader::KeepRowsHolding): when the
// block is kHex, keeps in "*rows" (ascending, each below "count") the rows whose value is
// "value", comparing the stored bytes with the bytes "value" spells (no row is rendered), and
// returns true; returns false, changing nothing, for any other encoding. Errors: DataLoss for a
// malformed kHex block.
Result<bool> KeepHexRowsHolding(std::string_view block, size_t count, std::string_view value,
                                std::vector<uint32_t>* rows);
// The encoding of a kPrefixedNumber column block's numbers (its inner int block), or 0 for
// another block.
Encoding PrefixedNumberInnerEncoding(std::string_view block);
// KeepHexRowsHolding for a kPrefixedNumber block: the listed rows' numbers are compared with the
// number "value" spells after the block's prefix (no row is rendered; a value of another
// prefix or width is in no row). Errors: DataLoss for a malformed block or a listed row's
// number that is not "width" digits.
Result<bool> KeepPrefixedNumberRowsHolding(std::string_view block, size_t count,
                                           std::string_view value, std::vector<uint32_t>* rows);
// Appends kPrefixedNumber of the values when they are all one prefix followed by a decimal
// number of one width (1 to 18 digits); false otherwise (nothing appended). The numbers are
// kDelta/kDeltaOfDelta, kIntDict in byte planes or (with "huffman_ids", format version 20)
// kHuffmanIds, whichever zstd (level 3) makes smallest.
bool EncodePrefixedNumber(const std::string_view* values, size_t count,
                          std::vector<int64_t>* scratch, std::string* out,
                          bool huffman_ids = false);
// Appends kIntDict of the values with ids mode 3 (each id in the fewest bits, 1 to 8; format
// version 17); false when "count" is 0 or there are more than 256 distinct values.
bool EncodeIntDictPacked(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                         std::string* out);
// Encoding::kHuffmanIds (huffman_ids_encoding.cc, format version 20): the distinct values,
// ascending, their code lengths and each row's canonical Huffman code of the block's counts.
// Returns false (appends nothing) for fewer than two distinct values, more than 2^32 - 1 rows,
// or a code longer than 20 bits. "scratch" is working memory.
bool EncodeHuffmanIds(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                      std::string* out);
// A kHuffmanIds body's first "through" values (all "count" when through >= count); the codes
// after them and bytes left over are checked by whole reads only.
Status DecodeHuffmanIdsThrough(std::string_view body, size_t count, size_t through,
                               std::vector<int64_t>* out);
// Appends kIntDict of the values with ids mode 2 (byte planes; format version 11), with no
// limit on the distinct values; false when "count" is 0 or above 2^32 - 1.
bool EncodeIntDictPlanes(const int64_t* values, size_t count, std::vector<int64_t>* scratch,
                         std::string* out);
// Appends the values of the ascending rows "rows" (each below "count") of the int block "block" to
// "*out": int-dict ids packed or in planes only those rows', varint ids and huffman-ids through the
// last; any other block decoded whole. Errors: DataLoss; InvalidArgument for rows out of order.
Status DecodeIntRows(std::string_view block, size_t count, const std::vector<uint32_t>& rows,
                     std::vector<int64_t>* out);
// Whether "rows" (the rows a few-rows decoder is asked for) are ascending (a row may repeat) and
// each below "count": DataLoss "holds no row N" for a row past the block (its count is the
// footer's), InvalidArgument naming the two rows for a row listed after a later one (a caller's
// error: the few-rows decoders read forward through the block).
Status CheckRowsAscending(const std::vector<uint32_t>& rows, size_t count);
// The reader's error for a column block that did not decode ("decoded"), "where" naming the
// segment, the block and its offset: DataLoss (the block is damaged), except when the decoder
// refused the rows it was asked for (InvalidArgument: rows out of order, a caller's bug), which
// stays InvalidArgument, so that a search does not report the block as damaged data.
Status DecodeFailure(const std::string& where, const Status& decoded);
// ReadRows of a kHex block ("body" after its encoding byte and count): only the listed rows
// (ascending, each below "count": CheckRowsAscending) are rendered.
Status DecodeHexRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                     std::vector<std::string_view>* out, std::string* arena);
// Encoding::kFilteredHex (filtered_hex_encoding.cc, format version 26): trace ids that are all
// 32 lower-case hex digits, each row's rank among the block's distinct ids and the bits of each
// distinct id's mix (index/bloom.h MixId) that the row block's trace_id filter (a mixed id
// filter, written by the bloom kind for the same rows) does not hold. Returns false (appends
// nothing) for any other values, and for ids whose bytes zstd shrinks by a tenth or more (a
// sample of the first 512: structured ids, which kHex keeps smaller).
bool EncodeFilteredHex(const std::string_view* values, size_t count, std::string* out);
// Whether "block" (a column block, or the front of one) is a kFilteredHex block.
bool IsFilteredHex(std::string_view block);
// Whether "filter" is the filter the kFilteredHex block "block" (or the front of one) was
// written beside: its filter_crc (a filter cut from block filters that fail their checksum
// together is taken only so: SegmentFileReader::TraceFilterFor). False for any other block.
bool FilteredHexWrittenBeside(std::string_view block, std::string_view filter);
// The filter a kFilteredHex block is decoded with: the bytes of its row block's trace_id block
// filter. The segment reader opens a scope around its decoding of such a block (after reading
// the filter: a failed read stays an IOError); a block decoded outside one, or inside one of
// another filter (its checksum, which the block keeps), is DataLoss. Scopes nest; one thread's
// scope is not seen by another.
class IdFilterScope {
 public:
  explicit IdFilterScope(std::string_view filter);
  ~IdFilterScope();
  IdFilterScope(const IdFilterScope&) = delete;
  IdFilterScope& operator=(const IdFilterScope&) = delete;

 private:
  const std::string_view* prev_;
  std::string_view filter_;
};
// ReadRows of a kFilteredHex block ("body" after its encoding byte and count, inside an
// IdFilterScope): each listed row's rank, its fingerprint from the filter and its rest, not
// the rows before it.
Status DecodeFilteredHexRows(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                             std::vector<std::string_view>* out, std::string* arena);
// KeepHexRowsHolding of a kFilteredHex block (inside an IdFilterScope): the filter finds the
// keys of the value's fingerprint, their rests say which one it is, and the rows of that rank
// are kept (no row is rendered). False, changing nothing, for any other encoding.
Result<bool> KeepFilteredHexRowsHolding(std::string_view block, size_t count,
                                        std::string_view value, std::vector<uint32_t>* rows);
// ReadRows of a kPrefixedNumber block ("body" after its encoding byte and count): only the
// listed rows are rendered.
Status DecodePrefixedNumberRows(std::string_view body, size_t count,
                                const std::vector<uint32_t>& rows,
                                std::vector<std::string_view>* out, std::string* arena);
// The bytes zstd at "level" makes of "data": how encodings are compared (the block is
// compressed for real later, by the codec its column gets).
size_t ZstdBytes(std::string_view data, int level);

// Shared by the encodings that put a text block after a header (kIsoPrefix, kTimeText):
// the rows' texts as a kMarkedLines block (with "marked_lines", when no text holds a newline) or
// else kPlain; the bytes of "prefix" through "last_row" of the text block that follows its
// "header" bytes (as TextBytesThrough; 0 when "header" is 0, i.e. not all there yet); and views
// of "ends" (offsets into "arena", one per value, ascending) appended to "out".
void EncodeRowTexts(const std::string_view* values, size_t count, bool marked_lines,
                    std::string* out);
uint64_t TextBytesThroughAfter(std::string_view prefix, size_t header, size_t max_count,
                               uint32_t last_row);
void AppendArenaViews(const std::string& arena, const std::vector<size_t>& ends,
                      std::vector<std::string_view>* out);

// Used by the decoders of each encoding; "body" follows the encoding byte and count.
Status DecodeDeltaBody(std::string_view body, size_t count, bool of_delta,
                       std::vector<int64_t>* out);
// DecodeDeltaBody of the first "through" values (all "count" when through >= count), not
// looking further.
Status DecodeDeltaPrefix(std::string_view body, size_t count, bool of_delta, size_t through,
                         std::vector<int64_t>* out);
// A kScaled body's first "through" values or more (all "count" when through >= count).
Status DecodeScaledPrefix(std::string_view body, size_t count, size_t through,
                          std::vector<int64_t>* out);
Status DecodeRleBody(std::string_view body, size_t count, std::vector<int64_t>* out);
// A kIntDict body's first "through" values (all "count" when through >= count): their ids only,
// and the distinct values through the largest of them.
Status DecodeIntDictThrough(std::string_view body, size_t count, size_t through,
                            std::vector<int64_t>* out);
// DecodeRleBody of the first "through" values or more (whole runs), not looking further.
Status DecodeRlePrefix(std::string_view body, size_t count, size_t through,
                       std::vector<int64_t>* out);
// DecodeIntColumn of at least the first "through" values (ReadRows of rows up to through - 1):
// an RLE block stops after the run holding value through - 1, a delta, delta-of-delta, scaled,
// int-dict, rice-runs or huffman-ids block after value through - 1; the others decode every
// value.
Status DecodeIntColumnThrough(std::string_view block, size_t max_count, size_t through,
                              std::vector<int64_t>* out);
// The values of the rows "rows" (CheckRowsAscending) of the int block "block" (of at most
// "max_count" values), one each, appended to "*out", reading no further than the last: a rice-runs
// block passes over the runs holding no listed row (DecodeRiceRunsListed), an int-dict or
// huffman-ids block is read as DecodeIntRows reads it, any other block through the last listed row
// (DecodeIntColumnThrough). An aggregation over the rows a filter's postings select in a block
// reads them so (query/executor.cc AggregateColumns).
Status DecodeIntColumnRows(std::string_view block, size_t max_count,
                           const std::vector<uint32_t>& rows, std::vector<int64_t>* out);
Status DecodePlainBody(std::string_view* body, size_t count, std::vector<std::string_view>* out);
Status DecodeDictBody(std::string_view body, size_t count, std::vector<std::string_view>* out);

}  // namespace sawmill::segment
