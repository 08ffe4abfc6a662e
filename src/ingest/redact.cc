#include "ingest/redact.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <array>
#include <cctype>
#include <cstring>
#include <optional>

namespace sawmill::ingest {

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

namespace redact_internal {

const char* const kSsnPattern =
    R"(((?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-5][0-9]|66[0-57-9]|6[7-9][0-9]|[78][0-9]{2})-(?:0[1-9]|[1-9][0-9])-(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})))";
const char* const kNinoPattern =
    R"(((?:[ACEHJLMOPRSWXY][A-CEGHJ-NPR-TW-Z]|B[A-CEHJ-NPR-TW-Z]|G[ACEGHJ-NPR-TW-Z]|[KT][A-CEGHJ-MPR-TW-Z]|N[A-CEGHJL-NPR-SW-Z]|Z[A-CEGHJ-NPR-TW-Y])(?:[0-9]{6}| [0-9]{2} [0-9]{2} [0-9]{2} )[A-D]))";
const char* const kIpv4Pattern =
    R"(((?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])))";

// Cheap shape tests run before a detector's regular expression: false means it cannot match.

// "ddd-dd-dddd": a '-' with three digits before it, two after, then '-' and four digits.
bool MayHaveSsn(std::string_view t) {
  for (size_t i = t.find('-'); i != std::string_view::npos; i = t.find('-', i + 1)) {
    if (i < 3 || i + 8 > t.size()) continue;
    if (IsDigit(t[i - 3]) && IsDigit(t[i - 2]) && IsDigit(t[i - 1]) && IsDigit(t[i + 1]) &&
        IsDigit(t[i + 2]) && t[i + 3] == '-' && IsDigit(t[i + 4]) && IsDigit(t[i + 5]) &&
        IsDigit(t[i + 6]) && IsDigit(t[i + 7])) {
      return true;
    }
  }
  return false;
}

// A digit, then three times '.' and digits.
bool MayHaveIpv4(std::string_view t) {
  for (size_t i = t.find('.'); i != std::string_view::npos; i = t.find('.', i + 1)) {
    if (i == 0 || !IsDigit(t[i - 1])) continue;
    size_t p = i;
    int dots = 0;
    while (dots < 3 && p < t.size() && t[p] == '.') {
      size_t q = p + 1;
      while (q < t.size() && IsDigit(t[q])) ++q;
      if (q == p + 1) break;
      ++dots;
      p = q;
    }
    if (dots == 3) return true;
  }
  return false;
}

// Two capital letters, then a digit (or a space and a digit).
bool MayHaveNino(std::string_view t) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  for (size_t i = 0; i + 8 < t.size(); ++i) {
    if (!upper(t[i]) || !upper(t[i + 1])) continue;
    if (IsDigit(t[i + 2]) || (t[i + 2] == ' ' && IsDigit(t[i + 3]))) return true;
  }
  return false;
}

// True when a pattern may match a value on its own but not where the values are joined by
// '\n' (RedactRecord's prefilter): only anchors (^, $, \A, \z) make that difference, and any
// '^' or '$' at all (even in a class) counts.
bool NeedsWholeValue(std::string_view pattern) {
  return pattern.find_first_of("^$") != std::string_view::npos ||
         pattern.find("\\A") != std::string_view::npos ||
         pattern.find("\\z") != std::string_view::npos;
}

}  // namespace redact_internal

using redact_internal::MayHaveIpv4;
using redact_internal::MayHaveNino;
using redact_internal::MayHaveSsn;
using redact_internal::NeedsWholeValue;

Result<std::unique_ptr<Redactor>> Redactor::Create(const RedactOptions& options) {
  std::unique_ptr<Redactor> r(new Redactor());
  r->options_ = options;
  RE2::Options quiet;
  quiet.set_log_errors(false);
  auto add = [&r](std::string_view name) {
    r->names_.emplace_back(name);
    return static_cast<int>(r->names_.size() - 1);
  };
  if (options.credit_cards) r->card_ = add(kCard);
  if (options.emails) {
    r->email_index_ = add(kEmail);
    r->email_ = std::make_unique<RE2>(
        R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})",
        quiet);
  }
  if (options.us_ssn) {
    r->ssn_index_ = add(kUsSsn);
    // Area 001-665, 667-899; group 01-99; serial 0001-9999. ReplaceStandingAlone checks that the
    // match stands alone (not part of a host name, a version or a longer number).
    r->ssn_ = std::make_unique<RE2>(redact_internal::kSsnPattern, quiet);
  }
  if (options.uk_nino) {
    r->nino_index_ = add(kUkNino);
    // Two prefix letters (not D, F, I, Q, U, V; the second not O; not BG, GB, KN, NK, NT, TN,
    // ZZ), six digits (optionally printed in pairs), a suffix A-D. Upper case, standing alone.
    r->nino_ = std::make_unique<RE2>(redact_internal::kNinoPattern, quiet);
  }
  if (options.ipv4) {
    r->ipv4_index_ = add(kIpv4);
    r->ipv4_ = std::make_unique<RE2>(redact_internal::kIpv4Pattern, quiet);
  }
  if (options.ipv6) r->ipv6_ = add(kIpv6);
  auto compile = [&](const std::string& what, const std::string& pattern,
                     const std::string& replacement) -> Status {
    auto re = std::make_unique<RE2>(pattern, quiet);
    if (!re->ok()) return Status::InvalidArgument(what + " '" + pattern + "': " + re->error());
    std::string error;
    if (!re->CheckRewriteString(replacement, &error)) {
      return Status::InvalidArgument(what + " '" + pattern + "': replacement '" + replacement +
                                     "': " + error);
    }
    r->custom_.push_back(Custom{std::move(re), replacement, NeedsWholeValue(pattern)});
    return Status::OK();
  };
  for (size_t i = 0; i < options.patterns.size(); ++i) {
    // The replacement is literal text here: escape RE2's rewrite backslashes.
    std::string literal;
    for (char c : options.replacement) {
      if (c == '\\') literal.push_back('\\');
      literal.push_back(c);
    }
    RETURN_IF_ERROR(compile(options.error_prefix + "[" + std::to_string(i) + "]",
                            options.patterns[i], literal));
    add("pattern[" + std::to_string(i) + "]");
  }
  for (const RedactRule& rule : options.rules) {
    if (rule.name.empty()) return Status::InvalidArgument("a rule without a name");
    for (const std::string& name : r->names_) {
      if (name == rule.name) {
        return Status::InvalidArgument("rule '" + rule.name + "': the name is used twice");
      }
    }
    RETURN_IF_ERROR(compile("rule '" + rule.name + "' pattern", rule.pattern, rule.replacement));
    add(rule.name);
  }
  return r;
}

Redactor::~Redactor() = default;

// A card number is a card-shaped token: 13-19 digits, contiguous or in the printed groups of
// kGroupShapes separated consistently by single spaces or dashes, standing alone (StandsAlone),
// with a known issuer prefix and a length that issuer uses (CardIssuerMatches), and passing Luhn.
// Digits inside hex hashes, serials, host names and versions are never a card, nor is an
// all-digit span id (LooksLikeTraceContext).
// The tail of a value cut at max_line: a run of digits (single spaces or dashes between them)
// at its very end, standing alone at its start, with more digits than an issuer prefix (the
// first six, which PCI DSS allows to show) and fewer than a whole card (whole ones are the
// detector's). Such a tail may be a cut card; it is replaced. Over-masking a long number at the
// end of a cut line is the price of never storing half a card.
size_t Redactor::RedactCutCardTail(std::string* text) const {
  const std::string& src = *text;
  size_t start = src.size();
  size_t digits = 0;
  while (start > 0) {
    const char c = src[start - 1];
    if (IsDigit(c)) {
      ++digits;
      --start;
    } else if ((c == ' ' || c == '-') && start < src.size() && IsDigit(src[start]) && start >= 2 &&
               IsDigit(src[start - 2])) {
      --start;
    } else {
      break;
    }
  }
  if (digits <= 6 || digits >= 19) return 0;
  if (start > 0 && IsWordChar(src[start - 1])) return 0;
  text->replace(start, std::string::npos, options_.replacement);
  return 1;
}

size_t Redactor::RedactCards(std::string* text) const {
  const std::string& src = *text;
  // Cheap prefilter: a card is 13 or more digits, contiguous or in groups separated by single
  // spaces or dashes; hex ids and timestamps break such a chain early.
  int chain = 0;
  for (size_t k = 0; k < src.size() && chain < 13; ++k) {
    const char c = src[k];
    if (IsDigit(c)) {
      ++chain;
    } else if (!((c == ' ' || c == '-') && chain > 0 && k + 1 < src.size() &&
                 IsDigit(src[k + 1]))) {
      chain = 0;
    }
  }
  if (chain < 13) return 0;
  std::string out;
  size_t copied = 0;
  size_t changed = 0;
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
        out.append(options_.replacement);
        copied = *card_end;
        ++changed;
        next = *card_end;
      }
    }
    i = next;
  }
  if (changed == 0) return 0;
  out.append(src, copied, std::string::npos);
  *text = std::move(out);
  return changed;
}

size_t Redactor::ReplaceStandingAlone(std::string* text, const RE2& re) const {
  const std::string& src = *text;
  std::string out;
  size_t copied = 0;
  size_t changed = 0;
  re2::StringPiece input(src);
  re2::StringPiece match;
  while (RE2::FindAndConsume(&input, re, &match)) {
    size_t start = static_cast<size_t>(match.data() - src.data());
    size_t end = start + match.size();
    if (!StandsAlone(src, start, end)) continue;
    out.append(src, copied, start - copied);
    out.append(options_.replacement);
    copied = end;
    ++changed;
  }
  if (changed == 0) return 0;
  out.append(src, copied, std::string::npos);
  *text = std::move(out);
  return changed;
}

// An IPv6 address is a run of hex digits, ':' and '.' (for the IPv4-mapped tail) with at least
// two ':' and a hex digit, standing alone, that inet_pton accepts as an address. A trailing '.'
// or single ':' (end of a sentence, "addr:port" written without brackets) is not part of it.
size_t Redactor::RedactIpv6(std::string* text) const {
  const std::string& src = *text;
  std::string out;
  size_t copied = 0;
  size_t changed = 0;
  size_t i = 0;
  auto in_token = [](char c) { return IsHexDigit(c) || c == ':' || c == '.'; };
  while (i < src.size()) {
    if (!in_token(src[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    int colons = 0;
    bool hex = false;
    while (end < src.size() && in_token(src[end])) {
      colons += src[end] == ':';
      hex |= IsHexDigit(src[end]);
      ++end;
    }
    size_t next = end;
    size_t start = i;
    while (end > start && src[end - 1] == '.') --end;
    if (end - start >= 2 && src[end - 1] == ':' && src[end - 2] != ':') --end;
    while (start < end && src[start] == '.') ++start;
    if (colons >= 2 && hex && end - start <= 45 && StandsAlone(src, start, end)) {
      char buffer[46];
      std::memcpy(buffer, src.data() + start, end - start);
      buffer[end - start] = '\0';
      in6_addr address;
      if (inet_pton(AF_INET6, buffer, &address) == 1) {
        out.append(src, copied, start - copied);
        out.append(options_.replacement);
        copied = end;
        ++changed;
      }
    }
    i = next;
  }
  if (changed == 0) return 0;
  out.append(src, copied, std::string::npos);
  *text = std::move(out);
  return changed;
}

size_t Redactor::RedactBuiltins(std::string* text, RedactCounts* counts) const {
  if (text->empty()) return 0;
  size_t total = 0;
  auto note = [&](int index, size_t n) {
    total += n;
    if (counts != nullptr && n > 0) (*counts)[static_cast<size_t>(index)] += n;
  };
  if (card_ >= 0) note(card_, RedactCards(text));
  if (email_ && text->find('@') != std::string::npos) {
    note(email_index_,
         static_cast<size_t>(RE2::GlobalReplace(text, *email_, options_.replacement)));
  }
  if (ssn_ && MayHaveSsn(*text)) note(ssn_index_, ReplaceStandingAlone(text, *ssn_));
  if (nino_ && MayHaveNino(*text)) note(nino_index_, ReplaceStandingAlone(text, *nino_));
  // IPv6 first: an IPv4-mapped address (::ffff:192.0.2.1) is one IPv6 address.
  if (ipv6_ >= 0 && text->find(':') != std::string::npos) note(ipv6_, RedactIpv6(text));
  if (ipv4_ && MayHaveIpv4(*text)) note(ipv4_index_, ReplaceStandingAlone(text, *ipv4_));
  return total;
}

size_t Redactor::RedactCustom(std::string* text, size_t i, RedactCounts* counts) const {
  if (text->empty()) return 0;
  const size_t n =
      static_cast<size_t>(RE2::GlobalReplace(text, *custom_[i].re, custom_[i].replacement));
  if (counts != nullptr && n > 0) (*counts)[names_.size() - custom_.size() + i] += n;
  return n;
}

bool Redactor::RedactText(std::string* text, RedactCounts* counts) const {
  if (counts != nullptr && counts->size() < names_.size()) counts->resize(names_.size(), 0);
  size_t total = RedactBuiltins(text, counts);
  for (size_t i = 0; i < custom_.size(); ++i) total += RedactCustom(text, i, counts);
  return total > 0;
}

bool Redactor::RedactRecord(Record* record, RedactCounts* counts) const {
  if (counts != nullptr && counts->size() < names_.size()) counts->resize(names_.size(), 0);
  thread_local std::vector<std::string*> values;
  values.clear();
  values.push_back(&record->message);
  values.push_back(&record->user_id);
  for (auto& field : record->fields) values.push_back(&field.second);
  if (options_.all_columns) {
    // A structured line's keys are the client's too ({"bob@example.com": "admin"}), and a
    // field's key is stored and searchable like its value.
    for (auto& field : record->fields) values.push_back(&field.first);
    values.insert(values.end(),
                  {&record->service, &record->host, &record->trace_id, &record->span_id});
  }
  size_t total = 0;
  for (std::string* value : values) total += RedactBuiltins(value, counts);
  if (card_ >= 0 && (record->flags & kFlagTruncated) != 0) {
    // A line cut at max_line can end in the first digits of a card number, too short for the
    // detector above: mask such a tail. Which values were cut is not recorded; max_line is at
    // least 64 bytes (less up to 3 for a UTF-8 character kept whole), so a shorter value was not.
    size_t cut = 0;
    for (std::string* value : values) {
      if (value->size() >= 61) cut += RedactCutCardTail(value);
    }
    if (counts != nullptr) (*counts)[static_cast<size_t>(card_)] += cut;
    total += cut;
  }
  if (!custom_.empty()) {
    // One search of each custom rule over the values joined by '\n' tells whether it can match
    // any of them; only then is each value searched (and rewritten). Same result, one search
    // instead of one per value for the lines a rule does not touch.
    thread_local std::string joined;
    joined.clear();
    for (const std::string* value : values) {
      joined += *value;
      joined += '\n';
    }
    for (size_t i = 0; i < custom_.size(); ++i) {
      if (!custom_[i].whole_value && !RE2::PartialMatch(joined, *custom_[i].re)) continue;
      for (std::string* value : values) total += RedactCustom(value, i, counts);
    }
  }
  if (total > 0) record->flags |= kFlagRedacted;
  return total > 0;
}

}  // namespace sawmill::ingest
