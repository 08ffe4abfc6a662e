// Redaction of secrets in log text: credit card numbers (card-shaped tokens with a known issuer
// prefix and length, Luhn-checked), e-mail addresses, US social security numbers and configured
// regexes are replaced with "[REDACTED]". The agent runs
// it before a line leaves the host; the server can run the same code on what it ingests.
//
// Thread-safety: a Redactor is immutable after Create() and may be used from many threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace re2 {
class RE2;
}

namespace sawmill::agent {

inline constexpr std::string_view kRedacted = "[REDACTED]";

struct RedactOptions {
  bool credit_cards = true;
  bool emails = false;  // off by default: see docs/agent.md "Redaction"
  bool us_ssn = true;
  // Extra RE2 patterns; every match is replaced.
  std::vector<std::string> patterns;
};

class Redactor {
 public:
  // Errors: InvalidArgument naming the pattern that does not compile and why.
  static Result<std::unique_ptr<Redactor>> Create(const RedactOptions& options);
  ~Redactor();

  // Replaces every secret in "*text"; returns true when something was replaced.
  bool RedactText(std::string* text) const;

  // Redacts the message and every field value (and the user id); sets kFlagRedacted when
  // something was replaced. Returns true in that case.
  bool RedactRecord(Record* record) const;

 private:
  Redactor() = default;
  bool RedactCards(std::string* text) const;
  bool RedactSsns(std::string* text) const;

  RedactOptions options_;
  std::unique_ptr<re2::RE2> email_;
  std::unique_ptr<re2::RE2> ssn_;
  std::vector<std::unique_ptr<re2::RE2>> custom_;
};

// True when "digits" (only '0'..'9') passes the Luhn check.
bool LuhnValid(std::string_view digits);

// True when "digits" (only '0'..'9') starts with a known card issuer prefix (Visa, Mastercard,
// Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir) and has a length that issuer uses.
bool CardIssuerMatches(std::string_view digits);

}  // namespace sawmill::agent
