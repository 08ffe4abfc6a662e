// Splits query text into tokens. The parser drives it and says which mode to lex in, because a
// value after an operator may hold bytes that separate tokens elsewhere (host=10.0.0.1:80).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sawmill::query {

enum class TokenKind {
  kEnd,
  kWord,    // a bare run of bytes
  kString,  // a double-quoted string; text is unescaped
  kLParen,
  kRParen,
  kPipe,
  kComma,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kTilde,
  kColon,
  kError,  // text is the message; offset says where
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  size_t offset = 0;  // byte offset of the token's first byte
  size_t end = 0;     // byte offset just past the token
};

// "=" for kEq etc.; "end of query" for kEnd.
std::string_view TokenKindName(TokenKind kind);

class Lexer {
 public:
  // "text" must outlive the Lexer.
  explicit Lexer(std::string_view text) : text_(text) {}

  // The next token. In normal mode a bare word stops at whitespace and at ( ) | , = ! < > ~ : "
  // and whitespace is skipped first.
  Token Next();
  // The value after an operator: a quoted string, or a bare run of bytes up to whitespace or
  // ( ) |. Whitespace before it is skipped, so "service = payments" is "service=payments" (as in
  // LogQL). Returns kEnd when nothing value-like is there.
  Token NextValue();
  // The next token without consuming it (normal mode).
  Token Peek();

  size_t offset() const { return pos_; }

 private:
  Token LexString(size_t start);

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace sawmill::query
