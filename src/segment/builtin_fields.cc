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

std::string_view ColumnName(ColumnId id) {
  if (id == ColumnId::kDynamic) return "field";
  if (id >= ColumnId::kBuiltinCount) return "unknown";
  return BuiltinFieldOf(id).name;
}

}  // namespace sawmill::segment
