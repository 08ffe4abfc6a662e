// The masking rule engine, shared by the agent (redaction before a line leaves the host,
// docs/agent.md "Redaction") and the server (per-tenant masking before the WAL,
// docs/security.md "PII masking"). Built-in detectors: card numbers (card-shaped tokens with a
// known issuer prefix and length, Luhn-checked), e-mail addresses, US social security numbers,
// UK National Insurance numbers, IPv4 and IPv6 addresses; and custom RE2 rules with their own
// replacement. Each detector and rule has a name, and the engine counts its replacements.
//
// Thread-safety: a Redactor is immutable after Create() and may be used from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace re2 {
class RE2;
}

namespace sawmill::ingest {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// A custom rule: every match of "pattern" (RE2) is replaced with "replacement", in which \0 is
// the whole match and \1..\9 its groups (RE2 rewrite syntax; "\\" is a backslash).
struct RedactRule {
  std::string name;
  std::string pattern;
  std::string replacement = std::string(kRedacted);
};

struct RedactOptions {
  bool credit_cards = true;
  bool emails = false;  // off by default: see docs/agent.md "Redaction"
  bool us_ssn = true;
  bool uk_nino = false;  // UK National Insurance numbers (AB123456C, AB 12 34 56 C)
  bool ipv4 = false;
  bool ipv6 = false;
  // What the built-in detectors and "patterns" put in place of a match.
  std::string replacement = std::string(kRedacted);
  // Extra RE2 patterns (the agent's `redact.patterns`); every match is replaced with
  // "replacement". Named "pattern[i]"; errors name them "<error_prefix>[i]".
  std::vector<std::string> patterns;
  std::string error_prefix = "redact.patterns";
  // Named custom rules, each with its own replacement (the server's masking rules).
  std::vector<RedactRule> rules;
  // RedactRecord also masks field keys, service, host, trace_id and span_id (the server:
  // nothing masked may survive in any column); the agent masks message, user id and field
  // values only.
  bool all_columns = false;
};

// Replacement counts by rule, indexed like Redactor::rule_names(). Reused across calls: the
// caller zeroes it (or keeps adding).
using RedactCounts = std::vector<uint64_t>;

class Redactor {
 public:
  // Built-in detectors' names, the first entries of rule_names().
  static constexpr std::string_view kCard = "card";
  static constexpr std::string_view kEmail = "email";
  static constexpr std::string_view kUsSsn = "us_ssn";
  static constexpr std::string_view kUkNino = "uk_nino";
  static constexpr std::string_view kIpv4 = "ipv4";
  static constexpr std::string_view kIpv6 = "ipv6";

  // Errors: InvalidArgument naming the pattern that does not compile (or the replacement that
  // names a group the pattern does not have) and why.
  static Result<std::unique_ptr<Redactor>> Create(const RedactOptions& options);
  ~Redactor();

  // The names of the rules this redactor applies, in order: the enabled built-in detectors,
  // then "pattern[i]" for each pattern, then each custom rule's name.
  const std::vector<std::string>& rule_names() const { return names_; }

  // Replaces every secret in "*text"; returns true when something was replaced. When "counts"
  // is not null it is sized to rule_names() and each rule's replacements are added to it.
  bool RedactText(std::string* text, RedactCounts* counts = nullptr) const;

  // Redacts the message and every field value (and the user id; with all_columns also field
  // keys, service, host, trace_id and span_id); sets kFlagRedacted when something was replaced.
  // Returns true in that case. On a record cut at max_line (kFlagTruncated) with the card
  // detector on, a trailing run of 7-18 digits is masked too: it may be a card cut in half.
  bool RedactRecord(Record* record, RedactCounts* counts = nullptr) const;

 private:
  Redactor() = default;
  size_t RedactBuiltins(std::string* text, RedactCounts* counts) const;
  size_t RedactCustom(std::string* text, size_t i, RedactCounts* counts) const;
  size_t RedactCards(std::string* text) const;
  size_t RedactCutCardTail(std::string* text) const;
  size_t ReplaceStandingAlone(std::string* text, const re2::RE2& re) const;
  size_t RedactIpv6(std::string* text) const;

  RedactOptions options_;
  std::vector<std::string> names_;
  // Index in names_ of each enabled built-in detector (-1: off).
  int card_ = -1, email_index_ = -1, ssn_index_ = -1, nino_index_ = -1, ipv4_index_ = -1,
      ipv6_ = -1;
  std::unique_ptr<re2::RE2> email_;
  std::unique_ptr<re2::RE2> ssn_;
  std::unique_ptr<re2::RE2> nino_;
  std::unique_ptr<re2::RE2> ipv4_;
  struct Custom {
    std::unique_ptr<re2::RE2> re;
    std::string replacement;
    bool whole_value = false;  // anchored: not prefiltered over the joined values
  };
  std::vector<Custom> custom_;
};

// True when "digits" (only '0'..'9') passes the Luhn check.
bool LuhnValid(std::string_view digits);

// True when "digits" (only '0'..'9') starts with a known card issuer prefix (Visa, Mastercard,
// Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir) and has a length that issuer uses.
bool CardIssuerMatches(std::string_view digits);

// The detectors' regular expressions and the cheap shape tests run before them (a test checks
// that a shape test never says no where its expression matches).
namespace redact_internal {
extern const char* const kSsnPattern;
extern const char* const kNinoPattern;
extern const char* const kIpv4Pattern;
bool MayHaveSsn(std::string_view text);
bool MayHaveNino(std::string_view text);
bool MayHaveIpv4(std::string_view text);
bool NeedsWholeValue(std::string_view pattern);
}  // namespace redact_internal

}  // namespace sawmill::ingest
