#include "agent/redact.h"

#include <re2/re2.h>

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

Result<std::unique_ptr<Redactor>> Redactor::Create(const RedactOptions& options) {
  std::unique_ptr<Redactor> r(new Redactor());
  r->options_ = options;
  RE2::Options quiet;
  quiet.set_log_errors(false);
  // 13 to 19 contiguous digits, or the printed groupings (4-4-4-x, Amex 4-6-5) separated
  // consistently by spaces or dashes. RedactCards checks that the match is not inside a longer
  // number and passes Luhn. Arbitrary digit runs with one space are not cards (ids, timestamps).
  r->card_ = std::make_unique<RE2>(
      R"(([0-9]{4} [0-9]{4} [0-9]{4} [0-9]{1,7}|[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{1,7}|)"
      R"([0-9]{4} [0-9]{6} [0-9]{5}|[0-9]{4}-[0-9]{6}-[0-9]{5}|[0-9]{13,19}))",
      quiet);
  r->email_ = std::make_unique<RE2>(
      R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})",
      quiet);
  // Area 001-665, 667-899; group 01-99; serial 0001-9999.
  r->ssn_ = std::make_unique<RE2>(
      R"(\b(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-5][0-9]|66[0-57-9]|6[7-9][0-9]|[78][0-9]{2})-(?:0[1-9]|[1-9][0-9])-(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})\b)",
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

bool Redactor::RedactCards(std::string* text) const {
  // Cheap prefilter: a card needs at least 13 digits in the text.
  int digits = 0;
  for (char c : *text) {
    if (c >= '0' && c <= '9' && ++digits >= 13) break;
  }
  if (digits < 13) return false;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const std::string& src = *text;
  std::string out;
  size_t copied = 0;
  bool changed = false;
  re2::StringPiece input(src);
  re2::StringPiece match;
  while (RE2::FindAndConsume(&input, *card_, &match)) {
    size_t start = static_cast<size_t>(match.data() - src.data());
    size_t end = start + match.size();
    // Not part of a longer number.
    if (start > 0 && is_digit(src[start - 1])) continue;
    if (end < src.size() && is_digit(src[end])) continue;
    std::string only_digits;
    for (char c : match) {
      if (is_digit(c)) only_digits.push_back(c);
    }
    if (!LuhnValid(only_digits)) continue;
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
    changed |= RE2::GlobalReplace(text, *ssn_, kRedacted) > 0;
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
