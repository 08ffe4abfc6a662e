#include "agent/redact.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

std::unique_ptr<Redactor> Make(RedactOptions options = {}) {
  auto r = Redactor::Create(options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::string Redact(const Redactor& r, std::string text) {
  r.RedactText(&text);
  return text;
}

TEST(Redactor, LuhnValidCardNumbersAreReplaced) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "paid with 4111111111111111 ok"), "paid with [REDACTED] ok");
  EXPECT_EQ(Redact(*r, "card 4111-1111-1111-1111."), "card [REDACTED].");
  EXPECT_EQ(Redact(*r, "card 5500 0000 0000 0004 end"), "card [REDACTED] end");
}

TEST(Redactor, NumbersFailingLuhnAreKept) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "order 4111111111111112 shipped"), "order 4111111111111112 shipped");
  EXPECT_EQ(Redact(*r, "ts=1700000000123456789"), "ts=1700000000123456789");
}

TEST(Redactor, DigitRunsThatAreNotPrintedLikeCardsAreKept) {
  auto r = Make();
  // Regression: "id=s-001391 6550752a..." passed Luhn across the space and was redacted.
  EXPECT_EQ(Redact(*r, "id=s-001391 6550752a4ab2"), "id=s-001391 6550752a4ab2");
  EXPECT_EQ(Redact(*r, "amex 3782 822463 10005 ok"), "amex [REDACTED] ok");
}

TEST(Redactor, EmailsAndSsnsAreReplaced) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "user alice.smith+x@example.co.uk logged in"), "user [REDACTED] logged in");
  EXPECT_EQ(Redact(*r, "ssn 123-45-6789 on file"), "ssn [REDACTED] on file");
  // Not SSNs: area 000 and 666, group 00.
  EXPECT_EQ(Redact(*r, "id 000-12-3456 666-12-3456 123-00-4567"),
            "id 000-12-3456 666-12-3456 123-00-4567");
}

TEST(Redactor, ConfiguredPatternsAreReplaced) {
  RedactOptions options;
  options.patterns = {"api_key=[A-Za-z0-9]+"};
  auto r = Make(options);
  EXPECT_EQ(Redact(*r, "call api_key=abc123 done"), "call [REDACTED] done");
}

TEST(Redactor, BadPatternIsRejectedWithItsIndex) {
  RedactOptions options;
  options.patterns = {"ok", "(unclosed"};
  auto r = Redactor::Create(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("redact.patterns[1]"), std::string::npos);
}

TEST(Redactor, RecordIsFlaggedWhenSomethingWasReplaced) {
  auto r = Make();
  Record record;
  record.message = "hello";
  record.fields = {{"email", "bob@example.com"}};
  EXPECT_TRUE(r->RedactRecord(&record));
  EXPECT_EQ(record.fields[0].second, "[REDACTED]");
  EXPECT_TRUE(record.flags & kFlagRedacted);
  Record clean;
  clean.message = "nothing here";
  EXPECT_FALSE(r->RedactRecord(&clean));
  EXPECT_EQ(clean.flags, 0u);
}

}  // namespace
}  // namespace sawmill::agent
