// Index kind "inverted": per field, value -> the rows holding it (inverted_index.h), so
// `service=api`, `level=ERROR` or `trace_id=X` find their rows without reading a block, and
// prefix, range and != filters enumerate the values. The fields are service, host and level in
// every segment (empty values included) plus the writer's indexed_fields, except a field the
// ValuePostingsRule finds near-unique in the segment (its blooms serve it; index_kind.h).
//
// Stored in the footer's index directory (IndexLayout::kFieldIndexes): one compressed block per
// field, its serialized inverted index, listed with the field's name and distinct value count.
// Every segment format version has it. Answers Rows and Values for an exact value; no may-match
// (the executor skips the blocks holding none of the rows). From segment format version 16 a
// posted field with a bloom (user ids) is stored as inverted_index.h version 2: its rare values
// (ValuePostingsRule::list_below_rows) as block lists, which answer BlockCounts and the
// may-match questions exactly and Rows "cannot tell", its frequent values as rows, which answer
// Rows and the may-match questions exactly; the field's blooms are left out
// (BuildOptions::value_block_lists, PostedFields). From segment format version 17 service, host
// and level are stored as version 3 where every row holds one of at most kRestMaxValues values:
// the value in the most rows as the rest (its rows: those no other value holds), the others as
// rows, Rice-coded where smaller (BuildOptions::rest_postings); they answer as version 1 does.
// From segment format version 22 the posted fields with a bloom are version 3 without a rest
// (BuildOptions::rice_value_rows), from 23 version 4 (the Rice-coded values' counts apart and
// their codes one bit stream: BuildOptions::rice_value_stream). From segment format version 27
// the user ids are version 5, the block map (BuildOptions::user_block_map): each user's blocks
// only, in every segment; a user's search reads its blocks (Rows and BlockCounts "cannot tell",
// the may-match questions exact).
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "common/mutex.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"
#include "index/load_once.h"

namespace sawmill::index {

namespace {

bool Answers(const FieldPredicate& p) { return p.op == FieldPredicate::Op::kEquals; }

class InvertedBuilder final : public IndexBuilder {
 public:
  explicit InvertedBuilder(const BuildOptions& options)
      : rule_(options.values),
        block_lists_(options.value_block_lists),
        list_below_(options.values.list_below_rows),
        rest_postings_(options.rest_postings),
        rice_value_rows_(options.rice_value_rows),
        rice_value_stream_(options.rice_value_stream),
        user_block_map_(options.user_block_map && options.value_block_lists),
        posted_(options.posted_fields) {
    for (const IndexedField& f : options.indexed) {
      if (f.message_words) continue;
      bool bloom = false;
      for (const IndexedField& b : options.blooms) {
        bloom = bloom || (b.name == f.name && b.builtin == f.builtin && !b.message_words);
      }
      const bool map = user_block_map_ && bloom && f.builtin && f.text == &Record::user_id;
      fields_.push_back(Field{f,
                              bloom,
                              map,
                              0,
                              {},
                              map ? UINT64_MAX : DropAbove(f, bloom, options.segment_rows),
                              false});
    }
  }

  void AddBlock(const Record* rows, uint32_t count) override {
    block_starts_.push_back(rows_);
    for (Field& f : fields_) {
      for (uint32_t row = 0; row < count && !f.dropped; ++row) {
        const Record& r = rows[row];
        if (!f.field.builtin) {
          for (const auto& [key, value] : r.fields) {
            if (key == f.field.name && !value.empty()) {
              f.builder.Add(value, rows_ + row);
              ++f.values;
            }
          }
        } else {
          std::string_view v = BuiltinValue(r, f.field);
          if (f.field.keep_empty || !v.empty()) {
            f.builder.Add(v, rows_ + row);
            ++f.values;
            if (f.builder.distinct_values() > f.drop_above) Drop(&f);
          }
        }
      }
    }
    rows_ += count;
  }

  void Finish(std::vector<IndexPart>* parts) override {
    if (posted_ != nullptr) posted_->filled = true;
    for (Field& f : fields_) {
      if (f.dropped || NearUnique(f)) continue;  // no part: its values are "cannot tell" here
      IndexPart part;
      part.field = f.field;
      part.count = f.builder.distinct_values();
      part.blobs.emplace_back();
      if (f.map) {
        f.builder.FinishBlockMap(block_starts_, &part.blobs.back());
        if (posted_ != nullptr) posted_->fields.emplace_back(f.field.name, f.field.builtin);
      } else if (block_lists_ && f.bloom && !f.field.keep_empty) {
        if (rice_value_rows_ && rice_value_stream_) {
          f.builder.FinishRiceStream(block_starts_, rows_, list_below_, &part.blobs.back());
        } else if (rice_value_rows_) {
          f.builder.FinishRiceRows(block_starts_, rows_, list_below_, &part.blobs.back());
        } else {
          f.builder.FinishBlockLists(block_starts_, rows_, list_below_, &part.blobs.back());
        }
        if (posted_ != nullptr) posted_->fields.emplace_back(f.field.name, f.field.builtin);
      } else if (rest_postings_ && f.field.builtin && f.field.keep_empty) {
        f.builder.FinishRest(block_starts_, rows_, &part.blobs.back());
      } else {
        f.builder.Finish(&part.blobs.back());
      }
      parts->push_back(std::move(part));
    }
  }

 private:
  struct Field {
    IndexedField field;
    bool bloom = false;   // the field has a bloom, which serves its values when not posted
    bool map = false;     // (version 27) the user ids: written as the block map, always
    uint64_t values = 0;  // values added (occurrences)
    InvertedIndexBuilder builder;
    // More distinct values than this and NearUnique is sure to hold at Finish (DropAbove).
    uint64_t drop_above = UINT64_MAX;
    bool dropped = false;  // near-unique for sure: no values collected any more (Drop)
  };

  // For a built-in field, whose values are at most one per row: the distinct values above which
  // NearUnique holds whatever the rows still to come are. Distinct values only grow, and the
  // values the rule compares them with are at most "segment_rows", so once there are more than
  // max_distinct_fraction x segment_rows distinct values the field is near-unique (the same
  // decision NearUnique takes at Finish; the segment is the same bytes). Not for dynamic fields
  // (a record may repeat a key, so their values are not bounded by the rows) nor when the rows
  // are unknown (0).
  uint64_t DropAbove(const IndexedField& f, bool bloom, uint64_t segment_rows) const {
    if (!f.builtin || f.keep_empty || !bloom || segment_rows == 0 ||
        segment_rows <= rule_.small_segment_rows || rule_.max_distinct_fraction >= 1.0) {
      return UINT64_MAX;
    }
    const double limit = rule_.max_distinct_fraction * static_cast<double>(segment_rows);
    if (limit < 0) return 0;
    // The largest count that is not above the limit: "distinct > limit" as NearUnique compares.
    return static_cast<uint64_t>(limit);
  }

  // Stops collecting "f"'s values and lets go of those collected (a flush of near-unique trace
  // and user ids held an entry per row until the segment was written).
  static void Drop(Field* f) {
    f->dropped = true;
    f->builder = InvertedIndexBuilder();
  }

  // Whether the rule leaves "f" without postings in this segment (ValuePostingsRule).
  bool NearUnique(const Field& f) const {
    if (f.map || f.field.keep_empty || !f.bloom || rows_ <= rule_.small_segment_rows) return false;
    return static_cast<double>(f.builder.distinct_values()) >
           rule_.max_distinct_fraction * static_cast<double>(f.values);
  }

  const ValuePostingsRule rule_;
  const bool block_lists_;        // (version 16) posted fields with a bloom as block lists
  const uint32_t list_below_;     // (version 16) of those, values in fewer rows listed
  const bool rest_postings_;      // (version 17) service, host and level as version 3 with a rest
  const bool rice_value_rows_;    // (version 22) the block-listed fields as version 3, Rice rows
  const bool rice_value_stream_;  // (version 23) as version 4: counts apart, codes one stream
  const bool user_block_map_;     // (version 27) the user ids as version 5, the block map
  PostedFields* posted_;          // (version 16) told the block-listed fields, for the blooms
  std::vector<Field> fields_;
  uint32_t rows_ = 0;
  std::vector<uint32_t> block_starts_;  // the first row of every block added
};

class InvertedView final : public IndexView {
 public:
  explicit InvertedView(std::shared_ptr<const IndexSource> source)
      : source_(std::move(source)),
        loaded_(source_->parts().size()),
        loads_(source_->parts().size()) {}

  Result<std::optional<roaring::Roaring>> Rows(const FieldPredicate& p) const override {
    if (p.op != FieldPredicate::Op::kEquals) return std::optional<roaring::Roaring>();
    int part = Find(p.field, p.builtin);
    if (part < 0) return std::optional<roaring::Roaring>();
    // Only service, host and level index empty values; elsewhere "" is not in the index.
    if (p.value.empty() && !source_->parts()[part].field.keep_empty) {
      return std::optional<roaring::Roaring>();
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const InvertedIndexReader> idx, Load(part));
    if (idx->Listed(p.value)) {
      // Blocks, not rows. The list is decoded here, once a search, so that a damaged one is
      // DataLoss naming the value in the index answer (the may-match questions that follow say
      // DataLoss too, since session 22, but name no value).
      RETURN_IF_ERROR(Blocks(p, false).status());
      return std::optional<roaring::Roaring>();
    }
    auto rows = idx->Lookup(p.value);
    if (!rows.ok()) return ValueLoss(part, p.value, rows.status());
    return std::optional<roaring::Roaring>(std::move(rows).value());
  }

  // A value stored as a block list (or held by no row): the rows of each block holding it (zero
  // elsewhere). A value stored as rows: nullopt (its rows count it, as in earlier versions).
  // (Version 5) A value held: nullopt (the map has its blocks, not their rows).
  Result<std::optional<std::vector<uint32_t>>> BlockCounts(const FieldPredicate& p) const override {
    ASSIGN_OR_RETURN(std::optional<std::vector<BlockEntry>> entries, Blocks(p, false));
    if (!entries) return std::optional<std::vector<uint32_t>>();
    if (!entries->empty() && entries->front().rows == 0) {
      return std::optional<std::vector<uint32_t>>();  // a block map's entries: rows unknown
    }
    std::vector<uint32_t> counts(source_->block_count(), 0);
    for (const BlockEntry& e : *entries) counts[e.block] = e.rows;
    return std::optional<std::vector<uint32_t>>(std::move(counts));
  }

  // (Version 2) Exact for every value: the field has no blooms to ask (PostedFields), so a
  // value stored as rows answers from its rows, which an OR with a filter that is not posted
  // (`user_id=X OR trace_id=Y`) prunes its blocks by.
  Result<bool> SegmentMayMatch(const FieldPredicate& p) const override {
    if (p.op != FieldPredicate::Op::kEquals || p.value.empty()) return true;
    int part = Find(p.field, p.builtin);
    if (part < 0 || source_->parts()[part].field.keep_empty) return true;
    ASSIGN_OR_RETURN(std::shared_ptr<const InvertedIndexReader> idx, Load(part));
    // Every value of a version 2 index is listed or has rows: one not stored is in no row.
    return !idx->block_lists() || idx->Holds(p.value);
  }

  Result<bool> BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    // Asked block after block for the same value: the value's blocks are kept from the last ask.
    {
      MutexLock lock(&mu_);
      if (asked_ && p.op == FieldPredicate::Op::kEquals && asked_field_ == p.field &&
          asked_builtin_ == p.builtin && asked_value_ == p.value) {
        return HoldsBlock(asked_blocks_, block);
      }
    }
    ASSIGN_OR_RETURN(std::optional<std::vector<BlockEntry>> entries, Blocks(p, true));
    if (!entries) return true;
    const bool holds = HoldsBlock(*entries, block);
    MutexLock lock(&mu_);
    asked_ = true;
    asked_field_ = p.field;
    asked_builtin_ = p.builtin;
    asked_value_ = p.value;
    asked_blocks_ = std::move(*entries);
    return holds;
  }

  Result<std::optional<std::vector<std::string>>> Values(std::string_view field,
                                                         bool builtin) const override {
    int part = Find(field, builtin);
    if (part < 0) return std::optional<std::vector<std::string>>();
    ASSIGN_OR_RETURN(std::shared_ptr<const InvertedIndexReader> idx, Load(part));
    return std::optional<std::vector<std::string>>(idx->Values());
  }

 private:
  int Find(std::string_view field, bool builtin) const {
    const auto& parts = source_->parts();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].field.name == field && parts[i].field.builtin == builtin) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  // The blocks holding `field = value` and their rows holding it, when the field is stored as
  // version 2 in this segment and the value as a block list or by no row, or (with "rows_too")
  // as rows and the source knows the blocks' rows; nullopt otherwise (version 1, or no index of
  // the field). Errors: DataLoss for damaged lists or rows, or lists of another block count
  // than the segment's.
  Result<std::optional<std::vector<BlockEntry>>> Blocks(const FieldPredicate& p,
                                                        bool rows_too) const {
    if (p.op != FieldPredicate::Op::kEquals || p.value.empty()) {
      return std::optional<std::vector<BlockEntry>>();
    }
    int part = Find(p.field, p.builtin);
    // service, host and level are never block lists (no bloom): their index is not loaded for a
    // may-match question.
    if (part < 0 || source_->parts()[part].field.keep_empty) {
      return std::optional<std::vector<BlockEntry>>();
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const InvertedIndexReader> idx, Load(part));
    if (!idx->block_lists()) return std::optional<std::vector<BlockEntry>>();
    if (idx->block_count() != source_->block_count()) {
      return Status::DataLoss(source_->Where(part, 0) + ": block lists of " +
                              std::to_string(idx->block_count()) + " blocks in a segment of " +
                              std::to_string(source_->block_count()));
    }
    std::vector<BlockEntry> entries;
    if (idx->Listed(p.value)) {
      Status s = idx->LookupBlocks(p.value, &entries);
      if (!s.ok()) return Status::DataLoss(source_->Where(part, 0) + ": " + s.message());
      return std::optional<std::vector<BlockEntry>>(std::move(entries));
    }
    auto rows = idx->Lookup(p.value);
    if (!rows.ok()) return ValueLoss(part, p.value, rows.status());
    if (rows->isEmpty()) return std::optional<std::vector<BlockEntry>>(std::move(entries));
    if (!rows_too) return std::optional<std::vector<BlockEntry>>();
    // A value stored as rows: the blocks holding them.
    for (uint32_t b = 0; b < source_->block_count(); ++b) {
      uint32_t first = 0, count = 0;
      if (!source_->BlockRows(b, &first, &count)) return std::optional<std::vector<BlockEntry>>();
      if (count == 0) continue;
      const uint64_t before = first == 0 ? 0 : rows->rank(first - 1);
      const uint64_t n = rows->rank(first + count - 1) - before;
      if (n > 0) entries.push_back(BlockEntry{b, static_cast<uint32_t>(n)});
    }
    return std::optional<std::vector<BlockEntry>>(std::move(entries));
  }

  // The parsed index of part "part", read on first use and kept (LoadOnce): damage met loading
  // it (DataLoss) is kept and answered again, as the blooms keep theirs (a search asks each
  // block's question of a damaged part, session 23); a failed read is not kept.
  Result<std::shared_ptr<const InvertedIndexReader>> Load(int part) const {
    {
      MutexLock lock(&mu_);
      if (loads_[part].settled()) {
        RETURN_IF_ERROR(loads_[part].damage());
        return loaded_[part];
      }
    }
    std::string raw;
    Status read = source_->Read(part, 0, &raw);
    std::shared_ptr<const InvertedIndexReader> idx;
    if (read.ok()) {
      auto parsed =
          InvertedIndexReader::Parse(std::move(raw), static_cast<uint32_t>(source_->row_count()));
      if (parsed.ok()) {
        idx = std::move(parsed).value();
      } else {
        read = Status::DataLoss(source_->Where(part, 0) + ": " + parsed.status().message());
      }
    }
    MutexLock lock(&mu_);
    const bool first = !loads_[part].settled();
    RETURN_IF_ERROR(loads_[part].Settle(std::move(read)));
    if (first) loaded_[part] = std::move(idx);
    return loaded_[part];
  }

  // A value's rows that do not decode: DataLoss naming the segment's index and the value.
  Status ValueLoss(int part, std::string_view value, const Status& error) const {
    return Status::DataLoss(source_->Where(part, 0) + ": value '" + std::string(value) +
                            "': " + error.message());
  }

  static bool HoldsBlock(const std::vector<BlockEntry>& entries, uint32_t block) {
    auto it = std::lower_bound(entries.begin(), entries.end(), block,
                               [](const BlockEntry& e, uint32_t b) { return e.block < b; });
    return it != entries.end() && it->block == block;
  }

  std::shared_ptr<const IndexSource> source_;
  mutable Mutex mu_;
  mutable std::vector<std::shared_ptr<const InvertedIndexReader>> loaded_ GUARDED_BY(mu_);
  mutable std::vector<LoadOnce> loads_ GUARDED_BY(mu_);  // by part: Load's outcome kept
  // The last BlockMayMatch question's value and its blocks (ascending), when they were known.
  mutable bool asked_ GUARDED_BY(mu_) = false;
  mutable std::string asked_field_ GUARDED_BY(mu_);
  mutable bool asked_builtin_ GUARDED_BY(mu_) = false;
  mutable std::string asked_value_ GUARDED_BY(mu_);
  mutable std::vector<BlockEntry> asked_blocks_ GUARDED_BY(mu_);
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& options) {
  return std::make_unique<InvertedBuilder>(options);
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  return std::unique_ptr<IndexView>(std::make_unique<InvertedView>(std::move(source)));
}

}  // namespace

extern const IndexKind kInvertedIndexKind;
const IndexKind kInvertedIndexKind{
    "inverted", kInvertedIndexVersion, IndexLayout::kFieldIndexes, true, &Answers, &NewBuilder,
    &Open};

}  // namespace sawmill::index
