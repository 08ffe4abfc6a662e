// The built-in fields of a record, listed once: name, column id on disk, the reader's column
// bit, how the values are typed and laid out, and which indexes they carry. The segment writer
// and reader, the footer's column names and the query language (field names, the columns a
// filter reads, index pruning) all take them from this table; a field spelled out anywhere else
// is a bug.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace sawmill::segment {

// How a built-in column's values sit in a Record and are laid out in a column block.
enum class FieldType : uint8_t {
  kTime,      // int64 ns since the epoch: delta-of-delta (Record::*time)
  kSequence,  // uint64, rising: zigzag deltas (Record::seq)
  kString,    // text: the string encoding chooser (Record::*text)
  kLevel,     // Level: (run, value) pairs (Record::level)
  kFlags,     // uint32 bits: (run, value) pairs (Record::flags)
  kInternal,  // the dynamic field layout and overflow columns: not a field of its own
};

// Which indexes a built-in field carries (bits of BuiltinField::indexes).
enum BuiltinIndex : uint8_t {
  // An inverted index in every segment, whatever WriterOptions say; empty values are indexed
  // too (so `host=""` is answered from the index).
  kIndexAlways = 1u << 0,
  kIndexByDefault = 1u << 1,  // in WriterOptions::indexed_fields unless the caller changes them
  kBloomByDefault = 1u << 2,  // in WriterOptions::bloom_fields unless the caller changes them
};

struct BuiltinField {
  std::string_view name;
  std::string_view alias;  // a second name the query language accepts, or empty
  ColumnId column;         // stored on disk: never renumber
  uint32_t column_bit;     // the ColumnBit a reader decodes it under; 0 for kInternal
  FieldType type;
  uint8_t indexes;            // BuiltinIndex bits
  std::string Record::*text;  // kString only
  int64_t Record::*time;      // kTime only
};

// In ColumnId order: kBuiltinFields[c].column == ColumnId(c).
inline constexpr BuiltinField kBuiltinFields[] = {
    {"ts", "", ColumnId::kTs, kColTs, FieldType::kTime, 0, nullptr, &Record::ts},
    {"ingest_ts", "", ColumnId::kIngestTs, kColIngestTs, FieldType::kTime, 0, nullptr,
     &Record::ingest_ts},
    {"seq", "id", ColumnId::kSeq, kColSeq, FieldType::kSequence, 0, nullptr, nullptr},
    {"service", "", ColumnId::kService, kColService, FieldType::kString, kIndexAlways,
     &Record::service, nullptr},
    {"host", "", ColumnId::kHost, kColHost, FieldType::kString, kIndexAlways, &Record::host,
     nullptr},
    {"level", "", ColumnId::kLevel, kColLevel, FieldType::kLevel, kIndexAlways, nullptr, nullptr},
    {"trace_id", "", ColumnId::kTraceId, kColTraceId, FieldType::kString,
     kIndexByDefault | kBloomByDefault, &Record::trace_id, nullptr},
    {"span_id", "", ColumnId::kSpanId, kColSpanId, FieldType::kString, kBloomByDefault,
     &Record::span_id, nullptr},
    {"user_id", "", ColumnId::kUserId, kColUserId, FieldType::kString,
     kIndexByDefault | kBloomByDefault, &Record::user_id, nullptr},
    // The message's bloom and its index (the word_postings kind) hold its words
    // (index/tokenizer.h), not the whole value.
    {"message", "msg", ColumnId::kMessage, kColMessage, FieldType::kString,
     kIndexByDefault | kBloomByDefault, &Record::message, nullptr},
    {"flags", "", ColumnId::kFlags, kColFlags, FieldType::kFlags, 0, nullptr, nullptr},
    {"_field_layout", "", ColumnId::kFieldLayout, 0, FieldType::kInternal, 0, nullptr, nullptr},
    {"_field_overflow", "", ColumnId::kFieldOverflow, 0, FieldType::kInternal, 0, nullptr, nullptr},
    {"_message_shape", "", ColumnId::kMessageShape, 0, FieldType::kInternal, 0, nullptr, nullptr},
    {"_message_extra", "", ColumnId::kMessageExtra, 0, FieldType::kInternal, 0, nullptr, nullptr},
};
static_assert(std::size(kBuiltinFields) == static_cast<size_t>(ColumnId::kBuiltinCount));

// The built-in field called "name" (or, when "with_alias", whose alias it is); nullptr for a
// dynamic field name.
const BuiltinField* FindBuiltinField(std::string_view name, bool with_alias = false);

// REQUIRES: id < ColumnId::kBuiltinCount.
inline const BuiltinField& BuiltinFieldOf(ColumnId id) {
  return kBuiltinFields[static_cast<size_t>(id)];
}

// The field's value as indexes see it: the text of a kString field, the LevelName of the
// level; empty for the other types.
std::string_view BuiltinText(const Record& r, const BuiltinField& field);

// "name" as the index kinds see a field (index/index_kind.h): the built-in field of that name
// when it has a text value (kString or kLevel), else the dynamic field of that name.
index::IndexedField IndexedFieldOf(std::string_view name);

// Names of the fields with any of "bits" in their BuiltinIndex, in table order.
std::vector<std::string> BuiltinFieldsWith(uint8_t bits);

}  // namespace sawmill::segment
