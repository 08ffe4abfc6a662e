// Index kind "inverted": per field, value -> the rows holding it (inverted_index.h), so
// `service=api`, `level=ERROR` or `trace_id=X` find their rows without reading a block, and
// prefix, range and != filters enumerate the values. The fields are service, host and level in
// every segment (empty values included) plus the writer's indexed_fields, except a field the
// ValuePostingsRule finds near-unique in the segment (its blooms serve it; index_kind.h).
//
// Stored in the footer's index directory (IndexLayout::kFieldIndexes): one compressed block per
// field, its serialized inverted index, listed with the field's name and distinct value count.
// Every segment format version has it. Answers Rows and Values for an exact value; no may-match
// (the executor skips the blocks holding none of the rows).
#include <mutex>
#include <unordered_map>

#include "common/mutex.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"

namespace sawmill::index {

namespace {

bool Answers(const FieldPredicate& p) { return p.op == FieldPredicate::Op::kEquals; }

class InvertedBuilder final : public IndexBuilder {
 public:
  explicit InvertedBuilder(const BuildOptions& options) : rule_(options.values) {
    for (const IndexedField& f : options.indexed) {
      if (f.message_words) continue;
      bool bloom = false;
      for (const IndexedField& b : options.blooms) {
        bloom = bloom || (b.name == f.name && b.builtin == f.builtin && !b.message_words);
      }
      fields_.push_back(Field{f, bloom, 0, {}, DropAbove(f, bloom, options.segment_rows), false});
    }
  }

  void AddBlock(const Record* rows, uint32_t count) override {
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
    for (Field& f : fields_) {
      if (f.dropped || NearUnique(f)) continue;  // no part: its values are "cannot tell" here
      IndexPart part;
      part.field = f.field;
      part.count = f.builder.distinct_values();
      part.blobs.emplace_back();
      f.builder.Finish(&part.blobs.back());
      parts->push_back(std::move(part));
    }
  }

 private:
  struct Field {
    IndexedField field;
    bool bloom = false;   // the field has a bloom, which serves its values when not posted
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
    if (f.field.keep_empty || !f.bloom || rows_ <= rule_.small_segment_rows) return false;
    return static_cast<double>(f.builder.distinct_values()) >
           rule_.max_distinct_fraction * static_cast<double>(f.values);
  }

  const ValuePostingsRule rule_;
  std::vector<Field> fields_;
  uint32_t rows_ = 0;
};

class InvertedView final : public IndexView {
 public:
  explicit InvertedView(std::shared_ptr<const IndexSource> source)
      : source_(std::move(source)), loaded_(source_->parts().size()) {}

  Result<std::optional<roaring::Roaring>> Rows(const FieldPredicate& p) const override {
    if (p.op != FieldPredicate::Op::kEquals) return std::optional<roaring::Roaring>();
    int part = Find(p.field, p.builtin);
    if (part < 0) return std::optional<roaring::Roaring>();
    // Only service, host and level index empty values; elsewhere "" is not in the index.
    if (p.value.empty() && !source_->parts()[part].field.keep_empty) {
      return std::optional<roaring::Roaring>();
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const InvertedIndexReader> idx, Load(part));
    auto rows = idx->Lookup(p.value);
    if (!rows.ok()) {
      return Status::DataLoss(source_->Where(part, 0) + ": " + rows.status().message());
    }
    return std::optional<roaring::Roaring>(std::move(rows).value());
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

  // The parsed index of part "part", read on first use and kept.
  Result<std::shared_ptr<const InvertedIndexReader>> Load(int part) const {
    {
      MutexLock lock(&mu_);
      if (loaded_[part] != nullptr) return loaded_[part];
    }
    std::string raw;
    RETURN_IF_ERROR(source_->Read(part, 0, &raw));
    auto parsed =
        InvertedIndexReader::Parse(std::move(raw), static_cast<uint32_t>(source_->row_count()));
    if (!parsed.ok()) {
      return Status::DataLoss(source_->Where(part, 0) + ": " + parsed.status().message());
    }
    std::shared_ptr<const InvertedIndexReader> idx = std::move(parsed).value();
    MutexLock lock(&mu_);
    if (loaded_[part] == nullptr) loaded_[part] = std::move(idx);
    return loaded_[part];
  }

  std::shared_ptr<const IndexSource> source_;
  mutable Mutex mu_;
  mutable std::vector<std::shared_ptr<const InvertedIndexReader>> loaded_ GUARDED_BY(mu_);
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
