#include "segment/builtin_fields.h"

namespace sawmill::segment {

const BuiltinField* FindBuiltinField(std::string_view name, bool with_alias) {
  for (const BuiltinField& f : kBuiltinFields) {
    if (f.name == name || (with_alias && !f.alias.empty() && f.alias == name)) return &f;
  }
  return nullptr;
}

std::string_view BuiltinText(const Record& r, const BuiltinField& field) {
  switch (field.type) {
    case FieldType::kString: return r.*field.text;
    case FieldType::kLevel: return LevelName(r.level);
    default: return {};
  }
}

index::IndexedField IndexedFieldOf(std::string_view name) {
  index::IndexedField out;
  out.name = std::string(name);
  const BuiltinField* f = FindBuiltinField(name);
  if (f == nullptr || (f->type != FieldType::kString && f->type != FieldType::kLevel)) return out;
  out.builtin = true;
  out.message_words = f->column == ColumnId::kMessage;
  out.keep_empty = (f->indexes & kIndexAlways) != 0;
  out.text = f->type == FieldType::kString ? f->text : nullptr;
  return out;
}

std::vector<std::string> BuiltinFieldsWith(uint8_t bits) {
  std::vector<std::string> out;
  for (const BuiltinField& f : kBuiltinFields) {
    if ((f.indexes & bits) != 0) out.emplace_back(f.name);
  }
  return out;
}

std::vector<std::string> DefaultIndexedFields() { return BuiltinFieldsWith(kIndexByDefault); }
std::vector<std::string> DefaultBloomFields() { return BuiltinFieldsWith(kBloomByDefault); }

index::WordPostingsRule DefaultWordPostingsRule() {
  // Measured on the real datasets (docs/format/index.md "Word postings"): number words are
  // most of the distinct words and rarely searched; words in one or two rows of a segment are
  // most of the rest (ids), and a block filter finds their blocks; words in more than 0.1% of
  // the rows are in nearly every 8,192-row block, so their postings would only serve counts, at
  // up to a quarter of the segment's bytes.
  index::WordPostingsRule rule;
  rule.min_rows = 3;
  // In every segment, however small: a small segment used to post every word from one row on,
  // as a fresh flush that compaction rewrites, but a partition's only segment is never
  // compacted (a quiet service; every real dataset through a server), and there the ids of one
  // or two rows were up to a third of the segment (otrf_linux_aws: 27,492 bytes of postings,
  // mostly CloudTrail hex ids, for 566 rows; docs/performance.md "Session 14").
  rule.small_segment_rows = 0;
  rule.numbers = false;
  rule.max_fraction = 0.001;
  rule.max_rows_floor = 16;
  // Except words without a digit, posted from one row on in every segment: a rare word
  // ("accountname", in 25 of 10,000,000 corpus lines) is in one or two rows of each segment,
  // below min_rows, so its count and hits would read whole blocks; ids, hashes and times almost
  // all hold a digit and stay unposted (docs/format/index.md "Words without a digit").
  rule.letter_words_above_rows = 0;
  return rule;
}

index::ValuePostingsRule DefaultValuePostingsRule() {
  // Measured on the benchmark corpus (docs/format/index.md "Near-unique fields"): the postings
  // of trace_id and user_id were a third of a compacted segment's bytes, about one entry per
  // row each, while a value's bloom finds its one or few blocks.
  index::ValuePostingsRule rule;
  rule.max_distinct_fraction = 0.25;
  rule.small_segment_rows = 0;
  // (Format version 16) Every posted user id as rows, without blooms: a user listed by block
  // (in fewer rows than a threshold) made its ANDs with level or service and their counts
  // 1.5-4x slower on the 10 M store at every threshold measured (6 to 29 rows a segment), where
  // rows read only the blocks holding both; 32 would save 2.4 % more of a compacted segment
  // (docs/performance.md "Session 18: user ids at 10 M").
  rule.list_below_rows = 0;
  return rule;
}

std::string_view ColumnName(ColumnId id) {
  if (id == ColumnId::kDynamic) return "field";
  if (id >= ColumnId::kBuiltinCount) return "unknown";
  return BuiltinFieldOf(id).name;
}

}  // namespace sawmill::segment
