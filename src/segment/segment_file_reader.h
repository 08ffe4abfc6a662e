// The SegmentReader implementation, with the extra access `sawmill segment verify/dump` needs
// (the footer, physical blocks by reference).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "index/inverted_index.h"
#include "index/load_once.h"
#include "objstore/object_store.h"
#include "segment/footer.h"
#include "segment/segment.h"

namespace sawmill::segment {

struct BuiltinField;

class SegmentFileReader final : public SegmentReader {
 public:
  // Errors as SegmentReader::Open.
  static Result<std::shared_ptr<SegmentFileReader>> OpenObject(
      std::shared_ptr<objstore::ObjectStore> store, const std::string& name);
  static Result<std::shared_ptr<SegmentFileReader>> OpenFile(Env* env, const std::string& path);

  const SegmentInfo& info() const override { return footer_.info; }
  // The format version the file was written with (1 to kFormatVersion).
  uint32_t format_version() const { return version_; }
  const std::vector<BlockInfo>& blocks() const override { return footer_.blocks; }
  const std::vector<std::string>& field_names() const override { return field_names_; }
  Result<std::optional<roaring::Roaring>> MatchingRows(
      const index::FieldPredicate& predicate) const override;
  Result<std::optional<std::vector<uint32_t>>> MatchingRowsPerBlock(
      const index::FieldPredicate& predicate) const override;
  Result<std::shared_ptr<const index::MinuteCounts>> BlockMinuteCounts(bool ts) const override;
  Result<std::shared_ptr<const index::ServiceLevelCounts>> BlockServiceLevels() const override;
  Result<std::optional<std::vector<std::string>>> FieldValues(std::string_view field,
                                                              bool builtin) const override;
  Result<bool> SegmentMayMatch(const index::FieldPredicate& predicate) const override;
  Result<bool> BlockMayMatch(uint32_t block, const index::FieldPredicate& predicate) const override;
  Status ReadBlock(uint32_t block, uint32_t column_mask, std::vector<Record>* out,
                   ReadStats* stats) const override;
  Status ReadRows(uint32_t block, uint32_t column_mask, const std::vector<uint32_t>& rows,
                  std::vector<Record>* out, ReadStats* stats) const override;
  Status ReadColumnValues(uint32_t block, uint32_t column_mask, BlockColumns* out,
                          ReadStats* stats) const override;
  Status ReadIntColumnsThrough(uint32_t block, uint32_t column_mask, uint32_t through,
                               BlockColumns* out, ReadStats* stats) const override;
  Status ReadIntColumnRows(uint32_t block, uint32_t column_mask, const std::vector<uint32_t>& rows,
                           BlockColumns* out, ReadStats* stats) const override;
  Status KeepRowsHolding(uint32_t block, uint32_t column_bit, std::string_view value,
                         std::vector<uint32_t>* rows, ReadStats* stats) const override;
  Status KeepRowsWithMessage(uint32_t block, const TextTest& test, std::vector<uint32_t>* rows,
                             std::vector<std::string>* messages, ReadStats* stats) const override;

  const Footer& footer() const { return footer_; }
  // Where the segment is, as errors name it: the file path, or the store's location of the name.
  const std::string& path() const { return path_; }

  // (Version 8) The last shared frame read, decompressed, so that the packed column blocks of
  // one row block read together decompress it once. One per read of a block (not thread-safe).
  struct FrameCache {
    uint64_t offset = UINT64_MAX;  // of the frame held; UINT64_MAX: none
    std::string raw;
  };

  // Reads, verifies and decompresses the physical block "ref" into "*raw". "what" names the
  // block in errors ("column 'message' block 3"). A packed column block (version 8) is its slice
  // of the row block's shared frame, which is read and decompressed (or taken from "*frames",
  // when given and holding it). Errors: DataLoss "segment PATH: WHAT at offset N (M bytes):
  // REASON", for a packed block "segment PATH: WHAT, in the shared frame of its row block at
  // offset N (M bytes): REASON"; IOError from the Env.
  // A split column block (version 9) is read whole, each sub-block checked: "*raw" holds their
  // column blocks back to back (verification; decoding goes through ReadTextColumn). Errors
  // name the sub-block: "segment PATH: WHAT, sub-block 2 of 34 (rows 480..719) at offset N
  // (M bytes): REASON".
  Status ReadPhysical(const BlockRef& ref, std::string_view what, std::string* raw,
                      ReadStats* stats, FrameCache* frames = nullptr) const;

  // Reads and decodes the per-row text column "col" (footer position) of "block", which holds
  // "rows" rows, into "*views" (pointing into "*buf"): one per row, or with "selected" one per
  // row it lists (ascending), decoded for those rows only where the encoding allows. A split
  // column block (version 9) reads only the sub-blocks holding them, in one ranged read per run
  // of adjacent sub-blocks. An absent block gives empty views. Errors: DataLoss naming the
  // column, block and sub-block.
  Status ReadTextColumn(size_t col, uint32_t block, uint32_t rows,
                        const std::vector<uint32_t>* selected, TextBuffer* buf,
                        std::vector<std::string_view>* views, ReadStats* stats,
                        FrameCache* frames) const;

  // The inverted index of "field" read and parsed afresh, or nullptr when the segment has none
  // (`sawmill segment verify` and dump). Errors: DataLoss.
  Result<std::shared_ptr<const index::InvertedIndexReader>> LoadIndex(std::string_view field) const;

 private:
  class KindSource;
  // "column 'NAME' block N": how errors name column "col" (footer position) of "block".
  std::string ColumnBlockName(size_t col, uint32_t block) const {
    return "column '" + footer_.columns[col].name + "' block " + std::to_string(block);
  }
  // One kind this segment holds data for (every kind of layout kBlockList), in registration
  // order; its view is opened on first use (KindView).
  struct Kind {
    const index::IndexKind* kind = nullptr;
    std::shared_ptr<const KindSource> source;
  };

  // ReadBlock (selected == nullptr) or ReadRows (the rows *selected, checked by the caller).
  Status ReadSelected(uint32_t block, uint32_t column_mask, const std::vector<uint32_t>* selected,
                      std::vector<Record>* out, ReadStats* stats) const;
  // ReadSelected without rendering message shapes (a shaped row's message is left empty).
  Status ReadColumns(uint32_t block, uint32_t column_mask, const std::vector<uint32_t>* selected,
                     std::vector<Record>* out, ReadStats* stats, FrameCache* frames) const;
  // Reads and decodes the built-in column "field" (not kInternal) of "block", which holds
  // "rows" rows: integers into "*ints", text into "*views" (pointing into "*raw" or "*arena").
  // Errors: DataLoss naming the column and block.
  // Text columns through ReadTextColumn (one view per row *selected, when given); integer
  // columns one value per row of the block (at least through the last row *selected), or with
  // "listed" one per row *selected (DecodeIntColumnRows).
  Status DecodeBuiltinColumn(uint32_t block, const BuiltinField& field, uint32_t rows,
                             const std::vector<uint32_t>* selected, TextBuffer* buf,
                             std::vector<int64_t>* ints, std::vector<std::string_view>* views,
                             ReadStats* stats, FrameCache* frames, bool listed = false) const;
  // ReadTextColumn of the rows "selected" (not empty) of an unsplit, unpacked, present block:
  // a plain block is decompressed only as far as its last listed row (zstd).
  Status ReadTextRows(const BlockRef& ref, const std::string& name, uint32_t block, uint32_t rows,
                      const std::vector<uint32_t>& selected, TextBuffer* buf,
                      std::vector<std::string_view>* views, ReadStats* stats) const;
  // (Version 13) The `ts` of every row of "block" into "*times", when "raw" (a text column
  // block of it, or the front of one) is a kTimeText block stored against its rows' times
  // (TimeTextNeedsRowTimes); "*times" is left empty otherwise, and when a RowTimesScope this
  // reader (as the SegmentReader it is) or its caller opened for the block holds them already
  // (RowTimesScope::HeldFor). Errors: as DecodeBuiltinColumn.
  // With "through" below the block's row count (a read of the rows before it), only the ts of
  // those rows are needed: an enclosing scope holding at least them is taken, else only they are
  // decoded as far as the encoding allows (ReadIntColumnsThrough).
  Status RowTimesFor(std::string_view raw, uint32_t block, std::vector<int64_t>* times,
                     ReadStats* stats, FrameCache* frames, uint32_t through = UINT32_MAX) const;
  // (Version 26) When "raw" (a column block of "block", or the front of one) is a kFilteredHex
  // block: its row block's trace_id filter into "*filter" (the bloom kind's bytes, valid while
  // this reader lives), for an IdFilterScope around its decoding; else "*filter" is left empty.
  // Errors: a failed read as it is (IOError: asked again next time); DataLoss naming the
  // segment, the column block ("name") and the filters when they are damaged or missing.
  Status TraceFilterFor(std::string_view raw, uint32_t block, const std::string& name,
                        std::string_view* filter) const;
  // (Version 26) The bytes of the uncompressed block "ref" as stored, its checksum not checked
  // (the bloom kind cuts a damaged block-filters block into its blocks' filters: KindSource).
  // Errors: DataLoss naming "what" when it is compressed, packed, split or past the file's end;
  // IOError from the store.
  Status ReadStoredUnchecked(const BlockRef& ref, std::string_view what, std::string* raw) const;
  // Reads the sub-blocks [first, last) of split block "ref" (one ranged read), checks and
  // decompresses each and appends their column blocks to "*raw" (whose capacity the caller
  // reserved, so that views into it stay valid). "what" names the column block in errors.
  Status ReadSubBlocks(const BlockRef& ref, size_t first, size_t last, std::string_view what,
                       std::string* raw, ReadStats* stats) const;

  // Lists the kinds of this build whose data the footer holds.
  void FindKinds();
  // The view of kinds_[k], opened on first use. Errors: the open's, as KindDamage. Damage met
  // when the kind opens (DataLoss: a block whose checksum fails, data that does not parse) is
  // kept and given to every later question of the kind, as an answer's damage is (the caller
  // reports the segment and scans); any other error (a failed read: IOError, Unavailable) is
  // not kept, and the next question opens the kind again.
  Result<std::shared_ptr<const index::IndexView>> KindView(size_t k) const;
  // (Version 12) The message's blooms hold only the words the word postings do not decide
  // (index_kind.h DecidedWords). For a message word: the postings' answer to "may block (-1: the
  // segment) hold it?" when they decide it; true ("maybe") when the segment's word postings are
  // of a newer version (its blooms then lack the words they decide); nullopt when the blooms are
  // to be asked (an earlier version, no word postings, an undecided word). Errors: as KindDamage,
  // when the postings' open or answer meets damage, or their read fails.
  Result<std::optional<bool>> WordPostingsDecide(int64_t block,
                                                 const index::FieldPredicate& p) const;
  // An error "st" of kinds_[k]'s answer, naming the segment and the kind in its message and
  // the kind's name as its subject(): DataLoss stays DataLoss (damage: the caller reports the
  // segment), any other error keeps its code.
  Status KindDamage(size_t k, const Status& st) const;
  // SegmentMayMatch (block -1) or BlockMayMatch: false when a kind proves no row matches; the
  // first kind's error (KindDamage) else.
  Result<bool> MayMatch(int64_t block, const index::FieldPredicate& predicate) const;

  // Who a RowTimesScope this reader opens, or trusts, is opened by: the reader as the
  // SegmentReader it is, which its callers know it as (column_encoding.h RowTimesScope).
  const void* TimesOwner() const { return static_cast<const SegmentReader*>(this); }

  // Reads the header, trailer, identity and footer of "object" and checks them.
  static Result<std::shared_ptr<SegmentFileReader>> OpenReader(
      std::shared_ptr<objstore::ObjectStore> store, std::unique_ptr<objstore::ObjectReader> object,
      std::string path);

  std::shared_ptr<objstore::ObjectStore> store_;  // null when opened from a path; outlives object_
  std::unique_ptr<objstore::ObjectReader> object_;
  std::string path_;
  Footer footer_;
  uint32_t version_ = 0;
  size_t builtin_columns_ = 0;  // BuiltinColumnCount(version_)
  std::vector<std::string> field_names_;

  std::vector<Kind> kinds_;  // fixed after Open

  mutable Mutex mu_;
  // By kinds_ position: the view of kinds_[k], once view_loads_[k] kept its open's outcome (the
  // view, or the damage met opening it: KindView).
  mutable std::vector<std::shared_ptr<const index::IndexView>> views_ GUARDED_BY(mu_);
  mutable std::vector<index::LoadOnce> view_loads_ GUARDED_BY(mu_);
};

}  // namespace sawmill::segment
