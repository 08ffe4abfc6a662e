#include "query/planner.h"

#include <algorithm>

#include "common/hash.h"
#include "query/evaluator.h"
#include "segment/builtin_fields.h"

namespace sawmill::query {

namespace {

// Distinct values an index may enumerate for one filter before we give up and scan.
constexpr size_t kMaxEnumeratedValues = 10'000;

// A record holding only "value" in "field", to test an index value with the evaluator.
Record WithValue(const Node& n, const std::string& value) {
  Record r;
  const segment::BuiltinField* f = segment::FindBuiltinField(n.field_name, /*with_alias=*/true);
  if (n.field == FieldId::kLevel) {
    std::optional<Level> level = ParseLevel(value);
    r.level = level ? *level : Level::kUnknown;
  } else if (n.field != FieldId::kDynamic && f != nullptr &&
             f->type == segment::FieldType::kString) {
    r.*f->text = value;
  } else {
    r.fields.emplace_back(n.field_name, value);
  }
  return r;
}

// The field "n" filters on as the index kinds name it: the built-in field's name (not its
// alias), or the dynamic field's. False for `tenant`, which is not a column.
bool KindField(const Node& n, std::string_view* name, bool* builtin) {
  if (n.field == FieldId::kDynamic) {
    *name = n.field_name;
    *builtin = false;
    return true;
  }
  const segment::BuiltinField* f = segment::FindBuiltinField(n.field_name, /*with_alias=*/true);
  if (f == nullptr) return false;
  *name = f->name;
  *builtin = true;
  return true;
}

// The condition "n" puts on its field, for the index kinds: = (the level by its LevelName),
// <, <=, >, >=; nullopt for the filters no kind is asked about (prefix, existence, regex, glob).
std::optional<index::FieldPredicate> KindPredicate(const Node& n) {
  index::FieldPredicate p;
  if (!KindField(n, &p.field, &p.builtin)) return std::nullopt;
  p.number = n.number;
  switch (n.op) {
    case FieldOp::kEq:
      p.value = n.field == FieldId::kLevel ? LevelName(n.level) : std::string_view(n.value);
      return p;
    case FieldOp::kLt: p.op = index::FieldPredicate::Op::kLess; return p;
    case FieldOp::kLe: p.op = index::FieldPredicate::Op::kLessEqual; return p;
    case FieldOp::kGt: p.op = index::FieldPredicate::Op::kGreater; return p;
    case FieldOp::kGe: p.op = index::FieldPredicate::Op::kGreaterEqual; return p;
    default: return std::nullopt;
  }
}

// Whether the postings of "p"'s field are exactly the rows whose value the query sees. True for
// the built-in fields: one value per record. A dynamic field may repeat its key in a record; the
// index holds every occurrence while the query reads the first, so its postings are a superset
// (right for pruning, wrong under a NOT or for counting).
bool ExactField(const index::FieldPredicate& p) { return p.builtin; }

Result<IndexAnswer> FieldIndex(const Node& n, const segment::SegmentReader& reader) {
  IndexAnswer out;
  if (n.op == FieldOp::kEq) {
    std::optional<index::FieldPredicate> p = KindPredicate(n);
    if (!p) return out;
    // An empty built-in value (`trace_id=""`) is left to the scan; the level is never empty.
    if (p->builtin && n.field != FieldId::kLevel && p->value.empty()) return out;
    ASSIGN_OR_RETURN(std::optional<roaring::Roaring> rows, reader.MatchingRows(*p));
    if (!rows) return out;
    out.rows = std::move(*rows);
    out.exact = ExactField(*p);
    return out;
  }
  std::string_view field;
  bool builtin = false;
  if (!KindField(n, &field, &builtin)) return out;
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> values,
                   reader.FieldValues(field, builtin));
  if (!values || values->size() > kMaxEnumeratedValues) return out;
  roaring::Roaring rows;
  for (const std::string& v : *values) {
    if (!Evaluate(n, WithValue(n, v))) continue;
    index::FieldPredicate p;
    p.field = field;
    p.builtin = builtin;
    p.value = v;
    ASSIGN_OR_RETURN(std::optional<roaring::Roaring> matching, reader.MatchingRows(p));
    if (!matching) return IndexAnswer{};
    rows |= *matching;
  }
  out.rows = std::move(rows);
  out.exact = ExactField(index::FieldPredicate{field, {}, {}, {}, builtin});
  return out;
}

// The rows whose message holds the word "word" (folded, one word of index/tokenizer.h), from
// the word postings kind; nullopt when the segment has none or does not post this word.
Result<std::optional<roaring::Roaring>> WordRows(std::string_view word,
                                                 const segment::SegmentReader& reader) {
  index::FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = index::FieldPredicate::Op::kWord;
  p.value = word;
  return reader.MatchingRows(p);
}

// A bare word: its postings are exactly the rows it matches (both split and fold with
// index/tokenizer.h, and a bare word matches a whole word of the message). A word prefix
// (`time*`) is left to the scan. A phrase: the intersection of its words' postings, a superset
// of the rows holding the words adjacent and in order, which the scan then checks row by row.
Result<IndexAnswer> WordIndex(const Node& n, const segment::SegmentReader& reader) {
  IndexAnswer out;
  if (n.kind == NodeKind::kWord && n.word_prefix) return out;
  for (const std::string& w : n.words) {
    ASSIGN_OR_RETURN(std::optional<roaring::Roaring> rows, WordRows(w, reader));
    if (!rows) continue;
    if (!out.rows) {
      out.rows = std::move(rows);
    } else {
      *out.rows &= *rows;
    }
    if (out.rows->isEmpty()) break;
  }
  out.exact = out.rows.has_value() && n.kind == NodeKind::kWord;
  return out;
}

}  // namespace

SegmentPlan PlanSegments(const storage::Snapshot& snapshot, const SegmentPlanOptions& options) {
  SegmentPlan plan;
  for (const storage::SegmentHandle& h : snapshot.segments) {
    ++plan.total;
    const segment::SegmentInfo& info = h.info;
    const int64_t lo = options.time_field_ts ? info.min_ts : info.min_ingest_ts;
    const int64_t hi = options.time_field_ts ? info.max_ts : info.max_ingest_ts;
    if (info.tenant != snapshot.tenant || hi < options.range.from_ns || lo >= options.range.to_ns ||
        info.rows == 0) {
      continue;
    }
    if (options.partition && info.partition != *options.partition) {
      plan.pruned_by_partition.push_back(info.id);
      continue;
    }
    plan.segments.push_back(PlannedSegment{&h, hi});
    ++plan.locations[{h.tier, h.store}];
  }
  std::stable_sort(
      plan.segments.begin(), plan.segments.end(),
      [](const PlannedSegment& a, const PlannedSegment& b) { return a.max_time > b.max_time; });
  return plan;
}

std::string DescribeLocations(const SegmentPlan& plan) {
  std::string out;
  for (const auto& [where, count] : plan.locations) {
    if (!out.empty()) out += ", ";
    out += where.first + " " + std::to_string(count) + " in store " + where.second;
  }
  return out.empty() ? "none" : out;
}

IndexAnswer EvaluateIndex(const Node& n, const segment::SegmentReader& reader) {
  // A condition's own answer; its error is its damage (it cannot tell).
  auto leaf = [](Result<IndexAnswer> answer) {
    if (answer.ok()) return std::move(answer).value();
    IndexAnswer out;
    out.damage = answer.status();
    return out;
  };
  switch (n.kind) {
    case NodeKind::kField: return leaf(FieldIndex(n, reader));
    case NodeKind::kWord:
    case NodeKind::kPhrase: return leaf(WordIndex(n, reader));
    case NodeKind::kNot: {
      IndexAnswer child = EvaluateIndex(*n.children[0], reader);
      IndexAnswer out;
      out.damage = std::move(child.damage);
      if (!child.rows || !child.exact) return out;
      roaring::Roaring all;
      all.addRange(0, reader.info().rows);
      out.rows = all - *child.rows;
      out.exact = true;
      return out;
    }
    case NodeKind::kAnd: {
      IndexAnswer out;
      out.exact = true;
      for (const auto& c : n.children) {
        IndexAnswer child = EvaluateIndex(*c, reader);
        if (out.damage.ok()) out.damage = std::move(child.damage);
        if (!child.rows) {
          out.exact = false;
          continue;
        }
        out.exact = out.exact && child.exact;
        if (!out.rows) {
          out.rows = std::move(child.rows);
        } else {
          *out.rows &= *child.rows;
        }
        if (out.rows->isEmpty()) break;
      }
      if (!out.rows) out.exact = false;
      return out;
    }
    case NodeKind::kOr: {
      IndexAnswer out;
      out.rows.emplace();
      out.exact = true;
      for (const auto& c : n.children) {
        IndexAnswer child = EvaluateIndex(*c, reader);
        if (!child.rows) {
          IndexAnswer none;
          none.damage = std::move(child.damage);
          return none;
        }
        out.exact = out.exact && child.exact;
        *out.rows |= *child.rows;
      }
      return out;
    }
    default: return IndexAnswer{};
  }
}

Result<std::optional<std::vector<uint32_t>>> BlockCounts(const Node& n,
                                                         const segment::SegmentReader& reader) {
  if (n.kind == NodeKind::kField && n.op == FieldOp::kEq) {
    // A built-in field stored as block lists (segment format version 16: user ids): exact,
    // one value a row. A dynamic field's lists count every occurrence of a repeated key, while
    // the query sees the first: not a count.
    std::optional<index::FieldPredicate> p = KindPredicate(n);
    if (!p || !ExactField(*p) || p->value.empty()) return std::optional<std::vector<uint32_t>>();
    return reader.MatchingRowsPerBlock(*p);
  }
  if (n.kind == NodeKind::kNot && n.children[0]->kind == NodeKind::kField) {
    // `NOT field=value` of such a field: the rest of each block.
    ASSIGN_OR_RETURN(std::optional<std::vector<uint32_t>> counts,
                     BlockCounts(*n.children[0], reader));
    if (!counts || counts->size() != reader.blocks().size()) return counts;
    for (size_t b = 0; b < counts->size(); ++b) {
      if ((*counts)[b] > reader.blocks()[b].rows) return counts;  // damaged: the executor says so
    }
    for (size_t b = 0; b < counts->size(); ++b)
      (*counts)[b] = reader.blocks()[b].rows - (*counts)[b];
    return counts;
  }
  if (n.kind != NodeKind::kWord || n.word_prefix || n.words.size() != 1) {
    return std::optional<std::vector<uint32_t>>();
  }
  index::FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = index::FieldPredicate::Op::kWord;
  p.value = n.words[0];
  return reader.MatchingRowsPerBlock(p);
}

bool KindsMayMatch(const Node& n, const segment::SegmentReader& reader, int64_t block,
                   Status* damage) {
  auto may = [&](const index::FieldPredicate& p) {
    Result<bool> answer = block < 0 ? reader.SegmentMayMatch(p)
                                    : reader.BlockMayMatch(static_cast<uint32_t>(block), p);
    if (answer.ok()) return *answer;
    if (damage->ok()) *damage = answer.status();
    return true;  // cannot tell
  };
  auto word = [&](std::string_view w) {
    index::FieldPredicate p;
    p.field = "message";
    p.builtin = true;
    p.op = index::FieldPredicate::Op::kWord;
    p.value = w;
    return may(p);
  };
  switch (n.kind) {
    case NodeKind::kWord:
      if (n.word_prefix) return true;
      return word(n.words[0]);
    case NodeKind::kPhrase:
      for (const std::string& w : n.words) {
        if (!word(w)) return false;
      }
      return true;
    case NodeKind::kField: {
      std::optional<index::FieldPredicate> p = KindPredicate(n);
      if (!p) return true;
      return may(*p);
    }
    case NodeKind::kAnd:
      for (const auto& c : n.children) {
        if (!KindsMayMatch(*c, reader, block, damage)) return false;
      }
      return true;
    case NodeKind::kOr:
      for (const auto& c : n.children) {
        if (KindsMayMatch(*c, reader, block, damage)) return true;
      }
      return false;
    default: return true;
  }
}

index::FieldPredicate TimePredicate(const TimeRange& range, bool time_field_ts) {
  index::FieldPredicate p;
  p.field = time_field_ts ? "ts" : "ingest_ts";
  p.builtin = true;
  p.op = index::FieldPredicate::Op::kTimeWithin;
  p.from_ns = range.from_ns;
  p.to_ns = range.to_ns;
  return p;
}

std::optional<uint32_t> PinnedPartition(const Node& filter, uint32_t partitions) {
  if (partitions == 0) return std::nullopt;
  const std::string* service = nullptr;
  const std::string* host = nullptr;
  auto look = [&](const Node& n) {
    if (n.kind != NodeKind::kField || n.op != FieldOp::kEq) return;
    if (n.field == FieldId::kService) service = &n.value;
    if (n.field == FieldId::kHost) host = &n.value;
  };
  if (filter.kind == NodeKind::kAnd) {
    for (const auto& c : filter.children) look(*c);
  } else {
    look(filter);
  }
  if (service == nullptr || host == nullptr) return std::nullopt;
  return PartitionOf(*service, *host, partitions);
}

}  // namespace sawmill::query
