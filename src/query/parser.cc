#include "query/parser.h"

#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "index/tokenizer.h"
#include "query/lexer.h"
#include "query/time_range.h"

namespace sawmill::query {

namespace {

// Thrown inside the parser only and caught in Parse(): it unwinds a deep recursive descent to
// one place. Never escapes this file.
struct SyntaxError {
  std::string message;  // without the position
  size_t offset;
};

std::string Quote(std::string_view text) {
  std::string out = "'";
  out.append(text);
  out.push_back('\'');
  return out;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  // strtod accepts "inf", "nan" and hex; a log field "nan" is a word, not a number.
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  return v;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) {}

  Query ParseAll() {
    Query q;
    if (text_.size() > kMaxQueryBytes) {
      throw SyntaxError{"the query is " + std::to_string(text_.size()) + " bytes long; at most " +
                            std::to_string(kMaxQueryBytes) + " are allowed",
                        0};
    }
    Token t = lexer_.Peek();
    if (t.kind == TokenKind::kEnd || t.kind == TokenKind::kPipe) {
      auto all = std::make_shared<Node>();
      all->kind = NodeKind::kAll;
      q.filter = all;
    } else {
      q.filter = ParseOr();
      t = lexer_.Peek();
      if (t.kind == TokenKind::kRParen) {
        throw SyntaxError{"unexpected ')' with no '(' to close", t.offset};
      }
      if (t.kind != TokenKind::kEnd && t.kind != TokenKind::kPipe) Unexpected(t);
    }
    while (true) {
      t = lexer_.Next();
      if (t.kind == TokenKind::kEnd) break;
      if (t.kind != TokenKind::kPipe) Unexpected(t);
      q.pipes.push_back(ParsePipe(t));
    }
    Validate(q);
    return q;
  }

 private:
  [[noreturn]] void Unexpected(const Token& t) {
    if (t.kind == TokenKind::kError) throw SyntaxError{t.text, t.offset};
    if (t.kind == TokenKind::kEnd) throw SyntaxError{"unexpected end of query", t.offset};
    throw SyntaxError{
        "unexpected " +
            (t.kind == TokenKind::kWord ? Quote(t.text) : std::string(TokenKindName(t.kind))),
        t.offset};
  }

  static bool IsKeyword(const Token& t, std::string_view kw) {
    return t.kind == TokenKind::kWord && t.text == kw;
  }

  // Every node of the filter is made here, so that the size of the tree (and the evaluator's
  // work per row, which follows it) is bounded by kMaxNodes.
  std::shared_ptr<Node> NewNode(size_t offset) {
    if (++nodes_ > kMaxNodes) {
      throw SyntaxError{"the filter has more than " + std::to_string(kMaxNodes) +
                            " terms and operators; use fewer terms (a field prefix like "
                            "service=pay* or a regular expression can replace a long OR list)",
                        offset};
    }
    auto n = std::make_shared<Node>();
    n->offset = offset;
    return n;
  }

  NodePtr MakeGroup(NodeKind kind, std::vector<NodePtr> children, size_t offset) {
    if (children.size() == 1) return children[0];
    auto n = NewNode(offset);
    n->kind = kind;
    for (auto& c : children) {
      if (c->kind == kind) {
        n->children.insert(n->children.end(), c->children.begin(), c->children.end());
      } else {
        n->children.push_back(std::move(c));
      }
    }
    if (kind == NodeKind::kOr && n->children.size() > kMaxOrBranches) {
      throw SyntaxError{"more than " + std::to_string(kMaxOrBranches) +
                            " alternatives in one OR; use fewer (a field prefix like "
                            "service=pay* or a regular expression can replace a long OR list)",
                        n->children[kMaxOrBranches]->offset};
    }
    return n;
  }

  NodePtr ParseOr() {
    size_t start = lexer_.Peek().offset;
    std::vector<NodePtr> terms{ParseAnd()};
    while (IsKeyword(lexer_.Peek(), "OR")) {
      Token op = lexer_.Next();
      Token next = lexer_.Peek();
      if (next.kind == TokenKind::kEnd || next.kind == TokenKind::kPipe ||
          next.kind == TokenKind::kRParen) {
        throw SyntaxError{"expected a filter after OR", next.offset};
      }
      terms.push_back(ParseAnd());
    }
    return MakeGroup(NodeKind::kOr, std::move(terms), start);
  }

  NodePtr ParseAnd() {
    size_t start = lexer_.Peek().offset;
    std::vector<NodePtr> terms{ParseUnary()};
    while (true) {
      Token t = lexer_.Peek();
      if (t.kind == TokenKind::kEnd || t.kind == TokenKind::kPipe || t.kind == TokenKind::kRParen ||
          IsKeyword(t, "OR")) {
        break;
      }
      if (IsKeyword(t, "AND")) {
        lexer_.Next();
        Token next = lexer_.Peek();
        if (next.kind == TokenKind::kEnd || next.kind == TokenKind::kPipe ||
            next.kind == TokenKind::kRParen || IsKeyword(next, "OR") || IsKeyword(next, "AND")) {
          throw SyntaxError{"expected a filter after AND", next.offset};
        }
      }
      terms.push_back(ParseUnary());
    }
    return MakeGroup(NodeKind::kAnd, std::move(terms), start);
  }

  NodePtr ParseUnary() {
    Token t = lexer_.Peek();
    // Bounds the recursion (and the evaluator's, which follows the tree).
    if (++depth_ > kMaxDepth) {
      throw SyntaxError{
          "nesting deeper than " + std::to_string(kMaxDepth) + " levels of NOT and parentheses",
          t.offset};
    }
    struct Leave {
      int* depth;
      ~Leave() { --*depth; }
    } leave{&depth_};
    if (IsKeyword(t, "NOT")) {
      lexer_.Next();
      Token next = lexer_.Peek();
      if (next.kind == TokenKind::kEnd || next.kind == TokenKind::kPipe ||
          next.kind == TokenKind::kRParen || IsKeyword(next, "AND") || IsKeyword(next, "OR")) {
        throw SyntaxError{"expected a filter after NOT", next.offset};
      }
      return Not(ParseUnary(), t.offset);
    }
    return ParsePrimary();
  }

  NodePtr Not(NodePtr child, size_t offset) {
    if (child->kind == NodeKind::kNot) return child->children[0];
    auto n = NewNode(offset);
    n->kind = NodeKind::kNot;
    n->children.push_back(std::move(child));
    return n;
  }

  NodePtr ParsePrimary() {
    Token t = lexer_.Next();
    switch (t.kind) {
      case TokenKind::kLParen: {
        Token next = lexer_.Peek();
        if (next.kind == TokenKind::kRParen) throw SyntaxError{"empty parentheses", t.offset};
        NodePtr inner = ParseOr();
        Token close = lexer_.Next();
        if (close.kind != TokenKind::kRParen) {
          if (close.kind == TokenKind::kError) Unexpected(close);
          // Points at the '(': "missing ')' to close the '(' at 1:1".
          throw SyntaxError{"missing ')' to close the '('", t.offset};
        }
        return inner;
      }
      case TokenKind::kString: return TextNode(t, /*quoted=*/true);
      case TokenKind::kWord: {
        if (t.text == "AND" || t.text == "OR") {
          throw SyntaxError{"expected a filter before " + t.text, t.offset};
        }
        Token next = lexer_.Peek();
        switch (next.kind) {
          case TokenKind::kEq:
          case TokenKind::kNe:
          case TokenKind::kLt:
          case TokenKind::kLe:
          case TokenKind::kGt:
          case TokenKind::kGe:
          case TokenKind::kTilde:
          case TokenKind::kColon: lexer_.Next(); return FieldFilter(t, next);
          default: return TextNode(t, /*quoted=*/false);
        }
      }
      default: Unexpected(t);
    }
  }

  NodePtr TextNode(const Token& t, bool quoted) {
    auto n = NewNode(t.offset);
    std::string_view text = t.text;
    if (!quoted && text == "*") {
      n->kind = NodeKind::kAll;
      return n;
    }
    if (!quoted && text.size() > 1 && text.back() == '*') {
      std::vector<std::string> words = index::Tokenize(text.substr(0, text.size() - 1));
      if (words.size() == 1 &&
          index::IsWordByte(static_cast<unsigned char>(text[text.size() - 2]))) {
        n->kind = NodeKind::kWord;
        n->words = std::move(words);
        n->word_prefix = true;
        return n;
      }
    }
    n->words = index::Tokenize(text);
    if (n->words.empty()) {
      throw SyntaxError{(quoted ? "phrase \"" + t.text + "\"" : Quote(t.text)) +
                            " has no letters or digits to search for",
                        t.offset};
    }
    n->kind = n->words.size() == 1 ? NodeKind::kWord : NodeKind::kPhrase;
    return n;
  }

  NodePtr FieldFilter(const Token& name, const Token& op) {
    Token v = lexer_.NextValue();
    if (v.kind == TokenKind::kError) Unexpected(v);
    if (v.kind == TokenKind::kEnd) {
      throw SyntaxError{"expected a value after " + std::string(TokenKindName(op.kind)), op.end};
    }
    // "service= level=ERROR": the value is missing, the next word is another filter.
    if (v.offset > op.end && v.kind == TokenKind::kWord && v.text.find('=') != std::string::npos) {
      throw SyntaxError{"expected a value after " + std::string(TokenKindName(op.kind)) + "; " +
                            Quote(v.text) + " is another filter",
                        op.end};
    }
    bool quoted = v.kind == TokenKind::kString;
    auto n = NewNode(name.offset);
    n->kind = NodeKind::kField;
    n->field_name = name.text;
    n->field = FieldIdOf(name.text);
    n->value = v.text;
    bool negate = false;
    switch (op.kind) {
      case TokenKind::kNe: negate = true; [[fallthrough]];
      case TokenKind::kEq:
        if (!quoted && v.text == "*") {
          n->op = FieldOp::kExists;
          n->value.clear();
        } else if (!quoted && v.text.size() > 1 && v.text.back() == '*') {
          n->op = FieldOp::kPrefix;
          n->value.pop_back();
        } else {
          n->op = FieldOp::kEq;
          if (n->field == FieldId::kLevel) n->level = LevelValue(v);
        }
        break;
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe:
        n->op = op.kind == TokenKind::kLt   ? FieldOp::kLt
                : op.kind == TokenKind::kLe ? FieldOp::kLe
                : op.kind == TokenKind::kGt ? FieldOp::kGt
                                            : FieldOp::kGe;
        if (n->field == FieldId::kLevel) {
          n->level = LevelValue(v);
        } else if (n->field == FieldId::kTs || n->field == FieldId::kIngestTs) {
          n->time_ns = ParseInstant(v.text);
          if (!n->time_ns) {
            throw SyntaxError{"expected a time (RFC 3339 or epoch) after " +
                                  std::string(TokenKindName(op.kind)) + ", got " + Quote(v.text),
                              v.offset};
          }
        } else {
          n->number = ParseNumber(v.text);
        }
        break;
      case TokenKind::kTilde:
        n->op = FieldOp::kRegex;
        n->regex = CompileRegex(v);
        break;
      case TokenKind::kColon:
        n->op = FieldOp::kGlob;
        // The wildcard matcher is O(text x pattern) at worst: keep the pattern short.
        if (v.text.size() > kMaxGlobBytes) {
          throw SyntaxError{"a wildcard pattern may be at most " + std::to_string(kMaxGlobBytes) +
                                " bytes long; use ~ with a regular expression instead",
                            v.offset};
        }
        // And all of them together: one line costs the sum.
        glob_bytes_ += v.text.size();
        if (glob_bytes_ > kMaxGlobBytesPerQuery) {
          throw SyntaxError{"the query's wildcard patterns are " + std::to_string(glob_bytes_) +
                                " bytes long together; at most " +
                                std::to_string(kMaxGlobBytesPerQuery) + " are allowed",
                            v.offset};
        }
        break;
      default: Unexpected(op);
    }
    if (negate) return Not(n, name.offset);
    return n;
  }

  // Compiles the value of a '~' filter within the regular-expression limits: the number of
  // alternatives, RE2's memory budget and the program size of this regex and of all of the
  // query's. The program size bounds the matcher's work per byte of text when RE2 has to fall
  // back from its DFA to the NFA (as nested quantifiers over long lines make it do).
  std::shared_ptr<const RE2> CompileRegex(const Token& v) {
    if (++regexes_ > kMaxRegexesPerQuery) {
      throw SyntaxError{"more than " + std::to_string(kMaxRegexesPerQuery) +
                            " regular expressions in one query; combine them into one with '|'",
                        v.offset};
    }
    size_t alternatives = CountAlternatives(v.text);
    if (alternatives > kMaxRegexAlternatives) {
      throw SyntaxError{"the regular expression " + QuoteShort(v.text) + " has " +
                            std::to_string(alternatives) + " alternatives ('|'); at most " +
                            std::to_string(kMaxRegexAlternatives) + " are allowed",
                        v.offset};
    }
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(kRegexMaxMem);
    auto re = std::make_shared<RE2>(v.text, options);
    if (re->error_code() == RE2::ErrorPatternTooLarge) {
      throw SyntaxError{"the regular expression " + QuoteShort(v.text) +
                            " is too large: it does not fit the " +
                            std::to_string(kRegexMaxMem >> 20) +
                            " MiB memory limit of a compiled regular expression",
                        v.offset};
    }
    if (!re->ok()) {
      throw SyntaxError{"invalid regular expression " + QuoteShort(v.text) + ": " + re->error(),
                        v.offset};
    }
    size_t program = static_cast<size_t>(std::max(0, re->ProgramSize()));
    if (program > kMaxRegexProgram) {
      throw SyntaxError{"the regular expression " + QuoteShort(v.text) + " compiles to " +
                            std::to_string(program) + " instructions; at most " +
                            std::to_string(kMaxRegexProgram) +
                            " are allowed (fewer alternatives or smaller repetition counts)",
                        v.offset};
    }
    regex_program_ += program;
    if (regex_program_ > kMaxQueryRegexProgram) {
      throw SyntaxError{"the query's regular expressions compile to " +
                            std::to_string(regex_program_) + " instructions together; at most " +
                            std::to_string(kMaxQueryRegexProgram) + " are allowed",
                        v.offset};
    }
    return re;
  }

  // The alternatives of a regular expression: one plus each '|' that is neither escaped nor
  // inside a character class.
  static size_t CountAlternatives(std::string_view re) {
    size_t bars = 0;
    bool in_class = false;
    for (size_t i = 0; i < re.size(); ++i) {
      char c = re[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
        // A ']' right after '[' or '[^' is a member, not the end of the class.
        if (i + 1 < re.size() && re[i + 1] == '^') ++i;
        if (i + 1 < re.size() && re[i + 1] == ']') ++i;
      } else if (c == '|') {
        ++bars;
      }
    }
    return bars + 1;
  }

  // An error message quotes at most this much of a value: a 32 KiB regex is not echoed whole.
  static std::string QuoteShort(std::string_view text) {
    constexpr size_t kMaxQuoted = 60;
    if (text.size() <= kMaxQuoted) return Quote(text);
    return Quote(std::string(text.substr(0, kMaxQuoted)) + "...") + " (" +
           std::to_string(text.size()) + " bytes)";
  }

  Level LevelValue(const Token& v) {
    std::optional<Level> level = ParseLevel(v.text);
    if (!level) {
      if (v.text == "UNKNOWN" || v.text == "unknown") return Level::kUnknown;
      throw SyntaxError{"unknown level " + Quote(v.text) +
                            "; expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL or UNKNOWN",
                        v.offset};
    }
    return *level;
  }

  Token ExpectWord(std::string_view what) {
    Token t = lexer_.Next();
    if (t.kind == TokenKind::kError) Unexpected(t);
    if (t.kind != TokenKind::kWord && t.kind != TokenKind::kString) {
      throw SyntaxError{"expected " + std::string(what), t.offset};
    }
    return t;
  }

  int64_t ExpectCount(std::string_view after) {
    Token t = lexer_.Next();
    int64_t n = 0;
    bool ok = t.kind == TokenKind::kWord && !t.text.empty() && t.text.size() <= 9;
    for (char c : t.text) ok = ok && c >= '0' && c <= '9';
    if (ok) n = std::strtoll(t.text.c_str(), nullptr, 10);
    if (!ok || n <= 0) {
      throw SyntaxError{"expected a positive number after '" + std::string(after) + "'", t.offset};
    }
    return n;
  }

  std::vector<std::string> FieldList(std::string_view after) {
    std::vector<std::string> out;
    out.push_back(ExpectWord("a field name after '" + std::string(after) + "'").text);
    while (lexer_.Peek().kind == TokenKind::kComma) {
      lexer_.Next();
      out.push_back(ExpectWord("a field name after ','").text);
    }
    return out;
  }

  Pipe ParsePipe(const Token& bar) {
    Pipe p;
    Token name = lexer_.Next();
    p.offset = name.offset;
    if (name.kind != TokenKind::kWord) {
      throw SyntaxError{"expected a pipe after '|': count, top, uniq, fields, head or sort",
                        name.offset};
    }
    (void)bar;
    const std::string& kw = name.text;
    if (kw == "count" || kw == "bytes") {
      p.kind = PipeKind::kCount;
      p.bytes = kw == "bytes";
      if (IsKeyword(lexer_.Peek(), "by")) {
        lexer_.Next();
        do {
          if (!p.group_by.empty()) lexer_.Next();  // the comma
          Token f = ExpectWord("a field name or bucket(...) after 'by'");
          GroupKey key;
          key.name = f.text;
          if (f.kind == TokenKind::kWord && (f.text == "bucket" || f.text == "bucket_end") &&
              lexer_.Peek().kind == TokenKind::kLParen) {
            key.bucket_end = f.text == "bucket_end";
            lexer_.Next();
            Token d = lexer_.Next();
            std::optional<int64_t> width =
                d.kind == TokenKind::kWord ? ParseDuration(d.text) : std::nullopt;
            if (!width) {
              throw SyntaxError{"expected a duration like 1m, 5m or 1h in " + f.text + "(...)",
                                d.offset};
            }
            Token close = lexer_.Next();
            if (close.kind != TokenKind::kRParen) {
              throw SyntaxError{"expected ')' after the bucket width", close.offset};
            }
            key.bucket_ns = *width;
          }
          p.group_by.push_back(std::move(key));
        } while (lexer_.Peek().kind == TokenKind::kComma);
      }
    } else if (kw == "top") {
      p.kind = PipeKind::kTop;
      Token t = lexer_.Peek();
      p.n = 10;
      if (t.kind == TokenKind::kWord && !t.text.empty() && t.text[0] >= '0' && t.text[0] <= '9') {
        p.n = ExpectCount("top");
      }
      p.fields.push_back(ExpectWord("a field name after 'top'").text);
    } else if (kw == "uniq") {
      p.kind = PipeKind::kUniq;
      p.fields = FieldList("uniq");
    } else if (kw == "fields") {
      p.kind = PipeKind::kFields;
      p.fields = FieldList("fields");
    } else if (kw == "head" || kw == "limit") {
      p.kind = PipeKind::kHead;
      p.n = ExpectCount(kw);
    } else if (kw == "sort") {
      p.kind = PipeKind::kSort;
      Token by = lexer_.Next();
      if (!IsKeyword(by, "by")) throw SyntaxError{"expected 'by' after 'sort'", by.offset};
      do {
        if (!p.sort.empty()) lexer_.Next();
        SortKey key;
        key.column = ExpectWord("a column name after 'sort by'").text;
        Token dir = lexer_.Peek();
        if (IsKeyword(dir, "desc") || IsKeyword(dir, "asc")) {
          key.descending = dir.text == "desc";
          lexer_.Next();
        }
        p.sort.push_back(std::move(key));
      } while (lexer_.Peek().kind == TokenKind::kComma);
    } else {
      throw SyntaxError{
          "unknown pipe " + Quote(kw) + "; expected count, bytes, top, uniq, fields, head or sort",
          name.offset};
    }
    Token end = lexer_.Peek();
    if (end.kind != TokenKind::kEnd && end.kind != TokenKind::kPipe) Unexpected(end);
    return p;
  }

  void Validate(const Query& q) {
    bool aggregated = false;
    const Pipe* row_stage = nullptr;  // head or fields seen before any aggregation
    for (const Pipe& p : q.pipes) {
      switch (p.kind) {
        case PipeKind::kCount:
        case PipeKind::kTop:
        case PipeKind::kUniq:
          if (aggregated) {
            throw SyntaxError{"only one of count, bytes, top and uniq may appear in a query",
                              p.offset};
          }
          if (row_stage != nullptr) {
            // Aggregations see every matching line, so a head or fields before them would be
            // silently ignored: say so instead.
            throw SyntaxError{std::string(row_stage->kind == PipeKind::kHead ? "head" : "fields") +
                                  " before count, top or uniq has no effect; put it after",
                              row_stage->offset};
          }
          aggregated = true;
          break;
        case PipeKind::kHead:
        case PipeKind::kFields:
          if (!aggregated && row_stage == nullptr) row_stage = &p;
          break;
        case PipeKind::kSort:
          if (!aggregated) {
            throw SyntaxError{
                "sort needs count, top or uniq before it (hits are always newest first)", p.offset};
          }
          break;
        default: break;
      }
    }
  }

  static constexpr int kMaxDepth = 100;
  static constexpr size_t kMaxGlobBytes = 256;
  static constexpr size_t kMaxQueryBytes = kMaxQueryTextBytes;
  static constexpr size_t kMaxNodes = kMaxFilterNodes;
  static constexpr size_t kMaxOrBranches = kMaxOrAlternatives;
  static constexpr size_t kMaxRegexAlternatives = kMaxRegexAlternativesPerRegex;
  static constexpr size_t kMaxRegexProgram = kMaxRegexProgramPerRegex;
  static constexpr size_t kMaxQueryRegexProgram = kMaxRegexProgramPerQuery;
  static constexpr int64_t kRegexMaxMem = kRegexMaxMemBytes;

  std::string_view text_;
  Lexer lexer_;
  int depth_ = 0;
  size_t nodes_ = 0;          // filter nodes made so far
  size_t regex_program_ = 0;  // RE2 instructions of the regexes compiled so far
  size_t regexes_ = 0;        // regexes compiled so far
  size_t glob_bytes_ = 0;     // wildcard pattern bytes so far
};

void FillPosition(std::string_view text, size_t offset, ParseError* error) {
  error->offset = offset;
  error->line = 1;
  error->column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++error->line;
      error->column = 1;
    } else {
      ++error->column;
    }
  }
}

}  // namespace

std::string ParseError::Pretty(std::string_view query) const {
  size_t line_start = offset <= query.size() ? query.rfind('\n', offset == 0 ? 0 : offset - 1)
                                             : std::string_view::npos;
  if (offset == 0 || line_start == std::string_view::npos) {
    line_start = 0;
  } else {
    line_start += 1;
  }
  if (offset > 0 && offset <= query.size() && query[offset - 1] == '\n') line_start = offset;
  size_t line_end = query.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = query.size();
  std::string out(query.substr(line_start, line_end - line_start));
  out.push_back('\n');
  out.append(offset >= line_start ? offset - line_start : 0, ' ');
  out.push_back('^');
  return out;
}

bool Parse(std::string_view text, Query* out, ParseError* error) {
  try {
    Parser parser(text);
    *out = parser.ParseAll();
    return true;
  } catch (const SyntaxError& e) {
    FillPosition(text, e.offset, error);
    error->message =
        e.message + " at " + std::to_string(error->line) + ":" + std::to_string(error->column);
    return false;
  }
}

Result<Query> ParseQuery(std::string_view text) {
  Query q;
  ParseError error;
  if (!Parse(text, &q, &error)) {
    return Status::InvalidArgument(error.message + "\n" + error.Pretty(text));
  }
  return q;
}

}  // namespace sawmill::query
