#include "query/ast.h"

#include "query/time_range.h"
#include "segment/builtin_fields.h"
#include "segment/segment.h"

namespace sawmill::query {

namespace {

// The query's id of each built-in column (segment/builtin_fields.h); kDynamic for the columns a
// filter cannot name (flags and the dynamic field layout), which stay ordinary field names.
constexpr FieldId kFieldOfColumn[] = {
    FieldId::kTs,      FieldId::kIngestTs, FieldId::kSeq,     FieldId::kService, FieldId::kHost,
    FieldId::kLevel,   FieldId::kTraceId,  FieldId::kSpanId,  FieldId::kUserId,  FieldId::kMessage,
    FieldId::kDynamic, FieldId::kDynamic,  FieldId::kDynamic, FieldId::kDynamic, FieldId::kDynamic,
};
static_assert(std::size(kFieldOfColumn) == std::size(segment::kBuiltinFields));

}  // namespace

FieldId FieldIdOf(std::string_view name) {
  if (name == "tenant") return FieldId::kTenant;  // not a column: the segment's tenant
  const segment::BuiltinField* f = segment::FindBuiltinField(name, /*with_alias=*/true);
  return f == nullptr ? FieldId::kDynamic : kFieldOfColumn[static_cast<size_t>(f->column)];
}

bool Query::Aggregates() const {
  for (const Pipe& p : pipes) {
    if (p.kind == PipeKind::kCount || p.kind == PipeKind::kTop || p.kind == PipeKind::kUniq) {
      return true;
    }
  }
  return false;
}

namespace {

bool IsBareSafe(std::string_view v) {
  if (v.empty() || v.back() == '*') return false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')' || c == '|' ||
        c == '"' || c == '\\') {
      return false;
    }
  }
  return v[0] != '"';
}

std::string QuoteValue(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Value(std::string_view v) { return IsBareSafe(v) ? std::string(v) : QuoteValue(v); }

// After `<` or `>` a bare value starting with '=' would be read back as the operator `<=`/`>=`
// (`a>"="` must not print as `a>=`), so such a value is quoted.
std::string OrderedValue(std::string_view v) {
  return !v.empty() && v[0] == '=' ? QuoteValue(v) : Value(v);
}

// A field or column name in a pipe (`count by NAME`, `top N NAME`, `sort by NAME`): bare when it
// is a plain name, quoted otherwise, so that spaces, commas, '|' or a keyword inside a quoted name
// survive the round trip through the canonical text.
std::string Name(std::string_view v) {
  bool plain = !v.empty() && v != "by" && v != "desc" && v != "asc";
  for (char c : v) {
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '@' || c == '-');
  }
  return plain ? std::string(v) : QuoteValue(v);
}

// A prefix is only written bare (`service=api*`): a quoted value followed by `*` parses as the
// value AND a match-all. A value after an operator is read up to a space, a parenthesis or
// '|' (quotes inside it are part of it), so every prefix the parser makes can be written bare.
std::string PrefixValue(std::string_view v) {
  bool bare = !v.empty() && v[0] != '"';
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')' || c == '|') {
      bare = false;
    }
  }
  return (bare ? std::string(v) : QuoteValue(v)) + "*";
}

std::string Child(const Node& child) {
  std::string s = ToString(child);
  if (child.kind == NodeKind::kAnd || child.kind == NodeKind::kOr) return "(" + s + ")";
  return s;
}

}  // namespace

std::string ToString(const Node& node) {
  switch (node.kind) {
    case NodeKind::kAll: return "*";
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      std::string out;
      for (const auto& c : node.children) {
        if (!out.empty()) out += node.kind == NodeKind::kAnd ? " AND " : " OR ";
        out += Child(*c);
      }
      return out;
    }
    case NodeKind::kNot: return "NOT " + Child(*node.children[0]);
    case NodeKind::kWord: return node.words[0] + (node.word_prefix ? "*" : "");
    case NodeKind::kPhrase: {
      std::string out = "\"";
      for (size_t i = 0; i < node.words.size(); ++i) {
        if (i) out.push_back(' ');
        out += node.words[i];
      }
      return out + "\"";
    }
    case NodeKind::kField: {
      const std::string& f = node.field_name;
      switch (node.op) {
        case FieldOp::kEq:
          return f + "=" +
                 (node.field == FieldId::kLevel ? std::string(LevelName(node.level))
                                                : Value(node.value));
        case FieldOp::kPrefix: return f + "=" + PrefixValue(node.value);
        case FieldOp::kExists: return f + "=*";
        case FieldOp::kLt: return f + "<" + OrderedValue(node.value);
        case FieldOp::kLe: return f + "<=" + Value(node.value);
        case FieldOp::kGt: return f + ">" + OrderedValue(node.value);
        case FieldOp::kGe: return f + ">=" + Value(node.value);
        case FieldOp::kRegex: return f + "~" + QuoteValue(node.value);
        case FieldOp::kGlob: return f + ":" + QuoteValue(node.value);
      }
    }
  }
  return "?";
}

std::string ToString(const Query& query) {
  std::string out = ToString(*query.filter);
  for (const Pipe& p : query.pipes) {
    out += " | ";
    switch (p.kind) {
      case PipeKind::kCount:
        out += p.bytes ? "bytes" : "count";
        for (size_t i = 0; i < p.group_by.size(); ++i) {
          out += i == 0 ? " by " : ", ";
          out += p.group_by[i].bucket_ns > 0
                     ? std::string(p.group_by[i].bucket_end ? "bucket_end(" : "bucket(") +
                           FormatDuration(p.group_by[i].bucket_ns) + ")"
                     : Name(p.group_by[i].name);
        }
        break;
      case PipeKind::kTop: out += "top " + std::to_string(p.n) + " " + Name(p.fields[0]); break;
      case PipeKind::kUniq:
      case PipeKind::kFields:
        out += p.kind == PipeKind::kUniq ? "uniq" : "fields";
        for (size_t i = 0; i < p.fields.size(); ++i)
          out += (i == 0 ? " " : ", ") + Name(p.fields[i]);
        break;
      case PipeKind::kHead: out += "head " + std::to_string(p.n); break;
      case PipeKind::kSort:
        out += "sort by";
        for (size_t i = 0; i < p.sort.size(); ++i) {
          out += (i == 0 ? " " : ", ") + Name(p.sort[i].column) +
                 (p.sort[i].descending ? " desc" : "");
        }
        break;
    }
  }
  return out;
}

uint32_t ColumnOfField(std::string_view name) {
  FieldId id = FieldIdOf(name);
  if (id == FieldId::kTenant) return 0;
  if (id == FieldId::kDynamic) return segment::kColFields;
  return segment::FindBuiltinField(name, /*with_alias=*/true)->column_bit;
}

uint32_t ColumnsOf(const Node& node) {
  switch (node.kind) {
    case NodeKind::kAll: return 0;
    case NodeKind::kWord:
    case NodeKind::kPhrase: return segment::kColMessage;
    case NodeKind::kField: return ColumnOfField(node.field_name);
    default: {
      uint32_t mask = 0;
      for (const auto& c : node.children) mask |= ColumnsOf(*c);
      return mask;
    }
  }
}

}  // namespace sawmill::query
