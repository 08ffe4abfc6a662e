#include "agent/redact.h"

#include <re2/re2.h>

#include <array>
#include <cctype>
#include <optional>

namespace sawmill::agent {

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    char c = digits[i];
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsWordChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// True when [start, end) of "text" stands on its own: not glued to letters, digits or '_', and
// not one part of a dotted or dashed identifier ("v1.4111...", "blk_-6011...", "x-...-y").
bool StandsAlone(std::string_view text, size_t start, size_t end) {
  if (start > 0) {
    char before = text[start - 1];
    if (IsWordChar(before)) return false;
    if ((before == '.' || before == '-') && start > 1 && IsWordChar(text[start - 2])) return false;
  }
  if (end < text.size()) {
    char after = text[end];
    if (IsWordChar(after)) return false;
    if ((after == '.' || after == '-') && end + 1 < text.size() && IsWordChar(text[end + 1])) {
      return false;
    }
  }
  return true;
}

bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Span ids are 16 hex digits, and about one in 1,800 is all decimal digits; some of those pass
// every card rule. A token is taken for a span (or trace) id when the key right before it names
// one ("SpanID: ", "span_id=", "\"traceId\":\"") or when it follows a trace id (a 32 or 16 hex
// digit token with a letter) across one separator, as in "trace,span" columns.
bool LooksLikeTraceContext(std::string_view text, size_t start) {
  size_t k = start;
  while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == ':' || text[k - 1] == '=' ||
                   text[k - 1] == '"' || text[k - 1] == '\'' || text[k - 1] == '\\')) {
    --k;
  }
  size_t key_end = k;
  while (k > 0 && (IsWordChar(text[k - 1]) || text[k - 1] == '.' || text[k - 1] == '-')) --k;
  std::string key;
  for (size_t i = k; i < key_end; ++i) {
    key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
  }
  if (key.find("span") != std::string::npos || key.find("trace") != std::string::npos) {
    return true;
  }
  // "<trace id><sep><span id>": one separator, then a hex token of 16 or 32 digits with a letter.
  if (start < 2) return false;
  char sep = text[start - 1];
  if (sep != ',' && sep != ' ' && sep != ';' && sep != '|' && sep != '\t') return false;
  size_t end = start - 1;
  size_t begin = end;
  bool letter = false;
  while (begin > 0 && IsHexDigit(text[begin - 1])) {
    letter |= !IsDigit(text[begin - 1]);
    --begin;
  }
  size_t len = end - begin;
  if (!letter || (len != 16 && len != 32)) return false;
  return begin == 0 || !IsWordChar(text[begin - 1]);
}

int Prefix(std::string_view digits, size_t n) {
  int value = 0;
  for (size_t i = 0; i < n && i < digits.size(); ++i) value = value * 10 + (digits[i] - '0');
  return value;
}

// Printed groupings of card numbers: 4-4-4-4 (most 16-digit cards), 4-4-4-4-3 (19 digits),
// 4-6-5 (Amex), 4-6-4 (Diners). Longest first, so that the longest matching shape wins.
constexpr std::array<std::array<int, 5>, 4> kGroupShapes = {{
    {4, 4, 4, 4, 3},
    {4, 4, 4, 4, 0},
    {4, 6, 5, 0, 0},
    {4, 6, 4, 0, 0},
}};

}  // namespace

bool CardIssuerMatches(std::string_view digits) {
  size_t n = digits.size();
  if (n < 13 || n > 19) return false;
  for (char c : digits) {
    if (!IsDigit(c)) return false;
  }
  int p1 = Prefix(digits, 1), p2 = Prefix(digits, 2), p3 = Prefix(digits, 3);
  int p4 = Prefix(digits, 4), p6 = Prefix(digits, 6);
  if (p1 == 4) return n == 13 || n == 16 || n == 19;                                 // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;          // Mastercard
  if (p2 == 34 || p2 == 37) return n == 15;                                          // Amex
  if (p4 >= 2200 && p4 <= 2204) return n >= 16;                                      // Mir
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) return n >= 16;            // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16;                                      // JCB
  if (p2 == 62) return n >= 16;                                                      // UnionPay
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14;  // Diners
  if (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 ||
      (p4 >= 6761 && p4 <= 6763) || p6 == 676770 || p6 == 676774) {
    return true;  // Maestro, 13-19 digits
  }
  return false;
}

Result<std::unique_ptr<Redactor>> Redactor::Create(const RedactOptions& options) {
  std::unique_ptr<Redactor> r(new Redactor());
  r->options_ = options;
  RE2::Options quiet;
  quiet.set_log_errors(false);
  r->email_ = std::make_unique<RE2>(
      R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})",
      quiet);
  // Area 001-665, 667-899; group 01-99; serial 0001-9999. RedactSsns checks that the match stands
  // alone (not part of a host name, a version or a longer number).
  r->ssn_ = std::make_unique<RE2>(
      R"(((?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-5][0-9]|66[0-57-9]|6[7-9][0-9]|[78][0-9]{2})-(?:0[1-9]|[1-9][0-9])-(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})))",
      quiet);
  for (size_t i = 0; i < options.patterns.size(); ++i) {
    auto re = std::make_unique<RE2>(options.patterns[i], quiet);
    if (!re->ok()) {
      return Status::InvalidArgument("redact.patterns[" + std::to_string(i) + "] '" +
                                     options.patterns[i] + "': " + re->error());
    }
    r->custom_.push_back(std::move(re));
  }
  return r;
}

Redactor::~Redactor() = default;

// A card number is a card-shaped token: 13-19 digits, contiguous or in the printed groups of
// kGroupShapes separated consistently by single spaces or dashes, standing alone (StandsAlone),
// with a known issuer prefix and a length that issuer uses (CardIssuerMatches), and passing Luhn.
// Digits inside hex hashes, serials, host names and versions are never a card, nor is an
// all-digit span id (LooksLikeTraceContext).
bool Redactor::RedactCards(std::string* text) const {
  const std::string& src = *text;
  // Cheap prefilter: a card needs at least 13 digits in the text.
  int digit_count = 0;
  for (char c : src) {
    if (IsDigit(c) && ++digit_count >= 13) break;
  }
  if (digit_count < 13) return false;
  std::string out;
  size_t copied = 0;
  bool changed = false;
  size_t i = 0;
  while (i < src.size()) {
    if (!IsDigit(src[i]) || (i > 0 && IsDigit(src[i - 1]))) {
      ++i;
      continue;
    }
    // Runs of digits from i: lengths and ends, separated by one consistent ' ' or '-'.
    std::array<size_t, 6> group_len{};
    std::array<size_t, 6> group_end{};
    size_t groups = 0;
    char sep = 0;
    size_t pos = i;
    while (groups < group_len.size()) {
      size_t run = pos;
      while (run < src.size() && IsDigit(src[run])) ++run;
      group_len[groups] = run - pos;
      group_end[groups] = run;
      ++groups;
      if (run + 1 >= src.size() || !IsDigit(src[run + 1])) break;
      char c = src[run];
      if (c != ' ' && c != '-') break;
      if (sep != 0 && c != sep) break;
      sep = c;
      pos = run + 1;
    }
    std::optional<size_t> card_end;
    if (group_len[0] >= 13 && group_len[0] <= 19) {
      card_end = group_end[0];
    } else if (group_len[0] == 4) {
      for (const auto& shape : kGroupShapes) {
        size_t k = 0;
        while (k < shape.size() && shape[k] != 0) ++k;
        if (k > groups) continue;
        bool fits = true;
        for (size_t g = 0; g < k; ++g) fits &= group_len[g] == static_cast<size_t>(shape[g]);
        if (fits) {
          card_end = group_end[k - 1];
          break;
        }
      }
    }
    size_t next = group_end[0];
    if (card_end && StandsAlone(src, i, *card_end)) {
      std::string digits;
      for (size_t k = i; k < *card_end; ++k) {
        if (IsDigit(src[k])) digits.push_back(src[k]);
      }
      if (CardIssuerMatches(digits) && LuhnValid(digits) &&
          !(sep == 0 && digits.size() == 16 && LooksLikeTraceContext(src, i))) {
        out.append(src, copied, i - copied);
        out.append(kRedacted);
        copied = *card_end;
        changed = true;
        next = *card_end;
      }
    }
    i = next;
  }
  if (!changed) return false;
  out.append(src, copied, std::string::npos);
  *text = std::move(out);
  return true;
}

bool Redactor::RedactSsns(std::string* text) const {
  const std::string& src = *text;
  std::string out;
  size_t copied = 0;
  bool changed = false;
  re2::StringPiece input(src);
  re2::StringPiece match;
  while (RE2::FindAndConsume(&input, *ssn_, &match)) {
    size_t start = static_cast<size_t>(match.data() - src.data());
    size_t end = start + match.size();
    if (!StandsAlone(src, start, end)) continue;
    out.append(src, copied, start - copied);
    out.append(kRedacted);
    copied = end;
    changed = true;
  }
  if (!changed) return false;
  out.append(src, copied, std::string::npos);
  *text = std::move(out);
  return true;
}

bool Redactor::RedactText(std::string* text) const {
  bool changed = false;
  if (options_.credit_cards) changed |= RedactCards(text);
  if (options_.emails && text->find('@') != std::string::npos) {
    changed |= RE2::GlobalReplace(text, *email_, kRedacted) > 0;
  }
  if (options_.us_ssn && text->find('-') != std::string::npos) {
    changed |= RedactSsns(text);
  }
  for (const auto& re : custom_) changed |= RE2::GlobalReplace(text, *re, kRedacted) > 0;
  return changed;
}

bool Redactor::RedactRecord(Record* record) const {
  bool changed = RedactText(&record->message);
  changed |= RedactText(&record->user_id);
  for (auto& [key, value] : record->fields) changed |= RedactText(&value);
  if (changed) record->flags |= kFlagRedacted;
  return changed;
}

}  // namespace sawmill::agent
