#include "logql/logql.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>

#include "common/time_format.h"
#include "query/aggregator.h"
#include "query/time_range.h"
#include "query/units.h"

namespace sawmill::logql {

namespace {

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok { kEnd, kIdent, kString, kNumber, kPunct };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // ident, punct, number text; the string's decoded value
  size_t offset = 0;
};

struct SyntaxError {
  std::string message;
  size_t offset;
};

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':';
}

std::vector<Token> Lex(std::string_view text) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '#') {  // a comment runs to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    Token t;
    t.offset = i;
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < text.size() && IsIdentChar(text[j])) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(text.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < text.size() &&
                std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      // Numbers, durations (5m, 1h30m, 500ms) and byte sizes (10KB) are one token.
      size_t j = i;
      while (j < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '.' ||
              ((text[j] == '+' || text[j] == '-') && j > i &&
               (text[j - 1] == 'e' || text[j - 1] == 'E')))) {
        ++j;
      }
      t.kind = Tok::kNumber;
      t.text = std::string(text.substr(i, j - i));
      i = j;
    } else if (c == '"' || c == '`') {
      const char quote = c;
      size_t j = i + 1;
      std::string value;
      bool closed = false;
      while (j < text.size()) {
        char d = text[j];
        if (d == quote) {
          closed = true;
          ++j;
          break;
        }
        if (d == '\\' && quote == '"') {
          if (j + 1 >= text.size()) break;
          char e = text[j + 1];
          switch (e) {
            case 'n': value.push_back('\n'); break;
            case 't': value.push_back('\t'); break;
            case 'r': value.push_back('\r'); break;
            case '"': value.push_back('"'); break;
            case '\\': value.push_back('\\'); break;
            case 'a': value.push_back('\a'); break;
            case 'b': value.push_back('\b'); break;
            case 'f': value.push_back('\f'); break;
            case 'v': value.push_back('\v'); break;
            default:
              throw SyntaxError{std::string("unknown escape sequence '\\") + e + "' in a string",
                                j};
          }
          j += 2;
          continue;
        }
        value.push_back(d);
        ++j;
      }
      if (!closed) throw SyntaxError{"unterminated string", i};
      t.kind = Tok::kString;
      t.text = std::move(value);
      i = j;
    } else {
      static const char* const kPuncts[] = {
          "|=", "|~", "|>", "!=", "!~", "!>", "=~", "==", ">=", "<=", "{", "}", "(", ")",
          "[",  "]",  ",",  "=",  "|",  ">",  "<",  "+",  "-",  "*",  "/", "%", "^"};
      bool found = false;
      for (const char* p : kPuncts) {
        std::string_view ps(p);
        if (text.substr(i, ps.size()) == ps) {
          t.kind = Tok::kPunct;
          t.text = std::string(ps);
          i += ps.size();
          found = true;
          break;
        }
      }
      if (!found) throw SyntaxError{std::string("unexpected character '") + c + "'", i};
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.offset = text.size();
  out.push_back(end);
  return out;
}

}  // namespace

std::optional<int64_t> ParsePromDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i) return std::nullopt;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + j, n);
    if (ec != std::errc() || p != text.data() + j) return std::nullopt;
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    std::string_view unit = text.substr(j, k - j);
    int64_t mult = 0;
    if (unit == "ms")
      mult = 1'000'000;
    else if (unit == "s")
      mult = 1'000'000'000;
    else if (unit == "m")
      mult = 60'000'000'000;
    else if (unit == "h")
      mult = 3'600'000'000'000;
    else if (unit == "d")
      mult = 86'400'000'000'000;
    else if (unit == "w")
      mult = 7 * 86'400'000'000'000;
    else if (unit == "y")
      mult = 365 * 86'400'000'000'000;
    else
      return std::nullopt;
    if (n > INT64_MAX / mult || total > INT64_MAX - n * mult) return std::nullopt;
    total += n * mult;
    i = k;
  }
  return total;
}

namespace {

bool IsNumber(std::string_view text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && p == text.data() + text.size();
}

// ---------------------------------------------------------------------------------------------
// Native text

std::string Quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Paren(const std::string& s) { return "(" + s + ")"; }

std::string Not(const std::string& s) { return "NOT " + Paren(s); }

std::string Join(const std::vector<std::string>& parts, std::string_view op) {
  if (parts.size() == 1) return parts[0];
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += std::string(" ") + std::string(op) + " ";
    out += Paren(p);
  }
  return out;
}

bool RegexMatchesEmpty(const RE2& re) { return RE2::PartialMatch("", re); }

enum class MatchOp { kEq, kNe, kRe, kNre };

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), toks_(Lex(text)) {}

  Expr ParseTop() {
    Expr expr;
    if (Peek().kind == Tok::kPunct && Peek().text == "{") {
      expr.log = ParseLog();
    } else {
      expr.is_metric = true;
      expr.metric = ParseMetric();
    }
    if (Peek().kind != Tok::kEnd) {
      const Token& t = Peek();
      if (t.kind == Tok::kPunct &&
          (t.text == "+" || t.text == "-" || t.text == "*" || t.text == "/" || t.text == "%" ||
           t.text == "^" || t.text == "==" || t.text == "!=" || t.text == ">" || t.text == "<" ||
           t.text == ">=" || t.text == "<=")) {
        Unsupported("the binary operator '" + t.text + "'", t.offset);
      }
      if (t.kind == Tok::kIdent && (t.text == "and" || t.text == "or" || t.text == "unless")) {
        Unsupported("the set operator '" + t.text + "'", t.offset);
      }
      Fail("unexpected '" + TokText(t) + "' after the end of the query", t.offset);
    }
    return expr;
  }

  Selector ParseSelectorOnly() {
    LogQuery log = ParseLog();
    if (!log.formats.empty()) Unsupported("line_format/label_format here", 0);
    if (Peek().kind != Tok::kEnd) Fail("unexpected '" + TokText(Peek()) + "'", Peek().offset);
    return Selector{log.native, selector_labels_};
  }

  [[noreturn]] static void Fail(std::string message, size_t offset) {
    throw SyntaxError{std::move(message), offset};
  }
  [[noreturn]] static void Unsupported(const std::string& what, size_t offset) {
    throw SyntaxError{what + " is not supported by Sawmill's LogQL (see docs/loki-api.md)", offset};
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }
  Token Next() {
    Token t = Peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  static std::string TokText(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: return "end of query";
      case Tok::kString: return "\"" + t.text + "\"";
      default: return t.text;
    }
  }
  bool IsPunct(std::string_view p, size_t ahead = 0) const {
    return Peek(ahead).kind == Tok::kPunct && Peek(ahead).text == p;
  }
  bool IsIdent(std::string_view w, size_t ahead = 0) const {
    return Peek(ahead).kind == Tok::kIdent && Peek(ahead).text == w;
  }
  Token Expect(std::string_view p, std::string_view what) {
    if (!IsPunct(p)) {
      Fail("expected " + std::string(what) + ", got '" + TokText(Peek()) + "'", Peek().offset);
    }
    return Next();
  }
  Token ExpectKind(Tok kind, std::string_view what) {
    if (Peek().kind != kind) {
      Fail("expected " + std::string(what) + ", got '" + TokText(Peek()) + "'", Peek().offset);
    }
    return Next();
  }

  // A regex compiled as RE2 would (Loki's regexes are Go's RE2 syntax).
  std::unique_ptr<RE2> Compile(const std::string& pattern, size_t offset) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(pattern, options);
    if (!re->ok()) Fail("invalid regular expression: " + re->error(), offset);
    return re;
  }

  // A label matcher or a string label filter as native text.
  std::string Matcher(const std::string& label, MatchOp op, const std::string& value,
                      size_t value_offset) {
    const std::string field = FieldOfLabel(label);
    const bool is_level = field == "level";
    std::string positive;
    if (op == MatchOp::kEq || op == MatchOp::kNe) {
      if (value.empty()) {
        positive = "NOT " + field + "=*";  // Loki: a label equal to "" is an absent label
      } else if (is_level) {
        std::optional<Level> level = ParseLevel(value);
        positive = level ? "level=" + std::string(LevelName(*level))
                         : "level~" + Quote("(?i)^" + RE2::QuoteMeta(value) + "$");
      } else {
        positive = field + "=" + Quote(value);
      }
    } else {
      // Loki's matchers are anchored at both ends; level names are matched case-insensitively.
      std::string anchored = (is_level ? "(?i)" : "") + std::string("^(?:") + value + ")$";
      auto re = Compile(anchored, value_offset);
      positive = field + "~" + Quote(anchored);
      if (RegexMatchesEmpty(*re)) positive = Paren(positive) + " OR NOT " + field + "=*";
    }
    return op == MatchOp::kEq || op == MatchOp::kRe ? positive : Not(positive);
  }

  MatchOp ParseMatchOp(std::string_view what) {
    const Token& t = Peek();
    if (t.kind == Tok::kPunct) {
      if (t.text == "=") return Next(), MatchOp::kEq;
      if (t.text == "!=") return Next(), MatchOp::kNe;
      if (t.text == "=~") return Next(), MatchOp::kRe;
      if (t.text == "!~") return Next(), MatchOp::kNre;
    }
    Fail("expected =, !=, =~ or !~ " + std::string(what) + ", got '" + TokText(t) + "'", t.offset);
  }

  std::string ParseSelectorBraces() {
    Expect("{", "'{' to start a stream selector");
    std::vector<std::string> parts;
    while (!IsPunct("}")) {
      Token name = ExpectKind(Tok::kIdent, "a label name");
      if (std::find(selector_labels_.begin(), selector_labels_.end(), name.text) ==
          selector_labels_.end()) {
        selector_labels_.push_back(name.text);
      }
      MatchOp op = ParseMatchOp("after the label name");
      Token value = ExpectKind(Tok::kString, "a quoted label value");
      parts.push_back(Matcher(name.text, op, value.text, value.offset));
      if (IsPunct(",")) {
        Next();
        continue;
      }
      if (!IsPunct("}")) Fail("expected ',' or '}', got '" + TokText(Peek()) + "'", Peek().offset);
    }
    Next();
    return parts.empty() ? std::string() : Join(parts, "AND");
  }

  std::string LineContains(const std::string& s, bool regex, size_t offset) {
    if (!regex) return s.empty() ? std::string() : "message~" + Quote(RE2::QuoteMeta(s));
    auto re = Compile(s, offset);
    std::string positive = "message~" + Quote(s);
    if (RegexMatchesEmpty(*re)) positive = Paren(positive) + " OR NOT message=*";
    return positive;
  }

  // |= "a" or "b" ...
  void ParseLineFilter(std::vector<std::string>* parts, bool after_format) {
    Token op = Next();
    if (op.text == "|>" || op.text == "!>")
      Unsupported("the pattern line filter '" + op.text + "'", op.offset);
    if (after_format) Unsupported("a line filter after line_format or label_format", op.offset);
    const bool negated = op.text[0] == '!';
    const bool regex = op.text[1] == '~';
    std::vector<std::string> alternatives;
    bool all = false;
    while (true) {
      if (IsIdent("ip")) Unsupported("the ip() line filter", Peek().offset);
      Token value = ExpectKind(Tok::kString, "a quoted string after '" + op.text + "'");
      std::string one = LineContains(value.text, regex, value.offset);
      if (one.empty())
        all = true;
      else
        alternatives.push_back(one);
      if (!IsIdent("or")) break;
      Next();
    }
    if (all) {
      // Contains "": every line. Negated, no line.
      if (negated) parts->push_back("NOT *");
      return;
    }
    std::string positive = Join(alternatives, "OR");
    parts->push_back(negated ? Not(positive) : positive);
  }

  // Label filter expression after '|'.
  std::string ParseLabelOr() {
    std::vector<std::string> parts{ParseLabelAnd()};
    while (IsIdent("or")) {
      Next();
      parts.push_back(ParseLabelAnd());
    }
    return Join(parts, "OR");
  }
  std::string ParseLabelAnd() {
    std::vector<std::string> parts{ParseLabelPrimary()};
    while (true) {
      if (IsIdent("and") || IsPunct(",")) {
        Next();
      } else if (!(Peek().kind == Tok::kIdent && Peek().text != "or" &&
                   Peek(1).kind == Tok::kPunct && Peek(1).text != "|" && Peek(1).text != "(")) {
        break;
      }
      parts.push_back(ParseLabelPrimary());
    }
    std::vector<std::string> nonempty;
    for (auto& p : parts) {
      if (!p.empty()) nonempty.push_back(p);
    }
    if (nonempty.empty()) return std::string();
    return Join(nonempty, "AND");
  }
  std::string ParseLabelPrimary() {
    if (IsPunct("(")) {
      Next();
      std::string inner = ParseLabelOr();
      Expect(")", "')'");
      return inner.empty() ? "*" : inner;
    }
    Token name = ExpectKind(Tok::kIdent, "a label name in a label filter");
    const Token& opt = Peek();
    if (opt.kind != Tok::kPunct)
      Fail("expected a comparison after '" + name.text + "'", opt.offset);
    std::string op = opt.text;
    if (op != "=" && op != "!=" && op != "=~" && op != "!~" && op != "==" && op != ">" &&
        op != ">=" && op != "<" && op != "<=") {
      Fail("expected a comparison after '" + name.text + "', got '" + op + "'", opt.offset);
    }
    Next();
    const Token& value = Peek();
    if (name.text == "__error__" || name.text == "__error_details__") {
      Token v = ExpectKind(Tok::kString, "a quoted value");
      // Sawmill fields are parsed at ingestion: no line has a parsing error.
      if (op == "=" && v.text.empty()) return std::string();
      Unsupported("a filter on " + name.text + " other than " + name.text + "=\"\"", name.offset);
    }
    if (value.kind == Tok::kString) {
      if (op != "=" && op != "!=" && op != "=~" && op != "!~") {
        Fail("'" + op + "' compares numbers, durations or byte sizes, not a quoted string",
             opt.offset);
      }
      Token v = Next();
      MatchOp mop = op == "="    ? MatchOp::kEq
                    : op == "!=" ? MatchOp::kNe
                    : op == "=~" ? MatchOp::kRe
                                 : MatchOp::kNre;
      return Matcher(name.text, mop, v.text, v.offset);
    }
    if (value.kind != Tok::kNumber) {
      Fail("expected a quoted string or a number after '" + op + "', got '" + TokText(value) + "'",
           value.offset);
    }
    Token v = Next();
    // A number, a duration (Go's syntax: 10s, 1.5m, 1h30m, 250ms) or a byte size (go-humanize's:
    // 1KB, 10KiB, 5MB): the native comparison of the same kind (query/units.h), quoted.
    std::string literal = v.text;
    if (!IsNumber(v.text)) {
      if (!query::ParseGoDuration(v.text) && !query::ParseByteSize(v.text)) {
        Fail(
            "expected a number, a duration (like 10s or 1h30m) or a byte size (like 1KB or "
            "2MiB), got '" +
                v.text + "'",
            v.offset);
      }
      literal = Quote(v.text);
    }
    if (op == "=~" || op == "!~") Fail("a regular expression must be a quoted string", v.offset);
    const std::string field = FieldOfLabel(name.text);
    if (field == "level") Unsupported("a numeric comparison on level", name.offset);
    if (op == "=" || op == "==" || op == "!=") {
      std::string eq = field + ">=" + literal + " AND " + field + "<=" + literal;
      return op == "!=" ? Not(eq) : eq;
    }
    return field + op + literal;
  }

  Template ParseTemplate(const Token& t) {
    Template out;
    const std::string& s = t.text;
    size_t i = 0;
    std::string literal;
    while (i < s.size()) {
      size_t open = s.find("{{", i);
      if (open == std::string::npos) {
        literal += s.substr(i);
        break;
      }
      literal += s.substr(i, open - i);
      size_t close = s.find("}}", open + 2);
      if (close == std::string::npos) Fail("unterminated '{{' in a template", t.offset);
      std::string action = s.substr(open + 2, close - open - 2);
      // Trim spaces and the "-" whitespace trimmers.
      auto trim = [](std::string& a) {
        while (!a.empty() && (a.front() == ' ' || a.front() == '-')) a.erase(a.begin());
        while (!a.empty() && (a.back() == ' ' || a.back() == '-')) a.pop_back();
      };
      trim(action);
      std::string name;
      if (action == "__line__") {
        name = "__line__";
      } else if (action.size() > 1 && action[0] == '.') {
        name = action.substr(1);
        for (char c : name) {
          if (!IsIdentChar(c)) {
            Unsupported(
                "the template action '{{" + action + "}}' (only {{.label}} and {{__line__}})",
                t.offset);
          }
        }
      } else {
        Unsupported("the template action '{{" + action + "}}' (only {{.label}} and {{__line__}})",
                    t.offset);
      }
      if (!literal.empty()) out.pieces.push_back({false, std::move(literal)});
      literal.clear();
      out.pieces.push_back({true, std::move(name)});
      i = close + 2;
    }
    if (!literal.empty()) out.pieces.push_back({false, std::move(literal)});
    return out;
  }

  // After the selector: the pipeline stages. Stops at anything else ('[', ')', end).
  void ParsePipeline(LogQuery* log, std::vector<std::string>* parts) {
    while (true) {
      const Token& t = Peek();
      if (t.kind != Tok::kPunct) return;
      if (t.text == "|=" || t.text == "!=" || t.text == "|~" || t.text == "!~" || t.text == "|>" ||
          t.text == "!>") {
        ParseLineFilter(parts, !log->formats.empty());
        continue;
      }
      if (t.text != "|") return;
      Next();
      const Token& s = Peek();
      if (s.kind == Tok::kIdent && (s.text == "json" || s.text == "logfmt")) {
        Token stage = Next();
        if (Peek().kind == Tok::kIdent && !(IsIdent("or") || IsIdent("and")) &&
            (IsPunct("=", 1) || IsPunct(",", 1))) {
          Unsupported("'" + stage.text + "' with parameters", Peek().offset);
        }
        if (IsPunct("-")) Unsupported("'" + stage.text + "' flags", Peek().offset);
        log->parsed = true;
        continue;
      }
      if (s.kind == Tok::kIdent && s.text == "line_format") {
        Next();
        Token tmpl = ExpectKind(Tok::kString, "a quoted template after line_format");
        FormatStage stage;
        stage.line = true;
        stage.line_template = ParseTemplate(tmpl);
        log->formats.push_back(std::move(stage));
        continue;
      }
      if (s.kind == Tok::kIdent && s.text == "label_format") {
        Next();
        FormatStage stage;
        while (true) {
          Token dst = ExpectKind(Tok::kIdent, "a label name in label_format");
          Expect("=", "'=' in label_format");
          FormatStage::LabelAssign assign;
          assign.dst = dst.text;
          if (Peek().kind == Tok::kIdent) {
            assign.rename = true;
            assign.src = Next().text;
          } else {
            Token tmpl = ExpectKind(Tok::kString, "a label name or a quoted template");
            assign.value = ParseTemplate(tmpl);
          }
          stage.labels.push_back(std::move(assign));
          if (!IsPunct(",")) break;
          Next();
        }
        log->formats.push_back(std::move(stage));
        continue;
      }
      if (s.kind == Tok::kIdent &&
          (s.text == "unwrap" || s.text == "regexp" || s.text == "pattern" || s.text == "unpack" ||
           s.text == "decolorize" || s.text == "drop" || s.text == "keep" || s.text == "distinct" ||
           s.text == "label_replace")) {
        Unsupported("the '| " + s.text + "' stage", s.offset);
      }
      if ((s.kind == Tok::kIdent && Peek(1).kind == Tok::kPunct) || IsPunct("(")) {
        if (!log->formats.empty()) {
          Unsupported("a label filter after line_format or label_format", s.offset);
        }
        std::string filter = ParseLabelOr();
        if (!filter.empty()) parts->push_back(filter);
        continue;
      }
      Fail("expected a parser, a formatter or a label filter after '|', got '" + TokText(s) + "'",
           s.offset);
    }
  }

  LogQuery ParseLog(int64_t* range_ns = nullptr, size_t* range_offset = nullptr) {
    LogQuery log;
    std::vector<std::string> parts;
    std::string selector = ParseSelectorBraces();
    if (!selector.empty()) parts.push_back(selector);
    if (range_ns != nullptr && IsPunct("[")) ParseRange(range_ns, range_offset);
    ParsePipeline(&log, &parts);
    log.native = parts.empty() ? "*" : Join(parts, "AND");
    return log;
  }

  void ParseRange(int64_t* range_ns, size_t* range_offset) {
    Token open = Expect("[", "'['");
    if (*range_ns != 0) Fail("a second range", open.offset);
    Token d = ExpectKind(Tok::kNumber, "a duration like 5m in [...]");
    auto ns = ParsePromDuration(d.text);
    if (!ns || *ns <= 0) Fail("expected a duration like 5m, got '" + d.text + "'", d.offset);
    if (IsPunct(":")) Unsupported("a subquery", Peek().offset);
    Expect("]", "']' after the range");
    *range_ns = *ns;
    *range_offset = open.offset;
    if (IsIdent("offset")) Unsupported("offset", Peek().offset);
  }

  Grouping ParseGrouping() {
    Grouping g;
    Token kw = Next();
    g.present = true;
    g.without = kw.text == "without";
    Expect("(", "'(' after '" + kw.text + "'");
    while (!IsPunct(")")) {
      Token l = ExpectKind(Tok::kIdent, "a label name");
      g.labels.push_back(l.text);
      if (IsPunct(",")) {
        Next();
        continue;
      }
      if (!IsPunct(")")) Fail("expected ',' or ')', got '" + TokText(Peek()) + "'", Peek().offset);
    }
    Next();
    return g;
  }

  std::shared_ptr<const MetricNode> ParseMetric() {
    const Token& t = Peek();
    if (IsPunct("(")) {
      Next();
      auto inner = ParseMetric();
      Expect(")", "')'");
      return inner;
    }
    if (t.kind == Tok::kNumber) Unsupported("a scalar or binary expression", t.offset);
    if (t.kind != Tok::kIdent) {
      Fail("expected a stream selector '{...}' or a metric expression, got '" + TokText(t) + "'",
           t.offset);
    }
    static const std::pair<const char*, RangeFn> kRange[] = {
        {"count_over_time", RangeFn::kCountOverTime},
        {"rate", RangeFn::kRate},
        {"bytes_over_time", RangeFn::kBytesOverTime},
        {"bytes_rate", RangeFn::kBytesRate}};
    static const std::pair<const char*, VectorOp> kVector[] = {
        {"sum", VectorOp::kSum},        {"avg", VectorOp::kAvg},     {"min", VectorOp::kMin},
        {"max", VectorOp::kMax},        {"count", VectorOp::kCount}, {"topk", VectorOp::kTopk},
        {"bottomk", VectorOp::kBottomk}};
    for (const auto& [name, fn] : kRange) {
      if (t.text != name) continue;
      Token fn_tok = Next();
      auto node = std::make_shared<MetricNode>();
      node->is_range = true;
      node->fn = fn;
      Expect("(", "'(' after '" + fn_tok.text + "'");
      size_t range_offset = 0;
      if (IsPunct("(")) {
        Next();
        node->log = ParseLog();
        Expect(")", "')'");
      } else {
        node->log = ParseLog(&node->range_ns, &range_offset);
      }
      if (IsPunct("[")) ParseRange(&node->range_ns, &range_offset);
      if (node->range_ns == 0) {
        Fail("expected a range like [5m] in " + fn_tok.text + "(...)", Peek().offset);
      }
      Expect(")", "')' to close " + fn_tok.text + "(");
      if (IsIdent("by") || IsIdent("without")) {
        Unsupported("grouping on a range aggregation", Peek().offset);
      }
      return node;
    }
    for (const auto& [name, op] : kVector) {
      if (t.text != name) continue;
      Token op_tok = Next();
      auto node = std::make_shared<MetricNode>();
      node->is_range = false;
      node->op = op;
      if (IsIdent("by") || IsIdent("without")) node->grouping = ParseGrouping();
      Expect("(", "'(' after '" + op_tok.text + "'");
      if (op == VectorOp::kTopk || op == VectorOp::kBottomk) {
        Token k = ExpectKind(Tok::kNumber, "the number of series k");
        int64_t kv = 0;
        auto [p, ec] = std::from_chars(k.text.data(), k.text.data() + k.text.size(), kv);
        if (ec != std::errc() || p != k.text.data() + k.text.size() || kv <= 0) {
          Fail("expected a positive integer k, got '" + k.text + "'", k.offset);
        }
        node->k = kv;
        Expect(",", "',' after k");
      }
      if (IsPunct("{"))
        Fail("expected a metric expression (a log query has no values to " + op_tok.text + ")",
             Peek().offset);
      node->child = ParseMetric();
      Expect(")", "')' to close " + op_tok.text + "(");
      if (IsIdent("by") || IsIdent("without")) {
        if (node->grouping.present) Fail("a second grouping", Peek().offset);
        node->grouping = ParseGrouping();
      }
      return node;
    }
    Unsupported("the function '" + t.text + "'", t.offset);
  }

  std::string_view text_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::vector<std::string> selector_labels_;
};

Status ErrorAt(std::string_view text, const SyntaxError& e) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < e.offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return Status::InvalidArgument("logql: " + e.message + " at " + std::to_string(line) + ":" +
                                 std::to_string(e.offset - line_start + 1));
}

// ---------------------------------------------------------------------------------------------
// Formatting

std::string LowerLevel(Level level) {
  std::string out(LevelName(level));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Render(const Template& t, const Labels& labels, const std::string& line) {
  std::string out;
  for (const Template::Piece& p : t.pieces) {
    if (!p.is_field) {
      out += p.text;
    } else if (p.text == "__line__") {
      out += line;
    } else {
      auto it = labels.find(p.text);
      if (it == labels.end()) it = labels.find(FieldOfLabel(p.text));
      if (it != labels.end()) out += it->second;
    }
  }
  return out;
}

}  // namespace

std::string FieldOfLabel(std::string_view label) {
  if (label == "service_name") return "service";
  if (label == "detected_level") return "level";
  if (label == "msg") return "message";
  return std::string(label);
}

Result<Expr> Parse(std::string_view text) {
  try {
    Parser parser(text);
    return parser.ParseTop();
  } catch (const SyntaxError& e) {
    return ErrorAt(text, e);
  }
}

Result<Selector> ParseSelector(std::string_view text) {
  try {
    Parser parser(text);
    return parser.ParseSelectorOnly();
  } catch (const SyntaxError& e) {
    return ErrorAt(text, e);
  }
}

Labels StreamLabels(const Record& record, bool parsed) {
  Labels labels;
  if (!record.service.empty()) labels["service"] = record.service;
  if (!record.host.empty()) labels["host"] = record.host;
  if (record.level != Level::kUnknown) labels["level"] = LowerLevel(record.level);
  if (parsed) {
    if (!record.trace_id.empty()) labels["trace_id"] = record.trace_id;
    if (!record.span_id.empty()) labels["span_id"] = record.span_id;
    if (!record.user_id.empty()) labels["user_id"] = record.user_id;
    for (const auto& [key, value] : record.fields) {
      if (!value.empty()) labels.emplace(key, value);
    }
  }
  return labels;
}

void FormatEntry(const LogQuery& log, const Record& record, Labels* labels, std::string* line) {
  *labels = StreamLabels(record, log.parsed);
  *line = record.message;
  if (log.formats.empty()) return;
  // Templates see every field, as after "| json" (Sawmill parsed them at ingestion).
  Labels all = StreamLabels(record, /*parsed=*/true);
  for (const FormatStage& stage : log.formats) {
    if (stage.line) {
      *line = Render(stage.line_template, all, *line);
      continue;
    }
    for (const FormatStage::LabelAssign& a : stage.labels) {
      std::string value;
      if (a.rename) {
        auto it = all.find(a.src);
        if (it == all.end()) it = all.find(FieldOfLabel(a.src));
        if (it != all.end()) value = it->second;
        labels->erase(a.src);
        all.erase(a.src);
      } else {
        value = Render(a.value, all, *line);
      }
      if (value.empty()) {
        labels->erase(a.dst);
        all.erase(a.dst);
      } else {
        (*labels)[a.dst] = value;
        all[a.dst] = value;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

namespace {

const MetricNode& RangeNodeOf(const MetricNode& node) {
  const MetricNode* n = &node;
  while (!n->is_range) n = n->child.get();
  return *n;
}

void CollectByFields(const MetricNode& node, std::vector<std::string>* fields) {
  if (node.is_range) return;
  if (node.grouping.present && !node.grouping.without) {
    for (const std::string& l : node.grouping.labels) {
      std::string f = FieldOfLabel(l);
      if (std::find(fields->begin(), fields->end(), f) == fields->end()) fields->push_back(f);
    }
  }
  CollectByFields(*node.child, fields);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::string LabelKey(const Labels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    key += k;
    key.push_back('\0');
    key += v;
    key.push_back('\0');
  }
  return key;
}

// A series' value at one step: points as a map for aggregation.
using StepValues = std::map<int64_t, double>;

struct SeriesMap {
  std::map<std::string, std::pair<Labels, StepValues>> by_key;
};

std::string LabelValue(const Labels& labels, const std::string& label) {
  auto it = labels.find(label);
  if (it == labels.end()) it = labels.find(FieldOfLabel(label));
  return it == labels.end() ? std::string() : it->second;
}

Labels GroupLabels(const Labels& labels, const Grouping& g) {
  Labels out;
  if (!g.present) return out;
  if (g.without) {
    out = labels;
    for (const std::string& l : g.labels) {
      out.erase(l);
      out.erase(FieldOfLabel(l));
    }
    return out;
  }
  for (const std::string& l : g.labels) {
    std::string v = LabelValue(labels, l);
    if (!v.empty()) out[l] = v;
  }
  return out;
}

SeriesMap Aggregate(const MetricNode& node, const SeriesMap& in) {
  SeriesMap out;
  if (node.op == VectorOp::kTopk || node.op == VectorOp::kBottomk) {
    // Per step and group: the k largest (smallest) series keep their value and labels.
    std::map<int64_t, std::map<std::string, std::vector<std::pair<double, std::string>>>> steps;
    for (const auto& [key, entry] : in.by_key) {
      std::string group = LabelKey(GroupLabels(entry.first, node.grouping));
      for (const auto& [t, v] : entry.second) steps[t][group].emplace_back(v, key);
    }
    for (auto& [t, groups] : steps) {
      for (auto& [group, members] : groups) {
        const bool top = node.op == VectorOp::kTopk;
        std::sort(members.begin(), members.end(), [top](const auto& a, const auto& b) {
          if (a.first != b.first) return top ? a.first > b.first : a.first < b.first;
          return a.second < b.second;
        });
        for (size_t i = 0; i < members.size() && i < static_cast<size_t>(node.k); ++i) {
          const auto& src = in.by_key.at(members[i].second);
          auto& dst = out.by_key[members[i].second];
          dst.first = src.first;
          dst.second[t] = members[i].first;
        }
      }
    }
    return out;
  }
  struct Acc {
    double sum = 0, min = INFINITY, max = -INFINITY;
    int64_t n = 0;
  };
  std::map<std::string, std::pair<Labels, std::map<int64_t, Acc>>> groups;
  for (const auto& [key, entry] : in.by_key) {
    Labels g = GroupLabels(entry.first, node.grouping);
    auto& group = groups[LabelKey(g)];
    group.first = g;
    for (const auto& [t, v] : entry.second) {
      Acc& a = group.second[t];
      a.sum += v;
      a.min = std::min(a.min, v);
      a.max = std::max(a.max, v);
      ++a.n;
    }
  }
  for (auto& [key, group] : groups) {
    auto& dst = out.by_key[key];
    dst.first = group.first;
    for (const auto& [t, a] : group.second) {
      double v = 0;
      switch (node.op) {
        case VectorOp::kSum: v = a.sum; break;
        case VectorOp::kAvg: v = a.sum / static_cast<double>(a.n); break;
        case VectorOp::kMin: v = a.min; break;
        case VectorOp::kMax: v = a.max; break;
        case VectorOp::kCount: v = static_cast<double>(a.n); break;
        default: break;
      }
      dst.second[t] = v;
    }
  }
  return out;
}

SeriesMap EvaluateNode(const MetricNode& node, const SeriesMap& range_series) {
  if (node.is_range) return range_series;
  return Aggregate(node, EvaluateNode(*node.child, range_series));
}

}  // namespace

Result<MetricPlan> PlanMetric(const Expr& expr, int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  const MetricNode& range = RangeNodeOf(*expr.metric);
  MetricPlan plan;
  plan.fields = {"service", "host", "level"};
  CollectByFields(*expr.metric, &plan.fields);
  std::string group;
  for (const std::string& f : plan.fields) {
    group += ", ";
    group += f == "level" || f == "service" || f == "host" ? f : Quote(f);
  }
  const bool bytes = range.fn == RangeFn::kBytesOverTime || range.fn == RangeFn::kBytesRate;
  const std::string pipe = bytes ? " | bytes by " : " | count by ";
  const bool instant = start_ns == end_ns;
  if (instant) {
    // The window (t - range, t] is the native range [t - range + 1 ns, t + 1 ns).
    plan.start_ns = plan.end_ns = end_ns;
    plan.step_ns = 0;
    plan.from_ns = end_ns - range.range_ns + 1;
    plan.to_ns = end_ns + 1;
    plan.native = range.log.native + pipe + group.substr(2);
    return plan;
  }
  if (step_ns <= 0) return Status::InvalidArgument("step: must be positive");
  if (end_ns < start_ns) return Status::InvalidArgument("end: before start");
  // Steps aligned to multiples of step, as Loki's query frontend aligns them.
  plan.step_ns = step_ns;
  plan.start_ns = FloorDiv(start_ns, step_ns) * step_ns;
  plan.end_ns = FloorDiv(end_ns, step_ns) * step_ns;
  const int64_t points = (plan.end_ns - plan.start_ns) / step_ns + 1;
  if (points > kMaxPoints) {
    return Status::InvalidArgument("exceeded maximum resolution of " + std::to_string(kMaxPoints) +
                                   " points per series (" + std::to_string(points) +
                                   "): use a larger step");
  }
  plan.bucket_ns = std::gcd(range.range_ns, step_ns);
  if (plan.bucket_ns % 1'000'000 != 0) {
    return Status::InvalidArgument("the range [" + query::FormatDuration(range.range_ns) +
                                   "] and the step must be whole milliseconds");
  }
  // Every window (t - range, t] of the steps: the native range (start - range, end], in
  // buckets (e - G, e] named by their end e.
  plan.from_ns = plan.start_ns - range.range_ns + 1;
  plan.to_ns = plan.end_ns + 1;
  const int64_t buckets = (plan.end_ns - plan.start_ns + range.range_ns) / plan.bucket_ns;
  if (buckets > query::kMaxBuckets) {
    return Status::InvalidArgument(
        "the range [" + query::FormatDuration(range.range_ns) + "] with a step of " +
        query::FormatDuration(step_ns) + " needs " + std::to_string(buckets) + " buckets of " +
        query::FormatDuration(plan.bucket_ns) + ", more than " +
        std::to_string(query::kMaxBuckets) +
        ": use a step that divides the range (or equals it) or a shorter time range");
  }
  plan.native =
      range.log.native + pipe + "bucket_end(" + query::FormatDuration(plan.bucket_ns) + ")" + group;
  return plan;
}

Result<std::vector<Series>> EvaluateMetric(const Expr& expr, const MetricPlan& plan,
                                           const std::vector<query::Row>& rows) {
  const MetricNode& range = RangeNodeOf(*expr.metric);
  // Native rows -> per series, count per bucket.
  std::map<std::string, std::pair<Labels, std::map<int64_t, int64_t>>> buckets;
  for (const query::Row& row : rows) {
    Labels labels;
    int64_t bucket = 0, count = 0;
    for (const auto& [name, value] : row) {
      if (name == "bucket") {
        const std::string* s = std::get_if<std::string>(&value);
        std::optional<int64_t> t = s ? ParseRfc3339(*s) : std::nullopt;
        if (!t) return Status::Internal("logql: a native row with a bad bucket");
        bucket = *t;
      } else if (name == "count" || name == "bytes") {
        if (const int64_t* n = std::get_if<int64_t>(&value)) count = *n;
      } else if (const std::string* s = std::get_if<std::string>(&value); s && !s->empty()) {
        std::string v = *s;
        if (name == "level") {
          for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        labels[name] = std::move(v);
      }
    }
    if (count == 0) continue;
    auto& entry = buckets[LabelKey(labels)];
    entry.first = std::move(labels);
    entry.second[bucket] += count;
  }
  const double range_s = static_cast<double>(range.range_ns) / 1e9;
  const bool rate = range.fn == RangeFn::kRate || range.fn == RangeFn::kBytesRate;
  SeriesMap series;
  for (const auto& [key, entry] : buckets) {
    StepValues values;
    if (plan.step_ns == 0) {
      int64_t total = 0;
      for (const auto& [b, n] : entry.second) total += n;
      if (total > 0) values[plan.end_ns] = rate ? static_cast<double>(total) / range_s : total;
    } else {
      for (int64_t t = plan.start_ns; t <= plan.end_ns; t += plan.step_ns) {
        // Window (t - range, t]: the buckets that end inside it.
        int64_t total = 0;
        for (auto it = entry.second.upper_bound(t - range.range_ns);
             it != entry.second.end() && it->first <= t; ++it) {
          total += it->second;
        }
        if (total > 0) {
          values[t] = rate ? static_cast<double>(total) / range_s : static_cast<double>(total);
        }
      }
    }
    if (!values.empty()) series.by_key[key] = {entry.first, std::move(values)};
  }
  SeriesMap result = EvaluateNode(*expr.metric, series);
  std::vector<Series> out;
  for (auto& [key, entry] : result.by_key) {
    if (entry.second.empty()) continue;
    Series s;
    s.metric = entry.first;
    s.points.assign(entry.second.begin(), entry.second.end());
    out.push_back(std::move(s));
  }
  return out;
}

std::string FormatSample(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  std::string out(buf, p);
  return out;
}

}  // namespace sawmill::logql
