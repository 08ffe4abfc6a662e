#include "query/lexer.h"

namespace sawmill::query {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsWordStop(char c) {
  switch (c) {
    case '(':
    case ')':
    case '|':
    case ',':
    case '=':
    case '!':
    case '<':
    case '>':
    case '~':
    case ':':
    case '"': return true;
    default: return IsSpace(c);
  }
}

bool IsValueStop(char c) { return IsSpace(c) || c == '(' || c == ')' || c == '|'; }

}  // namespace

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEnd: return "end of query";
    case TokenKind::kWord: return "word";
    case TokenKind::kString: return "string";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kPipe: return "'|'";
    case TokenKind::kComma: return "','";
    case TokenKind::kEq: return "'='";
    case TokenKind::kNe: return "'!='";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kLe: return "'<='";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kGe: return "'>='";
    case TokenKind::kTilde: return "'~'";
    case TokenKind::kColon: return "':'";
    case TokenKind::kError: return "error";
  }
  return "?";
}

Token Lexer::LexString(size_t start) {
  Token t;
  t.kind = TokenKind::kString;
  t.offset = start;
  size_t i = start + 1;
  while (i < text_.size()) {
    char c = text_[i];
    if (c == '"') {
      t.end = i + 1;
      pos_ = i + 1;
      return t;
    }
    if (c == '\\' && i + 1 < text_.size()) {
      char n = text_[i + 1];
      // \" and \\ are escapes; any other backslash is kept as written so that regexes like
      // "\d+" need no doubling.
      if (n == '"' || n == '\\') {
        t.text.push_back(n);
      } else {
        t.text.push_back(c);
        t.text.push_back(n);
      }
      i += 2;
      continue;
    }
    t.text.push_back(c);
    ++i;
  }
  Token err;
  err.kind = TokenKind::kError;
  err.text = "unterminated string";
  err.offset = start;
  err.end = text_.size();
  pos_ = text_.size();
  return err;
}

Token Lexer::Next() {
  while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  Token t;
  t.offset = pos_;
  if (pos_ >= text_.size()) {
    t.kind = TokenKind::kEnd;
    t.end = pos_;
    return t;
  }
  char c = text_[pos_];
  auto single = [&](TokenKind kind, size_t len) {
    t.kind = kind;
    t.text = std::string(text_.substr(pos_, len));
    pos_ += len;
    t.end = pos_;
    return t;
  };
  char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  switch (c) {
    case '(': return single(TokenKind::kLParen, 1);
    case ')': return single(TokenKind::kRParen, 1);
    case '|': return single(TokenKind::kPipe, 1);
    case ',': return single(TokenKind::kComma, 1);
    case '=': return single(TokenKind::kEq, 1);
    case '~': return single(TokenKind::kTilde, 1);
    case ':': return single(TokenKind::kColon, 1);
    case '<': return next == '=' ? single(TokenKind::kLe, 2) : single(TokenKind::kLt, 1);
    case '>': return next == '=' ? single(TokenKind::kGe, 2) : single(TokenKind::kGt, 1);
    case '!':
      if (next == '=') return single(TokenKind::kNe, 2);
      t.kind = TokenKind::kError;
      t.text = "unexpected '!' (use '!=' or NOT)";
      t.end = pos_ + 1;
      pos_ = text_.size();
      return t;
    case '"': return LexString(pos_);
    default: break;
  }
  size_t start = pos_;
  while (pos_ < text_.size() && !IsWordStop(text_[pos_])) ++pos_;
  t.kind = TokenKind::kWord;
  t.text = std::string(text_.substr(start, pos_ - start));
  t.end = pos_;
  return t;
}

Token Lexer::NextValue() {
  while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  Token t;
  t.offset = pos_;
  if (pos_ >= text_.size() || IsValueStop(text_[pos_])) {
    t.kind = TokenKind::kEnd;
    t.end = pos_;
    return t;
  }
  if (text_[pos_] == '"') return LexString(pos_);
  size_t start = pos_;
  while (pos_ < text_.size() && !IsValueStop(text_[pos_])) ++pos_;
  t.kind = TokenKind::kWord;
  t.text = std::string(text_.substr(start, pos_ - start));
  t.end = pos_;
  return t;
}

Token Lexer::Peek() {
  size_t saved = pos_;
  Token t = Next();
  pos_ = saved;
  return t;
}

}  // namespace sawmill::query
