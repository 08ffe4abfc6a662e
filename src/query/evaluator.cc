#include "query/evaluator.h"

#include <re2/re2.h>

#include <cerrno>
#include <cstdlib>

#include "index/numeric_value.h"
#include "index/tokenizer.h"
#include "query/units.h"

namespace sawmill::query {

namespace {

inline char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
inline bool WordByte(char c) { return index::IsWordByte(static_cast<unsigned char>(c)); }

// Does "word" occur (case-insensitively) at "pos" of "text"?
inline bool EqualsAt(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(text[pos + i]) != word[i]) return false;
  }
  return true;
}

// Matches words[k..] starting at a word start "pos"; returns true if all follow adjacently.
bool PhraseAt(std::string_view text, size_t pos, const std::vector<std::string>& words) {
  for (size_t k = 0; k < words.size(); ++k) {
    if (k > 0) {
      while (pos < text.size() && !WordByte(text[pos])) ++pos;
    }
    const std::string& w = words[k];
    if (!EqualsAt(text, pos, w)) return false;
    pos += w.size();
    if (pos < text.size() && WordByte(text[pos])) return false;
  }
  return true;
}

template <typename T>
bool Compare(FieldOp op, const T& a, const T& b) {
  switch (op) {
    case FieldOp::kLt: return a < b;
    case FieldOp::kLe: return a <= b;
    case FieldOp::kGt: return a > b;
    case FieldOp::kGe: return a >= b;
    default: return false;
  }
}

const std::string* StringField(const Record& r, FieldId id) {
  switch (id) {
    case FieldId::kTenant: return &r.tenant;
    case FieldId::kService: return &r.service;
    case FieldId::kHost: return &r.host;
    case FieldId::kTraceId: return &r.trace_id;
    case FieldId::kSpanId: return &r.span_id;
    case FieldId::kUserId: return &r.user_id;
    case FieldId::kMessage: return &r.message;
    default: return nullptr;
  }
}

bool EvaluateField(const Node& n, const Record& r) {
  if (n.field == FieldId::kLevel) {
    int have = static_cast<int>(r.level);
    int want = static_cast<int>(n.level);
    switch (n.op) {
      case FieldOp::kEq: return have == want;
      case FieldOp::kExists: return r.level != Level::kUnknown;
      case FieldOp::kLt:
      case FieldOp::kLe:
      case FieldOp::kGt:
      case FieldOp::kGe:
        // UNKNOWN is no severity: it never satisfies an ordering.
        return r.level != Level::kUnknown && Compare(n.op, have, want);
      default: break;  // prefix, regex, glob: on the level's name
    }
  }
  if ((n.field == FieldId::kTs || n.field == FieldId::kIngestTs) && n.time_ns) {
    int64_t v = n.field == FieldId::kTs ? r.ts : r.ingest_ts;
    return Compare(n.op, v, *n.time_ns);
  }
  std::string scratch;
  const std::string* value = StringField(r, n.field);
  if (value != nullptr) {
    if (value->empty()) value = nullptr;
  } else if (n.field == FieldId::kDynamic) {
    value = r.FindField(n.field_name);
  } else {
    if (!FieldText(r, n.field_name, &scratch)) return false;
    value = &scratch;
  }
  if (value == nullptr) return false;
  switch (n.op) {
    case FieldOp::kEq: return *value == n.value;
    case FieldOp::kExists: return true;
    case FieldOp::kPrefix: return std::string_view(*value).substr(0, n.value.size()) == n.value;
    case FieldOp::kRegex: return RE2::PartialMatch(*value, *n.regex);
    case FieldOp::kGlob: return GlobMatch(*value, n.value);
    case FieldOp::kLt:
    case FieldOp::kLe:
    case FieldOp::kGt:
    case FieldOp::kGe: {
      if (n.number) {
        std::optional<double> v = index::ParseNumber(*value);
        return v && Compare(n.op, *v, *n.number);
      }
      // A duration ("10s", "1h30m") or a byte size ("1KB", "2MiB") compares values of that
      // kind (query/units.h); a value that is not one does not match. No index prunes these
      // (the node carries no number), so they are checked row by row.
      if (std::optional<double> bound = ParseGoDuration(n.value)) {
        std::optional<double> v = ParseGoDuration(*value);
        return v && Compare(n.op, *v, *bound);
      }
      if (std::optional<double> bound = ParseByteSize(n.value)) {
        std::optional<double> v = ParseByteSize(*value);
        return v && Compare(n.op, *v, *bound);
      }
      return Compare(n.op, std::string_view(*value), std::string_view(n.value));
    }
  }
  return false;
}

}  // namespace

bool FieldText(const Record& r, std::string_view name, std::string* out) {
  return FieldText(r, FieldIdOf(name), name, out);
}

bool FieldText(const Record& r, FieldId id, std::string_view name, std::string* out) {
  switch (id) {
    case FieldId::kTs: *out = std::to_string(r.ts); return true;
    case FieldId::kIngestTs: *out = std::to_string(r.ingest_ts); return true;
    case FieldId::kSeq: *out = std::to_string(r.seq); return true;
    case FieldId::kLevel:
      if (r.level == Level::kUnknown) return false;
      *out = std::string(LevelName(r.level));
      return true;
    case FieldId::kDynamic: {
      const std::string* v = r.FindField(name);
      if (v == nullptr) return false;
      *out = *v;
      return true;
    }
    default: {
      const std::string* v = StringField(r, id);
      if (v == nullptr || v->empty()) return false;
      *out = *v;
      return true;
    }
  }
}

bool ContainsWord(std::string_view text, std::string_view word, bool prefix) {
  if (word.empty()) return false;
  char first = word[0];
  for (size_t pos = 0; pos + word.size() <= text.size(); ++pos) {
    if (Lower(text[pos]) != first) continue;
    if (pos > 0 && WordByte(text[pos - 1])) continue;
    if (!EqualsAt(text, pos, word)) continue;
    size_t end = pos + word.size();
    if (prefix || end == text.size() || !WordByte(text[end])) return true;
  }
  return false;
}

bool ContainsPhrase(std::string_view text, const std::vector<std::string>& words) {
  if (words.empty()) return false;
  char first = words[0][0];
  for (size_t pos = 0; pos + words[0].size() <= text.size(); ++pos) {
    if (Lower(text[pos]) != first) continue;
    if (pos > 0 && WordByte(text[pos - 1])) continue;
    if (PhraseAt(text, pos, words)) return true;
  }
  return false;
}

bool Evaluate(const Node& n, const Record& r) {
  switch (n.kind) {
    case NodeKind::kAll: return true;
    case NodeKind::kAnd:
      for (const auto& c : n.children) {
        if (!Evaluate(*c, r)) return false;
      }
      return true;
    case NodeKind::kOr:
      for (const auto& c : n.children) {
        if (Evaluate(*c, r)) return true;
      }
      return false;
    case NodeKind::kNot: return !Evaluate(*n.children[0], r);
    case NodeKind::kWord: return ContainsWord(r.message, n.words[0], n.word_prefix);
    case NodeKind::kPhrase: return ContainsPhrase(r.message, n.words);
    case NodeKind::kField: return EvaluateField(n, r);
  }
  return false;
}

}  // namespace sawmill::query
