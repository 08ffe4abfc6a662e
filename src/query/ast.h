// The query's syntax tree: a filter expression and a list of pipe stages. Built by the parser,
// read by the evaluator (record matching), the planner (index pruning) and the pipes.
// Immutable once parsed; shared between threads through shared_ptr<const Query>.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sawmill/record.h"

namespace re2 {
class RE2;
}

namespace sawmill::query {

// The built-in columns of a record; anything else is a dynamic field looked up by name.
enum class FieldId {
  kTs,
  kIngestTs,
  kSeq,
  kTenant,
  kService,
  kHost,
  kLevel,
  kTraceId,
  kSpanId,
  kUserId,
  kMessage,
  kDynamic,
};

// Maps a field name to its id ("id" is an alias of "seq"); any other name is kDynamic.
FieldId FieldIdOf(std::string_view name);

enum class NodeKind {
  kAll,     // matches every record ("*" or an empty filter)
  kAnd,     // children
  kOr,      // children
  kNot,     // children[0]
  kField,   // field op value
  kWord,    // words[0] as a whole word (or a word prefix) in message
  kPhrase,  // words adjacent and in order in message
};

enum class FieldOp {
  kEq,      // exact value (level: same level)
  kPrefix,  // value is a prefix
  kExists,  // the field is present (non-empty)
  kLt,
  kLe,
  kGt,
  kGe,
  kRegex,  // RE2 partial match
  kGlob,   // whole value against a pattern where '*' matches any run of bytes
};

struct Node {
  NodeKind kind = NodeKind::kAll;
  std::vector<std::shared_ptr<const Node>> children;

  // kField.
  FieldId field = FieldId::kDynamic;
  std::string field_name;
  FieldOp op = FieldOp::kEq;
  std::string value;
  std::optional<double> number;    // comparisons: the value as a number, when it is one
  std::optional<int64_t> time_ns;  // comparisons on ts / ingest_ts: the value as ns
  Level level = Level::kUnknown;   // level filters
  std::shared_ptr<const re2::RE2> regex;

  // kWord / kPhrase: lower-cased words of index/tokenizer.h.
  std::vector<std::string> words;
  bool word_prefix = false;  // kWord written as "time*": any word starting with words[0]

  size_t offset = 0;  // where it starts in the query text
};

using NodePtr = std::shared_ptr<const Node>;

enum class PipeKind { kCount, kTop, kUniq, kFields, kHead, kSort };

// A group key of "count by": a field or a time bucket.
struct GroupKey {
  std::string name;       // field name, or "bucket"
  int64_t bucket_ns = 0;  // > 0: a time bucket of this width
  // bucket_end(W): buckets (t - W, t] named by their end t (Prometheus' and Loki's windows);
  // bucket(W): [t, t + W) named by their start.
  bool bucket_end = false;
};

struct SortKey {
  std::string column;
  bool descending = false;
};

struct Pipe {
  PipeKind kind = PipeKind::kCount;
  std::vector<GroupKey> group_by;   // count by
  std::vector<std::string> fields;  // top N field / uniq field / fields a, b
  int64_t n = 0;                    // top N, head N
  bool bytes = false;               // kCount written "bytes": sums message bytes, not lines
  std::vector<SortKey> sort;        // sort by
  size_t offset = 0;
};

struct Query {
  NodePtr filter;  // never null; kAll when the query has no filter
  std::vector<Pipe> pipes;

  // True when a pipe aggregates (count, top, uniq): the answer is rows, not hits.
  bool Aggregates() const;
};

// A canonical text form: same meaning gives the same text (whitespace, keyword case, implicit
// AND, redundant parentheses normalised). Used as the cache key and in explain.
std::string ToString(const Node& node);
std::string ToString(const Query& query);

// The columns the filter reads, as segment::ColumnBit values.
uint32_t ColumnsOf(const Node& node);
// The column of a field name (kColFields for dynamic fields).
uint32_t ColumnOfField(std::string_view name);

}  // namespace sawmill::query
